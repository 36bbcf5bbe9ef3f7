"""`crmctl dispatch`: deliver the webhook deliveries that are due now, once, and exit (for cron, or to drain the
outbox by hand; every app process also runs a dispatcher unless WEBHOOK_DISPATCH=false), as the job login when one
is named, else as the owner."""

from __future__ import annotations

import argparse
import asyncio
import json

from api.dispatcher import dispatch_pending
from api.settings import Settings
from crmctl.environment import environment


def cmd_dispatch(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings, need_redis=False) as env:
        url = env.jobs_url or env.owner_url
        attempted = asyncio.run(dispatch_pending(url, timeout_s=settings.webhook_timeout_s,
                                                 batch_size=settings.webhook_batch_size))
    print(json.dumps({"attempted": attempted}))
    return 0
