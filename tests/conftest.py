"""Test servers and databases.

A real PostgreSQL and a real Redis: by TEST_BACKEND, the embedded ones (`embedded`, the default: throwaway, in a temp
directory) or containers started through testcontainers (`containers`: postgres:16 and redis:7, tests/containers.py;
skipped, saying why, where no Docker engine answers), unless DATABASE_URL / REDIS_URL name others. The schema is built
once per session into a template database by crmctl/database.py; each test gets its own copy (CREATE DATABASE ...
TEMPLATE) and drops it.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from crmctl import database


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
        self._pools: dict[str, ClonePool] = {}

    def create_database(self, template: str | None = None) -> str:
        name = f"tr_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if template:
                # FILE_COPY: for a template of a few MB, copying its files is about twice as fast as the WAL_LOG
                # default of PostgreSQL 15+, and its drop four times
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(template)))
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def clone(self, template: str) -> str:
        """A fresh copy of the template, made ahead of time by a background thread (one test's copy is being made
        while the test before it runs): the same isolation as CREATE DATABASE per test, without waiting for it."""
        if template not in self._pools:
            self._pools[template] = ClonePool(self, template)
        return self._pools[template].take()

    def discard(self, name: str) -> None:
        """Drop a test's database in the background (nobody uses it again)."""
        ClonePool.dropper(self).put(name)

    def close_pool(self, template: str) -> None:
        """Stop cloning `template` and drop its unused copies (before the template itself is dropped)."""
        pool = self._pools.pop(template, None)
        if pool is not None:
            pool.close()

    def close(self) -> None:
        for template in list(self._pools):
            self.close_pool(template)
        ClonePool.stop_dropper()

    def url(self, name: str) -> str:
        return with_database(self.admin_url, name)


class ClonePool:
    """Keeps `depth` copies of one template ready (a daemon thread refills as tests take them). Copies are made
    from the template as it is when the pool starts, so a template must not change after its first clone."""

    _drops: queue.Queue[str | None] | None = None
    _drop_thread: threading.Thread | None = None

    def __init__(self, servers: Servers, template: str, depth: int = 2) -> None:
        self.servers = servers
        self.template = template
        self.ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=depth)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._fill, daemon=True, name=f"clones-{template}")
        self.thread.start()

    def _fill(self) -> None:
        while not self.stopping.is_set():
            try:
                item: str | BaseException = self.servers.create_database(self.template)
            except BaseException as exc:  # handed to the test that asks next, which fails with it
                item = exc
            while not self.stopping.is_set():
                try:
                    self.ready.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            else:
                if isinstance(item, str):
                    self.servers.drop_database(item)

    def take(self) -> str:
        item = self.ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        while not self.ready.empty():
            item = self.ready.get_nowait()
            if isinstance(item, str):
                self.servers.drop_database(item)

    @classmethod
    def dropper(cls, servers: Servers) -> queue.Queue[str | None]:
        if cls._drops is None:
            drops: queue.Queue[str | None] = queue.Queue()

            def drain() -> None:
                while (name := drops.get()) is not None:
                    try:
                        servers.drop_database(name)
                    except psycopg.Error:
                        pass  # the server went away (a fault test); the data directory goes with the session
                    finally:
                        drops.task_done()
                drops.task_done()

            cls._drops = drops
            cls._drop_thread = threading.Thread(target=drain, daemon=True, name="drops")
            cls._drop_thread.start()
        return cls._drops

    @classmethod
    def stop_dropper(cls) -> None:
        if cls._drops is not None and cls._drop_thread is not None:
            cls._drops.put(None)
            cls._drop_thread.join(timeout=60)
        cls._drops = cls._drop_thread = None


BACKENDS = ("embedded", "containers")


def backend() -> str:
    chosen = os.environ.get("TEST_BACKEND", "embedded")
    if chosen not in BACKENDS:
        raise pytest.UsageError(f"TEST_BACKEND={chosen!r}: one of {', '.join(BACKENDS)}")
    return chosen


def _redis_of_this_worker(url: str | None) -> str | None:
    """A Redis named by REDIS_URL is shared by the parallel test workers (pytest-xdist), whose apps drop every cached
    dashboard when their listeners connect: each worker gets a database of its own (the URL's, plus 1 + its number,
    modulo Redis's 16), as each gets its own PostgreSQL databases."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + 1 + int(worker[2:])) % 16}"))


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    pg = rd = None
    containers: list[object] = []
    tmp = Path(tempfile.mkdtemp(prefix="thinkrealty-test-"))
    try:
        admin_url = os.environ.get("DATABASE_URL")
        redis_url = _redis_of_this_worker(os.environ.get("REDIS_URL"))
        if backend() == "containers":
            from tests import containers as docker

            reason = docker.docker_unavailable()
            if reason:
                pytest.skip(f"TEST_BACKEND=containers: {reason}")
            if not admin_url:
                container, admin_url = docker.start_postgres()
                containers.append(container)
            if not redis_url:
                container, redis_url = docker.start_redis()
                containers.append(container)
        if not admin_url:
            from devservers.postgres import EmbeddedPostgres

            os.environ.setdefault("EMBEDDED_PG_FSYNC", "off")  # throwaway data: no need to hit the disk
            pg = EmbeddedPostgres(tmp / "postgres").start()
            admin_url = pg.url()
        if not redis_url:
            from devservers.redis import EmbeddedRedis

            rd = EmbeddedRedis(tmp / "redis").start()
            redis_url = rd.url()
        servers = Servers(admin_url, redis_url, pg, rd)
        try:
            yield servers
        finally:
            servers.close()
    finally:
        for container in reversed(containers):
            container.stop()  # type: ignore[attr-defined]  # (removes it, and its volume)
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
    database.migrate(servers.url(name))
    yield name
    servers.close_pool(name)
    servers.drop_database(name)


@pytest.fixture(scope="session")
def seeded_template_db(servers: Servers, template_db: str) -> Iterator[str]:
    """Migrated and seeded with the demo data."""
    name = servers.create_database(template=template_db)
    database.seed(servers.url(name))
    yield name
    servers.close_pool(name)
    servers.drop_database(name)


@pytest.fixture
def db_url(servers: Servers, template_db: str) -> Iterator[str]:
    name = servers.clone(template_db)
    yield servers.url(name)
    servers.discard(name)


@pytest.fixture
def seeded_db_url(servers: Servers, seeded_template_db: str) -> Iterator[str]:
    name = servers.clone(seeded_template_db)
    yield servers.url(name)
    servers.discard(name)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """A psql-like session: autocommit, as the owner."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn
