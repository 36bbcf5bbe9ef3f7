"""LISTEN for database notifications on a dedicated connection and act on them.

Channel `dashboard_invalidation` (payload: an agent id) comes from the triggers of db/functions/20_crm_notify.sql;
each one drops that agent's cached dashboards (DashboardCache.schedule_invalidation: batched). The connection is
re-opened when it drops; since notifications sent meanwhile are lost, every cached dashboard is dropped after a
reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from api import queries
from api.cache import DashboardCache

log = logging.getLogger("api.listener")
CHANNEL = "dashboard_invalidation"


class NotificationListener:
    def __init__(self, database_url: str, cache: DashboardCache, retry_s: float = 1.0, probe_s: float = 10.0) -> None:
        self.database_url = database_url
        self.cache = cache
        self.retry_s = retry_s
        self.probe_s = probe_s
        self.listening = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lost = asyncio.Event()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        self.cache.schedule_invalidation(str(payload))  # applied in batches by the cache's worker

    def stop(self) -> None:
        """Ends run() at its next step; a cancellation alone is not enough, because a client library may swallow
        a CancelledError that lands inside one of its calls (seen with redis-py), and the loop would go on."""
        self._stopping.set()
        self._lost.set()

    async def run(self) -> None:
        """Listens until stop() or cancellation, reconnecting after any failure. Every (re)connection first drops
        all cached dashboards: changes made while nobody listened (the API down, the connection lost) sent no
        usable notice."""
        while not self._stopping.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url,
                                             server_settings={"application_name": "thinkrealty-listener"})
                self._lost = asyncio.Event()
                lost = self._lost
                conn.add_termination_listener(lambda _conn, event=lost: event.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                await self.cache.invalidate_all()
                self.listening.set()
                while not lost.is_set() and not self._stopping.is_set():
                    try:  # a silent network drop closes nothing: probe now and then
                        async with asyncio.timeout(self.probe_s):
                            await lost.wait()
                    except TimeoutError:
                        await conn.fetchval(queries.PROBE, timeout=self.probe_s)
                if not self._stopping.is_set():
                    log.warning("notification listener lost its connection; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("notification listener: %s; reconnecting", type(exc).__name__)
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if not self._stopping.is_set():
                await asyncio.sleep(self.retry_s)
