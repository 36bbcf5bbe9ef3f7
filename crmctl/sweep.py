"""`crmctl sweep`: the sweeps once, then the analytics snapshot refresh (for cron; the app also sweeps every minute),
as the job login when one is named, else as the owner."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import asyncpg

from api.settings import Settings
from crmctl import queries
from crmctl.environment import environment


async def _once(url: str, args: argparse.Namespace) -> object:
    conn = await asyncpg.connect(url)
    try:
        if args.now and not args.commit:
            return json.loads(await conn.fetchval(queries.REHEARSE_SWEEPS, args.now))
        result = json.loads(await conn.fetchval(queries.RUN_SWEEPS, args.now, args.force))
        result["analytics"] = json.loads(await conn.fetchval(queries.REFRESH_ANALYTICS, args.refresh_analytics))
        return result
    finally:
        await conn.close()


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    """`--now T` rehearses a sweep at T: it reports what it would do and rolls everything back; `--now T --commit`
    sweeps at T for real, refused more than sweep_clock_tolerance ahead of the real clock unless `--force`."""
    if (args.commit or args.force) and not args.now:
        print("error: --commit and --force go with --now", file=sys.stderr)
        return 2
    with environment(settings, need_redis=False) as env:
        try:
            print(json.dumps(asyncio.run(_once(env.jobs_url or env.owner_url, args)), indent=2))
        except asyncpg.PostgresError as exc:
            print(f"error: {exc.message}" + (f" ({exc.hint})" if getattr(exc, "hint", None) else ""),
                  file=sys.stderr)
            return 1
    return 0
