"""The background sweeper: `jobs.run_sweeps()` every SWEEP_INTERVAL_S seconds, as the job login.

The API's own login cannot run the jobs (they live in the `jobs` schema, executable by thinkrealty_jobs and the owner
only), so the sweeper keeps a connection of its own to JOBS_DATABASE_URL. Every app process runs one; the function's
advisory lock lets only one of them sweep at a time (the others get `skipped`), so running several processes is
safe. `crmctl sweep` runs it once (for cron).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from api import queries
from api.deps import init_connection
from api.errors import from_postgres, is_connection_error
from api.metrics import Metrics

log = logging.getLogger("api.sweeper")


async def sweep_once(conn: asyncpg.Connection) -> dict[str, Any]:
    """The sweeps, then (in a transaction of its own) the analytics snapshot when it is due."""
    result: dict[str, Any] = await conn.fetchval(queries.RUN_SWEEPS)
    result["analytics"] = await conn.fetchval(queries.REFRESH_ANALYTICS)
    return result


async def run_forever(jobs_url: str, interval_s: float, metrics: Metrics | None = None) -> None:
    """Sweeps until cancelled; a failed sweep is logged and retried at the next tick (with a new connection when
    the old one broke)."""
    conn: asyncpg.Connection | None = None
    try:
        while True:
            await asyncio.sleep(interval_s)
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(jobs_url,
                                                 server_settings={"application_name": "thinkrealty-sweeper"})
                    await init_connection(conn)
                result = await sweep_once(conn)
                if metrics is not None:
                    metrics.sweep("sweeps", result.get("duration_ms"))
                    metrics.sweep("analytics_refresh", result["analytics"].get("duration_ms"))
                if not result.get("skipped") or result["analytics"].get("refreshed"):
                    log.info("sweep: %s", result)
            except asyncio.CancelledError:
                raise
            except asyncpg.PostgresError as exc:
                problem = from_postgres(exc)
                log.warning("sweep failed: %s %s", problem.code, problem.detail)
            except Exception as exc:
                if is_connection_error(exc):
                    log.warning("sweep: the database is not reachable (%s)", type(exc).__name__)
                    if conn is not None:
                        conn.terminate()
                    conn = None
                else:
                    log.exception("sweep failed")
    finally:
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                conn.terminate()
