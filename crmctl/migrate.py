"""`crmctl migrate [--rollback [TARGET]]` and `crmctl seed`: the runner of crmctl/database.py, on the servers of the
environment."""

from __future__ import annotations

import argparse

from api.settings import Settings
from crmctl import database
from crmctl.environment import environment


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings, need_redis=False) as env:
        if args.rollback is not None:
            done = database.rollback(env.owner_url, None if args.rollback == "latest" else args.rollback)
            print("rolled back:", ", ".join(done) or "nothing")
        else:
            done = database.migrate(env.owner_url)
            print("applied:", ", ".join(done) or "nothing new", "+ functions")
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings, need_redis=False) as env:
        database.seed(env.owner_url)
        print("demo data loaded")
    return 0
