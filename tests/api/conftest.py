"""The ASGI app inside its lifespan, on a fresh database, talking to the real Redis.

TEST_PGBOUNCER=1: every app of api_client connects through a real PgBouncer in transaction mode (started once per
session in front of the test server; DATABASE_POOLER=transaction) and listens for notifications on a direct
connection (DATABASE_LISTEN_URL), as a deployment behind PgBouncer does. `.ci/run` runs the API tests so when the
pgbouncer binary is there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from api.main import create_app
from api.settings import Settings
from devservers import pgbouncer
from devservers.ports import free_port
from tests.conftest import Servers, with_user

ROOT = Path(__file__).resolve().parents[2]
SEED_KEYS = ROOT / "db" / "seed" / "60_api_keys.sql"
# the demo keys of db/seed/60_api_keys.sql (README lists them)
INTEGRATION_KEY = "trk_de000001_demo-integration-portals-and-website"
OMAR_KEY = "trk_de000002_demo-agent-omar-haddad"  # agent Omar Haddad
PRIYA_KEY = "trk_de000003_demo-agent-priya-nair"  # agent Priya Nair
SUPERVISOR_KEY = "trk_de000004_demo-supervisor"
ADMIN_KEY = "trk_de000005_demo-admin"


def ensure_demo_keys(owner_url: str) -> None:
    """The demo keys in this database (seeded or not: agent keys only where their agent exists)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(SEED_KEYS.read_text().encode())


def app_url(owner_url: str) -> str:
    """The API's own login (thinkrealty_app) when the server trusts it, as the embedded one does."""
    return owner_url if urlsplit(owner_url).password else with_user(owner_url, "thinkrealty_app")


def jobs_url(owner_url: str) -> str:
    """The job login (thinkrealty_jobs), which the background sweeper connects as."""
    return owner_url if urlsplit(owner_url).password else with_user(owner_url, "thinkrealty_jobs")


LOGINS = ["postgres", "thinkrealty_app", "thinkrealty_jobs", "thinkrealty_reporting"]
_BOUNCER: list[pgbouncer.PgBouncer] = []  # the session's, under TEST_PGBOUNCER=1


def start_pgbouncer(servers: Servers, workdir: Path, pool_size: int = 10) -> pgbouncer.PgBouncer:
    """A PgBouncer (transaction mode) in front of the test server; skips the test when there is no binary."""
    if pgbouncer.available() is None:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer; make pgbouncer)")
    upstream = urlsplit(servers.admin_url)
    return pgbouncer.PgBouncer(workdir, upstream.hostname or "127.0.0.1", upstream.port or 5432, LOGINS,
                               pool_size=pool_size).start()


@pytest.fixture(scope="session", autouse=True)
def _through_pgbouncer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if not os.environ.get("TEST_PGBOUNCER"):
        yield
        return
    if pgbouncer.available() is None:
        raise RuntimeError("TEST_PGBOUNCER is set but there is no pgbouncer binary (apt-get install pgbouncer)")
    bouncer = start_pgbouncer(request.getfixturevalue("servers"), tmp_path_factory.mktemp("pgbouncer"))
    _BOUNCER.append(bouncer)
    try:
        yield
    finally:
        _BOUNCER.clear()
        bouncer.stop()


def make_settings(database_url: str, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": database_url, "redis_url": redis_url, "app_env": "test",
                              "db_pool_min_size": 1, "db_pool_max_size": 10, "redis_timeout_s": 0.3,
                              "sweep_interval_s": 0, "webhook_dispatch": False,
                              "offer_timer": False}
    return Settings(**(values | overrides))


# what no problem body may ever carry: SQL, a raw row, a constraint's or the server's own detail text
LEAK_PATTERNS = re.compile(r"Failing row contains|violates (check|unique|foreign key|exclusion|not-null) constraint|"
                           r"duplicate key value|\bSELECT\b|\bINSERT INTO\b|\bUPDATE crm\.|PL/pgSQL|CONTEXT:|"
                           r"DETAIL:|relation \"|Traceback|asyncpg|psycopg")
PROBLEM_BODIES: list[str] = []  # every problem body the API tests saw (test_problem_bodies.py reads the count)


async def scan_problem(response: httpx.Response) -> None:
    """An httpx response hook on every test client: a problem body that leaks fails the test that provoked it."""
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        text = (await response.aread()).decode("utf-8", "replace")
        PROBLEM_BODIES.append(text)
        leak = LEAK_PATTERNS.search(text)
        assert leak is None, f"a problem body leaks {leak.group(0)!r}: {text}"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 body with this status and code, and a human detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == f"https://thinkrealty.ae/problems/{code}"
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@asynccontextmanager
async def api_client(database_url: str, redis_url: str, *, api_key: str | None = ADMIN_KEY, demo_keys: bool = True,
                     pool_url: str | None = None, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app inside its lifespan (as the app's own login), over ASGI, with these settings changed; every request
    carries `api_key` (the demo admin's by default; None: no key). demo_keys: store the demo keys first. pool_url:
    the pool's DATABASE_URL when it is not the app login's direct one (a pooler in front of it)."""
    if demo_keys:
        ensure_demo_keys(database_url)
    url = pool_url or app_url(database_url)
    if _BOUNCER and pool_url is None:  # TEST_PGBOUNCER: the pool through it, LISTEN direct
        overrides = {"database_pooler": "transaction", "database_listen_url": url} | overrides
        url = _BOUNCER[0].url(url)
    app = create_app(make_settings(url, redis_url, **({"jobs_database_url": jobs_url(database_url)} | overrides)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"X-API-Key": api_key} if api_key else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers,
                                     event_hooks={"response": [scan_problem]}) as http:
            yield http


class FakeSuggestionService:
    """A real HTTP server on 127.0.0.1 standing in for the property-suggestion service.
    `mode`: "ok" (answers `property_ids`), "error" (500), "hang" (answers after `hang_s`), "garbage"."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.property_ids: list[str] = []
        self.hang_s = 3.0
        self.calls: list[dict[str, Any]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                service.calls.append(json.loads(self.rfile.read(length) or b"{}"))
                if service.mode == "hang":
                    time.sleep(service.hang_s)
                if service.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                body = b"not json" if service.mode == "garbage" else json.dumps(
                    {"property_ids": service.property_ids}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/suggest"

    def __enter__(self) -> FakeSuggestionService:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def suggestion_service() -> Iterator[FakeSuggestionService]:
    with FakeSuggestionService() as service:
        yield service


def wait_until_healthy(url: str, process: subprocess.Popen[Any], timeout_s: float) -> None:
    """Until GET /health answers 200; fails when the process exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the server exited before it answered"
        assert time.monotonic() < deadline, "the server did not come up in time"
        time.sleep(0.1)


def uvicorn_command(port: int) -> list[str]:
    """The API as a uvicorn process on 127.0.0.1:port. Idle connections are kept 30 s, well past httpx's 5 s
    keep-alive expiry: with both at 5 s, a client reusing a connection as the server closes it reads an EOF instead
    of an answer (httpx.ReadError), which a loaded machine made happen under the 300-parallel tests."""
    return [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "30"]


@contextmanager
def live_api(database_url: str, redis_url: str, **env: str) -> Iterator[str]:
    """The API as a real uvicorn process on a free port (its own login URL, Redis, extra environment); yields its
    base URL once /health answers, stops it afterwards."""
    port = free_port()
    environ = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, APP_ENV="test", DB_POOL_MAX_SIZE="20",
                   LOG_LEVEL="WARNING", SWEEP_INTERVAL_S="0", WEBHOOK_DISPATCH="false",
                   OFFER_TIMER="false") | env
    process = subprocess.Popen(uvicorn_command(port), cwd=ROOT, env=environ)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, timeout_s=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
async def client(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url) as http:
        yield http
