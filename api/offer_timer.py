"""The offer timer: moves every offer not accepted by its respond_by on to the next agent (or the pond), and alerts
of leads waiting in the pond too long, within seconds of the deadline.

Background loops in every app process (OFFER_TIMER_WORKERS, 2; api/loops.py, the shape it shares with the webhook
dispatcher), each on a connection of its own as the job login (JOBS_DATABASE_URL, direct: it LISTENs). Each runs
jobs.expire_offers in batches of 50 (SKIP LOCKED on each lead, so the loops and the processes share the work and an
accept racing an expiry has one outcome), then sleeps until the next deadline (jobs.next_offer_deadline), a NOTIFY
offer_deadline from a new offer due before every waiting one, or OFFER_TIMER_POLL_S (2 s). The rules are SQL.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from api import queries
from api.loops import DeadlineLoop

CHANNEL = "offer_deadline"


class OfferTimer(DeadlineLoop):
    name = "offer-timer"
    channel = CHANNEL
    next_due_query = queries.NEXT_OFFER_DEADLINE

    def __init__(self, jobs_url: str, *, poll_s: float = 5.0, batch_size: int = 50, retry_s: float = 1.0,
                 workers: int = 2) -> None:
        super().__init__(jobs_url, poll_s=poll_s, retry_s=retry_s, workers=workers)
        self.batch_size = batch_size

    async def round(self, conn: asyncpg.Connection, session: Any) -> bool:
        done = await conn.fetchval(queries.EXPIRE_OFFERS, self.batch_size)
        if done["expired"] or done["alerted"] or done["retry"]:
            self.log.info("offers: %s", done)
            return True  # more may be due
        return False
