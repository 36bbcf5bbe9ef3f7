"""Every rule of the schema holds against direct SQL, as a psql user would write it."""

from __future__ import annotations

import psycopg
import pytest

from tests.db.factories import (
    PIPELINE,
    active_leads,
    assign,
    db_error,
    ensure_agent,
    new_agent,
    new_lead,
    real_active_leads,
    release,
    violations,
    walk_to,
)

STATUSES = [*PIPELINE, "lost"]


def test_51st_active_lead_for_an_agent_fails(db: psycopg.Connection) -> None:
    agent = new_agent(db, max_active_leads=50)
    for _ in range(50):
        assign(db, new_lead(db), agent)
    assert active_leads(db, agent) == 50
    lead = new_lead(db)
    with db_error("23514", "agents_capacity"):
        assign(db, lead, agent)
    assert active_leads(db, agent) == 50


def test_capacity_can_never_be_set_above_50(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    with db_error("23514", "agents_max_active_leads_range"):
        db.execute("UPDATE crm.agents SET max_active_leads = 51 WHERE agent_id = %s", (agent,))


def test_personal_capacity_is_enforced(db: psycopg.Connection) -> None:
    agent = new_agent(db, max_active_leads=2)
    assign(db, new_lead(db), agent)
    assign(db, new_lead(db), agent)
    with db_error("23514", "agents_capacity"):
        assign(db, new_lead(db), agent)


def test_counter_cannot_be_written_directly(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    with db_error("PT409", "agents_active_leads_derived"):
        db.execute("UPDATE crm.agents SET active_leads = 3 WHERE agent_id = %s", (agent,))
    with db_error("PT409", "agents_active_leads_derived"):
        db.execute(
            "INSERT INTO crm.agents (full_name, email, phone, active_leads) VALUES ('X', 'x@t.ae', '+971501111111', 4)"
        )


def test_second_open_assignment_fails(db: psycopg.Connection) -> None:
    a, b = new_agent(db), new_agent(db)
    lead = new_lead(db)
    assign(db, lead, a)
    with db_error("23505", "lead_assignments_one_open_per_lead"):
        assign(db, lead, b)
    assert active_leads(db, b) == 0


def test_assignment_rows_are_history(db: psycopg.Connection) -> None:
    a, b = new_agent(db), new_agent(db)
    lead = new_lead(db)
    assignment = assign(db, lead, a)
    with db_error("PT409", "lead_assignments_immutable"):
        db.execute("UPDATE crm.lead_assignments SET agent_id = %s WHERE assignment_id = %s", (b, assignment))
    with db_error("PT409", "lead_assignments_append_only"):
        db.execute("DELETE FROM crm.lead_assignments WHERE assignment_id = %s", (assignment,))
    release(db, lead)
    with db_error("PT409", "lead_assignments_immutable"):
        db.execute("UPDATE crm.lead_assignments SET released_at = NULL, release_reason = NULL "
                   "WHERE assignment_id = %s", (assignment,))


def test_inactive_agent_and_closed_lead_cannot_be_assigned(db: psycopg.Connection) -> None:
    inactive = new_agent(db, is_active=False)
    with db_error("PT409", "agent_inactive"):
        assign(db, new_lead(db), inactive)
    lead = new_lead(db)
    walk_to(db, lead, "lost")
    with db_error("PT409", "lead_closed"):
        assign(db, lead, new_agent(db))


@pytest.mark.parametrize("score", [101, -1, 1000])
def test_score_outside_0_100_fails(db: psycopg.Connection, score: int) -> None:
    lead = new_lead(db)
    with db_error("23514", "leads_score_range"):
        db.execute("UPDATE crm.leads SET score = %s WHERE lead_id = %s", (score, lead))
    with db_error("23514", "leads_score_range"):
        new_lead(db, score=score)


def test_score_bounds_are_allowed(db: psycopg.Connection) -> None:
    for score in (0, 100):
        lead = new_lead(db, score=score)
        assert db.execute("SELECT score FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == (score,)


def test_phone_unique_per_source_but_not_across_sources(db: psycopg.Connection) -> None:
    new_lead(db, source="bayut", phone="+971501234567")
    new_lead(db, source="website", phone="+971501234567")
    with db_error("23505", "leads_source_phone_key"):
        new_lead(db, source="bayut", phone="+971501234567")


@pytest.mark.parametrize("phone", ["0501234567", "971501234567", "+971 50 123 4567", "+0501234567", "+12"])
def test_phone_must_be_e164(db: psycopg.Connection, phone: str) -> None:
    with db_error("23514", "leads_phone_e164"):
        new_lead(db, phone=phone)


def test_external_id_unique_per_source(db: psycopg.Connection) -> None:
    new_lead(db, source="bayut", external_id="BY-1")
    new_lead(db, source="dubizzle", external_id="BY-1")
    with db_error("23505", "leads_source_external_id_key"):
        new_lead(db, source="bayut", external_id="BY-1")


def test_budget_rules(db: psycopg.Connection) -> None:
    with db_error("23514", "leads_budget_order"):
        new_lead(db, budget_min=2_000_000, budget_max=1_000_000)
    with db_error("23514", "leads_budget_min_nonnegative"):
        new_lead(db, budget_min=-1)
    new_lead(db, budget_min=800_000, budget_max=800_000)


def test_lead_starts_as_new(db: psycopg.Connection) -> None:
    with db_error("PT422", "lead_initial_status"):
        new_lead(db, status="qualified")


def _transition_allowed(db: psycopg.Connection, old: str, new: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM crm.lead_status_transitions WHERE from_status = %s AND to_status = %s", (old, new)
    ).fetchone()
    return row is not None


@pytest.mark.parametrize(("old", "new"), [(o, n) for o in STATUSES for n in STATUSES if o != n])
def test_every_transition_from_every_state(db: psycopg.Connection, old: str, new: str) -> None:
    lead = new_lead(db)
    walk_to(db, lead, old)
    extra = ", lost_reason = 'price'" if new == "lost" else ""
    statement = f"UPDATE crm.leads SET status = %s{extra} WHERE lead_id = %s"
    expected = (old, new) in {
        ("new", "contacted"), ("contacted", "qualified"), ("qualified", "viewing_scheduled"),
        ("viewing_scheduled", "negotiation"), ("negotiation", "converted"),
        ("new", "lost"), ("contacted", "lost"), ("qualified", "lost"), ("viewing_scheduled", "lost"),
        ("negotiation", "lost"),
    }
    assert _transition_allowed(db, old, new) == expected
    if expected:
        db.execute(statement, (new, lead))
        assert db.execute("SELECT status::text FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == (new,)
    else:
        with db_error("PT409", "lead_status_transition"):
            db.execute(statement, (new, lead))


def test_same_status_update_is_a_no_op(db: psycopg.Connection) -> None:
    lead = new_lead(db)
    db.execute("UPDATE crm.leads SET status = 'new' WHERE lead_id = %s", (lead,))
    rows = db.execute("SELECT count(*) FROM crm.lead_conversion_history WHERE lead_id = %s", (lead,)).fetchone()
    assert rows == (1,)


def test_new_to_converted_fails_and_names_both_states(db: psycopg.Connection) -> None:
    lead = new_lead(db)
    ensure_agent(db, lead)
    with pytest.raises(psycopg.Error) as info:
        db.execute("UPDATE crm.leads SET status = 'converted' WHERE lead_id = %s", (lead,))
    assert info.value.sqlstate == "PT409"
    assert info.value.diag.constraint_name == "lead_status_transition"
    assert '"from" : "new"' in (info.value.diag.message_detail or "")


def test_terminal_states_are_final_and_stamped(db: psycopg.Connection) -> None:
    won, gone = new_lead(db), new_lead(db)
    walk_to(db, won, "negotiation")
    db.execute("UPDATE crm.leads SET status = 'converted', deal_value_aed = 1850000 WHERE lead_id = %s", (won,))
    walk_to(db, gone, "lost")
    for lead in (won, gone):
        closed = db.execute("SELECT closed_at FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone()
        assert closed is not None and closed[0] is not None
        with db_error("PT409", "lead_status_transition"):
            db.execute("UPDATE crm.leads SET status = 'contacted', lost_reason = NULL WHERE lead_id = %s", (lead,))


def test_lost_needs_a_reason_and_deal_value_needs_conversion(db: psycopg.Connection) -> None:
    lead = new_lead(db)
    ensure_agent(db, lead)
    with db_error("23514", "leads_lost_reason_required"):
        db.execute("UPDATE crm.leads SET status = 'lost' WHERE lead_id = %s", (lead,))
    with db_error("23514", "leads_deal_value_only_converted"):
        db.execute("UPDATE crm.leads SET deal_value_aed = 100 WHERE lead_id = %s", (lead,))


def test_history_records_every_status_with_actor(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    assign(db, lead, agent)
    db.execute("SELECT set_config('crm.actor', 'supervisor:test', false)")
    walk_to(db, lead, "qualified")
    rows = db.execute(
        "SELECT from_status::text, to_status::text, agent_id::text, changed_by FROM crm.lead_conversion_history "
        "WHERE lead_id = %s ORDER BY history_id", (lead,),
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(None, "new"), ("new", "contacted"), ("contacted", "qualified")]
    assert rows[-1][2] == agent and rows[-1][3] == "supervisor:test"


def test_every_change_of_a_lead_is_audited(db: psycopg.Connection) -> None:
    lead = new_lead(db, email="old@example.com")
    db.execute("UPDATE crm.leads SET email = 'new@example.com' WHERE lead_id = %s", (lead,))
    db.execute("UPDATE crm.leads SET email = 'new@example.com' WHERE lead_id = %s", (lead,))  # no change
    rows = db.execute(
        "SELECT operation, old_values, new_values FROM crm.lead_audit WHERE lead_id = %s ORDER BY audit_id", (lead,)
    ).fetchall()
    assert [r[0] for r in rows] == ["INSERT", "UPDATE"]
    assert rows[1][1] == {"email": "old@example.com"} and rows[1][2] == {"email": "new@example.com"}
    with db_error("PT409", "lead_audit_append_only"):
        db.execute("DELETE FROM crm.lead_audit WHERE lead_id = %s", (lead,))
    with db_error("PT409", "leads_append_only"):
        db.execute("DELETE FROM crm.leads WHERE lead_id = %s", (lead,))


def test_activities_are_append_only(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    assign(db, lead, agent)
    db.execute(
        "INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome, notes) "
        "VALUES (%s, %s, 'call', 'positive', 'interested in Marina 2BR')", (lead, agent),
    )
    with db_error("PT409", "lead_activities_append_only"):
        db.execute("UPDATE crm.lead_activities SET notes = 'edited' WHERE lead_id = %s", (lead,))
    with db_error("PT409", "lead_activities_append_only"):
        db.execute("DELETE FROM crm.lead_activities WHERE lead_id = %s", (lead,))
    with db_error("PT409", "lead_activities_append_only"):
        db.execute("TRUNCATE crm.lead_activities CASCADE")
    with db_error("PT409", "lead_conversion_history_append_only"):
        db.execute("UPDATE crm.lead_conversion_history SET changed_by = 'x' WHERE lead_id = %s", (lead,))


def test_activity_timestamps_and_first_response(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    db.execute("UPDATE crm.leads SET created_at = now() - interval '2 hours' WHERE lead_id = %s", (lead,))
    assign(db, lead, agent)
    db.execute(
        "INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, created_at, created_by) "
        "VALUES (%s, %s, 'whatsapp', '2000-01-01', 'forged')", (lead, agent),
    )
    act = db.execute(
        "SELECT created_at > now() - interval '1 minute', created_by <> 'forged' FROM crm.lead_activities "
        "WHERE lead_id = %s", (lead,),
    ).fetchone()
    assert act == (True, True)
    row = db.execute(
        "SELECT response_seconds BETWEEN 7190 AND 7300, first_contacted_at IS NOT NULL, last_activity_at IS NOT NULL "
        "FROM crm.leads WHERE lead_id = %s", (lead,),
    ).fetchone()
    assert row == (True, True, True)
    first = db.execute(
        "SELECT first_activity_at IS NOT NULL FROM crm.lead_assignments WHERE lead_id = %s AND released_at IS NULL",
        (lead,),
    ).fetchone()
    assert first == (True,)


def test_an_interaction_needs_an_agent(db: psycopg.Connection) -> None:
    lead = new_lead(db)
    with db_error("23514", "lead_activities_agent_interaction"):
        db.execute("INSERT INTO crm.lead_activities (lead_id, activity_type) VALUES (%s, 'call')", (lead,))
    db.execute("INSERT INTO crm.lead_activities (lead_id, activity_type) VALUES (%s, 'note')", (lead,))


def _task(db: psycopg.Connection, lead: str, agent: str, due: str, minutes: int | None = None) -> None:
    if minutes is None:
        db.execute(
            "INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, due_at) VALUES (%s, %s, 'call', %s)",
            (lead, agent, due),
        )
    else:
        db.execute(
            "INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, due_at, ends_at) "
            "VALUES (%s, %s, 'call', %s, %s::timestamptz + make_interval(mins => %s))",
            (lead, agent, due, due, minutes),
        )


def test_overlapping_open_follow_ups_of_one_agent_fail(db: psycopg.Connection) -> None:
    agent, other = new_agent(db), new_agent(db)
    lead = new_lead(db)
    _task(db, lead, agent, "2030-01-16 10:00+04")
    with db_error("23P01", "follow_up_tasks_no_overlap"):
        _task(db, lead, agent, "2030-01-16 10:15+04")
    with db_error("23P01", "follow_up_tasks_no_overlap"):
        _task(db, lead, agent, "2030-01-16 09:45+04", minutes=60)
    _task(db, lead, agent, "2030-01-16 10:30+04")  # back to back is fine (half-open slots)
    _task(db, lead, other, "2030-01-16 10:00+04")  # another agent is free then
    db.execute("UPDATE crm.follow_up_tasks SET status = 'done' WHERE agent_id = %s AND due_at = '2030-01-16 10:00+04'",
               (agent,))
    _task(db, lead, agent, "2030-01-16 10:00+04")  # a done task frees its slot


def test_closed_follow_ups_stay_closed(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    _task(db, lead, agent, "2030-02-01 10:00+04")
    db.execute("UPDATE crm.follow_up_tasks SET status = 'done' WHERE lead_id = %s", (lead,))
    done = db.execute("SELECT completed_at IS NOT NULL FROM crm.follow_up_tasks WHERE lead_id = %s", (lead,)).fetchone()
    assert done == (True,)
    with db_error("PT409", "follow_up_task_closed"):
        db.execute("UPDATE crm.follow_up_tasks SET status = 'open', completed_at = NULL WHERE lead_id = %s", (lead,))


def test_overdue_follow_up_shows_until_escalated(db: psycopg.Connection) -> None:
    agent, supervisor = new_agent(db), new_agent(db, role="supervisor")
    lead = new_lead(db)
    assign(db, lead, agent)
    _task(db, lead, agent, "2020-01-01 10:00+04")
    assert [v[0] for v in violations(db)] == ["follow_up_overdue_unescalated"]
    db.execute(
        "UPDATE crm.follow_up_tasks SET escalated_at = now(), escalated_to = %s WHERE lead_id = %s", (supervisor, lead)
    )
    assert violations(db) == []


def test_counter_stays_exact_across_inserts_terminal_states_and_reassignment(db: psycopg.Connection) -> None:
    a, b = new_agent(db), new_agent(db)
    leads = [new_lead(db) for _ in range(6)]
    for lead in leads:
        assign(db, lead, a)
    assert active_leads(db, a) == 6
    walk_to(db, leads[0], "negotiation")
    db.execute("UPDATE crm.leads SET status = 'converted', deal_value_aed = 2500000 WHERE lead_id = %s", (leads[0],))
    walk_to(db, leads[1], "lost")
    assert active_leads(db, a) == 4
    # reassignment: close the old row, open a new one
    release(db, leads[2], "workload balance")
    assign(db, leads[2], b, "workload_balance")
    # releasing a closed lead's assignment does not count twice
    release(db, leads[0], "archived")
    # a queued lead: released and waiting
    release(db, leads[3], "agent left")
    db.execute("UPDATE crm.leads SET queued_at = now() WHERE lead_id = %s", (leads[3],))
    for agent, expected in ((a, 2), (b, 1)):
        assert active_leads(db, agent) == expected == real_active_leads(db, agent)
    assert violations(db) == []
    # opening an assignment takes the lead out of the queue
    assign(db, leads[3], b, "queue_drain")
    queued = db.execute("SELECT queued_at FROM crm.leads WHERE lead_id = %s", (leads[3],)).fetchone()
    assert queued == (None,)
    assert active_leads(db, b) == 2 == real_active_leads(db, b)
    assert violations(db) == []


def test_invariant_view_reports_an_unassigned_lead(db: psycopg.Connection) -> None:
    lead = new_lead(db)
    assert violations(db) == [("lead_unassigned_not_queued", lead, {"status": "new"})]


def test_settings_and_rules_record_who_changed_them(db: psycopg.Connection) -> None:
    db.execute("SELECT set_config('crm.actor', 'manager:layla', false)")
    db.execute("UPDATE crm.lead_scoring_rules SET points = 12 WHERE rule_key = 'nationality_uae'")
    row = db.execute(
        "SELECT points, updated_by FROM crm.lead_scoring_rules WHERE rule_key = 'nationality_uae'"
    ).fetchone()
    assert row is not None and float(row[0]) == 12 and row[1] == "manager:layla"
