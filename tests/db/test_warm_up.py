"""api.warm_up(): the capture a new pool connection runs so that its backend is warm, always rolled back. It runs
the whole capture path, and leaves nothing: no row in any table a capture writes, no counter moved, no lock, no
caller."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import with_user

SUPERVISOR_KEY = "trk_de000004_demo-supervisor"  # db/seed/60_api_keys.sql

# everything a capture writes, and the counters it moves
FOOTPRINT = """
SELECT (SELECT count(*) FROM crm.leads), (SELECT count(*) FROM crm.lead_preferred_areas),
       (SELECT count(*) FROM crm.lead_assignments), (SELECT count(*) FROM crm.follow_up_tasks),
       (SELECT count(*) FROM crm.lead_conversion_history), (SELECT count(*) FROM crm.lead_audit),
       (SELECT count(*) FROM crm.lead_activities), (SELECT count(*) FROM crm.outbox_events),
       (SELECT count(*) FROM crm.webhook_deliveries), (SELECT count(*) FROM crm.idempotency_keys),
       (SELECT sum(active_leads) FROM crm.agents), (SELECT sum(eligible_agents) FROM crm.routing_profiles),
       (SELECT max(last_assigned_at) FROM crm.agents)
"""


@pytest.fixture
def owner(seeded_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def app(seeded_db_url: str) -> Iterator[psycopg.Connection]:
    """The API's login, as its pool connects: no key, no caller."""
    with psycopg.connect(with_user(seeded_db_url, "thinkrealty_app"), autocommit=True) as conn:
        yield conn


def test_the_warm_up_runs_a_whole_capture_and_keeps_nothing(owner: psycopg.Connection,
                                                            app: psycopg.Connection) -> None:
    # a webhook subscription to every topic, so the capture's events would also queue deliveries
    owner.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret) "
                  "VALUES ('https://hooks.example.com/crm', '{*}', 'a-secret-of-enough-length-000000')")
    before = owner.execute(FOOTPRINT).fetchone()
    owner.execute("SET track_functions = 'all'")
    with owner.transaction():
        assert owner.execute("SELECT api.warm_up()").fetchone() == (True,)  # the capture ran through
        calls = owner.execute(
            "SELECT pg_stat_get_xact_function_calls(%s::regprocedure), "
            "pg_stat_get_xact_function_calls(%s::regprocedure), pg_stat_get_xact_function_calls(%s::regprocedure)",
            ("api.capture_lead(jsonb,text,text,uuid,timestamptz,integer)",
             "crm.schedule_initial_follow_up(uuid,uuid,integer,timestamptz,text)",
             "crm.emit_event(text,uuid,uuid,jsonb,uuid,text)")).fetchone()
    assert calls is not None and calls[0] == 1 and calls[1] == 1 and calls[2] >= 2  # stored, assigned, booked, told
    for _ in range(3):  # as the API's pool runs it: the app's login, no key
        assert app.execute("SELECT api.warm_up()").fetchone() == (True,)
    # with no source accepting leads the capture fails on the way: false, and undone as well
    owner.execute("UPDATE crm.lead_sources SET is_active = false")
    assert app.execute("SELECT api.warm_up()").fetchone() == (False,)
    owner.execute("UPDATE crm.lead_sources SET is_active = true")
    assert owner.execute(FOOTPRINT).fetchone() == before
    assert owner.execute("SELECT count(*) FROM reporting.invariant_violations").fetchone() == (0,)


def test_the_warm_up_leaves_no_lock_and_no_caller(app: psycopg.Connection, seeded_db_url: str) -> None:
    with app.transaction():
        app.execute("SELECT * FROM api.begin_request(%s)", (SUPERVISOR_KEY,))
        app.execute("SELECT api.warm_up()")
        # the transaction's own caller is as it was (the warm-up's integration caller was undone with it)
        assert app.execute("SELECT role FROM crm.caller()").fetchone() == ("supervisor",)
        assert app.execute("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
                           ).fetchone() == (0,)
        with psycopg.connect(seeded_db_url, autocommit=True) as other:
            # every agent's row is free while the warm-up's transaction is still open
            with other.transaction():
                other.execute("SET LOCAL lock_timeout = '1s'")
                locked = other.execute("SELECT count(*) FROM (SELECT agent_id FROM crm.agents "
                                       "FOR NO KEY UPDATE NOWAIT) AS g").fetchone()
                assert locked is not None and locked[0] > 0
    with app.transaction():  # and a transaction without a key has no caller after it either
        app.execute("SELECT api.warm_up()")
        assert app.execute("SELECT role FROM crm.caller()").fetchone() == (None,)
    # its SET CONSTRAINTS ALL IMMEDIATE went with its subtransaction: deferred checks still wait for the commit
    app.execute("CREATE TEMP TABLE once (x integer UNIQUE DEFERRABLE INITIALLY DEFERRED)")
    reached = []
    with pytest.raises(psycopg.errors.UniqueViolation), app.transaction():
        app.execute("SELECT api.warm_up()")
        app.execute("INSERT INTO once VALUES (1), (1)")  # not refused here: deferred
        reached.append(True)
    assert reached == [True]  # refused at the commit
