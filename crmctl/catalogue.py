"""`crmctl docs [--check]`: docs/catalogue.md, generated from the database itself. Every error a function raises
(its PTnnn SQLSTATE, name and the functions that raise it), every named constraint of crm, every trigger and every
function with its COMMENT, read from the catalog of a freshly migrated scratch database. The file is never edited by
hand; tests/db/test_docs.py fails when it differs from what this builds, so the catalogue cannot drift from the
code. The meaning of each name, for people, is in docs/business-rules.md (which the same test checks names all)."""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import psycopg
from psycopg import sql

from api.errors import CONFLICT_CHECKS, CONSTRAINT_KINDS
from api.settings import Settings
from crmctl import database, queries
from crmctl.environment import environment

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "catalogue.md"
_RAISE = re.compile(r"ERRCODE\s*=\s*'PT(\d{3})',\s*CONSTRAINT\s*=\s*'([a-z_]+)'")
_KINDS = {"c": ("CHECK", "23514"), "u": ("UNIQUE", "23505"), "x": ("EXCLUDE", "23P01"), "f": ("FOREIGN KEY", "23503")}
_SCHEMAS = {"crm": "the rules: triggers, steps and building blocks", "api": "the entry points the API's login runs",
            "jobs": "the background jobs (the jobs login)", "reporting": "what BI tools and psql users read"}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def build(conn: psycopg.Connection) -> str:
    """The catalogue of the database `conn` is connected to, as markdown."""
    functions = conn.execute(queries.CATALOGUE_FUNCTIONS).fetchall()
    raised: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _schema, signature, _definer, _comment, source, _trigger in functions:
        for status, name in _RAISE.findall(source):
            raised[(name, status)].add(signature.split("(")[0])
    out = ["# Catalogue: errors, constraints, triggers and functions", "",
           "Generated from the database by `make docs` (`crmctl docs`); do not edit: `tests/db/test_docs.py` fails",
           "when this file differs from what the code builds. What each name means is in",
           "[business-rules.md](business-rules.md) (section 2 for the errors).", "",
           "## Errors raised by functions", "",
           "SQLSTATE `PTnnn` is answered with HTTP status `nnn`; the name is the problem's `code`.", "",
           "| name | SQLSTATE | HTTP | raised by |", "|---|---|---|---|"]
    for path in sorted(database.LAYER_DIR.glob("*.sql")):  # the rollback's guard, installed only after a rollback
        for status, name in _RAISE.findall(path.read_text()):
            raised[(name, status)].add(f"db/layer/{path.name}")
    for (name, status), where in sorted(raised.items()):
        out.append(f"| `{name}` | PT{status} | {status} | {', '.join(f'`{w}`' for w in sorted(where))} |")
    out += ["", "## Constraints of crm", "",
            "A violated constraint is answered with its name as the problem's `code`.", "",
            "| table | name | kind | columns | SQLSTATE | HTTP | comment |", "|---|---|---|---|---|---|---|"]
    for table, name, kind, columns, comment in conn.execute(queries.CATALOGUE_CONSTRAINTS).fetchall():
        label, state = _KINDS[kind]
        status = 409 if state == "23514" and name in CONFLICT_CHECKS else CONSTRAINT_KINDS[state][0]
        out.append(f"| `{table}` | `{name}` | {label} | {_cell(columns)} | {state} | {status} | {_cell(comment)} |")
    out += ["", "## Triggers on crm tables", "", "| table | trigger | function |", "|---|---|---|"]
    for table, trigger, function in conn.execute(queries.CATALOGUE_TRIGGERS).fetchall():
        out.append(f"| `{table}` | `{trigger}` | `{function}` |")
    for schema, about in _SCHEMAS.items():
        out += ["", f"## Functions of {schema}: {about}", "", "| function | security | comment |", "|---|---|---|"]
        for fschema, signature, definer, comment, _source, trigger in functions:
            if fschema == schema:
                security = "definer" if definer else "invoker"
                out.append(f"| `{signature}`{' (trigger)' if trigger else ''} | {security} | {_cell(comment)} |")
    return "\n".join(out) + "\n"


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    """Build the catalogue in a scratch database (migrated from nothing, then dropped) and write or check it."""
    with environment(settings, need_redis=False) as env:
        name = f"thinkrealty_catalogue_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(env.owner_url, autocommit=True) as admin:
            admin.execute(sql.SQL(queries.CREATE_DATABASE).format(sql.Identifier(name)))
        scratch = database.with_database(env.owner_url, name)
        try:
            database.migrate(scratch)
            with psycopg.connect(scratch) as conn:
                text = build(conn)
        finally:
            with psycopg.connect(env.owner_url, autocommit=True) as admin:
                admin.execute(sql.SQL(queries.DROP_DATABASE).format(sql.Identifier(name)))
    if args.check:
        if CATALOGUE.read_text() != text:
            print(f"{CATALOGUE} is out of date: run make docs", file=sys.stderr)
            return 1
        print(f"{CATALOGUE} is up to date")
        return 0
    CATALOGUE.write_text(text)
    print(f"wrote {CATALOGUE}")
    return 0
