"""Before and after in one sitting: `python -m bench.before_after REV` (issue 18's table in docs/benchmarks.md).

The capture rate of an earlier revision and of the working tree, over HTTP (wrk against each revision's own API) and
direct SQL (pgbench with each revision's own `bench/capture_direct.sql`), at 1, 4, 16 and 64 connections. Each side
builds its capture template with its own code (the earlier revision from a temporary git worktree, as bench/compare.py
does); runs alternate old/new, new/old, ... on fresh copies; the medians are compared. Writes the section
`beforeafter` of docs/benchmarks.md. Uses DATABASE_URL / REDIS_URL, or starts embedded servers.

Note what each revision's direct-SQL script runs: it is the statement that revision's API runs, so since issue 18 it
includes the three suggested listings (the API asks for them in the capture's transaction), which the earlier
revision's script left out (its API asked for them in a second call).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import capture
from bench.__main__ import DOC, replace_section
from bench.compare import _prepare, worktree

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = (1, 4, 16, 64)


@dataclass
class Pair:
    mode: str
    connections: int
    old: list[float]
    new: list[float]

    @property
    def change(self) -> float:
        return statistics.median(self.new) / statistics.median(self.old) - 1


def run(admin_url: str, redis_url: str, rev: str, seconds: int, rounds: int,
        connections: tuple[int, ...] = CONNECTIONS) -> list[Pair]:
    pairs: list[Pair] = []
    with worktree(rev) as old_tree:
        _prepare(old_tree, admin_url, "bench_ba_old")
        _prepare(ROOT, admin_url, "bench_ba_new")
        trees = {"old": old_tree, "new": ROOT}
        for mode in ("http", "sql"):
            for c in connections:
                pair = Pair(mode, c, [], [])
                for r in range(rounds):
                    for side in (("old", "new") if r % 2 == 0 else ("new", "old")):
                        url = capture._copy(admin_url, f"bench_ba_{side}", "bench_ba_run")
                        if mode == "sql":
                            result = capture.run_sql(url, c, seconds, trees[side] / "bench" / "capture_direct.sql")
                        else:
                            result = capture.run_http(url, redis_url, c, seconds, tree=trees[side],
                                                      extra_env={"PYTHONPATH": str(trees[side])})
                        assert result.non_2xx == 0, result
                        getattr(pair, side).append(result.rps)
                        capture.require_no_violations(url)
                        capture.drop(admin_url, url)
                        print(f"{mode} {c} {side}: {result.rps:,.1f}/s", flush=True)
                pairs.append(pair)
    return pairs


# the sections this script writes: issue 18's (the default) and later issues' A/B of their own starting point
TITLES = {"beforeafter": "issue 18", "beforeafter-availability": "issue 16 (availability: routing only to agents "
          "on shift; offers with their clock; the after template's agents on shift around the clock: the day's path)",
          "beforeafter-changelog": "the dashboard change log (migration 0031: no NOTIFY in a capture's transaction)"}


SCRIPTS = {"beforeafter": " (after: with the three suggested listings the API now asks for in the same statement; "
                          "before: without them, its API asked in a second call)",
           "beforeafter-availability": " (the same statement on both sides)",
           "beforeafter-changelog": " (the same statement on both sides)"}


def section(pairs: list[Pair], rev: str, seconds: int, rounds: int, name: str = "beforeafter") -> str:
    rows = ["| mode | connections | before runs (/s) | after runs (/s) | before median | after median | change |",
            "|---|---|---|---|---|---|---|"]
    for p in pairs:
        rows.append(f"| {'HTTP' if p.mode == 'http' else 'direct SQL'} | {p.connections} "
                    f"| {', '.join(f'{v:,.0f}' for v in p.old)} | {', '.join(f'{v:,.0f}' for v in p.new)} "
                    f"| {statistics.median(p.old):,.0f} | **{statistics.median(p.new):,.0f}** | {p.change:+.0%} |")
    command = f"python -m bench.before_after {rev}" + ("" if name == "beforeafter" else f" --section {name}")
    scripts = SCRIPTS[name].strip()
    return f"""## Before and after {TITLES[name]}, in one sitting

`{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC): captures/s of `{rev}` (before) and
of this tree (after), {rounds} alternating rounds of {seconds} s per cell, each side on a template its own code built,
HTTP through each revision's own API (one worker), direct SQL with each revision's own `bench/capture_direct.sql`
{scripts}. Every response of every run a 2xx.

{chr(10).join(rows)}
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.before_after")
    parser.add_argument("rev")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", default=",".join(map(str, CONNECTIONS)))
    parser.add_argument("--section", default="beforeafter", choices=sorted(TITLES),
                        help="the section of docs/benchmarks.md to write")
    args = parser.parse_args()
    connections = tuple(int(c) for c in args.connections.split(","))
    pg = rd = None
    tmp = Path(tempfile.mkdtemp(prefix="bench-ba-servers-"))
    admin_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    try:
        if not admin_url:
            from devservers.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(tmp / "postgres").start()
            admin_url = pg.url()
        if not redis_url:
            from devservers.redis import EmbeddedRedis

            rd = EmbeddedRedis(tmp / "redis").start()
            redis_url = rd.url()
        pairs = run(admin_url, redis_url, args.rev, args.seconds, args.rounds, connections)
    finally:
        if rd is not None:
            rd.stop()
        if pg is not None:
            pg.destroy()
    text = section(pairs, args.rev, args.seconds, args.rounds, args.section)
    DOC.write_text(replace_section(DOC.read_text(), args.section, text))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
