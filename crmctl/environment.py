"""Which servers a command talks to: the ones DATABASE_URL / MIGRATION_DATABASE_URL / REDIS_URL name, or else the
embedded PostgreSQL and Redis of devservers/, whose data lives in .data/ (the same ones every time, on ports chosen
once). What a command starts, it stops when it ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from api.settings import Settings
from crmctl import queries

DATABASE_NAME = "thinkrealty_leads"
DEFAULT_PG_PORT = 54329
DEFAULT_REDIS_PORT = 63799


@dataclass
class Environment:
    owner_url: str  # owns the schema: migrations and seed
    app_url: str  # the API's login
    jobs_url: str | None  # the job login (the sweeper), when known
    redis_url: str
    psql: str  # psql binary


def _ports(data_dir: Path) -> dict[str, int]:
    """The ports of the local servers, chosen once and kept in .data/ports.json."""
    from devservers.ports import free_port, port_is_free

    path = data_dir / "ports.json"
    if path.exists():
        ports: dict[str, int] = json.loads(path.read_text())
        return ports
    ports = {
        "postgres": DEFAULT_PG_PORT if port_is_free(DEFAULT_PG_PORT) else free_port(),
        "redis": DEFAULT_REDIS_PORT if port_is_free(DEFAULT_REDIS_PORT) else free_port(),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ports))
    return ports


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute(queries.DATABASE_EXISTS, (name,)).fetchone():
            conn.execute(sql.SQL(queries.CREATE_DATABASE).format(sql.Identifier(name)))


def _psql_binary() -> str:
    try:
        from devservers.postgres import pg_bin_dir

        return str(pg_bin_dir() / "psql")
    except ImportError:
        return "psql"


@contextmanager
def environment(settings: Settings, *, need_redis: bool = True) -> Iterator[Environment]:
    """The servers named by the environment, or local embedded ones (started if needed)."""
    started: list[object] = []
    data_dir = Path(settings.data_dir).resolve()
    owner_url = settings.owner_url
    app_url = settings.database_url
    jobs_url = settings.jobs_url
    redis_url = settings.redis_url
    try:
        if not owner_url:
            from devservers.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(data_dir / "postgres", port=_ports(data_dir)["postgres"])
            if not pg.running():
                pg.start()
                started.append(pg)
            _ensure_database(pg.url(), DATABASE_NAME)
            owner_url = pg.url(DATABASE_NAME)
            app_url = pg.url(DATABASE_NAME, user="thinkrealty_app")
            jobs_url = pg.url(DATABASE_NAME, user="thinkrealty_jobs")
        if not redis_url and need_redis:
            from devservers.redis import EmbeddedRedis

            rd = EmbeddedRedis(data_dir / "redis", port=_ports(data_dir)["redis"]).start()
            started.append(rd)
            redis_url = rd.url()
        yield Environment(owner_url=owner_url, app_url=app_url or owner_url, jobs_url=jobs_url,
                          redis_url=redis_url or "", psql=_psql_binary())
    finally:
        for server in reversed(started):
            server.stop()  # type: ignore[attr-defined]
