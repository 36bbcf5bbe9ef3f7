"""`python -m bench.compare REV [--seconds N] [--rounds R] [--connections C]` (`make bench-compare REV=...`): the
direct-SQL capture rate of an earlier revision against the working tree, measured in one sitting on one server.

Each side builds its own capture template with its own code (the earlier revision from a temporary git worktree,
migrated and seeded by its own runner, in a subprocess), so neither side's function layer runs over the other's
tables. Runs alternate old/new, new/old, ... on a fresh copy of the template each, so drift in the machine's load
hits both sides alike; the medians are compared. Uses DATABASE_URL as the admin connection, or starts an embedded
PostgreSQL. `--record "what changed"` adds the result as a row of the comparisons section of docs/benchmarks.md
(kept between its markers when `make bench` rewrites the rest of the file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench import capture

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- comparisons -->", "<!-- /comparisons -->"
HEADER = """## Before and after: capture rate comparisons

Written by `make bench-compare REV=... BENCH_ARGS='--record "..."'` (`python -m bench.compare`): direct-SQL
captures/s of an earlier revision and of the tree of the day, alternating runs on one server, each side on a
template built by its own code; `make bench` keeps these rows.

| date | change judged | old revision | connections | rounds x seconds | old runs (/s) | new runs (/s) \
| median old | median new | change |
|---|---|---|---|---|---|---|---|---|---|"""
PREPARE = ("import sys; sys.path.insert(0, {tree!r}); from bench import capture; "
           "capture.prepare_template({url!r}, {name!r})")


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A temporary git worktree of `rev` (detached), removed on the way out."""
    with tempfile.TemporaryDirectory(prefix="bench-tree-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=ROOT, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)


def _prepare(tree: Path, admin_url: str, name: str) -> None:
    subprocess.run([sys.executable, "-c", PREPARE.format(tree=str(tree), url=admin_url, name=name)], cwd=tree,
                   check=True, capture_output=True)


def compare(admin_url: str, rev: str, seconds: int, rounds: int, connections: int) -> dict[str, list[float]]:
    with worktree(rev) as old_tree:
        _prepare(old_tree, admin_url, "bench_compare_old")
        _prepare(ROOT, admin_url, "bench_compare_new")
    results: dict[str, list[float]] = {"old": [], "new": []}
    for r in range(rounds):
        for side in (("old", "new") if r % 2 == 0 else ("new", "old")):
            url = capture._copy(admin_url, f"bench_compare_{side}", "bench_compare_run")
            result = capture.run_sql(url, connections, seconds)
            results[side].append(result.rps)
            print(f"{side}: {result.rps:,.1f} captures/s, p50 {result.p50_ms:.1f} ms, failed {result.non_2xx}",
                  flush=True)
    return results


def _rows(doc: Path) -> list[str]:
    text = doc.read_text() if doc.exists() else ""
    if BEGIN not in text or END not in text:
        return []
    body = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    return [line for line in body.splitlines() if line.startswith("| 20")]


def comparisons_section(doc: Path, extra: list[str] | None = None) -> str:
    """The comparisons section of docs/benchmarks.md with its rows so far (and `extra`), between its markers."""
    return "\n".join([BEGIN, HEADER, *_rows(doc), *(extra or []), END]) + "\n"


def record(label: str, rev: str, connections: int, rounds: int, seconds: int, results: dict[str, list[float]]) -> None:
    old, new = statistics.median(results["old"]), statistics.median(results["new"])
    row = (f"| {datetime.now(UTC):%Y-%m-%d} | {label} | `{rev}` | {connections} | {rounds} x {seconds} s "
           f"| {', '.join(f'{v:,.0f}' for v in results['old'])} | {', '.join(f'{v:,.0f}' for v in results['new'])} "
           f"| {old:,.0f} | {new:,.0f} | {new / old - 1:+.1%} |")
    text = DOC.read_text()
    section = comparisons_section(DOC, [row])
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("rev", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--record", metavar="LABEL", help="add the result to docs/benchmarks.md under this label")
    args = parser.parse_args()
    pg = None
    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-pg-"))
    try:
        admin_url = os.environ.get("DATABASE_URL")
        if not admin_url:
            from devservers.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(tmp / "postgres").start()
            admin_url = pg.url()
        results = compare(admin_url, args.rev, args.seconds, args.rounds, args.connections)
    finally:
        if pg is not None:
            pg.destroy()
    old, new = statistics.median(results["old"]), statistics.median(results["new"])
    print(f"median old {old:,.1f}/s, new {new:,.1f}/s: {new / old - 1:+.1%} ({args.rounds} rounds of "
          f"{args.seconds} s at {args.connections} connections)")
    if args.record:
        record(args.record, args.rev, args.connections, args.rounds, args.seconds, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
