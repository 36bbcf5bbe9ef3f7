"""`python -m bench [--seconds N]`: start throwaway servers (embedded PostgreSQL and Redis, unless
DATABASE_URL / REDIS_URL are set), run every benchmark, and rewrite docs/benchmarks.md with the figures."""

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

from bench import capture

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


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


def _capture_section(results: list[capture.Result]) -> str:
    rows = ["| mode | connections | requests | req/s | p50 ms | p99 ms | non-2xx | assigned / queued | load tool |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {'HTTP POST /api/v1/leads/capture' if r.mode == 'http' else 'SQL api.capture_lead'} "
                    f"| {r.connections} | {r.requests:,} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
                    f"| {r.non_2xx} | {r.assigned:,} / {r.queued:,} | {r.tool} |")
    checks = []
    for connections in sorted({r.connections for r in results}):
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
    return "\n".join(rows) + "\n\n" + "\n".join(checks) + "\n" + note


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=int, default=20, help="length of each measured run (default 20)")
    args = parser.parse_args()

    pg = rd = None
    tmp = Path(tempfile.mkdtemp(prefix="thinkrealty-bench-"))
    try:
        admin_url = os.environ.get("DATABASE_URL")
        if not admin_url:
            from db.embedded import EmbeddedPostgres

            pg = EmbeddedPostgres(tmp / "postgres").start()
            admin_url = pg.url()
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            from db.embedded import EmbeddedRedis

            rd = EmbeddedRedis(tmp / "redis").start()
            redis_url = rd.url()

        machine = _machine(admin_url)
        results = capture.run(admin_url, redis_url, seconds=args.seconds)
        DOC.write_text(f"""# Benchmarks

Written by `make bench` (`python -m bench`); do not edit by hand. Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.

Machine: {machine}.

Servers: {'embedded PostgreSQL and Redis started by the benchmark (default settings, fsync on)'
          if pg else 'the ones named by DATABASE_URL / REDIS_URL'}. The API runs as `python -m api serve` does:
one uvicorn process (uvloop, httptools), an asyncpg pool of at most 20 connections, as the `thinkrealty_app`
login, with its background sweeper on (every 60 s, as in production: each HTTP run contains one sweep). The load
generator runs on the same 2 cores as the server and the database.

## Lead capture

Each run starts from a fresh copy of one database: the demo data plus 400 more agents (20,000 free slots, so a
run keeps assigning rather than queueing). Every request is a unique lead (its own phone) from a rotating source,
language, property type and areas. After a 3 s warm-up, {args.seconds} s are measured.

- **HTTP**: wrk (2 threads) with `bench/capture.lua` against `POST /api/v1/leads/capture`: pydantic validation,
  phone normalisation, one `api.capture_lead` call, then the property suggestions (a second, read-only call).
- **SQL**: pgbench (2 threads, prepared statements) with `bench/capture_direct.sql`: the same
  `api.capture_lead` call with the body the API would send, as the same login, no HTTP and no suggestions.

{_capture_section(results)}
""")
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
