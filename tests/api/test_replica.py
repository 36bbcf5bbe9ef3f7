"""Reports on a streaming hot standby (REPORTING_DATABASE_URL): a real standby of the test server, made with
pg_basebackup from the embedded PostgreSQL's own binaries, serves GET /api/v1/analytics and the BI login, while the
snapshot refresh runs on the primary; reporting.analytics_freshness (and the report's replica_lag_s) say how far the
standby is behind."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.api.conftest import SUPERVISOR_KEY, api_client, app_url
from tests.conftest import Servers, with_database, with_user

pytestmark = pytest.mark.replica


@pytest.fixture
def standby(servers: Servers, seeded_db_url: str, tmp_path: Path) -> Iterator[str]:
    """A hot standby of the session's server, streaming from it; yields its admin URL (same database names)."""
    if servers.pg is None:
        pytest.skip("the standby is built from the embedded server (its binaries, its data directory): the session's "
                    "server is another one (DATABASE_URL, or TEST_BACKEND=containers)")
    from devservers.postgres import EmbeddedPostgres

    primary: EmbeddedPostgres = servers.pg  # type: ignore[assignment]
    replica = primary.standby(tmp_path / "standby")
    try:
        url = replica.url()
        deadline = time.monotonic() + 30
        while True:  # in recovery, and streaming
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_wal_receiver "
                                   "WHERE status = 'streaming')").fetchone()
            if row == (True, 1):
                break
            assert time.monotonic() < deadline, f"the standby is not streaming: {row}"
            time.sleep(0.2)
        yield url
    finally:
        replica.destroy()


def _replayed(primary_url: str, standby_url: str) -> None:
    """Until the standby has replayed what the primary has written so far."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    deadline = time.monotonic() + 30
    while True:
        with psycopg.connect(standby_url, autocommit=True) as conn:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()
        if done == (True,):
            return
        assert time.monotonic() < deadline, "the standby never caught up"
        time.sleep(0.1)


async def test_reports_are_served_by_the_standby_and_say_how_far_behind_it_is(
        standby: str, seeded_db_url: str, servers: Servers) -> None:
    name = seeded_db_url.rsplit("/", 1)[-1]
    replica_db = with_database(standby, name)
    _replayed(seeded_db_url, replica_db)
    async with api_client(seeded_db_url, servers.redis_url, api_key=SUPERVISOR_KEY,
                          reporting_database_url=app_url(replica_db)) as http:
        caught_up = await http.get("/api/v1/analytics/conversion-by-source")
        assert caught_up.status_code == 200, caught_up.text
        assert (caught_up.json()["replica_lag_s"] or 0) >= 0 and caught_up.json()["rows"]
        # null: the standby has replayed no commit yet, behind by no known time (the server's other work
        # writes WAL all the time: "caught up" is a moment, not a state to assert)
        assert (await http.get("/api/v1/analytics")).status_code == 200
        with psycopg.connect(replica_db, autocommit=True) as conn:
            on_standby = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND application_name = 'thinkrealty-api-reporting'").fetchone()
        with psycopg.connect(seeded_db_url, autocommit=True) as conn:
            on_primary = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND application_name = 'thinkrealty-api-reporting'").fetchone()
        assert on_standby is not None and on_standby[0] >= 1 and on_primary == (0,)

        # the standby stops replaying (once it has replayed a transaction: the lag is counted from its commit); the
        # primary refreshes the snapshot (the sweep's job, on the primary)
        with psycopg.connect(seeded_db_url, autocommit=True) as conn:
            conn.execute("SELECT crm.refresh_analytics_snapshot(true)")
        _replayed(seeded_db_url, replica_db)
        with psycopg.connect(replica_db, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        with psycopg.connect(seeded_db_url, autocommit=True) as conn:
            conn.execute("SELECT crm.refresh_analytics_snapshot(true)")
            primary_row = conn.execute("SELECT refreshed_at FROM reporting.analytics_freshness").fetchone()
            lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert primary_row is not None and lsn is not None
        deadline = time.monotonic() + 30
        while True:  # received, replay paused before it: the standby still has the old snapshot
            with psycopg.connect(replica_db, autocommit=True) as conn:
                state = conn.execute(
                    "SELECT pg_last_wal_receive_lsn() >= %s::pg_lsn, pg_get_wal_replay_pause_state(), "
                    "(SELECT refreshed_at < %s FROM reporting.analytics_freshness)",
                    (lsn[0], primary_row[0])).fetchone()
            if state == (True, "paused", True):
                break
            assert state is None or state[2] is not False, "the standby replayed the refresh: replay never paused"
            assert time.monotonic() < deadline, f"the standby never received the refresh: {state}"
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 10
        while True:  # the lag is the time since the last replayed commit: it grows while replay stands still
            behind = (await http.get("/api/v1/analytics/conversion-by-source")).json()
            if behind["replica_lag_s"] is None or behind["replica_lag_s"] > 0:  # null: behind by no known time
                break                                                        # (no commit replayed since start)
            if time.monotonic() > deadline:
                with psycopg.connect(replica_db, autocommit=True) as conn:
                    seen = conn.execute("SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
                                        "pg_last_xact_replay_timestamp(), now(), pg_get_wal_replay_pause_state()"
                                        ).fetchone()
                raise AssertionError(f"no lag while replay is paused: {behind['replica_lag_s']} {seen}")
            await asyncio.sleep(0.2)
        assert dt.datetime.fromisoformat(behind["as_of"]) < primary_row[0]  # the snapshot before the refresh

        # the BI login's documented connection, on the standby: the same views, the same lag
        bi_url = with_user(replica_db, "thinkrealty_reporting")
        with psycopg.connect(bi_url, autocommit=True) as conn:
            freshness = conn.execute("SELECT read_on_standby, coalesce(replica_lag > interval '0', true), refreshed_at,"
                                     " replica_lag_bytes > 0 FROM reporting.analytics_freshness").fetchone()
            assert conn.execute("SELECT count(*) FROM reporting.conversion_by_source()").fetchone()
        assert freshness is not None and freshness[0] is True and freshness[1] is True
        assert freshness[2] < primary_row[0] and freshness[3] is True

        with psycopg.connect(replica_db, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        expected = _primary_as_of(seeded_db_url)
        deadline = time.monotonic() + 30
        while True:  # replayed: the standby answers with the refreshed snapshot
            resumed = (await http.get("/api/v1/analytics/conversion-by-source")).json()
            if dt.datetime.fromisoformat(resumed["as_of"]) == expected:
                break
            assert time.monotonic() < deadline, (resumed["as_of"], expected)
            await asyncio.sleep(0.1)
        assert resumed["replica_lag_s"] is not None and resumed["replica_lag_s"] >= 0


def _primary_as_of(url: str) -> dt.datetime:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT refreshed_at FROM reporting.analytics_freshness").fetchone()
    assert row is not None
    refreshed: dt.datetime = row[0]
    return refreshed


def test_the_standby_refuses_writes(standby: str, seeded_db_url: str) -> None:
    """Only reads go there: a capture on the standby is refused by PostgreSQL itself."""
    replica_db = with_database(standby, seeded_db_url.rsplit("/", 1)[-1])
    with psycopg.connect(replica_db, autocommit=True) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("UPDATE crm.settings SET value = value WHERE false")
    assert os.environ.get("REPORTING_DATABASE_URL") is None  # nothing of the suite leaks into the environment
