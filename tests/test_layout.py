"""The layout holds: db/ is SQL only, and each Python package that talks to the database keeps its SQL in one
module (`api/queries.py`, `crmctl/queries.py`), every statement there used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# a statement: a keyword and more after it (a bare "DELETE" is an HTTP method, not SQL)
SQL_START = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|LISTEN|NOTIFY|SET|BEGIN|COMMIT)\s+\S")


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_db_holds_only_sql() -> None:
    assert sorted(str(p.relative_to(ROOT)) for p in (ROOT / "db").rglob("*.py")) == []


@pytest.mark.parametrize("package", ["api", "crmctl"])
def test_sql_lives_in_the_queries_module(package: str) -> None:
    modules = [p for p in (ROOT / package).rglob("*.py") if p.name != "queries.py"]
    stray = [f"{p.relative_to(ROOT)}:{line}" for p in modules for line, text in _strings(p) if SQL_START.match(text)]
    assert stray == []
    names = [name for _, name in _constants(ROOT / package / "queries.py")]
    used = "\n".join(p.read_text() for p in modules)
    assert names and [name for name in names if f"queries.{name}" not in used] == []


def _constants(path: Path) -> list[tuple[int, str]]:
    return [(node.lineno, target.id) for node in ast.parse(path.read_text()).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name) and target.id.isupper()]


def test_every_statement_has_its_comment() -> None:
    for package in ("api", "crmctl"):
        path = ROOT / package / "queries.py"
        lines = path.read_text().splitlines()
        for lineno, name in _constants(path):
            above = lines[lineno - 2].strip()
            # a statement is commented on the line above, or shares the comment of the one just before it
            assert above.startswith("# ") or re.match(r"[A-Z_]+ = ", above), f"{path.name}: {name} has no comment"
