"""Follow the database's dashboard change log on a dedicated connection and drop the changed agents' dashboards.

The triggers of db/functions/20_crm_notify.sql record, in the transaction of every change to an agent's leads,
assignments or follow-ups (API or psql), the agent's id in crm.dashboard_changes. Every `poll_s` this reads what
committed since its previous look (`api.dashboard_changes`, by transaction id against that look's snapshot, so a
transaction that commits late is not missed) and hands each agent to DashboardCache.schedule_invalidation
(batched). Not LISTEN/NOTIFY: a transaction that has notified commits under one database-wide lock, so every capture
would commit alone (migration 0031). The connection is re-opened when it drops; every cached dashboard is dropped
at each (re)connection and whenever the log no longer holds everything since the previous look (the sweep pruned
it), since changes in between may be unseen.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from api import queries
from api.cache import DashboardCache

log = logging.getLogger("api.listener")


class NotificationListener:
    def __init__(self, database_url: str, cache: DashboardCache, poll_s: float = 0.2, retry_s: float = 1.0,
                 timeout_s: float = 10.0) -> None:
        self.database_url = database_url
        self.cache = cache
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self.listening = asyncio.Event()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ends run() at its next step; a cancellation alone is not enough, because a client library may swallow
        a CancelledError that lands inside one of its calls (seen with redis-py), and the loop would go on."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass

    async def run(self) -> None:
        """Follows the change log until stop() or cancellation, reconnecting after any failure."""
        while not self._stopping.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url, command_timeout=self.timeout_s,
                                             server_settings={"application_name": "thinkrealty-listener"})
                # the horizon first, then drop everything: a change after the horizon's snapshot is read next time
                horizon = await conn.fetchval(queries.DASHBOARD_CHANGES, None, column=1)
                await self.cache.invalidate_all()
                self.listening.set()
                while not self._stopping.is_set():
                    await self._pause(self.poll_s)
                    if self._stopping.is_set():
                        break
                    row = await conn.fetchrow(queries.DASHBOARD_CHANGES, horizon)
                    if row is None:  # a function returning one row: cannot happen, but never loop on nothing
                        raise RuntimeError("api.dashboard_changes returned no row")
                    agents, horizon, complete = row
                    if not complete:
                        log.warning("dashboard change log pruned past this process's last look; dropping every "
                                    "cached dashboard")
                        await self.cache.invalidate_all()
                    for agent in agents:
                        self.cache.schedule_invalidation(str(agent))  # applied in batches by the cache's worker
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dashboard change listener: %s; reconnecting", type(exc).__name__)
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if not self._stopping.is_set():
                await self._pause(self.retry_s)
