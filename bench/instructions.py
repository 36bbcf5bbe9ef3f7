"""What one capture costs in CPU instructions: `python -m bench --only instructions` (or `python -m bench.instructions
[REV ...] [--keep DIR]` to compare revisions, `--keep` leaving the callgrind files for `callgrind_annotate`).

Captures per second on a machine other sessions share move with the load (the same tree measured 86/s and 269/s at
one connection on two days here). Instructions do not: valgrind's callgrind counts every instruction a PostgreSQL
backend executes, whatever else the machine does, so a change that saves 2 % of the work shows as 2 % here, where a
throughput run would need many rounds to see it. What it does not count: waiting (locks, fsync) and the cost of
cache misses; those stay the throughput benchmarks' business.

How: a PostgreSQL of its own (embedded), the capture template (bench/capture.py: demo data plus 400 agents), two
fresh copies of it; the server stopped, `postgres --single` under callgrind runs the API's statement (the body of
`bench/capture_direct.sql`, its pgbench variables filled in deterministically) as the app login (SET SESSION
AUTHORIZATION thinkrealty_app), 5 times in one copy and 25 times in the other. The difference of the two totals,
divided by 20, is the cost of one capture in a warm session: start-up, the first compilation of every function and
the first plans fall out. The same difference per PostgreSQL function (inclusive: a function's count contains what
it calls, so the rows overlap) says where they go. Single-user mode runs the statement as a simple query (planned on
every call, as pgbench's does; the API's prepared statement is not): that planning is left out of the breakdown's
"planned again" row, which counts the nested statements only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from bench import capture
from bench.compare import _prepare, worktree
from devservers.postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
FEW, MANY = 5, 25
# (label, PostgreSQL functions whose inclusive counts are summed: prefixes of the symbol names callgrind reports)
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("row triggers (PL/pgSQL, at the end of each statement and at commit)", ("plpgsql_exec_trigger",)),
    ("executor start-up: every statement's plan made ready to run, every call", ("standard_ExecutorStart",)),
    ("commit (the deferred triggers, the commit record)", ("CommitTransaction",)),
    ("CHECK constraints (each statement parses and prepares its table's checks again)", ("ExecConstraints",)),
    ("  of which: reading their stored expressions (stringToNode)", ("stringToNode",)),
    ("nested statements planned again (custom plans)", ("BuildCachedPlan",)),
    ("foreign-key checks (a locking SELECT on the referenced row)", ("RI_FKey_check",)),
    ("TOAST compression and decompression (pglz)", ("toast_compress_datum", "pglz_decompress_datum")),
    ("index insertions", ("ExecInsertIndexTuples",)),
    ("WAL records", ("XLogInsert",)),
    ("SHA-256 (the caller's seal, the key's hash)", ("sha256_bytea",)),
)


@dataclass
class Count:
    label: str
    per_capture: int  # instructions
    steps: dict[str, int]  # label -> instructions per capture (inclusive, overlapping)


def available() -> str | None:
    """None when the tools are there, else what is missing."""
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian package valgrind)"
    return None


def script(count: int) -> str:
    """`count` captures as bench/capture_direct.sql sends them, variables filled in, one statement per line."""
    text = (ROOT / "bench" / "capture_direct.sql").read_text()
    body = " ".join(text[text.index("SELECT api.capture_lead"):].split()).rstrip(";")
    lines = ["SET SESSION AUTHORIZATION thinkrealty_app;"]
    for i in range(count):
        lines.append(body.replace(":n", str(100_000_000_000 + i * 7919)).replace(":k", str(i % 40))
                     .replace("[:s]", f"[{i % 6 + 1}]").replace("[:t]", f"[{i % 4 + 1}]") + ";")
    return "\n".join(lines) + "\n"


def _totals(path: Path) -> tuple[int, dict[str, int]]:
    """The program total and every function's inclusive count (names without their file, recursion levels folded)."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
                         capture_output=True, text=True, check=True).stdout
    total = 0
    functions: dict[str, int] = {}
    for line in out.splitlines():
        found = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+)", line)
        if not found:
            continue
        value = int(found.group(1).replace(",", ""))
        if found.group(2) == "PROGRAM":
            total = value
        elif ":" in found.group(2):
            name = found.group(2).split(":", 1)[1].split("'", 1)[0]
            # a recursive function is listed once per level, each level containing the deeper ones: keep the largest
            functions[name] = max(functions.get(name, 0), value)
    return total, functions


def count(pg: EmbeddedPostgres, template: str, label: str, work: Path, setup: str = "") -> Count:
    """Instructions per capture on copies of `template` (after `setup`, SQL run as the owner on each copy)."""
    names = {n: f"bench_instr_{n}" for n in (FEW, MANY)}
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                        sql.Identifier(template)))
    if setup:
        for name in names.values():
            with psycopg.connect(pg.url(name), autocommit=True) as conn:
                conn.execute(setup)  # the benchmark's own SQL
    pg.stop()
    results: dict[int, tuple[int, dict[str, int]]] = {}
    try:
        for n, name in names.items():
            (work / f"captures{n}.sql").write_text(script(n))
            out = work / f"{label}-{n}.callgrind"
            with open(work / f"captures{n}.sql") as stdin:
                subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                str(pg.bin / "postgres"), "--single", "-D", str(pg.datadir), "-j", name],
                               stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True,
                               user=pg.run_as, cwd="/", timeout=1800)
            results[n] = _totals(out)
    finally:
        pg.start()
    (few_total, few), (many_total, many) = results[FEW], results[MANY]
    runs = MANY - FEW
    steps = {step: sum(many.get(f, 0) - few.get(f, 0) for f in _matching(many, prefixes)) // runs
             for step, prefixes in STEPS}
    with psycopg.connect(pg.url(names[MANY]), autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM crm.leads WHERE campaign_id = 'bench'").fetchone()
        capture.require_no_violations(pg.url(names[MANY]))
    if stored is None or stored[0] != MANY:
        raise RuntimeError(f"{label}: {stored} of {MANY} captures were stored (see {work})")
    return Count(label, (many_total - few_total) // runs, steps)


def _matching(functions: dict[str, int], prefixes: tuple[str, ...]) -> list[str]:
    """The function names that a prefix names: the name itself, or a compiler's variant of it (`.isra.0`)."""
    return [f for f in functions if any(f == p or f.startswith(p + ".") for p in prefixes)]


@contextmanager
def server(prefix: str = "bench-instructions-") -> Iterator[tuple[EmbeddedPostgres, Path]]:
    """A PostgreSQL of its own to count on, and the work directory callgrind writes its files to."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        pg = EmbeddedPostgres(work / "postgres").start()
        os.chmod(work, 0o777)  # callgrind writes its files here as the server's user
        try:
            yield pg, work
        finally:
            pg.stop()


def run(counts: list[tuple[str, str, str]], keep: Path | None = None) -> list[Count]:
    """Each (label, tree, setup): that tree's capture template (its own migrations and functions), counted; with
    `keep`, the callgrind files are left there for callgrind_annotate."""
    with server() as (pg, work):
        results = []
        templates: dict[str, str] = {}
        for label, tree, setup in counts:
            if tree not in templates:
                templates[tree] = f"bench_instr_template_{len(templates)}"
                _prepare(Path(tree), pg.url(), templates[tree])
            results.append(count(pg, templates[tree], label, work, setup))
            print(f"{label}: {results[-1].per_capture:,} instructions per capture", flush=True)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for found in work.glob("*.callgrind"):
                shutil.copy(found, keep / found.name)
        return results


def section(results: list[Count]) -> str:
    base = results[0]
    head = "| | " + " | ".join(r.label for r in results) + " |"
    rows = [head, "|---" * (len(results) + 1) + "|",
            "| **instructions per capture** | " + " | ".join(
                f"**{r.per_capture / 1e6:.2f} M**"
                + ("" if r is base else f" ({r.per_capture / base.per_capture - 1:+.1%})") for r in results) + " |"]
    for step, _ in STEPS:
        rows.append(f"| {step} | " + " | ".join(
            f"{r.steps[step] / 1e6:.2f} M ({r.steps[step] / r.per_capture:.0%})" for r in results) + " |")
    return f"""## What a capture costs in instructions

`bench/instructions.py`: valgrind's callgrind counts the instructions a PostgreSQL backend executes for the API's
statement (`bench/capture_direct.sql`), in single-user mode as the app login, on fresh copies of the capture template:
the difference between 25 and 5 captures in one session, over 20, is one capture in a warm session. A count, not a
time: the same tree gives the same figure within a fraction of a percent whatever else the machine runs, so small
savings show without rounds of throughput runs. Waiting (row locks, NOTIFY's lock, fsync) is not counted. The rows
below are inclusive (a row contains what it calls; they overlap): where the work goes, not a sum.

{chr(10).join(rows)}
"""


BEFORE = "25481ff"  # the tree before the capture's plans were made generic (2026-12-02)
EVENTS_OFF = "UPDATE crm.settings SET value = 'false' WHERE setting_key = 'events_enabled'"


def standard() -> str:
    """`make bench`'s section: BEFORE (where the clone has it), this tree, and this tree with events off (what the
    outbox costs)."""
    missing = available()
    if missing:
        return f"## What a capture costs in instructions\n\nNot measured on this machine: {missing}.\n"
    now = [("this tree", str(ROOT), ""), ("this tree, events off", str(ROOT), EVENTS_OFF)]
    known = subprocess.run(["git", "cat-file", "-e", f"{BEFORE}^{{commit}}"], cwd=ROOT, capture_output=True)
    if known.returncode != 0:  # a shallow clone: this tree alone
        return section(run(now))
    with worktree(BEFORE) as tree:
        return section(run([(f"`{BEFORE}` (before)", str(tree), ""), *now]))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("revs", nargs="*", help="earlier revisions to count beside this tree")
    parser.add_argument("--keep", type=Path, help="a directory to leave the callgrind files in")
    args = parser.parse_args()
    missing = available()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    with ExitStack() as trees:
        counts = [(f"`{rev}`", str(trees.enter_context(worktree(rev))), "") for rev in args.revs]
        results = run([*counts, ("this tree", str(ROOT), "")], args.keep)
    print(section(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
