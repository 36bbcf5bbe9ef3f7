"""Command line: python -m api serve | migrate [--rollback [TARGET]] | seed | keys create|list|revoke | psql

Without DATABASE_URL / REDIS_URL, each command starts the embedded PostgreSQL and Redis whose data
lives in .data/ (the same ones every time), and stops what it started when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from api import logs
from api.settings import Settings, get_settings

DATABASE_NAME = "thinkrealty_leads"
DEFAULT_PG_PORT = 54329
DEFAULT_REDIS_PORT = 63799


@dataclass
class Environment:
    owner_url: str  # owns the schema: migrations and seed
    app_url: str  # the API's login
    jobs_url: str | None  # the job login (the sweeper), when known
    redis_url: str
    psql: str  # psql binary


def _ports(data_dir: Path) -> dict[str, int]:
    """The ports of the local servers, chosen once and kept in .data/ports.json."""
    from devservers.ports import free_port, port_is_free

    path = data_dir / "ports.json"
    if path.exists():
        ports: dict[str, int] = json.loads(path.read_text())
        return ports
    ports = {
        "postgres": DEFAULT_PG_PORT if port_is_free(DEFAULT_PG_PORT) else free_port(),
        "redis": DEFAULT_REDIS_PORT if port_is_free(DEFAULT_REDIS_PORT) else free_port(),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ports))
    return ports


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _psql_binary() -> str:
    try:
        from devservers.postgres import pg_bin_dir

        return str(pg_bin_dir() / "psql")
    except ImportError:
        return "psql"


@contextmanager
def environment(settings: Settings, *, need_redis: bool = True) -> Iterator[Environment]:
    """The servers named by the environment, or local embedded ones (started if needed)."""
    started: list[object] = []
    data_dir = Path(settings.data_dir).resolve()
    owner_url = settings.owner_url
    app_url = settings.database_url
    jobs_url = settings.jobs_url
    redis_url = settings.redis_url
    try:
        if not owner_url:
            from devservers.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(data_dir / "postgres", port=_ports(data_dir)["postgres"])
            if not pg.running():
                pg.start()
                started.append(pg)
            _ensure_database(pg.url(), DATABASE_NAME)
            owner_url = pg.url(DATABASE_NAME)
            app_url = pg.url(DATABASE_NAME, user="thinkrealty_app")
            jobs_url = pg.url(DATABASE_NAME, user="thinkrealty_jobs")
        if not redis_url and need_redis:
            from devservers.redis import EmbeddedRedis

            rd = EmbeddedRedis(data_dir / "redis", port=_ports(data_dir)["redis"]).start()
            started.append(rd)
            redis_url = rd.url()
        yield Environment(owner_url=owner_url, app_url=app_url or owner_url, jobs_url=jobs_url,
                          redis_url=redis_url or "", psql=_psql_binary())
    finally:
        for server in reversed(started):
            server.stop()  # type: ignore[attr-defined]


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from db import apply

    with environment(settings, need_redis=False) as env:
        if args.rollback is not None:
            done = apply.rollback(env.owner_url, None if args.rollback == "latest" else args.rollback)
            print("rolled back:", ", ".join(done) or "nothing")
        else:
            done = apply.migrate(env.owner_url)
            print("applied:", ", ".join(done) or "nothing new", "+ functions")
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from db import apply

    with environment(settings, need_redis=False) as env:
        apply.seed(env.owner_url)
        print("demo data loaded")
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    """API keys, as the schema owner (a DBA's session: trusted by crm.authorize). The key is printed once."""
    import psycopg

    with environment(settings, need_redis=False) as env, psycopg.connect(env.owner_url, autocommit=True) as conn:
        actor = f"cli:{os.environ.get('USER') or 'operator'}"
        try:
            if args.keys_command == "create":
                row = conn.execute("SELECT api.create_api_key(%s, %s, %s, %s)",
                                   (args.role, args.label, args.agent_id, actor)).fetchone()
                assert row is not None
                created = row[0]
                print(json.dumps(created, indent=2))
                print(f"\nthe key (shown this once; only its hash is stored):\n{created['key']}", file=sys.stderr)
            elif args.keys_command == "list":
                listed = conn.execute("SELECT api.list_api_keys()").fetchone()
                assert listed is not None
                for key in listed[0]:
                    state = f"revoked {key['revoked_at'][:19]}" if key["revoked_at"] else "active"
                    print(f"{key['prefix']}  {key['role']:<11} {state:<28} {key['label']}"
                          + (f"  agent {key['agent_id']}" if key["agent_id"] else ""))
            else:
                revoked = conn.execute("SELECT api.revoke_api_key(%s, %s)", (args.key, actor)).fetchone()
                assert revoked is not None
                print(json.dumps(revoked[0], indent=2))
        except psycopg.Error as exc:
            print(f"error: {exc.diag.message_primary or exc}", file=sys.stderr)
            return 1
    return 0


def ensure_dev_admin_key(owner_url: str, data_dir: Path) -> None:
    """`make run`: one development admin key, made on the first run, printed and kept in .data/dev-admin-key
    (a local file for a local server; production makes its keys with `python -m api keys create`)."""
    import psycopg

    path = data_dir / "dev-admin-key"
    with psycopg.connect(owner_url, autocommit=True) as conn:
        existing = conn.execute("SELECT prefix FROM crm.api_keys WHERE label = 'development admin (make run)' "
                                "AND revoked_at IS NULL").fetchone()
        if existing and path.exists():
            print(f"development admin key: {path.read_text().strip()}  (from {path})")
            return
        row = conn.execute("SELECT api.create_api_key('admin', 'development admin (make run)', NULL, "
                           "'make run')").fetchone()
    assert row is not None
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(row[0]["key"] + "\n")
    path.chmod(0o600)
    print(f"development admin key (new; kept in {path}): {row[0]['key']}")


def cmd_sweep(args: argparse.Namespace, settings: Settings) -> int:
    """Run the sweeps once, then the analytics snapshot refresh (for cron; the app also sweeps every minute), as the
    job login when one is named, else as the owner. `--now T` rehearses a sweep at T: it reports what it would do and
    rolls everything back; `--now T --commit` sweeps at T for real, refused more than sweep_clock_tolerance ahead of
    the real clock unless `--force`."""
    import asyncio
    import json

    import asyncpg

    async def once(url: str) -> object:
        conn = await asyncpg.connect(url)
        try:
            if args.now and not args.commit:
                return json.loads(await conn.fetchval("SELECT jobs.rehearse_sweeps($1::text::timestamptz)::text",
                                                      args.now))
            result = json.loads(await conn.fetchval("SELECT jobs.run_sweeps($1::text::timestamptz, $2)::text",
                                                    args.now, args.force))
            result["analytics"] = json.loads(await conn.fetchval("SELECT jobs.refresh_analytics($1)::text",
                                                                 args.refresh_analytics))
            return result
        finally:
            await conn.close()

    if (args.commit or args.force) and not args.now:
        print("error: --commit and --force go with --now", file=sys.stderr)
        return 2
    with environment(settings, need_redis=False) as env:
        try:
            print(json.dumps(asyncio.run(once(env.jobs_url or env.owner_url)), indent=2))
        except asyncpg.PostgresError as exc:
            print(f"error: {exc.message}" + (f" ({exc.hint})" if getattr(exc, "hint", None) else ""),
                  file=sys.stderr)
            return 1
    return 0


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Load scale data (db/scale/generate.sql) with psql, which prints each step and its time as it goes."""
    script = Path(__file__).resolve().parents[1] / "db" / "scale" / "generate.sql"
    with environment(settings, need_redis=False) as env:
        return subprocess.call([env.psql, "-X", "-v", f"leads={args.leads}", "-v", f"agents={args.agents}",
                                "-d", env.owner_url, "-f", str(script)])


def cmd_psql(args: argparse.Namespace, settings: Settings) -> int:
    with environment(settings, need_redis=False) as env:
        return subprocess.call([env.psql, "-X", env.owner_url, *args.psql_args])


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like SIGINT: SystemExit runs every `finally`, so the embedded servers this process started
    stop with it. (uvicorn handles SIGTERM while it serves, and raises it again when it is done: it lands here.)"""
    import signal

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from db import apply

    with environment(settings) as env:
        if settings.app_env == "development":  # production migrates in its own step (docker compose: migrate)
            apply.migrate(env.owner_url)
            if apply.seed(env.owner_url, only_if_empty=True):
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, load demo data once, serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
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
    psql = sub.add_parser("psql", help="psql on the database (reads SQL from standard input too)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)  # JSON lines with request ids (LOG_FORMAT=text: plain)
    _exit_on_sigterm()
    handler = {"serve": cmd_serve, "migrate": cmd_migrate, "seed": cmd_seed, "sweep": cmd_sweep,
               "generate": cmd_generate, "psql": cmd_psql, "keys": cmd_keys}[args.command]
    return handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
