"""Test servers and databases.

A real PostgreSQL and a real Redis: the embedded ones (throwaway, in a temp directory) unless
DATABASE_URL / REDIS_URL name others. The schema is built once per session into a template
database by db/apply.py; each test gets its own copy (CREATE DATABASE ... TEMPLATE) and drops it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from db import apply


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, parts.fragment))


class Servers:
    def __init__(self, admin_url: str, redis_url: str, pg: object | None, redis: object | None) -> None:
        self.admin_url = admin_url
        self.redis_url = redis_url
        self.pg = pg  # EmbeddedPostgres when we started it (fault tests may stop/start it)
        self.redis = redis  # EmbeddedRedis when we started it

    def create_database(self, template: str | None = None) -> str:
        name = f"tr_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if template:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)))
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def url(self, name: str) -> str:
        return with_database(self.admin_url, name)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    pg = rd = None
    tmp = Path(tempfile.mkdtemp(prefix="thinkrealty-test-"))
    try:
        admin_url = os.environ.get("DATABASE_URL")
        if not admin_url:
            from db.embedded import EmbeddedPostgres

            os.environ.setdefault("EMBEDDED_PG_FSYNC", "off")  # throwaway data: no need to hit the disk
            pg = EmbeddedPostgres(tmp / "postgres").start()
            admin_url = pg.url()
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            from db.embedded import EmbeddedRedis

            rd = EmbeddedRedis(tmp / "redis").start()
            redis_url = rd.url()
        yield Servers(admin_url, redis_url, pg, rd)
    finally:
        if rd is not None:
            rd.stop()
        if pg is not None:
            pg.destroy()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(servers: Servers) -> Iterator[str]:
    """Migrated, no demo data."""
    name = servers.create_database()
    apply.migrate(servers.url(name))
    yield name
    servers.drop_database(name)


@pytest.fixture(scope="session")
def seeded_template_db(servers: Servers, template_db: str) -> Iterator[str]:
    """Migrated and seeded with the demo data."""
    name = servers.create_database(template=template_db)
    apply.seed(servers.url(name))
    yield name
    servers.drop_database(name)


@pytest.fixture
def db_url(servers: Servers, template_db: str) -> Iterator[str]:
    name = servers.create_database(template=template_db)
    yield servers.url(name)
    servers.drop_database(name)


@pytest.fixture
def seeded_db_url(servers: Servers, seeded_template_db: str) -> Iterator[str]:
    name = servers.create_database(template=seeded_template_db)
    yield servers.url(name)
    servers.drop_database(name)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """A psql-like session: autocommit, as the owner."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn
