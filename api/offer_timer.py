"""The offer timer: moves every offer not accepted by its respond_by on to the next agent (or the pond), and alerts
of leads waiting in the pond too long, within seconds of the deadline.

Background loops in every app process (OFFER_TIMER_WORKERS, 2), each on a connection of its own as the job login
(JOBS_DATABASE_URL, direct: it LISTENs), the same shape as the webhook dispatcher: each runs jobs.expire_offers in
batches of 50 (SKIP LOCKED on each lead, so the loops and the processes share the work and an accept racing an expiry
has one outcome), then sleeps until the next deadline
(jobs.next_offer_deadline), a NOTIFY offer_deadline from a new offer, or OFFER_TIMER_POLL_S. The rules are SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import asyncpg

from api import queries
from api.deps import init_connection
from api.errors import is_connection_error

log = logging.getLogger("api.offer_timer")
CHANNEL = "offer_deadline"


class OfferTimer:
    def __init__(self, jobs_url: str, *, poll_s: float = 5.0, batch_size: int = 50, retry_s: float = 1.0,
                 workers: int = 2) -> None:
        self.jobs_url = jobs_url
        self.poll_s = poll_s
        self.batch_size = batch_size
        self.retry_s = retry_s
        self.workers = workers
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._failures = 0
        self.ready = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        """`workers` loops, each on a connection of its own: a burst of deadlines (a thousand offers due in one
        second) is moved in parallel, the lead locks (SKIP LOCKED) keeping them apart."""
        await asyncio.gather(*(self._run_one() for _ in range(self.workers)))

    async def _run_one(self) -> None:
        while not self._stopping.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.jobs_url,
                                             server_settings={"application_name": "thinkrealty-offer-timer"})
                await init_connection(conn)
                await conn.add_listener(CHANNEL, self._on_notify)
                self.ready.set()
                await self._loop(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                if is_connection_error(exc):
                    log.warning("offer timer: the database is not reachable (%s)", type(exc).__name__)
                elif isinstance(exc, asyncpg.PostgresError):
                    log.error("offer timer: %s %s; retrying", exc.sqlstate, exc)
                else:
                    log.exception("offer timer failed; restarting")
            finally:
                self.ready.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(self.retry_s * 2 ** max(self._failures - 1, 0), 60.0)):
                        await self._stopping.wait()

    async def _loop(self, conn: asyncpg.Connection) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            done = await conn.fetchval(queries.EXPIRE_OFFERS, self.batch_size)
            self._failures = 0
            if done["expired"] or done["alerted"] or done["retry"]:
                log.info("offers: %s", done)
                continue  # more may be due
            due: datetime | None = await conn.fetchval(queries.NEXT_OFFER_DEADLINE)
            delay = self.poll_s
            if due is not None:  # a moment past the deadline, so the pass finds it due
                delay = min(delay, max(0.05, (due - datetime.now(UTC)).total_seconds() + 0.05))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
