"""Migrations go both ways, and the function layer is what the files declare."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from crmctl import database
from tests.conftest import Servers

CATALOG_SNAPSHOT = """
SELECT 'rel', n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('crm', 'api', 'reporting', 'ext')
UNION ALL
SELECT 'col', n.nspname || '.' || c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
       || ':' || a.attnotnull FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('crm', 'api', 'reporting') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'con', conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
 WHERE connamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('crm', 'api', 'reporting'))
UNION ALL
SELECT 'idx', indexname || ':' || indexdef FROM pg_indexes WHERE schemaname IN ('crm', 'api', 'reporting')
UNION ALL
SELECT 'fn', p.oid::regprocedure::text || ':' || md5(p.prosrc) FROM pg_proc p
 WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('crm', 'api', 'reporting'))
UNION ALL
SELECT 'trg', tgname || ':' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'row', 'crm.' || t || ':' || n FROM (
  SELECT 'lead_sources' t, count(*) n FROM crm.lead_sources UNION ALL
  SELECT 'lead_scoring_rules', count(*) FROM crm.lead_scoring_rules UNION ALL
  SELECT 'lead_status_transitions', count(*) FROM crm.lead_status_transitions UNION ALL
  SELECT 'settings', count(*) FROM crm.settings UNION ALL
  SELECT 'country_aliases', count(*) FROM crm.country_aliases) x
ORDER BY 1, 2
"""

OUR_SCHEMAS = "SELECT nspname FROM pg_namespace WHERE nspname IN ('crm', 'api', 'reporting', 'ext') ORDER BY 1"


def _snapshot(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1]) for r in conn.execute(CATALOG_SNAPSHOT).fetchall()]


def test_apply_all_roll_back_all_apply_again(servers: Servers) -> None:
    name = servers.create_database()
    url = servers.url(name)
    try:
        applied = database.migrate(url)
        forward = sorted(p for p in database.MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql"))
        assert applied == [p.stem for p in forward]
        for path in forward:  # every migration has a rollback
            assert path.with_name(path.stem + ".rollback.sql").exists(), path
        before = _snapshot(url)
        assert database.migrate(url) == []  # idempotent: nothing new, functions re-applied
        assert _snapshot(url) == before

        rolled = database.rollback(url, "0")
        assert rolled == list(reversed(applied))
        with psycopg.connect(url) as conn:
            assert conn.execute(OUR_SCHEMAS).fetchall() == []

        database.migrate(url)
        assert _snapshot(url) == before
    finally:
        servers.drop_database(name)


def test_each_migration_rolls_back_alone(servers: Servers) -> None:
    name = servers.create_database()
    url = servers.url(name)
    try:
        applied = database.migrate(url)
        full = _snapshot(url)
        for expected in reversed(applied):
            assert database.rollback(url) == [expected]
        database.migrate(url)
        assert _snapshot(url) == full
    finally:
        servers.drop_database(name)


def test_every_function_pins_search_path(db: psycopg.Connection) -> None:
    loose = db.execute(
        """SELECT p.oid::regprocedure::text FROM pg_proc p
            WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('crm', 'api', 'reporting'))
              AND NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=""']"""
    ).fetchall()
    # the exceptions: plain SQL building blocks (not SECURITY DEFINER, every name qualified or none at all) that the
    # planner must inline (into the reports; into the queries whose partial indexes use the same condition; into the
    # expressions of the functions every capture runs), which a SET clause would prevent
    assert sorted(r[0] for r in loose) == [
        "crm.caller_actor(text,text)", "crm.caller_mac(bytea,text,text,text)",
        "crm.conversion_rate(numeric,numeric)", "crm.is_closed(crm.lead_status)",
        "crm.is_offer_kind(crm.assignment_kind)", "crm.recorded_actor(text)",
        "crm.week_minutes(integer,time without time zone,time without time zone)",
        "reporting.agent_figures(date,date,text)", "reporting.dated_lead_facts(date,date,text)",
        "reporting.high_score_not_converted_leads(date,date,integer)", "reporting.lead_facts(date,date)",
        "reporting.low_score_converted_leads(date,date,integer)"]


def test_api_schema_holds_exactly_what_the_files_declare(db: psycopg.Connection) -> None:
    declared: set[str] = set()
    for path in database.function_files():
        declared |= set(re.findall(r"CREATE (?:OR REPLACE )?FUNCTION (api\.\w+)\(", Path(path).read_text()))
    present = {r[0] for r in db.execute(
        "SELECT 'api.' || proname FROM pg_proc WHERE pronamespace = 'api'::regnamespace").fetchall()}
    assert declared and present == declared
    other = db.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'api'::regnamespace").fetchall()
    assert other == []  # the api schema holds no data


def test_every_function_and_table_is_commented(db: psycopg.Connection) -> None:
    missing = db.execute(
        """SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('crm', 'reporting') AND c.relkind IN ('r', 'v', 'm')
              AND obj_description(c.oid, 'pg_class') IS NULL
           UNION ALL
           SELECT p.oid::regprocedure::text FROM pg_proc p
            WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('crm', 'api', 'reporting'))
              AND obj_description(p.oid, 'pg_proc') IS NULL"""
    ).fetchall()
    assert missing == []


def test_leads_columns_are_explained(db: psycopg.Connection) -> None:
    missing = db.execute(
        """SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = 'crm.leads'::regclass AND a.attnum > 0 AND NOT a.attisdropped
              AND col_description(a.attrelid, a.attnum) IS NULL
              AND a.attname NOT IN ('lead_id', 'first_name', 'last_name', 'created_at', 'updated_at')"""
    ).fetchall()
    assert missing == []


def test_app_and_reporting_logins_have_only_their_privileges(db: psycopg.Connection) -> None:
    checks = db.execute(
        """SELECT has_schema_privilege('thinkrealty_app', 'api', 'USAGE'),
                  has_schema_privilege('thinkrealty_app', 'crm', 'USAGE'),
                  has_function_privilege('thinkrealty_app', 'api.readiness()', 'EXECUTE'),
                  has_schema_privilege('thinkrealty_reporting', 'reporting', 'USAGE'),
                  has_schema_privilege('thinkrealty_reporting', 'crm', 'USAGE'),
                  has_schema_privilege('thinkrealty_reporting', 'api', 'USAGE'),
                  has_table_privilege('thinkrealty_reporting', 'reporting.agent_workload', 'SELECT'),
                  has_table_privilege('thinkrealty_reporting', 'reporting.agent_workload', 'INSERT'),
                  has_function_privilege('thinkrealty_reporting', 'api.readiness()', 'EXECUTE'),
                  has_function_privilege('thinkrealty_reporting', 'crm.actor()', 'EXECUTE'),
                  has_table_privilege('thinkrealty_app', 'crm.leads', 'SELECT'),
                  has_table_privilege('thinkrealty_app', 'crm.leads', 'DELETE'),
                  has_column_privilege('thinkrealty_app', 'crm.leads', 'score', 'UPDATE'),
                  has_table_privilege('thinkrealty_app', 'crm.api_keys', 'SELECT'),
                  has_table_privilege('thinkrealty_app', 'crm.lead_audit', 'SELECT')"""
    ).fetchone()
    # the app's login reads the lead tables through row-level security (0012) and nothing else of crm
    assert checks == (True, True, True, True, False, False, True, False, False, False,
                      True, False, False, False, False)


def test_a_rollback_drops_the_function_layer_and_the_database_refuses_clearly(servers: Servers) -> None:
    """After a rollback the newest function bodies never run against older tables: they are gone, and a write to a
    crm table is refused with a named error until a migrate puts a function layer back."""
    name = servers.create_database()
    url = servers.url(name)
    try:
        applied = database.migrate(url)
        full = _snapshot(url)
        rolled = database.rollback(url, "0008")
        assert rolled == [m for m in reversed(applied) if m > "0008_~"]
        with psycopg.connect(url, autocommit=True) as conn:
            left = conn.execute("SELECT p.oid::regprocedure::text FROM pg_proc AS p WHERE p.pronamespace::regnamespace"
                                "::text IN ('api', 'jobs', 'reporting', 'crm')").fetchall()
            assert left == [("crm.function_layer_missing()",)]  # the guard, nothing of the newer release
            assert conn.execute("SELECT count(*) FROM pg_views WHERE schemaname = 'reporting'").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM crm.lead_sources").fetchone() == (6,)  # the data stays
            for statement in ("INSERT INTO crm.agents (full_name, email, phone) VALUES ('A', 'a@x.ae', '+971501')",
                              "UPDATE crm.settings SET value = value", "DELETE FROM crm.lead_sources"):
                with pytest.raises(psycopg.Error) as refused:
                    conn.execute(statement)
                assert (refused.value.sqlstate, refused.value.diag.constraint_name) == \
                    ("PT503", "function_layer_missing")
                assert "0008_capture_policy" in str(refused.value)
        assert database.rollback(url) == ["0008_capture_policy"]  # a further rollback passes the guard
        assert database.migrate(url) == [m for m in applied if m >= "0008"]
        assert _snapshot(url) == full  # the guard is gone with the rest
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO crm.agents (full_name, email, phone) VALUES ('A', 'a@x.ae', '+971501234567')")
    finally:
        servers.drop_database(name)


def test_the_drop_layer_file_runs_from_a_psql_session_outside_a_transaction(servers: Servers) -> None:
    """db/layer/drop_function_layer.sql as a DBA runs it by hand (psql's default autocommit): a DO block outside a
    transaction fetches its loop's rows one at a time, so a view that an earlier view's CASCADE dropped is met after
    it is gone (reporting.agents_near_capacity reads reporting.agent_workload); it is passed over, not named by a
    bare oid in a DROP that fails."""
    name = servers.create_database()
    url = servers.url(name)
    try:
        database.migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            dependent = conn.execute("SELECT count(*) FROM pg_depend AS d JOIN pg_rewrite AS r ON r.oid = d.objid "
                                     "WHERE d.classid = 'pg_rewrite'::regclass AND r.ev_class <> d.refobjid "
                                     "AND r.ev_class::regclass::text LIKE 'reporting.%' "
                                     "AND d.refobjid::regclass::text LIKE 'reporting.%'").fetchone()
            assert dependent is not None and dependent[0] > 0   # the case this test is about exists
            conn.execute((database.LAYER_DIR / "drop_function_layer.sql").read_bytes())
            assert conn.execute("SELECT count(*) FROM pg_views WHERE schemaname = 'reporting'").fetchone() == (0,)
        assert database.migrate(url) == []   # and a migrate puts the layer back
    finally:
        servers.drop_database(name)


def test_pending_migrations_never_meet_the_previous_function_layer(servers: Servers) -> None:
    """An upgrade: the database stands at an earlier migration with a function layer whose triggers know nothing of
    what the pending migrations add (here one that refuses every new setting). migrate drops that layer before the
    migrations, so they run against the tables alone, and applies its own after."""
    name = servers.create_database()
    url = servers.url(name)
    try:
        applied = database.migrate(url)
        database.rollback(url, "0020")
        with psycopg.connect(url, autocommit=True) as conn:
            # the release built for 0020 stands again: its layer, here a trigger of it that knows no newer setting
            # (today's layer cannot stand in for it: it reads columns that 0020's tables do not have)
            conn.execute("""CREATE FUNCTION crm.old_release_refuses_settings() RETURNS trigger LANGUAGE plpgsql
                            AS $$ BEGIN RAISE EXCEPTION 'the old layer does not know %', NEW.setting_key; END $$""")
            conn.execute("CREATE TRIGGER settings_00_old BEFORE INSERT ON crm.settings "
                         "FOR EACH ROW EXECUTE FUNCTION crm.old_release_refuses_settings()")
        assert database.migrate(url) == [m for m in applied if m > "0020_~"]
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT to_regproc('crm.old_release_refuses_settings')").fetchone() == (None,)
            assert conn.execute("SELECT count(*) FROM crm.settings WHERE setting_key = 'ranking_min_closed_leads'"
                                ).fetchone() == (1,)
    finally:
        servers.drop_database(name)


def test_the_roster_tables_are_not_reanalysed_by_every_capture(db: psycopg.Connection) -> None:
    """Migration 0030: an ANALYZE makes every backend plan the capture again, so the tables each capture's counters
    update are analysed after 5,000 changed rows, not after 50 + 10 % (docs/operations.md)."""
    for table in ("crm.agents", "crm.routing_profiles"):
        row = db.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()
        assert row is not None
        assert {"autovacuum_analyze_threshold=5000", "autovacuum_analyze_scale_factor=0"} <= set(row[0]), table
