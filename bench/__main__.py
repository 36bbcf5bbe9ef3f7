"""`python -m bench [--seconds N] [--only paths,openloop]`: start throwaway servers (embedded PostgreSQL and Redis,
unless DATABASE_URL / REDIS_URL are set), run every benchmark, and rewrite docs/benchmarks.md with the figures.
`--only` runs the named sections alone (`paths`: 1 and 2 workers, direct and behind PgBouncer; `openloop`: latency at
fixed offered rates; `footprint`: WAL and bytes per capture, bytes per lead, the refresh's time; `webhooks`: the
outbox's cost and the dispatcher's throughput and latency; `offers`: a thousand offers expiring in one second;
`speed`: reporting.speed_to_lead and the performance-score step on the scale database; `instructions`: a capture's
CPU instructions under valgrind, before and after, with events off) and rewrites only them,
between their markers, keeping the rest of the file."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import capture, ecosystem, footprint, instructions, offers, profile, roster, scale, speed, webhooks
from bench import resources as bench_resources
from bench.chart import capture_chart
from bench.compare import comparisons_section

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
CHART = DOC.with_name("benchmarks-capture.png")
PLAN_LINES = 120  # of each report's plans in docs/benchmarks.md (a function run per row logs a plan per call)
AUDIT_VIEWS = {"invariant_violations", "capture_score_mismatches"}  # audits, not questions
# the sections --only can run alone (each between its markers in the doc)
SECTIONS = ("capture", "profile", "instructions", "roster", "webhooks", "offers", "speed", "paths", "openloop",
            "footprint")
PROFILE_BEFORE = Path(__file__).resolve().parent / "baseline" / "profile-ec01a1c.json"  # issue 18's starting point


def marked(name: str, text: str) -> str:
    return f"<!-- {name} -->\n{text.rstrip()}\n<!-- /{name} -->\n"


def replace_section(doc: str, name: str, text: str) -> str:
    """The doc with section `name` (between its markers) replaced, or inserted before the comparisons."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if begin in doc and end in doc:
        return doc[:doc.index(begin)] + marked(name, text) + doc[doc.index(end) + len(end) + 1:]
    anchor = "<!-- comparisons -->"
    at = doc.index(anchor) if anchor in doc else len(doc)
    return doc[:at] + marked(name, text) + "\n" + doc[at:]


def _ecosystem_sections(admin_url: str, redis_url: str, seconds: int, only: set[str], leads: int = 1_000_000,
                        agents: int = 200) -> dict[str, str]:
    out: dict[str, str] = {}
    if "capture" in only:
        results = capture.run(admin_url, redis_url, seconds=seconds, concurrencies=(1, 4, 16, 64))
        capture_chart(results, CHART)
        out["capture"] = _capture_section(results, seconds)
    if "profile" in only:  # a PostgreSQL of its own (the extensions preloaded)
        out["profile"] = profile.section(profile.run(redis_url, min(seconds, 15)), profile.load(PROFILE_BEFORE),
                                         "The before column is `ec01a1c` (bench/baseline/profile-ec01a1c.json, "
                                         "measured the same way on 2026-12-01 before issue 18).")
    if "instructions" in only:  # a PostgreSQL of its own, run under valgrind
        out["instructions"] = instructions.standard()
    if "roster" in only:
        out["roster"] = roster.section(roster.run(admin_url, rounds=5), roster.instruction_counts())
    if "webhooks" in only:
        out["webhooks"] = webhooks.section(webhooks.run(admin_url, redis_url, seconds))
    if "offers" in only:
        out["offers"] = offers.section(offers.run(admin_url, redis_url, capture.prepare_template(admin_url)))
    if "speed" in only:  # the scale database (built once, reused by the scale sections of a full run)
        out["speed"] = speed.section(speed.run(admin_url, leads, agents))
    if not only & {"paths", "openloop", "footprint"}:
        return out
    template = capture.prepare_template(admin_url)
    if "paths" in only:
        out["paths"] = ecosystem.paths_section(ecosystem.run_paths(admin_url, redis_url, seconds, template), seconds)
    if "openloop" in only:
        out["openloop"] = ecosystem.openloop_section(
            *ecosystem.run_openloop(admin_url, redis_url, seconds, template), seconds)
    if "footprint" in only:
        out["footprint"] = footprint.section(footprint.run(admin_url, template))
    return out


def _machine(admin_url: str) -> str:
    with psycopg.connect(admin_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0] if shutil.which("wrk") \
        else "not installed"
    return (f"{os.cpu_count()} CPUs ({cpu}){memory}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; PostgreSQL {version[0] if version else '?'}; wrk: {wrk}")


def _capture_section(results: list[capture.Result], seconds: int) -> str:
    head = f"""## Lead capture

Each run starts from a fresh copy of one database: the demo data plus 400 more agents (20,000 free slots, so a
run keeps assigning rather than queueing). Every request is a unique lead (its own phone) from a rotating source,
language, property type and areas. After a 3 s warm-up, {seconds} s are measured. The API's background
sweeper is on (every 60 s, as in production).

- **HTTP**: wrk (2 threads) with `bench/capture.lua` against `POST /api/v1/leads/capture` with the demo integration
  key: pydantic validation, phone normalisation, one statement (`api.begin_request` checks the key, then
  `api.capture_lead`, which also suggests three of our listings in the same transaction).
- **SQL**: pgbench (2 threads, prepared statements) with `bench/capture_direct.sql`: the same statement the API
  runs (`api.begin_request` with the demo integration key, then `api.capture_lead` with the body the API would
  send and three suggestions), as the same login, no HTTP.

Runs at 1, 4, 16 and 64 connections (the chart); the targets are read at 16 and 64.

![Capture throughput and latency against concurrency]({CHART.name})

"""
    rows = ["| mode | connections | requests | req/s | p50 ms | p99 ms | non-2xx | assigned / queued | load tool |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {'HTTP POST /api/v1/leads/capture' if r.mode == 'http' else 'SQL api.capture_lead'} "
                    f"| {r.connections} | {r.requests:,} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
                    f"| {r.non_2xx} | {r.assigned:,} / {r.queued:,} | {r.tool} |")
    checks = []
    for connections in sorted({r.connections for r in results} & {16, 64}):
        http = next(r for r in results if r.mode == "http" and r.connections == connections)
        direct = next(r for r in results if r.mode == "sql" and r.connections == connections)
        ratio = http.rps / direct.rps if direct.rps else 0
        checks.append(f"- {connections} connections: HTTP rate is **{ratio:.0%}** of the direct-SQL rate "
                      f"(target ≥ 60 %); HTTP p99 {http.p99_ms:.1f} ms"
                      f"{' (target < 100 ms)' if connections == 64 else ''}; non-2xx: {http.non_2xx}.")
    http64 = next((r for r in results if r.mode == "http" and r.connections == 64), None)
    note = ""
    if http64 and http64.rps:
        sql_best = max(r.rps for r in results if r.mode == "sql")
        note = (
            f"\n**Reading the 64-connection latency.** wrk keeps every connection busy (a closed loop), so by "
            f"Little's law the mean latency is connections / throughput: 64 / {http64.rps:,.0f} req/s = "
            f"{64 / http64.rps * 1000:.0f} ms before any variance. For even the mean to be under 100 ms, 64 "
            f"connections need more than 640 captures/s; the p99 needs more still. The direct-SQL rate measured "
            f"here peaks at {sql_best:,.0f}/s with the 2 cores shared by PostgreSQL, the API and the load "
            "generator, so on this machine the p99 target at 64 connections is out of reach of any API-side "
            "tuning; it needs more cores (or a cheaper capture transaction). The 60 % ratio and the zero non-2xx "
            "targets are what this machine can show.\n"
        )
    return head + "\n".join(rows) + "\n\n" + "\n".join(checks) + "\n" + note


def _scale_section(sizes: dict[str, int], generated_s: float | None, leads: int) -> str:
    made = (f"generated by `db/scale/generate.sql` in {generated_s / 60:.1f} min" if generated_s is not None
            else "generated by an earlier run (`bench_scale` was reused)")
    return f"""## The scale database

The demo data plus {leads:,} leads, {made}: {sizes['leads']:,} leads, {sizes['activities']:,} activities,
{sizes['agents']:,} agents, {sizes['follow_ups']:,} follow-up tasks; `reporting.invariant_violations` lists
{sizes['invariant_violations']} rows. `VACUUM ANALYZE` and a checkpoint follow the generation; the analytics snapshot
is refreshed before the measurements.
"""


def _dashboard_section(d: scale.DashboardResult, seconds: int) -> str:
    ratio = d.cached_rps / d.uncached_rps if d.uncached_rps else 0
    table = "\n".join([
        f"| | server p50 ms | server p99 ms | client p50 ms | req/s at {d.connections} connections "
        f"({d.tool}, {seconds} s) | X-Cache |",
        "|---|---|---|---|---|---|",
        f"| uncached (every request a new filter set) | {d.uncached_server_p50_ms:.2f} | "
        f"{d.uncached_server_p99_ms:.2f} | {d.uncached_client_p50_ms:.2f} | {d.uncached_rps:,.0f} | "
        f"{d.uncached_misses:,} misses of {d.uncached_requests:,} |",
        f"| cached (a warmed set of filter sets) | {d.cached_server_p50_ms:.2f} | {d.cached_server_p99_ms:.2f} | "
        f"{d.cached_client_p50_ms:.2f} | {d.cached_rps:,.0f} | {d.cached_hits:,} hits of {d.cached_requests:,} |"])
    return f"""## Agent dashboard at scale

`GET /api/v1/agents/{{id}}/dashboard` for the {d.agents} generated agents (about {d.leads_per_agent:,} open or closed
leads each), filter sets cycling through the agents, the date ranges 30d/7d/90d, the four status filters and the
seven source filters. Each agent asks with an agent key of its own, as the agents' app does: every request, cached
or not, has its key checked in the database, and an uncached one reads through row-level security as that agent.
The API's sweeper is off here (reads only). Server-side is the API's own `Server-Timing`
(request in to response out, in the app); client-side adds HTTP on loopback.

{table}

- uncached server p50 **{d.uncached_server_p50_ms:.2f} ms** (target ≤ 20 ms); cached server p50
  **{d.cached_server_p50_ms:.2f} ms** (target ≤ 2 ms); cached throughput **{ratio:.1f}×** uncached (target ≥ 5×);
  errors: {d.errors}.
"""


def _rls_section(plan: str, d: scale.DashboardResult) -> str:
    return f"""## Row-level security at the planner's pace

The policies ask the caller as `(SELECT crm.caller_role())` and `(SELECT crm.caller_agent_id())`: InitPlans, run once
per statement, not once per row (Supabase's advice), and the caller they return is the sealed one (its MAC checked
once per call). An agent's read of `crm.leads` at this scale, as the API's login with the busiest agent's key checked
in the same transaction:

```
{plan}
```

Uncached dashboard server p50 at 1M leads: **12.16 ms** on 2026-11-29 (policies with `current_setting()` in each
row's predicate, the caller not sealed), **{d.uncached_server_p50_ms:.2f} ms** in this run (InitPlans, sealed caller).
"""


def _reporting_section(reports: list[scale.ReportTiming]) -> str:
    rows = ["| object | kind | rows (all time) | all time ms | last 90 days ms | every row ms (lists) |",
            "|---|---|---|---|---|---|"]
    for r in reports:
        recent = f"{r.last_90_days_ms:,.1f}" if r.last_90_days_ms is not None else "n/a"
        every = f"{r.every_row_ms:,.1f}" if r.every_row_ms is not None else ""
        rows.append(f"| `reporting.{r.name}` | {r.kind} | {r.rows_all_time:,} | {r.all_time_ms:,.1f} | {recent} "
                    f"| {every} |")
    questions = [r for r in reports if r.name not in AUDIT_VIEWS]
    slowest = max(questions, key=lambda r: max(r.all_time_ms, r.last_90_days_ms or 0))
    worst = max(slowest.all_time_ms, slowest.last_90_days_ms or 0)
    audits = "; ".join(f"`reporting.{r.name}` {r.all_time_ms:,.0f} ms" for r in reports if r.name in AUDIT_VIEWS)
    plans = []
    for r in reports:
        body = "\n\n".join(r.plans) if r.plans else "(no nested statement: a view over live tables)"
        lines = body.strip().splitlines()
        if len(lines) > PLAN_LINES:  # a function called per row logs a plan per call: the first ones say it all
            body = "\n".join(lines[:PLAN_LINES]) + f"\n... ({len(lines) - PLAN_LINES:,} more lines of nested plans)"
        plans.append(f"<details><summary><code>reporting.{r.name}</code></summary>\n\n```\n{body.strip()}\n```\n"
                     "</details>\n")
    return f"""## Reporting at scale

Every view and set-returning function of the `reporting` schema (but its building blocks, `lead_facts` and the
others whose comment says so: parts of the reports, not questions), as the BI login `thinkrealty_reporting` runs
it: `SELECT * FROM ...`, every row fetched, median of three runs after a warm-up; functions all time and with
`(current_date - 90, NULL)`. The Task 4 questions read the analytics snapshot (`reporting.lead_facts_snapshot`,
refreshed by the sweep every `analytics_refresh_interval`, 10 minutes by default: the figures are at most that old,
and `reporting.analytics_freshness` says how old);
the current-workload views and the invariant views read the live tables.

{chr(10).join(rows)}

Slowest answer to a question: `reporting.{slowest.name}` at {worst:,.1f} ms (target ≤ 1,000 ms). A "list" (leads
one by one) is timed as the API's largest page asks for it, its first 500 (`p_limit => 500`; the API pages by 100
unless asked for up to 500, docs/analytics.md); the last column fetches every row of it, which costs what moving
that many rows costs. The audit ({audits}) is not a report: it re-checks every rule
over every row of every table, a consistency check to run after maintenance, not on a dashboard.

### Plans

`EXPLAIN (ANALYZE, BUFFERS)` of the statements each object runs (auto_explain with nested statements, all time).

{chr(10).join(plans)}"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=20, help="length of each measured run (default 20)")
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads in the scale database (default 1M)")
    parser.add_argument("--agents", type=int, default=200, help="agents in the scale database (default 200)")
    parser.add_argument("--only", help=f"comma-separated sections to run alone: {', '.join(SECTIONS)}")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if only is not None and not only <= set(SECTIONS):
        parser.error(f"--only takes {', '.join(SECTIONS)}")

    pg = rd = None
    tmp = Path(tempfile.mkdtemp(prefix="thinkrealty-bench-"))
    try:
        admin_url = os.environ.get("DATABASE_URL")
        if not admin_url:
            from devservers.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(tmp / "postgres").start()
            admin_url = pg.url()
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            from devservers.redis import EmbeddedRedis

            rd = EmbeddedRedis(tmp / "redis").start()
            redis_url = rd.url()

        machine = _machine(admin_url)
        if only is not None:
            load_before = os.getloadavg()[0]
            sections = _ecosystem_sections(admin_url, redis_url, args.seconds, only, args.leads, args.agents)
            load = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
            doc = DOC.read_text()
            for name, text in sections.items():
                doc = replace_section(doc, name, text + f"\n_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
                                      f"`python -m bench --only {name} --seconds {args.seconds}` ({load}; other "
                                      f"sessions share this machine) on: {machine}._\n")
            DOC.write_text(doc)
            print(f"rewrote {', '.join(sorted(only))} in {DOC}")
            return 0
        production = _ecosystem_sections(admin_url, redis_url, args.seconds, set(SECTIONS), args.leads, args.agents)
        scale_url, generated_s = scale.prepare(admin_url, args.leads, args.agents)
        sizes = scale.counts(scale_url)
        dashboard = scale.run_dashboard(scale_url, redis_url, seconds=args.seconds)
        print(dashboard, flush=True)
        reports = scale.run_reporting(scale_url)
        rls = scale.rls_plan(scale_url)
        rest = bench_resources.run(scale_url)
        DOC.write_text(f"""# Benchmarks

Written by `make bench` (`python -m bench`); do not edit by hand. Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.

Machine: {machine}.

Servers: {'embedded PostgreSQL and Redis started by the benchmark (default settings, fsync on)'
          if pg else 'the ones named by DATABASE_URL / REDIS_URL'}. The API runs as `crmctl serve` does:
one uvicorn process (uvloop, httptools), an asyncpg pool of at most 20 connections, as the `thinkrealty_app`
login. The load generator runs on the same 2 cores as the server and the database.

{marked("capture", production["capture"])}
{marked("profile", production["profile"])}
{marked("instructions", production["instructions"])}
{marked("roster", production["roster"])}
{marked("webhooks", production["webhooks"])}
{marked("offers", production["offers"])}
{marked("speed", production["speed"])}
{marked("paths", production["paths"])}
{marked("openloop", production["openloop"])}
{marked("footprint", production["footprint"])}
{_scale_section(sizes, generated_s, args.leads)}
{_dashboard_section(dashboard, args.seconds)}
{_rls_section(rls, dashboard)}
{_reporting_section(reports)}
{bench_resources.section(rest, args.leads)}
{comparisons_section(DOC)}""")
        print(f"wrote {DOC}")
    finally:
        if rd is not None:
            rd.stop()
        if pg is not None:
            pg.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
