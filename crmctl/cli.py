"""The arguments of `crmctl` (and `python -m crmctl`), and which module runs each command."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable

from api import logs
from api.settings import Settings, get_settings
from crmctl.catalogue import cmd_docs
from crmctl.dispatch import cmd_dispatch
from crmctl.keys import cmd_keys
from crmctl.migrate import cmd_migrate, cmd_seed
from crmctl.psql import cmd_generate, cmd_psql
from crmctl.serve import cmd_serve
from crmctl.sweep import cmd_sweep

Command = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, Command] = {"serve": cmd_serve, "migrate": cmd_migrate, "seed": cmd_seed, "sweep": cmd_sweep,
                                "generate": cmd_generate, "psql": cmd_psql, "keys": cmd_keys, "docs": cmd_docs,
                                "dispatch": cmd_dispatch}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="crmctl")
    sub = root.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, load demo data once, serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, metavar="N",
                       help="uvicorn worker processes (default WEB_CONCURRENCY, else 1)")
    migrate = sub.add_parser("migrate", help="apply migrations and functions (or roll back)")
    migrate.add_argument(
        "--rollback", nargs="?", const="latest", metavar="TARGET",
        help="roll back the latest migration; TARGET 0 rolls back all, TARGET 0004 back until 0004 is the latest",
    )
    sub.add_parser("seed", help="load the demo data (idempotent)")
    sweep = sub.add_parser("sweep", help="run the sweeps once (escalations, reassignments, decay, queue, metrics)")
    sweep.add_argument("--now", help="rehearse a sweep at this clock (ISO 8601): report what it would do, change "
                                     "nothing")
    sweep.add_argument("--commit", action="store_true",
                       help="with --now: sweep at that clock for real (refused beyond sweep_clock_tolerance ahead)")
    sweep.add_argument("--force", action="store_true", help="with --now --commit: allow a clock far ahead")
    sweep.add_argument("--refresh-analytics", action="store_true",
                       help="refresh the analytics snapshot even if analytics_refresh_interval has not passed")
    sub.add_parser("dispatch", help="deliver the webhook deliveries due now, once (for cron; the app dispatches too)")
    generate = sub.add_parser("generate", help="add scale data: leads, agents and activities (needs a superuser)")
    generate.add_argument("--leads", type=int, default=1_000_000)
    generate.add_argument("--agents", type=int, default=200)
    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key (printed once)")
    create.add_argument("--role", required=True, choices=["integration", "agent", "supervisor", "admin"])
    create.add_argument("--label", required=True, help="who or what holds it, e.g. 'Bayut webhook'")
    create.add_argument("--agent-id", help="the agent an agent key belongs to (required for --role agent)")
    keys_sub.add_parser("list", help="every key: prefix, role, state, label (never the key)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its prefix or id; it fails from its next request")
    revoke.add_argument("key", help="the key's prefix (8 hex characters) or key_id")
    docs = sub.add_parser("docs", help="write docs/catalogue.md from a freshly migrated scratch database")
    docs.add_argument("--check", action="store_true", help="only say whether the committed file is up to date")
    psql = sub.add_parser("psql", help="psql on the database (reads SQL from standard input too)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER)
    return root


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like SIGINT: SystemExit runs every `finally`, so the embedded servers this process started
    stop with it. (uvicorn handles SIGTERM while it serves, and raises it again when it is done: it lands here.)"""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)  # JSON lines with request ids (LOG_FORMAT=text: plain)
    _exit_on_sigterm()
    return COMMANDS[args.command](args, settings)
