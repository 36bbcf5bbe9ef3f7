"""`crmctl serve`: the API under uvicorn. In development it first migrates, loads the demo data once and makes the
development admin key; production migrates in its own step (docker compose: the migrate service).

`--workers N` (or WEB_CONCURRENCY) runs N uvicorn worker processes behind one socket. Each has its own pool, NOTIFY
listener and sweeper: the sweeps take an advisory lock (one process sweeps, the others skip that round), every
listener drops the same shared Redis keys (dropping twice is harmless), and the metrics of all of them are summed at
every scrape through prometheus_client's multiprocess mode (a directory of this run, PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
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
        workers = args.workers or settings.web_concurrency
        metrics_dir = None
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="thinkrealty-metrics-")  # the workers' shared metric files
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        print(f"API on http://{host}:{port}  docs: http://{host}:{port}/docs  ({workers} worker"
              f"{'s' if workers > 1 else ''})", flush=True)
        try:
            uvicorn.run("api.main:create_app", factory=True, host=host, port=port,
                        log_level=settings.log_level.lower(), workers=workers,
                        log_config=None, access_log=False)  # our handler and format; api.access logs each request
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
