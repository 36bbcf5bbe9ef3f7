"""Access control in plain SQL, as psql meets it: a caller only a checked key (or a DBA's crm.act_as) can make,
row-level security on that caller, the endpoint matrix inside every api function the app's login may run, and API
keys checked, revoked and never stored."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import with_user

OMAR = "md5('agent-omar.haddad')::uuid"
PRIYA = "md5('agent-priya.nair')::uuid"
# the demo keys of db/seed/60_api_keys.sql
OMAR_KEY = "trk_de000002_demo-agent-omar-haddad"
PRIYA_KEY = "trk_de000003_demo-agent-priya-nair"
INTEGRATION_KEY = "trk_de000001_demo-integration-portals-and-website"
SUPERVISOR_KEY = "trk_de000004_demo-supervisor"

# api functions the app's login may run that do not check the endpoint matrix, each with its reason
ALLOWED_WITHOUT_MATRIX = {
    "api.begin_request(text,text,uuid,uuid)": "is the key check itself: the one way a caller comes to exist",
    "api.readiness()": "GET /ready, key-free by design: the database's name and version, no business data",
    "api.metrics()": "GET /metrics, key-free for the scraper: the queue's length and oldest wait, no rows",
    "api.warm_up()": "the pool's warm-up: a made-up capture always rolled back; no input, says whether it ran, "
                     "nothing kept",
    "api.dashboard_changes(pg_snapshot)": "the dashboard cache's change feed: agent ids whose dashboards changed "
                                          "since a snapshot, for the API's own login; no lead or agent data",
}


@pytest.fixture
def app(seeded_db_url: str) -> Iterator[psycopg.Connection]:
    """A psql session of the API's login: no caller until a key is checked in a transaction."""
    with psycopg.connect(with_user(seeded_db_url, "thinkrealty_app"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def owner(seeded_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        yield conn


def value(conn: psycopg.Connection, query: str, *args: object) -> object:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def as_key(conn: psycopg.Connection, key: str) -> None:
    """What every API transaction starts with (call it inside `with conn.transaction()`)."""
    conn.execute("SELECT * FROM api.begin_request(%s)", (key,))


def forge(conn: psycopg.Connection, role: str, agent: str | None = None) -> None:
    """What a hostile app login would try: the caller settings, set by hand, for the whole session."""
    agent_id = value(conn, f"SELECT {agent}::text") if agent else ""
    conn.execute("SELECT set_config('crm.caller_role', %s, false), set_config('crm.caller_agent_id', %s, false), "
                 "set_config('crm.caller_key', 'forged', false), set_config('crm.actor', %s, false)",
                 (role, agent_id, f"{role}:forged"))


def held_by(owner: psycopg.Connection, agent: str) -> list[str]:
    return [r[0] for r in owner.execute(
        f"SELECT lead_id::text FROM crm.lead_assignments WHERE agent_id = {agent} AND released_at IS NULL "
        "ORDER BY lead_id").fetchall()]


def test_an_agent_caller_sees_only_its_own_leads(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    omars = held_by(owner, OMAR)
    assert omars and value(owner, "SELECT count(*) FROM crm.leads") > len(omars)
    assert value(app, "SELECT count(*) FROM crm.leads") == 0  # no caller: nothing
    with app.transaction():
        as_key(app, OMAR_KEY)
        assert sorted(r[0] for r in app.execute("SELECT lead_id::text FROM crm.leads").fetchall()) == omars
        assert value(app, f"SELECT count(*) FROM crm.follow_up_tasks WHERE agent_id <> {OMAR}") == 0
        assert value(app, f"SELECT count(*) FROM crm.lead_assignments WHERE agent_id <> {OMAR}") == 0
        assert value(app, "SELECT count(DISTINCT lead_id) FROM crm.lead_activities") <= len(omars)
        assert value(app, "SELECT bool_and(lead_id::text = ANY(%s)) FROM crm.lead_conversion_history", omars) is True
    assert value(app, "SELECT count(*) FROM crm.leads") == 0  # the caller ended with its transaction
    with app.transaction():
        as_key(app, SUPERVISOR_KEY)
        assert value(app, "SELECT count(*) FROM crm.leads") == value(owner, "SELECT count(*) FROM crm.leads")
    with app.transaction():
        as_key(app, INTEGRATION_KEY)
        assert value(app, "SELECT count(*) FROM crm.leads") == 0


def test_a_forged_caller_is_nobody(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    """The hostile pass's three forgeries, from psql as the app's login: an admin key minted, every lead read, a
    direct UPDATE committed under another agent's name. Each is refused."""
    forge(app, "admin")
    with pytest.raises(psycopg.Error) as minted:
        app.execute("SELECT api.create_api_key('admin', 'forged', NULL, 'x')")
    assert minted.value.sqlstate == "PT401" and minted.value.diag.constraint_name == "api_key_missing"
    assert value(owner, "SELECT count(*) FROM crm.api_keys WHERE label = 'forged'") == 0
    for table in ("leads", "lead_activities", "follow_up_tasks", "lead_assignments", "lead_conversion_history",
                  "agents", "settings", "lead_sources", "agent_performance_metrics"):
        assert value(app, f"SELECT count(*) FROM crm.{table}") == 0, table
    omars_lead = held_by(owner, OMAR)[0]
    forge(app, "agent", OMAR)
    assert app.execute("UPDATE crm.leads SET first_name = 'Forged' WHERE lead_id = %s", (omars_lead,)).rowcount == 0
    assert value(owner, "SELECT count(*) FROM crm.lead_audit WHERE changed_by LIKE '%%forged%%'") == 0
    with pytest.raises(psycopg.Error) as dashboard:
        app.execute(f"SELECT api.agent_dashboard({OMAR})")
    assert dashboard.value.diag.constraint_name == "api_key_missing"
    # a real key's seal does not carry over to a later transaction, nor survive an edit of the settings
    with app.transaction():
        as_key(app, PRIYA_KEY)
        app.execute("SELECT set_config('crm.caller_role', 'admin', true)")
        assert value(app, "SELECT crm.caller_role()") is None
        with pytest.raises(psycopg.Error) as escalated:
            app.execute("SELECT api.list_api_keys()")
        assert escalated.value.diag.constraint_name == "api_key_missing"
    with app.transaction():
        as_key(app, PRIYA_KEY)
        app.execute("SELECT set_config('crm.caller_seal', current_setting('crm.caller_seal'), false)")
    app.execute("SELECT set_config('crm.caller_role', 'agent', false), "
                "set_config('crm.caller_agent_id', %s::text, false), set_config('crm.caller_key', 'de000003', false)",
                (value(owner, f"SELECT {PRIYA}::text"),))
    assert value(app, "SELECT crm.caller_role()") is None  # the old seal is worth nothing in a new transaction


def test_the_actor_of_a_change_is_the_key_not_a_setting(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    lead = value(owner, f"""
        SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
         WHERE a.agent_id = {OMAR} AND a.released_at IS NULL AND l.status = 'new' LIMIT 1""")
    with app.transaction():
        as_key(app, OMAR_KEY)
        app.execute("SELECT set_config('crm.actor', 'agent:de000003', true)")  # Priya's name
        assert app.execute("UPDATE crm.leads SET first_name = 'Renamed' WHERE lead_id = %s", (lead,)).rowcount == 1
    assert value(owner, "SELECT changed_by FROM crm.lead_audit WHERE lead_id = %s ORDER BY audit_id DESC LIMIT 1",
                 lead) == "agent:de000002"


def test_an_agent_changes_its_own_leads_and_nobody_elses(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    priyas_lead = held_by(owner, PRIYA)[0]
    omars_lead = value(owner, f"""
        SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
         WHERE a.agent_id = {OMAR} AND a.released_at IS NULL AND l.status = 'new' LIMIT 1""")
    with app.transaction():
        as_key(app, OMAR_KEY)
        other = app.execute("UPDATE crm.leads SET first_name = 'Hijacked' WHERE lead_id = %s", (priyas_lead,))
        assert other.rowcount == 0
        own = app.execute("UPDATE crm.leads SET status = 'contacted' WHERE lead_id = %s", (omars_lead,))
        assert own.rowcount == 1
    assert value(owner, "SELECT first_name FROM crm.leads WHERE lead_id = %s", priyas_lead) != "Hijacked"
    # the rules and derived rows still apply: the history and the audit trail are written (by the triggers)
    assert value(owner, "SELECT to_status::text FROM crm.lead_conversion_history WHERE lead_id = %s "
                        "ORDER BY history_id DESC LIMIT 1", omars_lead) == "contacted"
    assert value(owner, "SELECT count(*) FROM crm.lead_audit WHERE lead_id = %s", omars_lead) >= 1
    with pytest.raises(psycopg.Error) as skipped, app.transaction():  # a transition the rules refuse
        as_key(app, OMAR_KEY)
        app.execute("UPDATE crm.leads SET status = 'converted', deal_value_aed = 1 WHERE lead_id = %s", (omars_lead,))
    assert skipped.value.diag.constraint_name == "lead_status_transition"
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app.transaction():  # derived columns: not the caller's
        as_key(app, OMAR_KEY)
        app.execute("UPDATE crm.leads SET score = 100 WHERE lead_id = %s", (omars_lead,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app.transaction():
        as_key(app, OMAR_KEY)
        app.execute("DELETE FROM crm.leads WHERE lead_id = %s", (omars_lead,))


def test_the_api_functions_apply_the_matrix(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error) as anonymous:  # the API's login must say who calls
        app.execute(f"SELECT api.agent_dashboard({OMAR})")
    assert anonymous.value.sqlstate == "PT401" and anonymous.value.diag.constraint_name == "api_key_missing"
    with app.transaction():
        as_key(app, PRIYA_KEY)
        with pytest.raises(psycopg.Error) as foreign, app.transaction():
            app.execute(f"SELECT api.agent_dashboard({OMAR})")
        assert foreign.value.sqlstate == "PT403" and foreign.value.diag.constraint_name == "forbidden"
        with pytest.raises(psycopg.Error) as not_hers, app.transaction():
            app.execute("SELECT api.update_lead(%s::uuid, '{\"status\": \"contacted\"}', 'x')",
                        (held_by(owner, OMAR)[0],))
        assert not_hers.value.sqlstate == "PT404" and not_hers.value.diag.constraint_name == "lead_not_found"
        with pytest.raises(psycopg.Error) as capture, app.transaction():
            app.execute("SELECT api.capture_lead('{}', 'x')")
        assert capture.value.sqlstate == "PT403"
        own = value(app, f"SELECT api.agent_dashboard({PRIYA})")
        assert isinstance(own, dict) and own["agent_summary"]["total_active_leads"] >= 1
    # a DBA's own session (the owner) is trusted, as psql always was
    assert isinstance(value(owner, f"SELECT api.agent_dashboard({OMAR})"), dict)


def test_every_function_the_app_login_may_run_checks_the_matrix(owner: psycopg.Connection) -> None:
    """The catalog: each function executable by thinkrealty_app either calls crm.authorize, or stands on the
    allow-list with its reason; the jobs and the reporting schema are out of its reach."""
    executable = owner.execute("""
        SELECT p.oid::regprocedure::text, p.prosrc, n.nspname
          FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'ext')
           AND has_function_privilege('thinkrealty_app', p.oid, 'EXECUTE')
         ORDER BY 1""").fetchall()
    names = {re.sub(r"\s", "", name): (src, schema) for name, src, schema in executable}
    assert {schema for _, schema in names.values()} <= {"api", "crm"}
    crm_allowed = {"crm.authorize(text,uuid,uuid)", "crm.setting(text)", "crm.human_duration(numeric)",
                   "crm.caller()", "crm.caller_role()", "crm.caller_agent_id()", "crm.is_closed(crm.lead_status)",
                   "crm.conversion_rate(numeric,numeric)",
                   # the dashboard's steps read as the caller, through row-level security: run bare in psql by
                   # the login they show only the sealed caller's rows (none without one)
                   "crm.dashboard_window(text,date,date,text,text,timestampwithtimezone)",
                   "crm.dashboard_leads(uuid,timestampwithtimezone,timestampwithtimezone,text,text)",
                   "crm.dashboard_rank_months(date,date)", "crm.response_time_ranks(date,date)",
                   "crm.dashboard_pending_tasks(uuid,timestampwithtimezone)",
                   "crm.dashboard_conversions(uuid,timestampwithtimezone,timestampwithtimezone,text)",
                   "crm.dashboard_pending_offers(uuid)",
                   # one figure across the agent's offers, also those that moved on to others (so definer's rights):
                   # it authorizes the caller for this agent's dashboard itself
                   "crm.offer_accept_rate(uuid,timestampwithtimezone,timestampwithtimezone)",
                   # the follow-up priority rule the pending tasks show: it reads settings only
                   "crm.follow_up_priority(integer,timestampwithtimezone,timestampwithtimezone)",
                   "crm.sla_class(integer)", "crm.setting_interval(text)",
                   # the building blocks of the lead and follow-up reads: they read as the caller too
                   "crm.lead_resource(uuid)", "crm.lead_summaries(uuid[])", "crm.page_limit(integer)",
                   "crm.encode_cursor(jsonb)",
                   "crm.decode_cursor(text)",
                   "crm.follow_up_resource(crm.follow_up_tasks,timestampwithtimezone,jsonb)"}
    assert {n for n, (_, schema) in names.items() if schema == "crm"} == crm_allowed
    unchecked = sorted(n for n, (src, schema) in names.items()
                       if schema == "api" and "crm.authorize(" not in src and n not in ALLOWED_WITHOUT_MATRIX)
    assert unchecked == []
    assert set(ALLOWED_WITHOUT_MATRIX) <= set(names)  # the list names nothing that is gone
    for job in ("jobs.run_sweeps(timestamptz,boolean)", "jobs.rehearse_sweeps(timestamptz)",
                "jobs.refresh_analytics(boolean)"):
        assert value(owner, "SELECT has_function_privilege('thinkrealty_app', %s, 'EXECUTE')", job) is False
        assert value(owner, "SELECT has_function_privilege('thinkrealty_jobs', %s, 'EXECUTE')", job) is True
    assert value(owner, "SELECT has_schema_privilege('thinkrealty_app', 'reporting', 'USAGE')") is False
    assert value(owner, "SELECT has_function_privilege('thinkrealty_app', 'crm.act_as(text,uuid)', 'EXECUTE')") \
        is False


def test_the_app_login_reads_no_report(app: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT count(*) FROM reporting.lead_facts_snapshot")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("SELECT * FROM reporting.conversion_by_source()")


def test_a_dba_acts_as_a_caller(owner: psycopg.Connection, app: psycopg.Connection) -> None:
    with owner.transaction():
        assert value(owner, "SELECT crm.authorize('dashboard')") == "trusted"   # no caller yet: a DBA
        owner.execute(f"SELECT crm.act_as('agent', {OMAR})")
        assert value(owner, "SELECT crm.caller_role()") == "agent"
        assert value(owner, "SELECT crm.authorize('dashboard')") == "own"   # the scope the matrix gives
        with pytest.raises(psycopg.Error) as foreign, owner.transaction():
            owner.execute(f"SELECT api.agent_dashboard({PRIYA})")
        assert foreign.value.diag.constraint_name == "forbidden"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute(f"SELECT crm.act_as('admin', {OMAR})")


def test_a_deactivated_agents_key_stops_working(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    with app.transaction():
        as_key(app, OMAR_KEY)
    owner.execute(f"UPDATE crm.agents SET is_active = false WHERE agent_id = {OMAR}")
    with pytest.raises(psycopg.Error) as inactive:
        as_key(app, OMAR_KEY)
    assert inactive.value.sqlstate == "PT401" and inactive.value.diag.constraint_name == "api_key_inactive_agent"
    owner.execute(f"UPDATE crm.agents SET is_active = true WHERE agent_id = {OMAR}")
    with app.transaction():
        as_key(app, OMAR_KEY)  # back at work: the key answers again


def test_begin_request_checks_the_key_every_time(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    created = value(owner, "SELECT api.create_api_key('agent', 'sql test', " + OMAR + ")")
    assert isinstance(created, dict)
    key = created["key"]
    row = app.execute("SELECT actor, role, agent_id::text FROM api.begin_request(%s, 'dashboard', " + OMAR + ")",
                      (key,)).fetchone()
    assert row is not None and row[0] == f"agent:{created['prefix']}" and row[1] == "agent"
    value(owner, "SELECT api.revoke_api_key(%s, 'test')", created["key_id"])
    with pytest.raises(psycopg.Error) as revoked:
        app.execute("SELECT * FROM api.begin_request(%s)", (key,))
    assert revoked.value.sqlstate == "PT401" and revoked.value.diag.constraint_name == "api_key_invalid"
    with pytest.raises(psycopg.Error) as tampered:
        app.execute("SELECT * FROM api.begin_request(%s)", (key[:-1] + ("0" if key[-1] != "0" else "1"),))
    assert tampered.value.diag.constraint_name == "api_key_invalid"
    with pytest.raises(psycopg.Error) as managing, app.transaction():  # only admins (or a DBA) manage keys
        as_key(app, SUPERVISOR_KEY)
        app.execute("SELECT api.create_api_key('admin', 'escalation')")
    assert managing.value.sqlstate == "PT403"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the app's login cannot read the hashes
        app.execute("SELECT * FROM crm.api_keys")


def test_every_cross_agent_function_says_why_it_is_security_definer(owner: psycopg.Connection) -> None:
    silent = owner.execute("""
        SELECT p.oid::regprocedure::text FROM pg_proc AS p
         WHERE p.pronamespace IN ('api'::regnamespace, 'crm'::regnamespace, 'reporting'::regnamespace,
                                  'jobs'::regnamespace)
           AND p.prosecdef AND coalesce(obj_description(p.oid, 'pg_proc'), '') NOT ILIKE '%SECURITY DEFINER%'
         ORDER BY 1""").fetchall()
    assert silent == []
