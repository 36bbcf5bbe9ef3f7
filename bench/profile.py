"""Where one capture's time goes: `python -m bench --only profile` (the profiling mode of `make bench`).

A PostgreSQL of its own (embedded, whatever DATABASE_URL says: the extensions must be preloaded) with
`track_functions = all`, `pg_stat_statements` tracking nested statements and `auto_explain` loaded. On a fresh copy of
the capture template (bench/capture.py: the demo data plus 400 agents):

- **SQL**: pgbench runs `bench/capture_direct.sql` (the API's statement) at 1 connection (the cost of one capture, no
  contention) and at 16 (what contention adds: lock waits, the agent-lock polling). The counters are reset after a
  warm-up; then every api/crm function's calls, inclusive and self time (pg_stat_user_functions) and every nested
  statement's time (pg_stat_statements) are divided by the captures measured. The time of a capture outside its
  statement's execution (parse, bind, commit with its WAL flush, the round trip) is pgbench's latency less the
  top-level execution time.
- **Plans**: one capture with auto_explain on (ANALYZE, BUFFERS, nested statements, triggers): every statement's plan.
- **HTTP**: wrk at 16 connections against one API process, py-spy sampling it (200 Hz, native frames off): the CPU
  seconds of the API process, of the PostgreSQL processes and of wrk per capture (from /proc), and where the API
  process's samples fall (validation, JSON, asyncpg, the HTTP server, ...), by the innermost frame's package.

The counters' own cost (a clock read per function call) makes the profiled capture slower than an unprofiled one:
the shares, not the absolute figures, are what this section is for; the rates are `make bench`'s capture section.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench import capture
from devservers.postgres import EmbeddedPostgres, pg_bin_dir

HERE = Path(__file__).resolve().parent

SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements,auto_explain",
    "track_functions": "all",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
}
# auto_explain for the one explained capture (set on its database only)
EXPLAIN = {
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_triggers": "on",
    "auto_explain.log_timing": "on",
}

# the steps of api.capture_lead (31_api_capture.sql), in order: (label, function); nested functions indent under them
STEPS: list[tuple[str, str]] = [
    ("key check (the caller sealed)", "api.begin_request"),
    ("authorization (the endpoint matrix)", "crm.authorize"),
    ("actor for the audit trail", "crm.set_actor"),
    ("1. idempotency receipt", "crm.capture_receipt"),
    ("2. source accepts leads", "crm.require_source"),
    ("3. portal re-send", "crm.portal_resend"),
    ("4. duplicate check, same source (phone lock)", "crm.claim_phone"),
    ("5. input mapping", "crm.map_capture_input"),
    ("6. duplicate check, other source", "crm.earlier_inquiry"),
    ("7. scoring", "crm.capture_score"),
    ("8. agent choice (ranking, lock, decision)", "crm.choose_capture_agent"),
    ("   ranking", "crm.rank_agents"),
    ("   agent lock (SKIP LOCKED, polling)", "crm.lock_ranked_agent"),
    ("   preferred agent lock", "crm.lock_preferred_agent"),
    ("9. lead insert and its triggers", "crm.store_captured_lead"),
    ("10. assignment, its triggers, first follow-up", "crm.assign_captured_lead"),
    ("   first follow-up (slot search, insert, exclusion check)", "crm.schedule_initial_follow_up"),
    ("11. note on the earlier lead", "crm.note_duplicate_inquiry"),
    ("12. suggested listings (a subtransaction)", "crm.capture_suggestions"),
    ("13. response body", "crm.capture_response"),
    ("13. receipts for retries", "crm.remember_capture"),
]
ENTRY = "api.capture_lead"


@dataclass
class FunctionCost:
    name: str
    calls: float  # per capture
    total_ms: float  # inclusive, per capture
    self_ms: float  # per capture


@dataclass
class StatementCost:
    query: str
    calls: float  # per capture
    total_ms: float  # per capture (inclusive of what it calls)
    mean_ms: float


@dataclass
class SqlProfile:
    connections: int
    captures: int
    rps: float
    latency_ms: float  # pgbench's mean
    exec_ms: float  # the top-level statement's mean execution time
    functions: list[FunctionCost]
    statements: list[StatementCost]
    methods: dict[str, int]  # assignment methods of the measured captures


@dataclass
class HttpProfile:
    connections: int
    seconds: float
    requests: int
    rps: float
    api_cpu_ms: float  # per capture
    db_cpu_ms: float
    wrk_cpu_ms: float
    samples: int
    categories: dict[str, float]  # share of the API's samples
    leaves: list[tuple[str, float]]  # the hottest innermost frames, share of samples


@dataclass
class Profile:
    sql: list[SqlProfile]
    http: HttpProfile | None
    plans: str
    notes: list[str] = field(default_factory=list)


def _pgbench(url: str, connections: int, per_client: int, log_dir: Path | None = None) -> str:
    pgbench = shutil.which("pgbench", path=str(pg_bin_dir())) or shutil.which("pgbench")
    assert pgbench, "pgbench not found"
    app = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
    args = [pgbench, "-n", "-M", "prepared", "-f", str(HERE / "capture_direct.sql"), "-c", str(connections),
            "-j", str(min(2, connections)), "-t", str(per_client)]
    if log_dir is not None:
        args += ["-l", "--log-prefix", str(log_dir / "tx")]
    return subprocess.run([*args, app], check=True, capture_output=True, text=True).stdout


def _tps(stdout: str) -> float:
    line = next(x for x in stdout.splitlines() if x.startswith("tps"))
    return float(line.split("=")[1].split()[0])


def _latency(stdout: str) -> float:
    line = next(x for x in stdout.splitlines() if x.startswith("latency average"))
    return float(line.split("=")[1].split()[0])


def _short(query: str, width: int = 120) -> str:
    text = re.sub(r"\s+", " ", query).strip()
    return text if len(text) <= width else text[:width - 1] + "…"


def profile_sql(admin_url: str, template: str, connections: int, captures: int) -> SqlProfile:
    url = capture._copy(admin_url, template, f"bench_profile_sql_{connections}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CHECKPOINT")
    _pgbench(url, connections, max(20, 200 // connections))  # warm-up: plans cached, caches hot
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_reset(), pg_stat_statements_reset()")
        conn.execute("CREATE TABLE public.bench_mark AS SELECT clock_timestamp() AS at")
    done = _pgbench(url, connections, captures // connections)
    measured = connections * (captures // connections)
    time.sleep(1)  # the backends flush their counters as they exit
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        functions = [FunctionCost(name, round(calls / measured, 3), round(total / measured, 4),
                                  round(self_ / measured, 4))
                     for name, calls, total, self_ in conn.execute(
                         "SELECT schemaname || '.' || funcname, sum(calls)::float8, sum(total_time)::float8, "
                         "sum(self_time)::float8 "
                         "FROM pg_stat_user_functions WHERE schemaname IN ('api', 'crm') "
                         "GROUP BY 1 ORDER BY 4 DESC").fetchall()]
        rows = conn.execute(
            "SELECT query, toplevel, calls, total_exec_time::float8 FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC").fetchall()
        methods: dict[str, int] = dict(conn.execute(
            "SELECT coalesce(l.assignment_decision ->> 'method', 'none'), count(*)::int FROM crm.leads AS l "
            "WHERE l.campaign_id = 'bench' AND l.created_at > (SELECT at FROM public.bench_mark) GROUP BY 1"
        ).fetchall())
    top = [r for r in rows if r[1] and "api.capture_lead" in r[0]]
    exec_ms = sum(r[3] for r in top) / max(1, sum(r[2] for r in top))
    capture.require_no_violations(url)
    statements = [StatementCost(_short(q), round(calls / measured, 3), round(total / measured, 4),
                                round(total / calls, 4))
                  for q, toplevel, calls, total in rows if not toplevel and calls][:30]
    capture.drop(admin_url, url)
    return SqlProfile(connections, measured, _tps(done), _latency(done), round(exec_ms, 3), functions, statements,
                      methods)


def explain_one(pg: EmbeddedPostgres, admin_url: str, template: str) -> str:
    """The plans of every statement of one capture (auto_explain), after a warm-up in the same session."""
    url = capture._copy(admin_url, template, "bench_profile_explain")
    name = url.rsplit("/", 1)[-1]
    app = capture._with_db(url, name, "thinkrealty_app")
    body = (HERE / "capture_direct.sql").read_text()
    statement = body[body.index("SELECT api.capture_lead"):].strip().rstrip(";")
    for var, value in (("n", "555000111222"), ("k", "7"), ("s", "1"), ("t", "2")):
        statement = statement.replace(f":{var}", value)
    log = pg.datadir / "server.log"
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute(statement.replace("555000111222", "555000111221"))
    with psycopg.connect(url, autocommit=True) as conn:
        for setting, value in EXPLAIN.items():
            conn.execute(f"ALTER DATABASE {name} SET {setting} = '{value}'")
    with psycopg.connect(app, autocommit=True) as conn:  # the setting holds from a new session on
        conn.execute(statement.replace("555000111222", "555000111220"))  # a session's first call plans everything
        offset = log.stat().st_size
        conn.execute(statement)
    time.sleep(0.5)
    text = log.read_text(errors="replace")[offset:]
    capture.drop(admin_url, url)
    lines = []
    for line in text.splitlines():
        if " LOG:  duration:" in line:
            lines.append("")
            lines.append(line.split(" LOG:  ", 1)[1])
        elif line.startswith(("\t", " ")) and lines:
            lines.append(line.replace("\t", "  ", 1))
    return "\n".join(lines).strip()


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _postgres_ticks(pg: EmbeddedPostgres) -> int:
    postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    total = _cpu_ticks(postmaster)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                total += _cpu_ticks(int(entry.name))
    return total


CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("validation (pydantic, phonenumbers)", ("/pydantic/", "/pydantic_core/", "/phonenumbers/", "api/schemas/")),
    ("JSON encoding and decoding", ("/json/", "orjson", "ujson")),
    ("asyncpg (protocol, codecs, pool)", ("/asyncpg/",)),
    ("HTTP server (uvicorn, httptools)", ("/uvicorn/", "/httptools/", "h11")),
    ("framework (FastAPI, Starlette: routing, dependencies, responses)", ("/starlette/", "/fastapi/", "/anyio/")),
    ("logging", ("/logging/", "api/logs.py")),
    ("metrics (prometheus_client)", ("prometheus_client", "api/metrics.py")),
    ("key handling (api/auth.py)", ("api/auth.py",)),
    ("Redis client", ("/redis/",)),
    ("event loop (asyncio, uvloop)", ("/asyncio/", "uvloop")),
    ("our routes and middleware (api/)", ("/api/",)),
]


def _category(frame: str) -> str:
    """The category of a py-spy frame "function (path/to/file.py:line)" (paths relative to site-packages or the
    project)."""
    frame = frame.replace("(", "(/")
    for name, marks in CATEGORIES:
        if any(mark in frame for mark in marks):
            return name
    return "other (standard library, ...)"


def _read_samples(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    categories: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(count)
        total += n
        leaf = frames[-1]
        categories[_category(leaf)] += n
        leaves[re.sub(r":\d+\)$", ")", leaf.replace(str(Path(sys.prefix)), "").replace(str(HERE.parent), ""))] += n
    return total, categories, leaves


def profile_http(pg: EmbeddedPostgres, admin_url: str, redis_url: str, template: str, seconds: int,
                 connections: int = 16) -> HttpProfile | None:
    wrk = shutil.which("wrk")
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not wrk:
        return None
    with psycopg.connect(admin_url, autocommit=True) as conn:  # the counters off: the CPU split is the real one
        conn.execute("ALTER SYSTEM SET track_functions = 'none'")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'none'")
        conn.execute("SELECT pg_reload_conf()")
    url = capture._copy(admin_url, template, "bench_profile_http")
    app = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
    server = capture.ApiServer(app, redis_url)
    try:
        base = [wrk, "-t", "2", "-c", str(connections), "-s", str(HERE / "capture.lua"), "--timeout", "10s"]
        subprocess.run([*base, "-d", "3s", server.url, "--", "0"], check=True, capture_output=True)
        with tempfile.TemporaryDirectory(prefix="bench-pyspy-") as tmp:
            raw = Path(tmp) / "samples.txt"
            api0, db0 = _cpu_ticks(server.process.pid), _postgres_ticks(pg)
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(server.process.pid), "--duration", str(seconds), "--rate", "200",
                 "--format", "raw", "--output", str(raw), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if spy else None
            load = subprocess.Popen([*base, "-d", f"{seconds}s", server.url, "--", "200000"], stdout=subprocess.PIPE,
                                    text=True)
            _, status, usage = os.wait4(load.pid, 0)
            load.returncode = os.waitstatus_to_exitcode(status)
            out = load.stdout.read() if load.stdout else ""
            api1, db1 = _cpu_ticks(server.process.pid), _postgres_ticks(pg)
            if sampler is not None:
                sampler.wait(timeout=seconds + 30)
            total, categories, leaves = _read_samples(raw) if raw.exists() else (0, Counter(), Counter())
    finally:
        server.stop()
    capture.drop(admin_url, url)
    stats = json.loads(next(x for x in out.splitlines() if x.startswith("JSON "))[5:])
    requests = int(stats["requests"])
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    return HttpProfile(
        connections, stats["duration_us"] / 1e6, requests, round(requests / (stats["duration_us"] / 1e6), 1),
        round((api1 - api0) * tick_ms / requests, 3), round((db1 - db0) * tick_ms / requests, 3),
        round((usage.ru_utime + usage.ru_stime) * 1000 / requests, 3), total,
        {k: round(v / total, 4) for k, v in categories.most_common()} if total else {},
        [(k, round(v / total, 4)) for k, v in leaves.most_common(15)] if total else [])


def run(redis_url: str, seconds: int, captures: int = 3000) -> Profile:
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "postgres", settings=SETTINGS).start()
        try:
            admin_url = pg.url()
            template = capture.prepare_template(admin_url, "bench_profile_template")
            sql = [profile_sql(admin_url, template, 1, captures), profile_sql(admin_url, template, 16, captures)]
            plans = explain_one(pg, admin_url, template)
            http = profile_http(pg, admin_url, redis_url, template, seconds)
        finally:
            pg.destroy()
    return Profile(sql, http, plans)


def to_json(profile: Profile) -> dict[str, Any]:
    data = asdict(profile)
    data.pop("plans")
    return data


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _functions(data: dict[str, Any], connections: int) -> tuple[dict[str, dict[str, float]], dict[str, Any]] | None:
    for run_ in data.get("sql", []):
        if run_["connections"] == connections:
            return {f["name"]: f for f in run_["functions"]}, run_
    return None


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def section(profile: Profile, before: dict[str, Any] | None, before_label: str = "") -> str:
    now = to_json(profile)
    one, many = _functions(now, 1), _functions(now, 16)
    assert one and many
    old = _functions(before, 1) if before else None
    old16 = _functions(before, 16) if before else None
    exec_ms = one[1]["exec_ms"]
    rows = ["| step | function | " + ("before ms | " if old else "") + "ms per capture (1 connection) | share | "
            + ("before ms at 16 | " if old16 else "") + "ms at 16 connections |",
            "|---|---|" + ("---|" if old else "") + "---|---|" + ("---|" if old16 else "") + "---|"]

    def cell(table: tuple[dict[str, dict[str, float]], dict[str, Any]] | None, name: str) -> float | None:
        if table is None:
            return None
        f = table[0].get(name)
        return f["total_ms"] if f else 0.0

    for label, name in STEPS:
        value = cell(one, name) or 0.0
        rows.append(f"| {label.replace('   ', '&nbsp;&nbsp;&nbsp;')} | `{name}` | "
                    + (f"{_ms(cell(old, name))} | " if old else "") + f"{value:.3f} | {value / exec_ms:.0%} | "
                    + (f"{_ms(cell(old16, name))} | " if old16 else "") + f"{_ms(cell(many, name))} |")
    entry_self = one[0].get(ENTRY, {}).get("self_ms", 0.0)

    def outside(table: tuple[dict[str, dict[str, float]], dict[str, Any]] | None) -> str:
        return _ms(table[1]["latency_ms"] - table[1]["exec_ms"]) if table else ""

    rows.append(f"| the outline's own statements | `{ENTRY}` (self) | "
                + (f"{_ms(old[0].get(ENTRY, {}).get('self_ms'))} | " if old else "")
                + f"{entry_self:.3f} | {entry_self / exec_ms:.0%} | "
                + (f"{_ms(old16[0].get(ENTRY, {}).get('self_ms'))} | " if old16 else "")
                + f"{_ms(many[0].get(ENTRY, {}).get('self_ms'))} |")
    rows.append("| **the statement's execution** | top-level, pg_stat_statements | "
                + (f"**{_ms(old[1]['exec_ms'])}** | " if old else "") + f"**{exec_ms:.3f}** | 100% | "
                + (f"**{_ms(old16[1]['exec_ms'])}** | " if old16 else "") + f"**{many[1]['exec_ms']:.3f}** |")
    rows.append("| parse, bind, commit (WAL flush), round trip | pgbench latency less execution | "
                + (f"{outside(old)} | " if old else "") + f"{outside(one)} | | "
                + (f"{outside(old16)} | " if old16 else "") + f"{outside(many)} |")
    rows.append("| **pgbench latency** (mean) | | " + (f"**{_ms(old[1]['latency_ms'])}** | " if old else "")
                + f"**{one[1]['latency_ms']:.3f}** | | " + (f"**{_ms(old16[1]['latency_ms'])}** | " if old16 else "")
                + f"**{many[1]['latency_ms']:.3f}** |")
    rows.append("| captures/s (profiled) | | " + (f"{old[1]['rps']:,.0f} | " if old else "")
                + f"{one[1]['rps']:,.0f} | | " + (f"{old16[1]['rps']:,.0f} | " if old16 else "")
                + f"{many[1]['rps']:,.0f} |")

    funcs = ["| function | calls per capture | self ms | inclusive ms | share of the execution (self) |",
             "|---|---|---|---|---|"]
    for f in sorted(one[1]["functions"], key=lambda f: -f["self_ms"])[:30]:
        funcs.append(f"| `{f['name']}` | {f['calls']:g} | {f['self_ms']:.3f} | {f['total_ms']:.3f} "
                     f"| {f['self_ms'] / exec_ms:.1%} |")
    stmts = ["| statement (nested, normalised) | calls per capture | ms per capture | mean ms |", "|---|---|---|---|"]
    for s in one[1]["statements"][:25]:
        stmts.append(f"| `{s['query'].replace('|', '&#124;')}` | {s['calls']:g} | {s['total_ms']:.3f} "
                     f"| {s['mean_ms']:.3f} |")
    methods = ", ".join(f"{k} {v:,}" for k, v in sorted(many[1]["methods"].items()))
    http = ""
    if profile.http is not None:
        h = profile.http
        cats = "\n".join(f"| {k} | {v:.1%} |" for k, v in h.categories.items())
        leaves = "\n".join(f"| `{k}` | {v:.1%} |" for k, v in h.leaves)
        http = f"""
### The API process's share (HTTP, {h.connections} connections, {h.seconds:.0f} s, {h.requests:,} captures, \
{h.rps:,.0f}/s while sampled)

CPU per capture from /proc (user + system): **API process {h.api_cpu_ms:.2f} ms**, **PostgreSQL {h.db_cpu_ms:.2f}
ms** (every backend and helper process), wrk {h.wrk_cpu_ms:.2f} ms. Two cores give 2,000 CPU ms per second, so
their sum bounds the rate at about {2000 / (h.api_cpu_ms + h.db_cpu_ms + h.wrk_cpu_ms):,.0f} captures/s.

Where the API process's {h.samples:,} py-spy samples fall (the innermost Python frame's package; a C or Rust
extension's time counts to the Python frame that called it):

| where | share of samples |
|---|---|
{cats}

The hottest innermost frames:

| frame | share |
|---|---|
{leaves}
"""
    return f"""## Where a capture's time goes (profile)

Written by `python -m bench --only profile` (bench/profile.py): an embedded PostgreSQL with `track_functions = all`,
`pg_stat_statements` (nested statements) and `auto_explain`; pgbench runs the API's statement
(`bench/capture_direct.sql`) {one[1]['captures']:,} times at 1 connection and {many[1]['captures']:,} times at 16
after a warm-up, on a fresh copy of the capture template (the demo data plus 400 agents). Inclusive times per
capture (a step's time contains the functions and triggers it calls); the counters themselves slow every call, so
read the shares, not the rates. {before_label} Before and after are two sittings on a machine other sessions
share (the load differs between them, and with it every figure): compare the shares within a column, and take the
rates from the before/after table, measured in one sitting.

{chr(10).join(rows)}

Assignment methods at 16 connections: {methods}.

### Every function, by its own (self) time, at 1 connection

{chr(10).join(funcs)}

### The nested statements, by time, at 1 connection

{chr(10).join(stmts)}
{http}
<details><summary>The plans of one capture (auto_explain: ANALYZE, BUFFERS, nested statements, triggers)</summary>

```
{profile.plans}
```
</details>
"""


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--save", type=Path, help="write the figures as JSON here (the before of a later run)")
    args = parser.parse_args()
    from devservers.redis import EmbeddedRedis

    redis_url = os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="bench-profile-redis-") as tmp:
        rd = None
        if not redis_url:
            rd = EmbeddedRedis(Path(tmp) / "redis").start()
            redis_url = rd.url()
        try:
            result = run(redis_url, args.seconds)
        finally:
            if rd is not None:
                rd.stop()
    print(json.dumps(to_json(result), indent=1))
    if args.save:
        args.save.write_text(json.dumps(to_json(result), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
