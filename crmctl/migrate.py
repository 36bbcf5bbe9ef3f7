"""`crmctl migrate [--rollback [TARGET]]` and `crmctl seed`: the database runner of db/apply.py, on the servers of
the environment."""

from __future__ import annotations

import argparse

from api.settings import Settings
from crmctl.environment import environment
from db import apply


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings, need_redis=False) as env:
        if args.rollback is not None:
            done = apply.rollback(env.owner_url, None if args.rollback == "latest" else args.rollback)
            print("rolled back:", ", ".join(done) or "nothing")
        else:
            done = apply.migrate(env.owner_url)
            print("applied:", ", ".join(done) or "nothing new", "+ functions")
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings, need_redis=False) as env:
        apply.seed(env.owner_url)
        print("demo data loaded")
    return 0
