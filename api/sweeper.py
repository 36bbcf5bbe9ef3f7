"""The background sweeper: `api.run_sweeps()` every SWEEP_INTERVAL_S seconds.

Every app process runs one; the function's advisory lock lets only one of them sweep at a time (the others get
`skipped`), so running several processes is safe. `python -m api sweep` runs it once (for cron).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from api.deps import call_api
from api.errors import Problem
from api.metrics import Metrics

log = logging.getLogger("api.sweeper")


async def sweep_once(pool: asyncpg.Pool) -> dict[str, Any]:
    """The sweeps, then (in a transaction of its own) the analytics snapshot when it is due."""
    result: dict[str, Any] = await call_api(pool, "SELECT api.run_sweeps()")
    result["analytics"] = await call_api(pool, "SELECT api.refresh_analytics()")
    return result


async def run_forever(get_pool: Any, interval_s: float, metrics: Metrics | None = None) -> None:
    """Sweeps until cancelled; a failed sweep is logged and retried at the next tick."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            pool = await get_pool()
            result = await sweep_once(pool)
            if metrics is not None:
                metrics.sweep("sweeps", result.get("duration_ms"))
                metrics.sweep("analytics_refresh", result["analytics"].get("duration_ms"))
            if not result.get("skipped") or result["analytics"].get("refreshed"):
                log.info("sweep: %s", result)
        except asyncio.CancelledError:
            raise
        except Problem as exc:
            log.warning("sweep failed: %s %s", exc.code, exc.detail)
        except Exception:
            log.exception("sweep failed")
