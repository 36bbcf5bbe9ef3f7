"""The API behind a real PgBouncer in transaction mode (the Debian package): every request is one statement, so one
transaction, so one server connection for all of it; the caller's seal (which names the backend and the transaction)
holds, and session state a client leaves on a shared server connection makes nobody a caller. The dashboard change
listener keeps a connection of its own: DATABASE_LISTEN_URL, a direct one. Skipped where pgbouncer is not installed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from devservers.pgbouncer import PgBouncer
from tests.api.conftest import (
    INTEGRATION_KEY,
    SUPERVISOR_KEY,
    api_client,
    app_url,
    assert_problem,
    ensure_demo_keys,
    start_pgbouncer,
)
from tests.conftest import Servers

pytestmark = pytest.mark.pgbouncer
POOL_SIZE = 3  # server connections per database and login: far fewer than the clients, so they take turns


@pytest.fixture(scope="module")
def bouncer(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBouncer]:
    started = start_pgbouncer(servers, tmp_path_factory.mktemp("bouncer"), pool_size=POOL_SIZE)
    yield started
    started.stop()


def _capture(n: int) -> dict[str, object]:
    return {"source_type": "website", "lead_data": {"first_name": "Pool", "last_name": f"Lead {n}",
                                                    "phone": f"+9715574{n:05d}", "property_type": "apartment"}}


async def test_the_api_serves_through_pgbouncer_in_transaction_mode(bouncer: PgBouncer, seeded_db_url: str,
                                                                    servers: Servers) -> None:
    direct = app_url(seeded_db_url)
    async with api_client(seeded_db_url, servers.redis_url, pool_url=bouncer.url(direct),
                          database_pooler="transaction", database_listen_url=direct,
                          db_pool_max_size=12) as http:
        ready = await http.get("/ready")
        assert ready.status_code == 200, ready.text
        integration = {"X-API-Key": INTEGRATION_KEY}
        answers = await asyncio.gather(*(http.post("/api/v1/leads/capture", json=_capture(n), headers=integration)
                                         for n in range(40)))
        assert sorted({a.status_code for a in answers}) in ([201], [201, 202], [202]), [a.text for a in answers]
        agent = next(a.json()["assigned_agent"]["agent_id"] for a in answers if a.status_code == 201)

        # the problems still name their rule: a second capture of the same phone and source
        assert_problem(await http.post("/api/v1/leads/capture", json=_capture(0), headers=integration), 409,
                       "duplicate_lead")

        # the dashboard cache, invalidated through the change log the listener reads on its direct connection
        url = f"/api/v1/agents/{agent}/dashboard"
        await http.get(url)
        for _ in range(40):
            if (await http.get(url)).headers["x-cache"] == "hit":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("never cached")
        with psycopg.connect(seeded_db_url, autocommit=True) as conn:
            conn.execute("UPDATE crm.agents SET full_name = full_name || ' (pooled)' WHERE agent_id = %s", (agent,))
            conn.execute("UPDATE crm.leads SET first_name = 'Pooled' WHERE lead_id = (SELECT lead_id FROM "
                         "crm.lead_assignments WHERE agent_id = %s AND released_at IS NULL LIMIT 1)", (agent,))
        for _ in range(40):
            if (await http.get(url)).headers["x-cache"] == "miss":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the listener behind PgBouncer never dropped the cached dashboard")

        with psycopg.connect(seeded_db_url, autocommit=True) as conn:
            listeners = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'thinkrealty-listener'").fetchone()
            pooled = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND usename = 'thinkrealty_app' AND application_name <> 'thinkrealty-listener'").fetchone()
            violations = conn.execute("SELECT count(*) FROM reporting.invariant_violations").fetchone()
        assert listeners == (1,)  # the direct one
        assert pooled is not None and pooled[0] <= POOL_SIZE  # 12 pool connections of the app, 3 of the server
        assert violations == (0,)


async def test_the_seal_holds_per_statement_and_leaked_session_state_makes_nobody(bouncer: PgBouncer,
                                                                                  db_url: str) -> None:
    ensure_demo_keys(db_url)
    url = bouncer.url(app_url(db_url))
    clients = [await asyncpg.connect(url, statement_cache_size=0) for _ in range(8)]
    try:
        # a client leaves forged caller settings on whatever server connection it got (session-level: they stay on
        # that server connection for the next client, PgBouncer resets nothing in transaction mode)
        for client in clients[:POOL_SIZE]:
            await client.execute("SELECT set_config('crm.caller_role', 'admin', false), "
                                 "set_config('crm.caller_seal', repeat('0', 64), false)")
        seen: list[set[int]] = [set() for _ in clients]

        async def work(i: int, client: asyncpg.Connection) -> None:
            for _ in range(15):
                # a sealed call: begin_request and the function in one statement, one transaction, one backend
                reports = await client.fetchval(
                    "SELECT api.analytics_reports()::text FROM api.begin_request($1) AS ctx", SUPERVISOR_KEY)
                assert "conversion-by-source" in reports
                seen[i].add(await client.fetchval("SELECT pg_backend_pid()"))
                # without a key in the same statement nobody calls, whatever the server connection carries
                with pytest.raises(asyncpg.PostgresError) as refused:
                    await client.fetchval("SELECT api.analytics_reports()")
                assert refused.value.sqlstate == "PT401"

        await asyncio.gather(*(work(i, c) for i, c in enumerate(clients)))
        assert set().union(*seen) and len(set().union(*seen)) <= POOL_SIZE
        assert any(len(pids) > 1 for pids in seen), "no client moved between server connections: not pooled"
    finally:
        for client in clients:
            await client.close()


async def test_a_direct_pool_setting_is_refused_at_start_behind_pgbouncer(bouncer: PgBouncer, db_url: str,
                                                                          servers: Servers) -> None:
    """Without DATABASE_POOLER=transaction the pool sends statement_timeout at connect, which PgBouncer refuses:
    the app does not start, rather than start and fail on prepared statements later."""
    with pytest.raises(asyncpg.PostgresError, match="statement_timeout"):
        async with api_client(db_url, servers.redis_url, pool_url=bouncer.url(app_url(db_url))):
            pass


def test_the_app_login_has_the_statement_timeout_as_its_own_default(db: psycopg.Connection) -> None:
    """What holds behind PgBouncer, where the pool cannot ask for it at connect: crmctl migrate sets it."""
    row = db.execute("SELECT s.setconfig FROM pg_db_role_setting AS s JOIN pg_roles AS r ON r.oid = s.setrole "
                     "WHERE r.rolname = 'thinkrealty_app' AND s.setdatabase = 0").fetchone()
    assert row is not None and "statement_timeout=5000ms" in row[0]


def test_pgbouncer_config_is_transaction_mode(bouncer: PgBouncer) -> None:
    assert "pool_mode = transaction" in (Path(bouncer.workdir) / "pgbouncer.ini").read_text()
