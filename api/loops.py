"""The one shape of the app's deadline-driven background loops (DESIGN.md section 8): the webhook dispatcher and the
offer timer. Each worker holds a connection of its own as the job login (JOBS_DATABASE_URL, direct: it LISTENs), runs
rounds of work in SQL while they find something to do, then sleeps until the next deadline the database names, a
NOTIFY on its channel, or poll_s; after a failure it reconnects, waiting 1 s, 2 s, 4 s ... up to 60 s while the
failures go on. Several workers and several processes are safe: the SQL claims with SKIP LOCKED."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from api.deps import init_connection
from api.errors import is_connection_error


class DeadlineLoop:
    """Subclasses name `name`, `channel` and `next_due_query`, and implement `round`."""

    name = "loop"
    channel = ""
    next_due_query = ""

    def __init__(self, jobs_url: str, *, poll_s: float = 5.0, retry_s: float = 1.0, workers: int = 1) -> None:
        self.jobs_url = jobs_url
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.workers = workers
        self.log = logging.getLogger(f"api.{self.name.replace('-', '_')}")
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._failures = 0  # rounds failed in a row: the retry waits 1 s, 2 s, 4 s ... up to 60 s

    def stop(self) -> None:
        """Ends run() at its next step (a cancellation may be swallowed by a client library mid-call)."""
        self._stopping.set()
        self._wake.set()

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    def session(self) -> AbstractAsyncContextManager[Any]:
        """What a worker keeps open beside its connection (the dispatcher's HTTP client); nothing by default."""
        return contextlib.nullcontext()

    async def round(self, conn: asyncpg.Connection, session: Any) -> bool:
        """One round of work; True when it did some (another round follows at once)."""
        raise NotImplementedError

    async def run(self) -> None:
        """`workers` loops until stop() or cancellation, each reconnecting after any failure."""
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    async def _worker(self) -> None:
        while not self._stopping.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.jobs_url,
                                             server_settings={"application_name": f"thinkrealty-{self.name}"})
                await init_connection(conn)
                await conn.add_listener(self.channel, self._on_notify)
                async with self.session() as session:
                    await self._loop(conn, session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                if is_connection_error(exc):
                    self.log.warning("%s: the database is not reachable (%s)", self.name, type(exc).__name__)
                elif isinstance(exc, asyncpg.PostgresError):  # e.g. a login that may not run the jobs
                    self.log.error("%s: %s %s; retrying", self.name, exc.sqlstate, exc)
                else:
                    self.log.exception("%s failed; restarting", self.name)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(self.retry_s * 2 ** max(self._failures - 1, 0), 60.0)):
                        await self._stopping.wait()

    async def _loop(self, conn: asyncpg.Connection, session: Any) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # a NOTIFY from here on wakes the wait below
            busy = await self.round(conn, session)
            self._failures = 0  # a round that worked: the next failure starts the backoff afresh
            if busy:
                continue
            due: datetime | None = await conn.fetchval(self.next_due_query)
            delay = self.poll_s
            if due is not None:  # a moment past it, at least 50 ms: what is due but not claimable is another's now
                delay = min(delay, max(0.05, (due - datetime.now(UTC)).total_seconds() + 0.05))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
