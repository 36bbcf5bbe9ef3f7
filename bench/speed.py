"""Speed to lead at scale (issue 16): reporting.speed_to_lead on the scale database (1,000,000 leads by default,
db/scale/generate.sql: every lead an accepted offer, first responses and conversions spread as in a brokerage), as
the BI login runs it, for each dimension, all time and over the last 90 days (median of three after a warm-up;
target <= 1 s), with the response-band rows it answers; and the sweep's performance-score step
(crm.refresh_performance_scores, which reads every agent's offers of the window through crm.offer_figures) timed on
the same data.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from bench import scale
from bench.capture import _with_db

DIMENSIONS = ("response_band", "all", "agent", "source", "weekday", "hour")


@dataclass
class DimensionTiming:
    by: str
    rows: int
    all_time_ms: float
    last_90_days_ms: float


@dataclass
class SpeedResult:
    leads: int
    generated_s: float | None
    dimensions: list[DimensionTiming]
    every_ms: float
    refresh_scores_ms: float
    offer_figures_ms: float
    agents_scored: int
    bands: list[dict[str, Any]] = field(default_factory=list)
    overall: dict[str, Any] = field(default_factory=dict)


def run(admin_url: str, leads: int = 1_000_000, agents: int = 200) -> SpeedResult:
    url, generated = scale.prepare(admin_url, leads, agents)
    bi_url = _with_db(url, scale.SCALE_DB, "thinkrealty_reporting")
    with psycopg.connect(bi_url, autocommit=True) as bi:
        dimensions = []
        for by in DIMENSIONS:
            all_time_ms, rows = scale._timed(bi, f"SELECT * FROM reporting.speed_to_lead(NULL, NULL, '{by}')")
            recent_ms, _ = scale._timed(bi, f"SELECT * FROM reporting.speed_to_lead(current_date - 90, NULL, '{by}')")
            dimensions.append(DimensionTiming(by, rows, all_time_ms, recent_ms))
        every_ms, _ = scale._timed(bi, "SELECT * FROM reporting.speed_to_lead(NULL, NULL, 'every')", runs=1)
        columns = ("key", "leads", "contacted", "first_response_p50_seconds", "first_response_p90_seconds",
                   "breach_rate", "conversion_rate")
        bands = [dict(zip(columns, r, strict=True)) for r in bi.execute(
            f"SELECT {', '.join(columns)} FROM reporting.speed_to_lead()")]
        overall = dict(zip(columns, bi.execute(
            f"SELECT {', '.join(columns)} FROM reporting.speed_to_lead(NULL, NULL, 'all')").fetchone() or (),
            strict=True))
    with psycopg.connect(url) as owner:   # the sweep's step, in a transaction rolled back: the data stays as built
        times, scored = [], 0
        for _ in range(3):
            started = time.perf_counter()
            row = owner.execute("SELECT crm.refresh_performance_scores(now())").fetchone()
            times.append((time.perf_counter() - started) * 1000)
            scored = int(row[0]) if row else 0
            owner.rollback()
        figures_ms, _ = scale._timed(owner, "SELECT * FROM crm.offer_figures(now() - interval '90 days', now())")
        owner.rollback()
    result = SpeedResult(leads, generated, dimensions, every_ms, round(statistics.median(times), 1),
                         figures_ms, scored, bands, overall)
    print(json.dumps(asdict(result), default=str), flush=True)
    return result


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.1f} %"


def _dur(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    s = int(seconds)
    return f"{s} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def section(r: SpeedResult) -> str:
    built = (f"built by `db/scale/generate.sql` in {r.generated_s / 60:.1f} min" if r.generated_s is not None
             else "reused from an earlier run (same leads, agents and generator)")
    rows = ["| first response | leads | contacted | p50 | p90 | breach rate | conversion rate |",
            "|---|---|---|---|---|---|---|"]
    for b in [r.overall, *r.bands]:
        rows.append(f"| {b.get('key') or 'all'} | {b['leads']:,} | {b['contacted']:,} | "
                    f"{_dur(b['first_response_p50_seconds'])} | {_dur(b['first_response_p90_seconds'])} | "
                    f"{_pct(b['breach_rate'])} | {_pct(b['conversion_rate'])} |")
    timings = ["| `p_by` | rows | all time ms | last 90 days ms |", "|---|---|---|---|"]
    for d in r.dimensions:
        timings.append(f"| `{d.by}` | {d.rows:,} | {d.all_time_ms:,.1f} | {d.last_90_days_ms:,.1f} |")
    slowest = max(max(d.all_time_ms, d.last_90_days_ms) for d in r.dimensions)
    verdict = "within" if slowest <= 1000 else "over"
    return f"""## Speed to lead at scale

`bench/speed.py` on the scale database ({r.leads:,} generated leads, {built}): `reporting.speed_to_lead(from, to,
by)` for each dimension as the BI login runs it (one REST report each: `speed-to-lead`, `speed-to-lead-overall`,
`speed-to-lead-by-agent` ...), every row fetched, median of three after a warm-up; all time is every lead of the
two years, the last 90 days about 123,000 of them.

{chr(10).join(timings)}

The slowest dimension takes {slowest:,.0f} ms: **{verdict}** the issue's 1 s target. `p_by => 'every'` (all six
dimensions in one call, the psql convenience) took {r.every_ms:,.0f} ms all time: each group's exact percentiles
sort its response times, so six dimensions cost six times one.

| the sweep's step, same data | ms |
|---|---|
| `crm.refresh_performance_scores(now())`, once a minute ({r.agents_scored} rescored) | {r.refresh_scores_ms:,.1f} |
| `crm.offer_figures` over 90 days, every agent | {r.offer_figures_ms:,.1f} |

What the report answers on the generated data (all time, by response band, and the overall row; the generator's
spread is described in the README, section Scale data):

{chr(10).join(rows)}
"""
