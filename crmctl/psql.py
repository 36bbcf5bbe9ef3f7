"""`crmctl psql` (psql on the database, as its owner: the DBA's way in) and `crmctl generate` (scale data through
psql, which prints each step and its time as it goes)."""

from __future__ import annotations

import argparse
import subprocess

from api.settings import Settings
from crmctl import database
from crmctl.environment import environment

GENERATE_SQL = database.DB_DIR / "scale" / "generate.sql"


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Load scale data (db/scale/generate.sql) with psql."""
    with environment(settings, need_redis=False) as env:
        return subprocess.call([env.psql, "-X", "-v", f"leads={args.leads}", "-v", f"agents={args.agents}",
                                "-d", env.owner_url, "-f", str(GENERATE_SQL)])


def cmd_psql(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings, need_redis=False) as env:
        return subprocess.call([env.psql, "-X", env.owner_url, *args.psql_args])
