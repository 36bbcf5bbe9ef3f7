"""Access control in plain SQL, as psql meets it: row-level security with the caller settings, the endpoint matrix
inside the api functions, and API keys checked, revoked and never stored."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import with_user

OMAR = "md5('agent-omar.haddad')::uuid"
PRIYA = "md5('agent-priya.nair')::uuid"


@pytest.fixture
def app(seeded_db_url: str) -> Iterator[psycopg.Connection]:
    """A psql session of the API's login: no caller until the test sets one."""
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


def be(conn: psycopg.Connection, role: str, agent: str | None = None) -> None:
    """What api.begin_request does after a key checks out (session-wide here, as a DBA would try it)."""
    agent_id = value(conn, f"SELECT {agent}::text") if agent else ""
    conn.execute("SELECT set_config('crm.caller_role', %s, false), set_config('crm.caller_agent_id', %s, false)",
                 (role, agent_id))


def held_by(owner: psycopg.Connection, agent: str) -> list[str]:
    return [r[0] for r in owner.execute(
        f"SELECT lead_id::text FROM crm.lead_assignments WHERE agent_id = {agent} AND released_at IS NULL "
        "ORDER BY lead_id").fetchall()]


def test_an_agent_session_sees_only_its_own_leads(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    omars = held_by(owner, OMAR)
    assert omars and value(owner, "SELECT count(*) FROM crm.leads") > len(omars)
    assert value(app, "SELECT count(*) FROM crm.leads") == 0  # no caller: nothing
    be(app, "agent", OMAR)
    assert sorted(r[0] for r in app.execute("SELECT lead_id::text FROM crm.leads").fetchall()) == omars
    assert value(app, f"SELECT count(*) FROM crm.follow_up_tasks WHERE agent_id <> {OMAR}") == 0
    assert value(app, f"SELECT count(*) FROM crm.lead_assignments WHERE agent_id <> {OMAR}") == 0
    assert value(app, "SELECT count(DISTINCT lead_id) FROM crm.lead_activities") <= len(omars)
    assert value(app, "SELECT bool_and(lead_id::text = ANY(%s)) FROM crm.lead_conversion_history", omars) is True
    be(app, "supervisor")
    assert value(app, "SELECT count(*) FROM crm.leads") == value(owner, "SELECT count(*) FROM crm.leads")
    be(app, "integration")
    assert value(app, "SELECT count(*) FROM crm.leads") == 0


def test_an_agent_changes_its_own_leads_and_nobody_elses(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    priyas_lead = held_by(owner, PRIYA)[0]
    omars_lead = value(owner, f"""
        SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
         WHERE a.agent_id = {OMAR} AND a.released_at IS NULL AND l.status = 'new' LIMIT 1""")
    be(app, "agent", OMAR)
    other = app.execute("UPDATE crm.leads SET first_name = 'Hijacked' WHERE lead_id = %s", (priyas_lead,))
    assert other.rowcount == 0
    assert value(owner, "SELECT first_name FROM crm.leads WHERE lead_id = %s", priyas_lead) != "Hijacked"
    own = app.execute("UPDATE crm.leads SET status = 'contacted' WHERE lead_id = %s", (omars_lead,))
    assert own.rowcount == 1
    # the rules and derived rows still apply: the history and the audit trail are written (by the triggers)
    assert value(owner, "SELECT to_status::text FROM crm.lead_conversion_history WHERE lead_id = %s "
                        "ORDER BY history_id DESC LIMIT 1", omars_lead) == "contacted"
    assert value(owner, "SELECT count(*) FROM crm.lead_audit WHERE lead_id = %s", omars_lead) >= 1
    with pytest.raises(psycopg.Error) as skipped:  # a transition the rules refuse
        app.execute("UPDATE crm.leads SET status = 'converted', deal_value_aed = 1 WHERE lead_id = %s", (omars_lead,))
    assert skipped.value.diag.constraint_name == "lead_status_transition"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # derived columns are not the caller's
        app.execute("UPDATE crm.leads SET score = 100 WHERE lead_id = %s", (omars_lead,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("DELETE FROM crm.leads WHERE lead_id = %s", (omars_lead,))


def test_the_api_functions_apply_the_matrix(app: psycopg.Connection, owner: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error) as anonymous:  # the API's login must say who calls
        app.execute(f"SELECT api.agent_dashboard({OMAR})")
    assert anonymous.value.sqlstate == "PT401" and anonymous.value.diag.constraint_name == "api_key_missing"
    be(app, "agent", PRIYA)
    with pytest.raises(psycopg.Error) as foreign:
        app.execute(f"SELECT api.agent_dashboard({OMAR})")
    assert foreign.value.sqlstate == "PT403" and foreign.value.diag.constraint_name == "forbidden"
    with pytest.raises(psycopg.Error) as not_hers:
        app.execute("SELECT api.update_lead(%s::uuid, '{\"status\": \"contacted\"}', 'x')",
                    (held_by(owner, OMAR)[0],))
    assert not_hers.value.sqlstate == "PT404" and not_hers.value.diag.constraint_name == "lead_not_found"
    with pytest.raises(psycopg.Error) as capture:
        app.execute("SELECT api.capture_lead('{}', 'x')")
    assert capture.value.sqlstate == "PT403"
    own = value(app, f"SELECT api.agent_dashboard({PRIYA})")
    assert isinstance(own, dict) and own["agent_summary"]["total_active_leads"] >= 0
    # a DBA's own session (the owner) is trusted, as psql always was
    assert isinstance(value(owner, f"SELECT api.agent_dashboard({OMAR})"), dict)


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
    with pytest.raises(psycopg.Error) as managing:  # only admins (or a DBA) manage keys
        be(app, "supervisor")
        app.execute("SELECT api.create_api_key('admin', 'escalation')")
    assert managing.value.sqlstate == "PT403"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the app's login cannot read the hashes
        app.execute("SELECT * FROM crm.api_keys")


def test_every_cross_agent_function_says_why_it_is_security_definer(owner: psycopg.Connection) -> None:
    silent = owner.execute("""
        SELECT p.oid::regprocedure::text FROM pg_proc AS p
         WHERE p.pronamespace IN ('api'::regnamespace, 'crm'::regnamespace, 'reporting'::regnamespace)
           AND p.prosecdef AND coalesce(obj_description(p.oid, 'pg_proc'), '') NOT ILIKE '%SECURITY DEFINER%'
         ORDER BY 1""").fetchall()
    assert silent == []
