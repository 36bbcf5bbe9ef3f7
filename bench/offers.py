"""A thousand offers expiring in the same second (issue 16): how long the app's offer timer takes to move them all.

On a fresh copy of the capture template (every agent on shift around the clock), 1,000 leads are captured with a
clock set so that every offer's respond_by falls in the same second, about 30 s ahead, while one API process with its
offer timer (OFFER_TIMER_WORKERS loops, as the job login) runs. The figure: from that second to the last move, and
each move's lag (released_at - respond_by), from the database's own stamps.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from bench import capture

OFFERS = 1000


@dataclass
class ExpiryRun:
    offers: int
    moved: int
    pooled: int
    lag_p50_s: float
    lag_max_s: float
    all_moved_within_s: float


def run(admin_url: str, redis_url: str, template: str, offers: int = OFFERS) -> ExpiryRun:
    url = capture._copy(admin_url, template, "bench_offers")
    app = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
    jobs = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_jobs")
    server = capture.ApiServer(app, redis_url, {"OFFER_TIMER": "true", "JOBS_DATABASE_URL": jobs})
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            sla = conn.execute("SELECT crm.setting_interval('first_response_sla')").fetchone()
            assert sla is not None
            due = (datetime.now(UTC) + timedelta(seconds=30)).replace(microsecond=0)
            clock = due - sla[0]   # captured "then": every respond_by is `due`
            conn.execute("""
                SELECT api.capture_lead(jsonb_build_object(
                           'source_type', 'website',
                           'source_details', jsonb_build_object('campaign_id', 'bench-offers'),
                           'lead_data', jsonb_build_object('first_name', 'Offer', 'last_name', 'Bench ' || n,
                                                           'phone', '+97159' || lpad(n::text, 7, '0'))),
                       'bench', NULL, NULL, %s)
                  FROM generate_series(1, %s) AS n""", (clock, offers))
            row = conn.execute("SELECT count(*), min(a.respond_by), max(a.respond_by) FROM crm.lead_assignments a "
                               "JOIN crm.leads l USING (lead_id) WHERE l.campaign_id = 'bench-offers' "
                               "AND a.released_at IS NULL AND a.accepted_at IS NULL").fetchone()
            assert row is not None and row[0] == offers and row[1] == row[2] == due, row
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                left = conn.execute("SELECT count(*) FROM crm.lead_assignments WHERE released_at IS NULL "
                                    "AND accepted_at IS NULL AND respond_by = %s", (due,)).fetchone()
                if left is not None and left[0] == 0:
                    break
                time.sleep(0.2)
            lags = conn.execute("""
                SELECT extract(epoch FROM a.released_at - a.respond_by)::float8
                  FROM crm.lead_assignments AS a WHERE a.respond_by = %s AND a.release_reason = 'offer_expired'
                 ORDER BY 1""", (due,)).fetchall()
            pooled = conn.execute("SELECT count(*) FROM crm.leads WHERE pooled_at IS NOT NULL").fetchone()
    finally:
        server.stop()
    values = [float(r[0]) for r in lags]
    result = ExpiryRun(offers, len(values), int(pooled[0]) if pooled else 0,
                       round(values[len(values) // 2], 2) if values else float("nan"),
                       round(values[-1], 2) if values else float("nan"),
                       round(max(values), 2) if values else float("nan"))
    print(json.dumps(asdict(result)), flush=True)
    capture.require_no_violations(url)
    capture.drop(admin_url, url)
    return result


def section(result: ExpiryRun) -> str:
    return f"""## A thousand offers expiring in one second

`make bench BENCH_ARGS="--only offers"` (bench/offers.py): {result.offers:,} leads captured on a fresh copy of the
capture template (every agent on shift around the clock) with a clock set so that all their offers' `respond_by` fall
in the same second, about 30 s ahead, while one API process runs its offer timer (`OFFER_TIMER_WORKERS` = 2 loops, as
the job login; each expiry is a move to the next ranked available agent: release, new offer, follow-ups, events).
Lag = `released_at - respond_by`, the database's own stamps.

| offers due in one second | moved | to the pond | lag p50 | lag max (all moved within) |
|---|---|---|---|---|
| {result.offers:,} | {result.moved:,} | {result.pooled} | {result.lag_p50_s} s | **{result.all_moved_within_s} s** |
"""
