"""`crmctl serve --workers 2`: two uvicorn worker processes behind one port, each with its pool, dashboard change
listener and sweeper. Captures succeed whichever worker takes them, the metrics of both are summed at every scrape, a
change made in psql drops the cached dashboard whichever worker cached it, the sweeps run one at a time (the advisory
lock of jobs.run_sweeps: the other worker skips that round) and SIGTERM stops them all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from devservers.ports import free_port
from tests.api.conftest import INTEGRATION_KEY, SUPERVISOR_KEY, app_url, ensure_demo_keys, jobs_url
from tests.conftest import Servers

pytestmark = pytest.mark.workers
ROOT = Path(__file__).resolve().parents[2]


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


LISTENERS = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND application_name = 'thinkrealty-listener'")


@pytest.fixture
def two_workers(seeded_db_url: str, servers: Servers, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes],
                                                                                           Path]]:
    ensure_demo_keys(seeded_db_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "TEST_PGBOUNCER")}
    env |= {"DATABASE_URL": app_url(seeded_db_url), "REDIS_URL": servers.redis_url, "APP_ENV": "test",
            "JOBS_DATABASE_URL": jobs_url(seeded_db_url), "SWEEP_INTERVAL_S": "0.3", "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json", "DB_POOL_MAX_SIZE": "8"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "crmctl", "serve", "--workers", "2", "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _count(seeded_db_url, LISTENERS) < 2:  # both workers are up when both listen
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"two listeners never connected:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url, process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _capture(url: str, n: int) -> int:
    body = {"source_type": "walk_in", "lead_data": {"first_name": "Worker", "last_name": f"Lead {n}",
                                                    "phone": f"+9715573{n:05d}"}}
    # a client of its own per capture: new connections spread over the workers
    with httpx.Client(base_url=url, headers={"X-API-Key": INTEGRATION_KEY}, timeout=30) as http:
        return http.post("/api/v1/leads/capture", json=body).status_code


def _captured(metrics: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(r'^leads_captured_total\{[^}]*\} ([0-9.e+]+)$', metrics, re.M))


def test_two_workers_share_the_load_the_cache_and_the_sweeps(two_workers: tuple[str, subprocess.Popen[bytes], Path],
                                                             seeded_db_url: str) -> None:
    url, process, log = two_workers
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda n: _capture(url, n), range(36)))
    assert set(statuses) <= {201, 202} and len(statuses) == 36

    # every scrape sums both workers, whichever answers it
    for _ in range(6):
        assert _captured(httpx.get(f"{url}/metrics", timeout=10).text) == 36

    # a change in psql drops the dashboard whichever worker cached it (Redis is shared; both listeners drop)
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        row = conn.execute("SELECT agent_id, lead_id FROM crm.lead_assignments WHERE released_at IS NULL "
                           "ORDER BY assigned_at DESC LIMIT 1").fetchone()
    assert row is not None
    agent, lead = row
    with httpx.Client(base_url=url, headers={"X-API-Key": SUPERVISOR_KEY}, timeout=30) as http:
        dashboard = f"/api/v1/agents/{agent}/dashboard"
        for _ in range(50):
            if http.get(dashboard).headers["x-cache"] == "hit":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("never cached")
        with psycopg.connect(seeded_db_url, autocommit=True) as conn:
            conn.execute("UPDATE crm.leads SET first_name = 'Twice' WHERE lead_id = %s", (lead,))
        for _ in range(50):
            if http.get(dashboard).headers["x-cache"] == "miss":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the cached dashboard was never dropped")

    # sweeps: both workers try every 0.3 s; the advisory lock lets one at a time through
    deadline = time.monotonic() + 20
    while True:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        sweeps = [e for e in entries if e.get("logger") == "api.sweeper" and e["message"].startswith("sweep: ")]
        if len(sweeps) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len(sweeps) >= 3, log.read_text()[-3000:]
    assert not [e for e in entries if "sweep failed" in e["message"]]
    assert len({e["pid"] for e in entries if e.get("logger") == "api.access"}) >= 1
    assert _count(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0

    # SIGTERM: the supervisor stops both workers
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _count(seeded_db_url, LISTENERS) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _count(seeded_db_url, LISTENERS) == 0
