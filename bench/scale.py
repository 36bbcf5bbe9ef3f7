"""Benchmarks at scale (1,000,000 leads by default): the agent dashboard cached and uncached, and every object of
the reporting schema, on a database built by db/scale/generate.sql.

The scale database is kept between runs on the same server (its comment records what it holds, and which version
of the generator built it), so a second `make bench` against a persistent DATABASE_URL does not generate it again;
the embedded server of a plain `make bench` is thrown away, so there it is generated every time (about 6 minutes at
1M).

Dashboard, server-side: the `Server-Timing: app;dur=` header the API puts on every response (request in to
response out, in the app) over sequential requests: first for filter sets never asked (misses), then for the same
ones again (hits). Throughput: wrk (or the Python stand-in) with bench/dashboard.lua at a fixed concurrency, once
with every request a new filter set (every one a miss) and once over a warmed set (every one a hit); the API is
restarted in between, which empties the cache (the listener flushes it on connect).

Reporting: each view and function of the reporting schema as the BI login runs it (SELECT * FROM ..., every row
fetched), all time and over the last 90 days, median of three after a warm-up; then EXPLAIN (ANALYZE, BUFFERS) of
the statements inside each, through auto_explain (log_nested_statements), for the doc.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from bench.capture import HERE, ROOT, ApiServer, _pct, _with_db
from crmctl import database
from devservers.postgres import pg_bin_dir

SCALE_DB = "bench_scale"
FILTERS = ("30d", "7d", "90d"), ("all", "active", "converted", "lost"), (
    "all", "bayut", "propertyFinder", "dubizzle", "website", "walk_in", "referral")


@dataclass
class DashboardResult:
    agents: int
    leads_per_agent: int
    uncached_server_p50_ms: float
    uncached_server_p99_ms: float
    cached_server_p50_ms: float
    cached_server_p99_ms: float
    uncached_client_p50_ms: float
    cached_client_p50_ms: float
    connections: int
    uncached_rps: float
    cached_rps: float
    uncached_misses: int
    uncached_requests: int
    cached_hits: int
    cached_requests: int
    errors: int
    tool: str


@dataclass
class ReportTiming:
    name: str
    kind: str  # "view", "function" or "list" (a function with p_limit: timed as the API calls it, top 500)
    rows_all_time: int
    all_time_ms: float
    last_90_days_ms: float | None
    every_row_ms: float | None = None  # lists only: every row, no limit
    plans: list[str] = field(default_factory=list)


def prepare(admin_url: str, leads: int, agents: int) -> tuple[str, float | None]:
    """The scale database: reused when it already holds this many generated leads, else built (returns the
    generation's seconds then)."""
    script = ROOT / "db" / "scale" / "generate.sql"
    version = hashlib.sha256(script.read_bytes()).hexdigest()[:12]   # a changed generator builds afresh
    marker = f"thinkrealty bench scale: {leads} leads, {agents} agents, generator {version}"
    url = _with_db(admin_url, SCALE_DB)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (SCALE_DB,)).fetchone()
        if row is not None and row[0] == marker:
            database.migrate(url)  # the newest functions; the data stays
            print(f"reusing database {SCALE_DB} ({marker})", flush=True)
            _refresh_snapshot(url)
            return url, None
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCALE_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCALE_DB)))
    database.migrate(url)
    database.seed(url)
    psql = shutil.which("psql", path=str(pg_bin_dir())) or "psql"
    started = time.monotonic()
    print(f"generating {leads:,} leads and {agents} agents (db/scale/generate.sql) ...", flush=True)
    subprocess.run([psql, "-X", "-q", "-v", f"leads={leads}", "-v", f"agents={agents}", "-d", url,
                    "-f", str(script)], check=True)
    generated = time.monotonic() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(SCALE_DB), sql.Literal(marker)))
        conn.execute("CHECKPOINT")
    return url, generated


def _refresh_snapshot(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT crm.refresh_analytics_snapshot(true)")


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM crm.leads), (SELECT count(*) FROM crm.lead_activities), "
            "(SELECT count(*) FROM crm.agents), (SELECT count(*) FROM crm.follow_up_tasks), "
            "(SELECT count(*) FROM reporting.invariant_violations)").fetchone()
    assert row is not None
    return dict(zip(("leads", "activities", "agents", "follow_ups", "invariant_violations"), row, strict=True))


def _path(agent_ids: list[str], n: int) -> str:
    """The n-th filter set, exactly as bench/dashboard.lua builds it (its agent is agent_ids[n % len])."""
    ranges, statuses, sources = FILTERS
    combo = n // len(agent_ids)
    return (f"/api/v1/agents/{agent_ids[n % len(agent_ids)]}/dashboard?date_range={ranges[combo % 3]}"
            f"&status_filter={statuses[combo // 3 % 4]}&source_filter={sources[combo // 12 % 7]}")


def _server_ms(response: httpx.Response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def _load(server_url: str, mode: str, agents_file: Path, keys: int, connections: int,
          seconds: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk:
        done = subprocess.run(
            [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", str(HERE / "dashboard.lua"), server_url, "--", mode, str(agents_file), "2", str(keys)],
            check=True, capture_output=True, text=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("JSON "))
        stats: dict[str, Any] = json.loads(line[5:])
        stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
        stats["errors"] = stats["errors_status"] + stats["errors_other"]
        stats["tool"] = "wrk"
        return stats
    return _python_load(server_url, mode, agents_file, keys, connections, seconds)


def _python_load(server_url: str, mode: str, agents_file: Path, hit_keys: int, connections: int,
                 seconds: int) -> dict[str, Any]:
    import asyncio

    pairs = [line.split() for line in agents_file.read_text().splitlines() if line.strip()]
    agent_ids = [agent for agent, _ in pairs]
    keys = dict(pairs)

    async def go() -> dict[str, Any]:
        stop = time.monotonic() + seconds
        counter: dict[str, Any] = {"n": 0, "hits": 0, "misses": 0, "errors": 0, "requests": 0}

        async def worker() -> None:
            async with httpx.AsyncClient(base_url=server_url, timeout=10) as http:
                while time.monotonic() < stop:
                    n = counter["n"] % hit_keys if mode == "hit" else counter["n"]
                    counter["n"] += 1
                    agent = agent_ids[n % len(agent_ids)]
                    response = await http.get(_path(agent_ids, n), headers={"X-API-Key": keys[agent]})
                    counter["requests"] += 1
                    counter["errors"] += response.status_code != 200
                    counter["hits" if response.headers.get("x-cache") == "hit" else "misses"] += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        counter["rps"] = counter["requests"] / (time.monotonic() - started)
        return counter

    stats = asyncio.run(go())
    stats["tool"] = "python (wrk not installed)"
    return stats


def run_dashboard(url: str, redis_url: str, seconds: int, connections: int = 8,
                  samples: int = 300) -> DashboardResult:
    app_url = _with_db(url, SCALE_DB, "thinkrealty_app")
    with psycopg.connect(url, autocommit=True) as conn:  # each agent gets an agent key of its own for the run
        pairs = conn.execute(
            "SELECT agent_id::text, api.create_api_key('agent', 'bench: dashboard', agent_id, 'bench') ->> 'key' "
            "FROM crm.agents WHERE email LIKE '%@scale.thinkrealty.ae' AND role = 'agent' ORDER BY agent_id").fetchall()
        per_agent = conn.execute("SELECT count(*) / greatest(count(DISTINCT agent_id), 1) FROM crm.lead_assignments "
                                 "WHERE released_at IS NULL").fetchone()
    agent_ids = [str(agent) for agent, _ in pairs]
    keys: dict[str, str] = {str(agent): str(key) for agent, key in pairs}
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(f"{agent} {key}\n" for agent, key in pairs))
        agents_file = Path(handle.name)
    env = {"SWEEP_INTERVAL_S": "0"}  # reads only: no sweep (and no snapshot refresh) inside the measurement
    try:
        server = ApiServer(app_url, redis_url, env)
        try:
            uncached, cached, client_miss, client_hit = [], [], [], []
            with httpx.Client(base_url=server.url, timeout=30) as http:
                for n in range(samples):
                    headers = {"X-API-Key": keys[agent_ids[n % len(agent_ids)]]}
                    started = time.perf_counter()
                    response = http.get(_path(agent_ids, n), headers=headers)
                    client_miss.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200 and response.headers["x-cache"] == "miss", response.text
                    uncached.append(_server_ms(response))
                for n in range(samples):
                    headers = {"X-API-Key": keys[agent_ids[n % len(agent_ids)]]}
                    started = time.perf_counter()
                    response = http.get(_path(agent_ids, n), headers=headers)
                    client_hit.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200 and response.headers["x-cache"] == "hit", response.text
                    cached.append(_server_ms(response))
            hit_stats = _load(server.url, "hit", agents_file, samples, connections, seconds)
        finally:
            server.stop()
        server = ApiServer(app_url, redis_url, env)  # a new listener flushes the cache: every request misses
        try:
            miss_stats = _load(server.url, "miss", agents_file, 0, connections, seconds)
        finally:
            server.stop()
    finally:
        agents_file.unlink()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT api.revoke_api_key(prefix, 'bench') FROM crm.api_keys "
                         "WHERE label = 'bench: dashboard' AND revoked_at IS NULL")
    return DashboardResult(
        agents=len(agent_ids), leads_per_agent=int(per_agent[0]) if per_agent else 0,
        uncached_server_p50_ms=_pct(uncached, 50), uncached_server_p99_ms=_pct(uncached, 99),
        cached_server_p50_ms=_pct(cached, 50), cached_server_p99_ms=_pct(cached, 99),
        uncached_client_p50_ms=_pct(client_miss, 50), cached_client_p50_ms=_pct(client_hit, 50),
        connections=connections, uncached_rps=round(miss_stats["rps"], 1), cached_rps=round(hit_stats["rps"], 1),
        uncached_misses=miss_stats["misses"], uncached_requests=miss_stats["requests"],
        cached_hits=hit_stats["hits"], cached_requests=hit_stats["requests"],
        errors=miss_stats["errors"] + hit_stats["errors"], tool=hit_stats["tool"])


def rls_plan(url: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of an agent's read of crm.leads through row-level security, as the API's login with
    the busiest agent's key checked in the same transaction: the policy asks the sealed caller in InitPlans, once per
    statement."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT api.create_api_key('agent', 'bench: plan', a.agent_id, 'bench') ->> 'key' FROM "
            "(SELECT agent_id FROM crm.agents WHERE role = 'agent' ORDER BY active_leads DESC, agent_id LIMIT 1) AS a"
        ).fetchone()
    assert row is not None
    with psycopg.connect(_with_db(url, SCALE_DB, "thinkrealty_app")) as app, app.transaction():
        app.execute("SELECT * FROM api.begin_request(%s)", (row[0],))
        app.execute("SELECT count(*) FROM crm.leads")  # warm
        plan = app.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
                           "SELECT count(*), avg(score) FROM crm.leads").fetchall()
    return "\n".join(str(line[0]) for line in plan)


def reporting_objects(url: str) -> list[tuple[str, str, bool]]:
    """(name, kind, takes a window) of every view and function of reporting but its building blocks (lead_facts and
    the others whose comment starts with "Building block": parts of the reports, not questions); a function with a
    p_limit is a "list"."""
    with psycopg.connect(url) as conn:
        views = conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'reporting'::regnamespace "
            "AND c.relkind = 'v' AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'Building block%' "
            "ORDER BY 1").fetchall()
        functions = conn.execute(
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid) LIKE 'p_from date, p_to date%', "
            "pg_get_function_identity_arguments(p.oid) LIKE '%p_limit%' "
            "FROM pg_proc p WHERE p.pronamespace = 'reporting'::regnamespace AND p.proretset "
            "AND coalesce(obj_description(p.oid, 'pg_proc'), '') NOT LIKE 'Building block%' ORDER BY 1").fetchall()
    return [(v[0], "view", False) for v in views] + [(f[0], "list" if f[2] else "function", bool(f[1]))
                                                      for f in functions]


def _timed(conn: psycopg.Connection, query: str, runs: int = 3) -> tuple[float, int]:
    conn.execute(query).fetchall()  # warm-up
    times, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        rows = len(conn.execute(query).fetchall())
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1), rows


def run_reporting(url: str) -> list[ReportTiming]:
    results: list[ReportTiming] = []
    bi_url = _with_db(url, SCALE_DB, "thinkrealty_reporting")
    with psycopg.connect(bi_url, autocommit=True) as bi, psycopg.connect(url, autocommit=True) as owner:
        owner.execute("LOAD 'auto_explain'")
        for setting, value in (("log_min_duration", "0"), ("log_analyze", "on"), ("log_buffers", "on"),
                               ("log_nested_statements", "on"), ("log_level", "notice"), ("log_timing", "on")):
            owner.execute(sql.SQL("SET auto_explain.{} = {}").format(sql.Identifier(setting), sql.Literal(value)))
        notices: list[str] = []
        owner.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        for name, kind, windowed in reporting_objects(url):
            limit = ", p_limit => 500" if kind == "list" else ""
            arguments = f"(NULL, NULL{limit})" if windowed else "()"  # a function without a window takes none
            target = f"reporting.{name}" + (arguments if kind != "view" else "")
            all_time_ms, rows = _timed(bi, f"SELECT * FROM {target}")
            recent_ms = every_row_ms = None
            if windowed:
                recent_ms, _ = _timed(bi, f"SELECT * FROM reporting.{name}(current_date - 90, NULL{limit})")
            if kind == "list":
                every_row_ms, rows = _timed(bi, f"SELECT * FROM reporting.{name}()")
            notices.clear()
            owner.execute(f"SELECT * FROM {target}").fetchall()
            plans = [n.split("\n", 1)[1] if "\n" in n else n for n in notices if "plan:" in n]
            results.append(ReportTiming(name, kind, rows, all_time_ms, recent_ms, every_row_ms, plans))
            print(json.dumps({"report": name, "rows": rows, "all_time_ms": all_time_ms,
                              "last_90_days_ms": recent_ms, "every_row_ms": every_row_ms}), flush=True)
    return results
