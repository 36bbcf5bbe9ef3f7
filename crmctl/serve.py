"""`crmctl serve`: the API under uvicorn. In development it first migrates, loads the demo data once and makes the
development admin key; production migrates in its own step (docker compose: the migrate service)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from api.settings import Settings, get_settings
from crmctl import database
from crmctl.environment import environment
from crmctl.keys import ensure_dev_admin_key


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings) as env:
        if settings.app_env == "development":
            database.migrate(env.owner_url)
            if database.seed(env.owner_url, only_if_empty=True):
                print("demo data loaded (first run)")
            ensure_dev_admin_key(env.owner_url, Path(settings.data_dir))
        os.environ["DATABASE_URL"] = env.app_url
        os.environ["REDIS_URL"] = env.redis_url
        if env.jobs_url:
            os.environ["JOBS_DATABASE_URL"] = env.jobs_url
        get_settings.cache_clear()
        host, port = args.host or settings.host, args.port or settings.port
        print(f"API on http://{host}:{port}  docs: http://{host}:{port}/docs", flush=True)
        uvicorn.run("api.main:create_app", factory=True, host=host, port=port,
                    log_level=settings.log_level.lower(), workers=1,
                    log_config=None, access_log=False)  # our handler and format; api.access logs each request
    return 0
