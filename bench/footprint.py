"""What each lead costs the primary, for docs/scaling.md: bytes written and WAL per capture, storage per lead by table,
and the time of the jobs that grow with the data (the analytics snapshot refresh, the audit view).

- Per capture: pgbench runs `bench/capture_direct.sql` (the API's statement) on a fresh copy of the capture template,
  500 captures to warm up, then 2,000 measured: WAL from pg_current_wal_lsn() before and after, and the growth of
  every crm table (pg_total_relation_size: heap, indexes, TOAST).
- At scale: `db/scale/generate.sql` builds `leads` leads (100,000 by default: about half a minute) in a database of
  its own; the size of each table divided by the leads, and the snapshot refresh and the audit view timed (median of
  three). docs/scaling.md extrapolates them linearly and says so.

`python -m bench --only footprint` runs it alone and rewrites its section of docs/benchmarks.md.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from bench import capture
from crmctl import database
from devservers.postgres import pg_bin_dir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = ("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class AS c "
         "WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r' ORDER BY 1")


@dataclass
class Footprint:
    captures: int
    wal_bytes_per_capture: float
    bytes_per_capture: dict[str, float]  # table -> bytes added per capture (tables that grew)
    leads: int
    bytes_per_lead: dict[str, float]  # table -> bytes per lead at scale (the largest tables)
    generated_s: float
    refresh_ms: float
    snapshot_rows: int
    audit_ms: float


def _sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {name: int(size) for name, size in conn.execute(SIZES).fetchall()}


def _lsn(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def _pgbench(url: str, transactions: int) -> None:
    pgbench = shutil.which("pgbench", path=str(pg_bin_dir())) or shutil.which("pgbench")
    assert pgbench, "pgbench not found"
    app = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
    subprocess.run([pgbench, "-n", "-M", "prepared", "-f", str(HERE / "capture_direct.sql"), "-c", "4", "-j", "2",
                    "-t", str(transactions // 4), app], check=True, capture_output=True)


def _median_ms(url: str, statement: str, runs: int = 3) -> float:
    times = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(statement).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def run(admin_url: str, template: str, leads: int = 100_000, captures: int = 2000) -> Footprint:
    url = capture._copy(admin_url, template, "bench_footprint_captures")
    try:
        _pgbench(url, 500)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM")
        before, lsn = _sizes(url), _lsn(url)
        _pgbench(url, captures)
        after = _sizes(url)
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", (lsn,)).fetchone()
        assert row is not None
        wal = float(row[0]) / captures
        grew = {t: (after[t] - before.get(t, 0)) / captures for t in after if after[t] > before.get(t, 0)}
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier("bench_footprint_captures")))

    name = "bench_footprint_scale"
    scale = capture._with_db(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        database.migrate(scale)
        database.seed(scale)
        psql = shutil.which("psql", path=str(pg_bin_dir())) or "psql"
        started = time.monotonic()
        subprocess.run([psql, "-X", "-q", "-v", f"leads={leads}", "-v", "agents=200", "-d", scale,
                        "-f", str(ROOT / "db" / "scale" / "generate.sql")], check=True, capture_output=True)
        generated = time.monotonic() - started
        with psycopg.connect(scale, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            total = conn.execute("SELECT count(*) FROM crm.leads").fetchone()
        assert total is not None
        sizes = _sizes(scale)
        largest = dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:8])
        refresh = _median_ms(scale, "SELECT crm.refresh_analytics_snapshot(true)")
        with psycopg.connect(scale, autocommit=True) as conn:
            rows = conn.execute("SELECT row_count FROM crm.analytics_snapshot_log").fetchone()
        audit = _median_ms(scale, "SELECT count(*) FROM reporting.invariant_violations", runs=1)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return Footprint(captures, round(wal), {t: round(b) for t, b in sorted(grew.items(), key=lambda kv: -kv[1])},
                     int(total[0]), {t: round(b / int(total[0])) for t, b in largest.items()}, round(generated, 1),
                     refresh, int(rows[0]) if rows else 0, audit)


def section(f: Footprint) -> str:
    per_capture = "\n".join(f"| `crm.{t}` | {b:,} |" for t, b in f.bytes_per_capture.items())
    per_lead = "\n".join(f"| `crm.{t}` | {b:,} |" for t, b in f.bytes_per_lead.items())
    total_capture = sum(f.bytes_per_capture.values())
    return f"""## What a lead costs the primary

`bench/footprint.py`, for docs/scaling.md. **Per capture** ({f.captures:,} captures by pgbench with the API's
statement, after 500 to warm up): **{f.wal_bytes_per_capture:,.0f} bytes of WAL** (what a standby receives, and
what the archive keeps) and **{total_capture:,.0f} bytes** of tables and indexes, of which:

| table | bytes per capture |
|---|---|
{per_capture}

**At scale** ({f.leads:,} leads from `db/scale/generate.sql`, built in {f.generated_s:,.0f} s; imported history, so
no audit rows): bytes per lead of the largest tables (heap, indexes and TOAST):

| table | bytes per lead |
|---|---|
{per_lead}

The jobs that grow with the data, at {f.leads:,} leads: the analytics snapshot refresh (the sweep's, every
`analytics_refresh_interval`) **{f.refresh_ms:,.0f} ms** for {f.snapshot_rows:,} rows (median of three); the audit
view `reporting.invariant_violations` **{f.audit_ms:,.0f} ms** (one run).
"""
