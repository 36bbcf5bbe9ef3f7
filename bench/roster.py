"""The capture rate against the size of the roster (`python -m bench --only roster`): 40, 400 and 4,000 active agents.

Each roster is a template of its own (the demo data plus bench agents, bench/capture.py, up to the roster size). Every
run is a fixed number of captures (pgbench `-t`, 16 connections, `bench/capture_direct.sql`), fewer than the smallest
roster's free slots, so that every run assigns every lead (a queued lead is cheaper and would flatter the small
roster); a short warm-up first. Runs alternate over the rosters, `rounds` times, each on a fresh copy; the medians are
compared. The target: the rates differ by at most 10 % (candidates come from an index, not from scoring everyone).

The rates move with whatever else the machine runs (the same tree's runs spread by 30 % in one sitting), so the
section also counts the instructions one capture costs on each roster (bench/instructions.py: callgrind, a count that
does not move with the load), where valgrind is installed.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
from dataclasses import dataclass

import psycopg

from bench import capture, instructions
from devservers.postgres import pg_bin_dir

ROSTERS = (40, 400, 4000)
CONNECTIONS = 16


@dataclass
class RosterResult:
    agents: int  # active agents of role agent
    profiles: int  # routing profiles with an eligible agent
    rates: list[float]  # captures/s, one per round
    median: float
    queued: int


def _demo_agents(admin_url: str) -> int:
    """Active agents of role agent the demo data has (the roster's bench agents come on top)."""
    name = capture.prepare_template(admin_url, "bench_roster_demo", agents=0)
    url = capture._with_db(admin_url, name)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM crm.agents WHERE is_active AND role = 'agent'").fetchone()
    capture.drop(admin_url, url)
    assert row is not None
    return int(row[0])


def _pgbench(url: str, per_client: int) -> float:
    pgbench = shutil.which("pgbench", path=str(pg_bin_dir())) or shutil.which("pgbench")
    assert pgbench, "pgbench not found"
    app = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
    done = subprocess.run([pgbench, "-n", "-M", "prepared", "-f", str(capture.HERE / "capture_direct.sql"),
                           "-c", str(CONNECTIONS), "-j", "2", "-t", str(per_client), app],
                          check=True, capture_output=True, text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("tps"))
    return float(line.split("=")[1].split()[0])


def run(admin_url: str, rounds: int = 3, captures: int = 960) -> list[RosterResult]:
    demo = _demo_agents(admin_url)
    templates = {n: capture.prepare_template(admin_url, f"bench_roster_{n}", agents=n - demo) for n in ROSTERS}
    rates: dict[int, list[float]] = {n: [] for n in ROSTERS}
    queued: dict[int, int] = dict.fromkeys(ROSTERS, 0)
    profiles: dict[int, int] = {}
    for r in range(rounds):
        for n in (ROSTERS if r % 2 == 0 else tuple(reversed(ROSTERS))):
            url = capture._copy(admin_url, templates[n], "bench_roster_run")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
                row = conn.execute("SELECT count(*) FROM crm.routing_profiles WHERE eligible_agents > 0").fetchone()
                profiles[n] = int(row[0]) if row else 0
            _pgbench(url, 10)  # warm-up: every connection's plans
            rates[n].append(round(_pgbench(url, captures // CONNECTIONS), 1))
            queued[n] += capture._outcomes(url)[1]
            capture.require_no_violations(url)
            capture.drop(admin_url, url)
            print(f"roster {n}: {rates[n][-1]:,.1f} captures/s", flush=True)
    for name in templates.values():
        capture.drop(admin_url, capture._with_db(admin_url, name))
    return [RosterResult(n, profiles[n], rates[n], round(statistics.median(rates[n]), 1), queued[n]) for n in ROSTERS]


def instruction_counts() -> dict[int, int] | None:
    """Instructions per capture on each roster (None where valgrind is missing): each roster's template built as
    run() builds it, on bench/instructions.py's own server, counted by it."""
    if instructions.available() is not None:
        return None
    with instructions.server("bench-roster-instructions-") as (pg, work):
        demo = _demo_agents(pg.url())
        counts = {}
        for n in ROSTERS:
            template = capture.prepare_template(pg.url(), f"bench_roster_{n}", agents=n - demo)
            counts[n] = instructions.count(pg, template, f"roster-{n}", work).per_capture
            print(f"roster {n}: {counts[n]:,} instructions per capture", flush=True)
        return counts


def section(results: list[RosterResult], counts: dict[int, int] | None = None) -> str:
    rows = ["| active agents | routing profiles in use | runs (captures/s) | median | queued "
            "| instructions per capture |", "|---|---|---|---|---|---|"]
    for r in results:
        counted = f"{counts[r.agents] / 1e6:.2f} M" if counts and r.agents in counts else "not counted"
        rows.append(f"| {r.agents:,} | {r.profiles} | {', '.join(f'{x:,.0f}' for x in r.rates)} | **{r.median:,.0f}** "
                    f"| {r.queued} | {counted} |")
    best, worst = max(r.median for r in results), min(r.median for r in results)
    spread = (best - worst) / best if best else 0.0
    counted_spread = ""
    if counts:
        most, least = max(counts.values()), min(counts.values())
        counted_spread = (f" In instructions (a count the machine's load does not move), the costliest roster's "
                          f"capture costs **{(most - least) / least:.1%}** more than the cheapest's.")
    return f"""## Capture rate against the roster

`bench/roster.py`: direct-SQL captures (`bench/capture_direct.sql`, the API's statement) at {CONNECTIONS} connections,
a fixed number per run (every lead assigned), runs alternating over the rosters on fresh copies; and the
instructions one capture costs on each roster (bench/instructions.py, 25 less 5 captures in one session).

{chr(10).join(rows)}

Spread between the fastest and the slowest roster: **{spread:.1%}** of the fastest (target ≤ 10 %).{counted_spread}
"""
