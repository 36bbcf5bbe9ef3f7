"""Apply the database of db/: roles, yoyo migrations, then every file of db/functions/ in order; the demo data.

    crmctl migrate                  # roles + pending migrations + functions (idempotent)
    crmctl migrate --rollback       # roll back the latest migration
    crmctl migrate --rollback 0     # roll back every migration (to an empty database)
    crmctl migrate --rollback 0004  # roll back until 0004_... is the latest applied
    crmctl seed                     # demo data (db/seed/*.sql), idempotent

Migrations meet the tables alone: when some are pending, the function layer in place (the previous release's) is
dropped before them and this release's applied after. A rollback is honest about the function layer too: the files
of db/functions/ are this release's, written against the newest tables, so a rollback drops them all first
(db/layer/drop_function_layer.sql) and, when tables remain, installs a guard that refuses writes to crm clearly
until a release's migrate applies its own function files (db/layer/guard.sql). docs/operations.md says how to
roll back a release.

Everything runs under one advisory lock, so several app processes or deploy jobs starting at once
apply the database exactly once. The functions files are applied in one transaction: either all
of them are in place or none changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from crmctl import queries

DB_DIR = Path(__file__).resolve().parents[1] / "db"  # the SQL: beside this package, in the source tree
MIGRATIONS_DIR = DB_DIR / "migrations"
FUNCTIONS_DIR = DB_DIR / "functions"
SEED_DIR = DB_DIR / "seed"
LAYER_DIR = DB_DIR / "layer"

APP_ROLE = "thinkrealty_app"
JOBS_ROLE = "thinkrealty_jobs"
REPORTING_ROLE = "thinkrealty_reporting"
APPLY_LOCK_KEY = 7_312_046_501  # pg_advisory_lock key shared by every apply/seed run


def _yoyo_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, parts.query, parts.fragment))


def with_database(url: str, name: str) -> str:
    """The same server and login, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def function_files() -> list[Path]:
    return sorted(FUNCTIONS_DIR.glob("*.sql"))


def seed_files() -> list[Path]:
    return sorted(SEED_DIR.glob("*.sql"))


def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the app, jobs and reporting logins if missing (cluster-wide, so not in a migration).

    Passwords come from APP_DB_PASSWORD / JOBS_DB_PASSWORD / REPORTING_DB_PASSWORD when set (docker compose);
    the embedded server uses trust authentication and needs none. The app login's statement_timeout default is
    DB_STATEMENT_TIMEOUT_MS (5000): the API's pool asks for the same at connect time, except through a transaction-mode
    pooler, which refuses that startup parameter (docs/operations.md, "Behind PgBouncer").
    """
    for role, env in ((APP_ROLE, "APP_DB_PASSWORD"), (JOBS_ROLE, "JOBS_DB_PASSWORD"),
                      (REPORTING_ROLE, "REPORTING_DB_PASSWORD")):
        exists = conn.execute(queries.ROLE_EXISTS, (role,)).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL(queries.CREATE_ROLE).format(sql.Identifier(role)))
            except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                # created by a concurrent apply in another database (UniqueViolation when both inserted at once:
                # two test workers migrating their templates on a fresh server)
                pass
        password = os.environ.get(env)
        if password:
            conn.execute(
                sql.SQL(queries.SET_ROLE_PASSWORD).format(sql.Identifier(role), sql.Literal(password))
            )
    timeout = f"{int(os.environ.get('DB_STATEMENT_TIMEOUT_MS') or 5000)}ms"
    if not conn.execute(queries.ROLE_STATEMENT_TIMEOUT_IS, (APP_ROLE, f"statement_timeout={timeout}")).fetchone():
        # (only when it differs: an ALTER ROLE of every migrate would collide with another database's migrate)
        conn.execute(sql.SQL(queries.SET_ROLE_STATEMENT_TIMEOUT).format(sql.Identifier(APP_ROLE), sql.Literal(timeout)))


@contextmanager
def _locked(url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection holding the apply lock: one migrate/rollback/seed at a time."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(queries.APPLY_LOCK, (APPLY_LOCK_KEY,))
        try:
            yield conn
        finally:
            conn.execute(queries.APPLY_UNLOCK, (APPLY_LOCK_KEY,))


@contextmanager
def _yoyo(url: str) -> Iterator[tuple[Any, Any]]:
    """yoyo's backend (holding its own lock) and the migrations of db/migrations."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(_yoyo_url(url))
    try:
        with backend.lock():
            yield backend, read_migrations(str(MIGRATIONS_DIR))
    finally:
        backend.connection.close()


def apply_functions(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for path in function_files():
            conn.execute(path.read_text().encode())


def drop_function_layer(conn: psycopg.Connection) -> None:
    """Every function, trigger, policy and view of db/functions/ goes (db/layer/drop_function_layer.sql)."""
    with conn.transaction():
        conn.execute((LAYER_DIR / "drop_function_layer.sql").read_text().encode())


def migrate(url: str) -> list[str]:
    """Apply pending migrations and (re)apply every function file. Returns the ids applied."""
    with _locked(url) as conn:
        ensure_roles(conn)
        conn.execute(queries.DROP_ROLLBACK_GUARD)  # the migrations below may write to crm
        with _yoyo(url) as (backend, migrations):
            pending = backend.to_apply(migrations)
            if pending:
                # migrations always meet the tables alone, as on a fresh database: the function layer in place is
                # the previous release's, whose triggers know nothing of the new columns or settings; it is
                # dropped here and this release's applied below (a few seconds in which the API answers 503
                # function_layer_missing, under the apply lock)
                drop_function_layer(conn)
            backend.apply_migrations(pending)
        apply_functions(conn)
        return [m.id for m in pending]


def rollback(url: str, target: str | None = None) -> list[str]:
    """Roll back the latest migration, or every migration after `target` ("0" rolls back all). The function layer
    goes first (it cannot be vouched for against older tables); the guard follows when tables remain."""
    with _locked(url) as conn, _yoyo(url) as (backend, migrations):
        applied = backend.to_rollback(migrations)  # newest first
        if target is None:
            chosen = applied[:1]
        elif target in ("0", "zero", "all"):
            chosen = list(applied)
        else:
            ids = [m.id for m in applied]
            keep = next((i for i, mid in enumerate(ids) if mid.startswith(target)), None)
            if keep is None:
                raise SystemExit(f"no applied migration matches {target!r}")
            chosen = applied[:keep]
        if not chosen:
            return []
        drop_function_layer(conn)
        backend.rollback_migrations(chosen)
        row = conn.execute(queries.CRM_SCHEMA_EXISTS).fetchone()
        if row and row[0]:
            with conn.transaction():
                conn.execute((LAYER_DIR / "guard.sql").read_text().encode())
        return [m.id for m in chosen]


def seed(url: str, *, only_if_empty: bool = False) -> bool:
    """Load the demo data. Every seed file is idempotent; returns False when skipped."""
    with _locked(url) as conn:
        if only_if_empty:
            row = conn.execute(queries.COUNT_AGENTS).fetchone()
            if row and row[0] > 0:
                return False
        with conn.transaction():
            conn.execute(queries.SEED_ACTOR)
            for path in seed_files():
                conn.execute(path.read_text().encode())
        conn.execute(queries.REFRESH_ANALYTICS_SNAPSHOT)  # the reports see the demo data at once
        return True
