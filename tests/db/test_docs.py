"""Docs that cannot drift: every error name a client or a psql user can meet is in docs/business-rules.md. The names
come from the database itself (every named CHECK, UNIQUE, exclusion and foreign key of crm, every CONSTRAINT = '...'
of a RAISE in a function) and from the API's own problems, so a new rule without its line in the catalogue fails
here."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from crmctl import catalogue

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = (ROOT / "docs" / "business-rules.md").read_text()


def test_every_constraint_and_raised_error_is_in_the_catalogue(db: psycopg.Connection) -> None:
    constraints = {r[0] for r in db.execute(
        "SELECT conname FROM pg_constraint "
        "WHERE connamespace = 'crm'::regnamespace AND contype IN ('c', 'u', 'x', 'f')")}
    sources = "\n".join(r[0] for r in db.execute(
        "SELECT prosrc FROM pg_proc WHERE pronamespace IN ('crm'::regnamespace, 'api'::regnamespace, "
        "'jobs'::regnamespace, 'reporting'::regnamespace)"))
    raised = set(re.findall(r"CONSTRAINT\s*=\s*'([a-z_]+)'", sources))
    assert len(constraints) > 80 and len(raised) > 40  # the catalog was read
    undocumented = sorted(name for name in constraints | raised if f"`{name}`" not in CATALOGUE)
    assert undocumented == []


def test_every_problem_the_api_raises_is_in_the_catalogue() -> None:
    codes = set()
    for path in (ROOT / "api").rglob("*.py"):
        codes |= set(re.findall(r'Problem\(\d{3}, "([a-z_]+)"', path.read_text()))
    assert {"validation_error", "invalid_json", "service_unavailable"} <= codes
    assert sorted(code for code in codes if f"`{code}`" not in CATALOGUE) == []


def test_the_generated_catalogue_is_committed_as_the_code_builds_it(db: psycopg.Connection) -> None:
    """docs/catalogue.md is generated (make docs) from the database: errors, constraints, triggers, functions."""
    built = catalogue.build(db)
    assert "| `duplicate_lead` | PT409 | 409 |" in built and "`function_layer_missing`" in built
    assert built == catalogue.CATALOGUE.read_text(), "docs/catalogue.md is out of date: run make docs"


def test_schema_md_names_every_function_file_and_migration() -> None:
    schema = (ROOT / "docs" / "schema.md").read_text()
    files = [p.stem for p in (ROOT / "db" / "functions").glob("*.sql")]
    migrations = [p.stem for p in (ROOT / "db" / "migrations").glob("*.sql") if not p.stem.endswith(".rollback")]
    assert len(files) > 25 and len(migrations) >= 15
    assert sorted(name for name in files + migrations if f"{name}`" not in schema and f"| {name} |" not in schema) == []
