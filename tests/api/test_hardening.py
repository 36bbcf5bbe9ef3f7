"""The defects of the hostile pass that show over HTTP: deep and unreadable bodies, parallel reassignments and their
problem bodies, dashboards read right after a write, times out of range, keys of deactivated agents, logs, and the
embedded servers on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from devservers.ports import free_port
from tests.api.conftest import (
    INTEGRATION_KEY,
    OMAR_KEY,
    PROBLEM_BODIES,
    ROOT,
    SUPERVISOR_KEY,
    api_client,
    assert_problem,
    wait_until_healthy,
)
from tests.conftest import Servers

OMAR = "md5('agent-omar.haddad')::uuid"


def one(url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
        return row[0] if row else None


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def capture_json(extra: str = "", phone: str = "+971501230001") -> str:
    return ('{"source_type": "website", "lead_data": {"first_name": "Deep", "last_name": "Nest", "phone": "'
            + phone + '"}' + extra + "}")


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> Any:
    async with api_client(seeded_db_url, servers.redis_url) as client:
        yield client


async def test_a_valid_capture_with_a_nested_extra_is_kept(http: httpx.AsyncClient) -> None:
    body = capture_json(f', "x": {deep(150)}', phone="+971501200150")
    response = await http.post("/api/v1/leads/capture", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("depth", [250, 1000, 5000])
async def test_a_deeply_nested_capture_is_a_400_and_a_dead_letter(http: httpx.AsyncClient, seeded_db_url: str,
                                                                  depth: int) -> None:
    """Deeper than the parser takes (about 200 levels): a 400, and the raw bytes kept, never a 500 and a lost
    lead."""
    body = capture_json(f', "x": {deep(depth)}', phone=f"+9715012{depth:05d}")
    response = await http.post("/api/v1/leads/capture", content=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 400, "invalid_json")
    assert problem["reason"] == "depth"
    letter = one(seeded_db_url, "SELECT raw_body FROM crm.capture_dead_letters WHERE dead_letter_id = %s",
                 problem["dead_letter_id"])
    assert letter == body  # the raw bytes, kept whole: an operator can repair and replay it
    replay = await http.post(f"/api/v1/leads/capture/dead-letters/{problem['dead_letter_id']}/replay")
    assert_problem(replay, 422, "dead_letter_unreadable")  # not JSON we keep: send a corrected body
    fixed = await http.post(f"/api/v1/leads/capture/dead-letters/{problem['dead_letter_id']}/replay",
                            content=capture_json(phone=f"+9715012{depth:05d}"),
                            headers={"Content-Type": "application/json"})
    assert fixed.status_code == 201, fixed.text


BAD_BODIES = {
    "invalid UTF-8": b'{"status": "\xff\xfe"}',
    "1200 deep": deep(1200).encode(),
    "truncated": b'{"status": "contac',
    "not JSON at all": b"status=contacted",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_every_endpoint_answers_an_unparseable_body_alike(http: httpx.AsyncClient, seeded_db_url: str,
                                                               body: bytes) -> None:
    lead = one(seeded_db_url, f"SELECT lead_id::text FROM crm.lead_assignments WHERE agent_id = {OMAR} "
                              "AND released_at IS NULL LIMIT 1")
    headers = {"Content-Type": "application/json"}
    for method, path in (("PUT", f"/api/v1/leads/{lead}/update"), ("POST", f"/api/v1/leads/{lead}/reassign"),
                         ("POST", "/api/v1/leads/capture")):
        response = await http.request(method, path, content=body, headers=headers)
        assert_problem(response, 400, "invalid_json")


async def test_the_documented_400_is_invalid_json(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    update = spec["paths"]["/api/v1/leads/{lead_id}/update"]["put"]["responses"]
    assert "invalid_json" in update["400"]["description"]


async def test_parallel_reassignments_are_clean(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    """8 at once: each moves the lead in turn (or gets a clear 409); no body carries a row."""
    lead = one(seeded_db_url, """SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l
                                   USING (lead_id) WHERE a.released_at IS NULL AND l.status = 'contacted' LIMIT 1""")
    answers = await asyncio.gather(*(
        http.post(f"/api/v1/leads/{lead}/reassign", json={"reason": f"parallel {i}"},
                  headers={"X-API-Key": SUPERVISOR_KEY}) for i in range(8)))
    assert {r.status_code for r in answers} <= {200, 409}
    assert sum(r.status_code == 200 for r in answers) >= 1
    for response in answers:
        assert "Failing row" not in response.text and "crm." not in response.text
    assert one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0


async def test_a_constraint_violation_is_named_without_its_detail(http: httpx.AsyncClient,
                                                                   seeded_db_url: str) -> None:
    """A 23514 reaching the API: the code is the constraint, the detail a sentence of ours (never the row)."""
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:  # a broken setting, past its shape check
        conn.execute("ALTER TABLE crm.settings DISABLE TRIGGER settings_20_shape")
        conn.execute("UPDATE crm.settings SET value = '\"-1 minute\"' WHERE setting_key = 'follow_up_default_duration'")
    lead = one(seeded_db_url, f"SELECT lead_id::text FROM crm.lead_assignments WHERE agent_id = {OMAR} "
                              "AND released_at IS NULL LIMIT 1")
    response = await http.put(f"/api/v1/leads/{lead}/update", headers={"X-API-Key": OMAR_KEY}, json={
        "activity": {"type": "call", "next_follow_up": "2027-03-01T10:00:00Z"}})
    assert response.status_code in (409, 422), response.text
    assert "row" not in response.json()["detail"].lower()


async def test_read_after_write_is_never_stale(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    """50 rounds of PUT /update then GET dashboard at once (cached before the write): the GET always equals the
    dashboard computed fresh from the database after the write."""
    agent = one(seeded_db_url, f"SELECT {OMAR}::text")
    url = f"/api/v1/agents/{agent}/dashboard"
    headers = {"X-API-Key": OMAR_KEY}
    recent = [r["lead_id"] for r in (await http.get(url, headers=headers)).json()["recent_leads"]]
    open_leads = {r[0] for r in psycopg.connect(seeded_db_url, autocommit=True).execute(
        f"""SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
             WHERE a.agent_id = {OMAR} AND a.released_at IS NULL AND l.status NOT IN ('converted', 'lost')""")}
    targets = [lead for lead in recent if lead in open_leads]
    assert targets
    stale = []
    for i in range(50):
        assert (await http.get(url, headers=headers)).headers["x-cache"] in ("hit", "miss")
        written = await http.put(f"/api/v1/leads/{targets[i % len(targets)]}/update", headers=headers,
                                 json={"activity": {"type": "call", "notes": f"round {i}"}})
        assert written.status_code == 200, written.text
        after = (await http.get(url, headers=headers)).json()
        fresh = one(seeded_db_url, "SELECT api.agent_dashboard(%s::uuid)", agent)
        after.pop("generated_at")
        fresh.pop("generated_at")
        if after != fresh:
            stale.append(i)
    assert stale == []


async def test_times_out_of_range_are_refused(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    # an open lead of Omar's (a closed one takes no follow-up at all)
    lead = one(seeded_db_url, "SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l "
                              f"USING (lead_id) WHERE a.agent_id = {OMAR} AND a.released_at IS NULL "
                              "AND NOT crm.is_closed(l.status) ORDER BY a.lead_id LIMIT 1")
    far = await http.put(f"/api/v1/leads/{lead}/update", json={
        "activity": {"type": "call", "next_follow_up": "9999-12-31T23:59:00-12:00"}})
    assert_problem(far, 422, "follow_up_too_far")
    agent = one(seeded_db_url, f"SELECT {OMAR}::text")
    ranged = await http.get(f"/api/v1/agents/{agent}/dashboard",
                            params={"date_range": "custom", "date_from": "9998-01-01", "date_to": "9999-12-31"})
    body = assert_problem(ranged, 422, "date_range_out_of_bounds")
    assert "infinity" not in json.dumps(body) and "10000" not in json.dumps(body)


async def test_a_deactivated_agents_key_is_refused_at_once(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    agent = one(seeded_db_url, f"SELECT {OMAR}::text")
    url = f"/api/v1/agents/{agent}/dashboard"
    for _ in range(20):  # until the dashboard is served from the cache (the listener's first sweep may drop one)
        answer = await http.get(url, headers={"X-API-Key": OMAR_KEY})
        assert answer.status_code == 200
        if answer.headers["x-cache"] == "hit":
            break
        await asyncio.sleep(0.05)
    assert answer.headers["x-cache"] == "hit"
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        conn.execute(f"UPDATE crm.agents SET is_active = false WHERE agent_id = {OMAR}")
    assert_problem(await http.get(url, headers={"X-API-Key": OMAR_KEY}), 401, "api_key_inactive_agent")


async def test_every_log_line_of_a_failed_request_carries_its_id(seeded_db_url: str, servers: Servers) -> None:
    """An exception no handler answers is logged inside the request (its id on the line) and answered as a
    problem+json 500, not left to the server's own log line with no id."""
    from api.logs import RequestIdFilter
    from api.main import create_app
    from tests.api.conftest import app_url, make_settings

    async def broken() -> None:
        raise RuntimeError("a bug")

    app = create_app(make_settings(app_url(seeded_db_url), servers.redis_url))
    app.add_api_route("/boom", broken)  # a route with a bug, in the real app and its middleware
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.addFilter(RequestIdFilter())
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://test") as client:
            response = await client.get("/boom", headers={"X-Request-ID": "trace-500"})
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "a bug" not in response.text
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert errors and all(getattr(r, "request_id", None) == "trace-500" for r in errors)
    assert any(r.exc_info for r in errors)


async def test_a_client_leaving_mid_body_is_not_an_error(seeded_db_url: str, servers: Servers,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from api.main import create_app
    from tests.api.conftest import app_url, ensure_demo_keys, make_settings

    ensure_demo_keys(seeded_db_url)
    app = create_app(make_settings(app_url(seeded_db_url), servers.redis_url))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not sent:
            sent.append({})
            return {"type": "http.request", "body": b'{"source_type": "web', "more_body": True}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/leads/capture", "raw_path": b"/api/v1/leads/capture",
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("test", 80), "client": ("t", 1),
             "http_version": "1.1", "asgi": {"version": "3.0"},
             "headers": [(b"content-type", b"application/json"), (b"x-api-key", INTEGRATION_KEY.encode()),
                         (b"transfer-encoding", b"chunked")]}
    async with app.router.lifespan_context(app):
        with caplog.at_level(logging.INFO):
            await app(scope, receive, send)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_sigterm_stops_the_embedded_servers() -> None:
    """`crmctl serve` with its own embedded PostgreSQL and Redis: SIGTERM ends it and both servers."""
    data = Path(tempfile.mkdtemp(prefix="thinkrealty-sigterm-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MIGRATION_DATABASE_URL",
                                                              "JOBS_DATABASE_URL")}
    env |= {"DATA_DIR": str(data), "LOG_LEVEL": "WARNING", "SWEEP_INTERVAL_S": "0", "EMBEDDED_PG_FSYNC": "off"}
    process = subprocess.Popen([sys.executable, "-m", "crmctl", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, timeout_s=120)
        pg_pid = int((data / "postgres" / "postmaster.pid").read_text().split()[0])
        children = _children(process.pid) | {pg_pid}
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()


def _children(pid: int) -> set[int]:
    """Every descendant of pid (from /proc)."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == parent and int(entry.name) not in found:
                    found.add(int(entry.name))
                    frontier.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_suite_scans_problem_bodies() -> None:
    """The leak scan of every API client saw bodies (it runs as an httpx response hook: tests/api/conftest.py)."""
    assert PROBLEM_BODIES, "no problem body passed the scan: is the hook installed?"
