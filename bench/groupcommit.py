"""Group commit measured, not baked in (issue 18): `python -m bench.groupcommit [--seconds S] [--rounds N]`.

PostgreSQL can hold a commit back for `commit_delay` microseconds before it flushes the WAL, when at least
`commit_siblings` other transactions are open, so that one flush carries several commits. Whether that pays depends on
the device's flush time and on how many captures commit at once, so it is measured here and recommended (or not) in
docs/operations.md; the product's servers keep PostgreSQL's defaults. fsync and synchronous_commit stay on throughout.

How: an embedded PostgreSQL of its own, the capture template (bench/capture.py), and for each setting a fresh copy of
it captured into by pgbench with the API's statement (bench/capture_direct.sql) at 16 connections; the settings
alternate, in reversed order every other round, and the medians are compared. Every run ends with
reporting.invariant_violations empty. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import psycopg

from bench import capture
from devservers.postgres import EmbeddedPostgres

CONNECTIONS = 16
# (label, commit_delay in microseconds, commit_siblings)
SETTINGS: tuple[tuple[str, int, int], ...] = (
    ("defaults (commit_delay 0)", 0, 5),
    ("commit_delay 100 µs, commit_siblings 5", 100, 5),
    ("commit_delay 1000 µs, commit_siblings 5", 1000, 5),
)


def _configure(admin_url: str, delay: int, siblings: int) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET commit_delay = {int(delay)}")
        conn.execute(f"ALTER SYSTEM SET commit_siblings = {int(siblings)}")
        conn.execute("SELECT pg_reload_conf()")


def run(admin_url: str, seconds: int, rounds: int) -> dict[str, list[float]]:
    template = capture.prepare_template(admin_url, "bench_groupcommit_template")
    rates: dict[str, list[float]] = {label: [] for label, _, _ in SETTINGS}
    try:
        for r in range(rounds):
            for label, delay, siblings in (SETTINGS if r % 2 == 0 else tuple(reversed(SETTINGS))):
                _configure(admin_url, delay, siblings)
                url = capture._copy(admin_url, template, "bench_groupcommit_run")
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("CHECKPOINT")
                result = capture.run_sql(url, CONNECTIONS, seconds)
                capture.require_no_violations(url)
                capture.drop(admin_url, url)
                rates[label].append(result.rps)
                print(f"{label}: {result.rps:,.1f} captures/s (p99 {result.p99_ms} ms)", flush=True)
    finally:  # the server's own defaults again
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET commit_delay")
            conn.execute("ALTER SYSTEM RESET commit_siblings")
            conn.execute("SELECT pg_reload_conf()")
        capture.drop(admin_url, capture._with_db(admin_url, template))
    return rates


def table(rates: dict[str, list[float]]) -> str:
    base = statistics.median(rates[SETTINGS[0][0]])
    rows = ["| setting | runs (captures/s) | median | change |", "|---|---|---|---|"]
    for label, values in rates.items():
        median = statistics.median(values)
        rows.append(f"| {label} | {', '.join(f'{v:,.0f}' for v in values)} | **{median:,.0f}** "
                    f"| {median / base - 1:+.0%} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.groupcommit")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-groupcommit-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "postgres").start()
        try:
            print(table(run(pg.url(), args.seconds, args.rounds)))
        finally:
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
