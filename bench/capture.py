"""Capture throughput and latency: POST /api/v1/leads/capture over HTTP against api.capture_lead driven
directly, at the same concurrency, on copies of one seeded database.

HTTP load: wrk (C, two threads) with bench/capture.lua making every lead unique; when wrk is missing a
Python generator in its own process stands in (it costs the server CPU, so its figures are pessimistic).
Direct SQL: pgbench (C) running bench/capture_direct.sql, the body the API would send, as the app's login.
Each run gets a fresh copy of the template (CREATE DATABASE ... TEMPLATE) so runs do not feed each other.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from crmctl import database
from devservers.ports import free_port
from devservers.postgres import pg_bin_dir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# 400 agents more (20,000 free slots), so a whole 20 s run keeps assigning rather than queueing; {agents} is
# the number (the roster benchmark varies it)
BENCH_AGENTS = 400
BENCH_AGENTS_SQL = """
INSERT INTO crm.agents (full_name, email, phone, performance_score)
SELECT 'Bench Agent ' || n, 'bench.agent.' || n || '@thinkrealty.ae', '+97158' || lpad(n::text, 7, '0'),
       40 + (n * 37) % 51
  FROM generate_series(1, {agents}) AS n;
INSERT INTO crm.agent_languages (agent_id, language)
SELECT agent_id, unnest(ARRAY['english', (ARRAY['arabic', 'russian', 'hindi', 'urdu'])[1 + (hashtext(email) & 3)]])
  FROM crm.agents WHERE email LIKE 'bench.agent.%';
INSERT INTO crm.agent_property_types (agent_id, property_type)
SELECT agent_id,
       (ARRAY['apartment', 'villa', 'townhouse', 'commercial'])[1 + ((hashtext(email) >> 4) & 3)]::crm.property_type
  FROM crm.agents WHERE email LIKE 'bench.agent.%' AND (hashtext(email) >> 8) & 3 <> 0;
INSERT INTO crm.agent_areas (agent_id, area_code)
SELECT agent_id,
       (ARRAY['dubai_marina', 'jbr', 'downtown_dubai', 'jvc', 'jlt', 'business_bay'])[1 + abs(hashtext(email)) % 6]
  FROM crm.agents WHERE email LIKE 'bench.agent.%';
"""


# every agent works around the clock, so a figure does not depend on the hour the benchmark runs (at night, with
# office hours, every capture takes the night's path: the whole ranking ordered by when each agent starts)
AROUND_THE_CLOCK_SQL = """
INSERT INTO crm.agent_working_hours (agent_id, isodow, starts, ends)
SELECT g.agent_id, d, '00:00', '24:00' FROM crm.agents AS g, generate_series(1, 7) AS d WHERE g.is_active;
"""


@dataclass
class Result:
    mode: str  # "http" or "sql"
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    assigned: int
    queued: int
    tool: str


def _copy(admin_url: str, template: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return _with_db(admin_url, name)


def drop(admin_url: str, url: str) -> None:
    """Drop the copy `url` at once: its autovacuum would otherwise steal CPU from the next run."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(url.rsplit("/", 1)[-1])))


def _with_db(url: str, name: str, user: str | None = None) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc if user is None else f"{user}@{parts.netloc.rsplit('@', 1)[-1]}"
    return urlunsplit((parts.scheme, netloc, "/" + name, parts.query, parts.fragment))


def prepare_template(admin_url: str, name: str = "bench_capture_template", agents: int = BENCH_AGENTS) -> str:
    """A database with the demo data and `agents` more agents (bench_capture_template by default), every active agent
    on shift around the clock, analysed."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_db(admin_url, name)
    database.migrate(url)
    database.seed(url)
    with psycopg.connect(url, autocommit=True) as conn:
        if agents > 0:
            conn.execute(BENCH_AGENTS_SQL.replace("{agents}", str(agents)))
        conn.execute(AROUND_THE_CLOCK_SQL)
        conn.execute("VACUUM ANALYZE")
    return name


def require_no_violations(url: str) -> None:
    """Every benchmark run ends here: the rules held under its load (reporting.invariant_violations is empty), or the
    benchmark fails."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT rule, count(*) FROM reporting.invariant_violations GROUP BY rule").fetchall()
    if rows:
        raise RuntimeError(f"invariant violations after a benchmark run on {url.rsplit('/', 1)[-1]}: {rows}")


def _outcomes(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FILTER (WHERE queued_at IS NULL), "
                           "count(*) FILTER (WHERE queued_at IS NOT NULL) "
                           "FROM crm.leads WHERE campaign_id = 'bench'").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run_sql(url: str, connections: int, seconds: int, script: Path | None = None) -> Result:
    """pgbench with the capture script (`script`, bench/capture_direct.sql by default), as the app's login;
    per-transaction log for the percentiles."""
    pgbench = shutil.which("pgbench", path=str(pg_bin_dir())) or shutil.which("pgbench")
    assert pgbench, "pgbench not found"
    app_url = _with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        prefix = Path(tmp) / "tx"
        base = [pgbench, "-n", "-M", "prepared", "-f", str(script or HERE / "capture_direct.sql"),
                "-c", str(connections), "-j", str(min(2, connections))]
        subprocess.run([*base, "-T", "3", app_url], check=True, capture_output=True)  # warm-up
        done = subprocess.run([*base, "-T", str(seconds), "-l", "--log-prefix", str(prefix), app_url],
                              check=True, capture_output=True, text=True)
        latencies: list[float] = []
        failed = 0
        for log in Path(tmp).glob("tx*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if fields[2] == "failed":
                    failed += 1
                else:
                    latencies.append(int(fields[2]) / 1000)
    match = [line for line in done.stdout.splitlines() if line.startswith("tps")]
    rps = float(match[0].split("=")[1].split()[0]) if match else len(latencies) / seconds
    assigned, queued = _outcomes(url)
    return Result("sql", connections, seconds, len(latencies), round(rps, 1), _pct(latencies, 50),
                  _pct(latencies, 99), failed, assigned, queued, "pgbench")


def _pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


class ApiServer:
    """The API as `crmctl serve` runs it (one uvicorn process, uvloop, httptools), on a free port."""

    def __init__(self, database_url: str, redis_url: str, extra_env: dict[str, str] | None = None,
                 workers: int = 1, tree: Path = ROOT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # no webhook dispatcher unless a benchmark asks for one (with its job login): the capture figures measure
        # captures, and the app login cannot run the jobs
        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, APP_ENV="production",
                   LOG_LEVEL="WARNING") | {"WEBHOOK_DISPATCH": "false", "OFFER_TIMER": "false"} | (extra_env or {})
        self.metrics_dir: str | None = None
        if workers > 1:  # as crmctl serve --workers N: the workers' metrics in one directory
            self.metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)],
            cwd=tree, env=env,  # the API of `tree` (an earlier revision's worktree, for bench/before_after.py)
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        if self.metrics_dir:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)


def run_http(url: str, redis_url: str, connections: int, seconds: int, *, workers: int = 1,
             pool_url: str | None = None, extra_env: dict[str, str] | None = None, tree: Path = ROOT,
             before_stop: Callable[[], None] | None = None) -> Result:
    """wrk against a fresh API on the copy `url`: `workers` processes; its pool on pool_url (a pooler in front of the
    app login's URL) when given; `before_stop` runs after the load, while the API still runs (its background work
    finishing)."""
    app_url = _with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
    server = ApiServer(pool_url or app_url, redis_url, extra_env, workers=workers, tree=tree)
    try:
        wrk = shutil.which("wrk")
        if wrk:
            base = [wrk, "-t", str(min(2, connections)), "-c", str(connections), "-s", str(HERE / "capture.lua"),
                    "--timeout", "10s"]
            subprocess.run([*base, "-d", "3s", server.url, "--", "0"], check=True, capture_output=True)  # warm-up
            done = subprocess.run([*base, "-d", f"{seconds}s", server.url, "--", "200000"], check=True,
                                  capture_output=True, text=True)
            line = next(x for x in done.stdout.splitlines() if x.startswith("JSON "))
            stats: dict[str, Any] = json.loads(line[5:])
            non_2xx = stats["errors_status"]
            errors = sum(stats[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
            requests = stats["requests"]
            rps = requests / (stats["duration_us"] / 1e6)
            p50, p99 = stats["p50_us"] / 1000, stats["p99_us"] / 1000
            tool = "wrk"
        else:
            from bench import httpload

            stats = httpload.run(server.url, connections, seconds)
            requests, rps, p50, p99 = stats["requests"], stats["rps"], stats["p50_ms"], stats["p99_ms"]
            non_2xx, errors, tool = stats["non_2xx"], stats["errors"], "python (wrk not installed)"
        if before_stop is not None:
            before_stop()
    finally:
        server.stop()
    assigned, queued = _outcomes(url)
    return Result("http", connections, seconds, requests, round(rps, 1), round(p50, 2), round(p99, 2),
                  non_2xx + errors, assigned, queued, tool)


def run(admin_url: str, redis_url: str, seconds: int = 20, concurrencies: tuple[int, ...] = (16, 64)) -> list[Result]:
    template = prepare_template(admin_url)
    results: list[Result] = []
    for connections in concurrencies:
        for mode in ("sql", "http"):
            url = _copy(admin_url, template, f"bench_capture_{mode}_{connections}")
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")  # start every run from a clean checkpoint: none falls inside it
            result = run_sql(url, connections, seconds) if mode == "sql" else run_http(url, redis_url, connections,
                                                                                       seconds)
            print(json.dumps(asdict(result)), flush=True)
            results.append(result)
            require_no_violations(url)
            drop(admin_url, url)
    return results
