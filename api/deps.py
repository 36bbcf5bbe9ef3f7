"""Request-scoped access to the database pool and Redis, and the one way routes call SQL."""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from fastapi import Request

from api import queries
from api.errors import RETRYABLE_SQLSTATES, from_postgres, is_connection_error, unavailable
from api.settings import Settings

log = logging.getLogger("api.deps")


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def warm_connection(conn: asyncpg.Connection) -> None:
    """Pool `init` hook of the primary's pool with DB_POOL_WARM: the codecs, then api.warm_up(), a capture that always
    rolls back, so the backend's first real capture finds its functions compiled and their statements prepared (a
    cold backend answers its first capture several times slower; a burst that opens connections would queue behind
    them). A database without the function (not migrated yet), or one where the made-up capture fails, only loses the
    warm-up, with a warning in the log."""
    await init_connection(conn)
    try:
        warmed = await conn.fetchval(queries.WARM_UP)
    except asyncpg.PostgresError as error:
        log.warning("connection warm-up failed", extra={"error": type(error).__name__})
        return
    if not warmed:
        log.warning("connection warm-up did not run through a capture (no active source, no capture right?)")


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """Pool `reset` hook: nothing to undo. Every API call is one statement whose settings are transaction-local
    (set_config(..., true)) and whose locks are transaction-scoped, so a released connection carries no session
    state; asyncpg's default reset (RESET ALL, UNLISTEN, CLOSE ALL, advisory unlock) would cost one more round
    trip per request for nothing."""


def pool_options(settings: Settings, application_name: str = "thinkrealty-api", *,
                 warm: bool = False) -> dict[str, Any]:
    """What every pool of the API's login is opened with. Behind a transaction-mode pooler (DATABASE_POOLER=
    transaction: PgBouncer) two things change, because consecutive transactions of one client connection may run on
    different server connections: no prepared statement is kept (statement_cache_size=0: asyncpg parses each
    statement unnamed, in the same round trip as its execution, one extra Parse per call), and statement_timeout is
    not a startup parameter (PgBouncer refuses those it does not track; `crmctl migrate` sets the same timeout as the
    app login's default, which holds on every path). `warm`: each new connection runs api.warm_up first
    (warm_connection), when DB_POOL_WARM is on."""
    server_settings = {"application_name": application_name, "timezone": "UTC"}
    options: dict[str, Any] = {}
    if settings.database_pooler == "transaction":
        options["statement_cache_size"] = 0
    else:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    # a minimum above the maximum (DB_POOL_MAX_SIZE lowered alone) means the whole pool
    return {"min_size": min(settings.db_pool_min_size, settings.db_pool_max_size),
            "max_size": settings.db_pool_max_size,
            "command_timeout": settings.db_command_timeout_s,
            "init": warm_connection if warm and settings.db_pool_warm else init_connection, "reset": _no_session_reset,
            "server_settings": server_settings, **options}


async def open_pool(settings: Settings) -> asyncpg.Pool:
    """The pool as the settings describe it: DATABASE_URL, sizes, timeouts, jsonb codec."""
    assert settings.database_url
    pool = await asyncpg.create_pool(settings.database_url, **pool_options(settings, warm=True))
    assert pool is not None
    return pool


async def open_reporting_pool(settings: Settings) -> asyncpg.Pool | None:
    """The pool of REPORTING_DATABASE_URL (a hot standby), or None when reports read the primary. Opened lazily by
    reporting_pool; a standby that is down makes the analytics answer 503, nothing else."""
    if not settings.reporting_database_url:
        return None
    options = pool_options(settings, "thinkrealty-api-reporting") | {"min_size": 0}
    pool = await asyncpg.create_pool(settings.reporting_database_url, **options)
    assert pool is not None
    return pool


async def get_pool(request: Request) -> asyncpg.Pool:
    """The app's pool; created on first use when the database was down at start-up."""
    return await app_pool(request.app)


async def app_pool(app: Any) -> asyncpg.Pool:
    """The pool of this app (FastAPI instance), opened now if it could not be at start-up."""
    state = app.state
    if state.pool is None:
        async with state.pool_lock:
            if state.pool is None:
                try:
                    state.pool = await open_pool(state.settings)
                except Exception as exc:
                    if is_connection_error(exc):
                        raise unavailable() from exc
                    raise
    pool: asyncpg.Pool = state.pool
    return pool


async def reporting_pool(request: Request) -> asyncpg.Pool:
    """Where the analytics reports read: the standby's pool when REPORTING_DATABASE_URL is set, else the app's."""
    state = request.app.state
    if not state.settings.reporting_database_url:
        return await app_pool(request.app)
    if state.reporting_pool is None:
        async with state.pool_lock:
            if state.reporting_pool is None:
                try:
                    state.reporting_pool = await open_reporting_pool(state.settings)
                except Exception as exc:
                    if is_connection_error(exc):
                        raise unavailable("The reporting replica is not reachable right now; retry shortly.",
                                          database="reporting") from exc
                    raise
    pool: asyncpg.Pool = state.reporting_pool
    return pool


def get_redis(request: Request) -> aioredis.Redis:
    client: aioredis.Redis = request.app.state.redis
    return client


async def call_api(pool: asyncpg.Pool, query: str, *args: Any, row: bool = False) -> Any:
    """Run one `api.*` function and return its single value (its one row when `row`): one statement, one round trip.

    A single statement is its own transaction, so the function is all or nothing. Functions that write
    take the caller as a parameter and set crm.actor themselves (set_config(..., true)) for the audit
    triggers, so no extra round trip is needed. A serialization failure or deadlock is retried once;
    database errors become Problems (problem+json) with their SQLSTATE's mapping.
    """
    for attempt in (1, 2):
        try:
            async with pool.acquire() as conn:
                try:
                    return await (conn.fetchrow(query, *args) if row else conn.fetchval(query, *args))
                except Exception as exc:
                    if is_connection_error(exc) and not isinstance(exc, asyncpg.PostgresError):
                        conn.terminate()  # broken (the server restarted): the pool opens a new one next time
                    raise
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in RETRYABLE_SQLSTATES and attempt == 1:
                continue
            raise from_postgres(exc) from exc
        except Exception as exc:
            if is_connection_error(exc):
                raise unavailable() from exc
            raise
    raise AssertionError("unreachable")
