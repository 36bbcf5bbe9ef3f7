"""Lead lifecycle in SQL (api.update_lead, api.reassign_lead, jobs.run_sweeps) as psql would call it: every
transition, activity scoring, follow-up conflicts, interests, reassignment and every sweep with a moved clock."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.conftest import with_user
from tests.db.factories import (
    PIPELINE,
    active_leads,
    capture,
    db_error,
    new_agent,
    on_shift_always,
    real_active_leads,
    violations,
)

STATUSES = [*PIPELINE, "lost"]
ALLOWED = {("new", "contacted"), ("contacted", "qualified"), ("qualified", "viewing_scheduled"),
           ("viewing_scheduled", "negotiation"), ("negotiation", "converted"),
           *((s, "lost") for s in PIPELINE[:-1])}


def update(conn: psycopg.Connection, lead: str, body: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    row = conn.execute("SELECT api.update_lead(%s, %s, 'test', %s)", (lead, Jsonb(body), now)).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def sweep(conn: psycopg.Connection, now: datetime | None = None) -> dict[str, Any]:
    """The sweeps at `now` for real (forced: the tests move the clock days ahead on a throwaway database)."""
    row = conn.execute("SELECT jobs.run_sweeps(%s, true)", (now,)).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def status_body(status: str) -> dict[str, Any]:
    return {"status": status, **({"lost_reason": "chose another broker"} if status == "lost" else {})}


def lead_at(conn: psycopg.Connection, status: str) -> str:
    lead = str(capture(conn)["body"]["lead_id"])
    if status == "lost":
        update(conn, lead, status_body("lost"))
    else:
        for step in PIPELINE[1: PIPELINE.index(status) + 1]:
            update(conn, lead, {"status": step})
    return lead


@pytest.mark.parametrize(("start", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_transition_from_every_state(db: psycopg.Connection, start: str, target: str) -> None:
    new_agent(db)
    lead = lead_at(db, start)
    if (start, target) in ALLOWED or start == target:
        assert update(db, lead, status_body(target))["status"] == target
    else:
        with pytest.raises(psycopg.Error) as info:
            update(db, lead, status_body(target))
        assert (info.value.sqlstate, info.value.diag.constraint_name) == ("PT409", "lead_status_transition")
        assert f'"from" : "{start}"' in (info.value.diag.message_detail or "")
    history = db.execute("SELECT count(*) FROM crm.lead_conversion_history WHERE lead_id = %s", (lead,)).fetchone()
    assert history is not None and history[0] >= 1
    assert violations(db) == []


def test_activity_scores_and_clamps(db: psycopg.Connection) -> None:
    new_agent(db)
    lead = capture(db, "walk_in")["body"]["lead_id"]  # 35
    first = update(db, lead, {"activity": {"type": "call", "outcome": "positive"}})
    assert first["changes"]["score"]["delta"] == 15  # +5 positive, +10 first contact within the hour
    assert {r["rule"] for r in first["changes"]["score"]["rules"]} == {"activity_positive", "response_within_1h"}
    assert first["first_contacted_at"] and first["response_seconds"] is not None
    assert update(db, lead, {"activity": {"type": "viewing", "outcome": "neutral"}})["score"] == 60
    assert update(db, lead, {"activity": {"type": "offer_made", "outcome": "positive"}})["score"] == 85
    clamped = update(db, lead, {"activity": {"type": "offer_made", "outcome": "positive"}})
    assert (clamped["score"], clamped["changes"]["score"]["delta"]) == (100, 15)
    assert update(db, lead, {"activity": {"type": "email", "outcome": "negative"}})["changes"]["score"]["delta"] == 0
    deltas = [r[0] for r in db.execute(
        "SELECT score_delta FROM crm.lead_activities WHERE lead_id = %s AND agent_id IS NOT NULL ORDER BY created_at",
        (lead,))]
    assert deltas == [15, 10, 25, 15, 0]


def test_late_first_contact_costs_points(db: psycopg.Connection) -> None:
    new_agent(db)
    lead = capture(db, "bayut")["body"]["lead_id"]  # 45
    late = update(db, lead, {"activity": {"type": "call", "outcome": "neutral"}},
                  now=datetime.now().astimezone() + timedelta(hours=30))
    assert late["changes"]["score"]["delta"] == -5 and late["response_seconds"] >= 30 * 3600 - 5


def test_no_response_decay_once_per_silence(db: psycopg.Connection) -> None:
    new_agent(db)
    lead = capture(db, "bayut", budget_max=3_000_000)["body"]["lead_id"]  # 45 + 26 = 71
    update(db, lead, {"activity": {"type": "call", "outcome": "neutral"}})  # +10: 81
    t0 = datetime.now().astimezone()
    assert sweep(db, t0 + timedelta(days=6))["decayed"] == 0
    assert sweep(db, t0 + timedelta(days=8))["decayed"] == 1
    assert sweep(db, t0 + timedelta(days=16))["decayed"] == 0  # the same silence is charged once
    score = db.execute("SELECT score FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone()
    assert score == (71,)
    update(db, lead, {"activity": {"type": "whatsapp"}}, now=t0 + timedelta(days=17))  # the silence ends
    assert sweep(db, t0 + timedelta(days=23))["decayed"] == 0
    assert sweep(db, t0 + timedelta(days=25))["decayed"] == 1  # a new silence of 7 days
    assert db.execute("SELECT score FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == (61,)


def test_next_follow_up_conflict_names_the_next_free_slot(db: psycopg.Connection) -> None:
    new_agent(db)
    a = capture(db)["body"]["lead_id"]
    b = capture(db)["body"]["lead_id"]
    at = (datetime.now().astimezone() + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    booked = update(db, a, {"activity": {"type": "call", "next_follow_up": at.isoformat()}})
    assert datetime.fromisoformat(booked["changes"]["follow_up"]["due_at"]) == at
    with pytest.raises(psycopg.Error) as info:
        update(db, b, {"activity": {"type": "call", "next_follow_up": (at + timedelta(minutes=10)).isoformat()}})
    assert (info.value.sqlstate, info.value.diag.constraint_name) == ("PT409", "follow_up_conflict")
    assert '"next_free_slot"' in (info.value.diag.message_detail or "")
    # all or nothing: the activity of the refused update was not kept either
    assert db.execute("SELECT count(*) FROM crm.lead_activities WHERE lead_id = %s AND agent_id IS NOT NULL",
                      (b,)).fetchone() == (0,)
    with db_error("PT422", "follow_up_in_past"):
        update(db, b, {"activity": {"type": "call", "next_follow_up": "2020-01-01T10:00:00Z"}})


def test_an_interaction_completes_the_due_follow_up(db: psycopg.Connection) -> None:
    new_agent(db)
    body = capture(db, "bayut", budget_max=20_000_000)["body"]  # hot: a call due within the hour
    done = update(db, body["lead_id"], {"activity": {"type": "call", "outcome": "positive"}})
    assert done["changes"]["completed_follow_up"] == body["follow_up"]["task_id"]
    assert db.execute("SELECT status FROM crm.follow_up_tasks WHERE task_id = %s",
                      (body["follow_up"]["task_id"],)).fetchone() == ("done",)


def test_property_interests_upsert_and_unknown_listing(db: psycopg.Connection) -> None:
    new_agent(db)
    lead = capture(db)["body"]["lead_id"]
    prop = db.execute("INSERT INTO crm.properties (reference, title, property_type, area_code, price_aed) "
                      "VALUES ('P-1', 'x', 'villa', 'jbr', 5000000) RETURNING property_id::text").fetchone()
    assert prop is not None
    update(db, lead, {"property_interests": [{"property_id": prop[0], "interest_level": "low"}]})
    state = update(db, lead, {"property_interests": [{"property_id": prop[0], "interest_level": "high"}]})
    assert state["property_interests"] == [{"property_id": prop[0], "interest_level": "high"}]
    with db_error("PT422", "unknown_property"):
        update(db, lead, {"status": "contacted",
                          "property_interests": [{"property_id": "00000000-0000-0000-0000-000000000000",
                                                  "interest_level": "high"}]})
    assert db.execute("SELECT status FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == ("new",)


def test_closing_cancels_follow_ups_and_frees_the_slot(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = capture(db)["body"]["lead_id"]
    for step in PIPELINE[1:5]:
        update(db, lead, {"status": step})
    won = update(db, lead, {"status": "converted", "deal_value": 1_250_000})
    assert won["deal_value"] == 1250000 and won["closed_at"] and won["next_follow_up"] is None
    assert active_leads(db, agent) == 0 == real_active_leads(db, agent)
    with db_error("PT404", "lead_not_found"):
        update(db, "00000000-0000-0000-0000-000000000000", {"status": "contacted"})


def test_manual_reassignment_rules(db: psycopg.Connection) -> None:
    first = new_agent(db)
    lead = capture(db)["body"]["lead_id"]
    inactive = new_agent(db, is_active=False)
    full = new_agent(db, max_active_leads=0)
    target = new_agent(db)

    def reassign(agent: str | None) -> dict[str, Any]:
        row = db.execute("SELECT api.reassign_lead(%s, 'client asked', %s, 'supervisor')", (lead, agent)).fetchone()
        assert row is not None
        return dict(row[0])

    with db_error("PT409", "agent_inactive"):
        reassign(inactive)
    with db_error("PT409", "agent_full"):
        reassign(full)
    with db_error("PT409", "same_agent"):
        reassign(first)
    with db_error("PT404", "agent_not_found"):
        reassign("00000000-0000-0000-0000-000000000000")
    moved = reassign(target)
    assert moved["assigned_agent"]["agent_id"] == target and moved["reassignment"]["from_agent_id"] == first
    assert moved["next_follow_up"] is not None
    rows = db.execute("SELECT agent_id::text, kind, released_at IS NOT NULL, release_reason FROM crm.lead_assignments "
                      "WHERE lead_id = %s ORDER BY assigned_at, released_at NULLS LAST", (lead,)).fetchall()
    assert rows == [(first, "auto", True, "client asked"), (target, "manual", False, None)]
    assert (active_leads(db, first), active_leads(db, target)) == (0, 1)
    assert reassign(None)["assigned_agent"]["agent_id"] == first  # the best other agent with room
    assert violations(db) == []


def test_unresponsive_leads_move_after_24_hours(db: psycopg.Connection) -> None:
    slow = new_agent(db)
    t0 = datetime.now().astimezone() - timedelta(hours=26)   # in the past: no business time in the future
    quiet = capture(db, now=t0)["body"]["lead_id"]
    worked = capture(db, now=t0)["body"]["lead_id"]
    update(db, worked, {"activity": {"type": "call"}}, t0)
    other = new_agent(db)
    assert sweep(db, t0 + timedelta(hours=23))["reassigned_no_response"] == 0
    assert sweep(db, t0 + timedelta(hours=25))["reassigned_no_response"] == 1
    owner = "SELECT agent_id::text, kind FROM crm.lead_assignments WHERE lead_id = %s AND released_at IS NULL"
    assert db.execute(owner, (quiet,)).fetchone() == (other, "auto_reassign_no_response")
    assert db.execute(owner, (worked,)).fetchone() == (slow, "auto")
    # the move is an offer, whose clock runs on this test's past timeline: its agent accepts it there (as capture()
    # does), or by the real clock it is overdue whenever t0 + 25 h fell in business hours
    db.execute("UPDATE crm.lead_assignments SET accepted_at = assigned_at "
               "WHERE lead_id = %s AND released_at IS NULL AND accepted_at IS NULL", (quiet,))
    assert violations(db) == []


def test_workload_balancing_moves_untouched_leads_below_the_threshold(db: psycopg.Connection) -> None:
    busy = new_agent(db)
    leads = [capture(db)["body"]["lead_id"] for _ in range(47)]
    relief = new_agent(db)
    on_shift_always(db, relief)   # balancing hands leads only to agents available when the test runs
    result = sweep(db)
    assert result["rebalanced"] == 2
    assert (active_leads(db, busy), active_leads(db, relief)) == (45, 2)
    kinds = db.execute("SELECT count(*) FROM crm.lead_assignments WHERE kind = 'workload_balance' AND agent_id = %s",
                       (relief,)).fetchone()
    assert kinds == (2,) and len(leads) == 47
    assert sweep(db)["rebalanced"] == 0
    assert violations(db) == []


def test_overdue_follow_ups_are_escalated_and_the_view_empties(db: psycopg.Connection) -> None:
    boss = new_agent(db, role="supervisor")
    agent = new_agent(db)
    db.execute("UPDATE crm.agents SET supervisor_id = %s WHERE agent_id = %s", (boss, agent))
    lead = capture(db)["body"]["lead_id"]
    db.execute("INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, due_at) "
               "VALUES (%s, %s, 'call', now() - interval '31 days')", (lead, agent))
    assert [v[0] for v in violations(db)] == ["follow_up_overdue_unescalated"]
    result = sweep(db)
    assert result["escalated"] == 1
    assert violations(db) == []
    assert db.execute("SELECT escalated_to::text FROM crm.follow_up_escalations").fetchone() == (boss,)
    assert sweep(db)["escalated"] == 0  # idempotent


def test_a_second_sweep_at_the_same_time_changes_nothing(db: psycopg.Connection) -> None:
    new_agent(db)
    new_agent(db)
    for _ in range(3):
        capture(db)
    later = datetime.now().astimezone() + timedelta(days=40)
    first = sweep(db, later)
    again = sweep(db, later)
    assert first["reassigned_no_response"] == 3 and first["decayed"] == 3
    for key in ("escalated", "reassigned_no_response", "decayed", "queue_drained", "rebalanced", "metrics_rows"):
        assert again[key] == 0, key


async def test_only_one_sweep_runs_at_a_time(db_url: str) -> None:
    holder = await asyncpg.connect(db_url)
    other = await asyncpg.connect(db_url)
    try:
        async with holder.transaction():
            assert '"skipped": false' in await holder.fetchval("SELECT jobs.run_sweeps()::text")
            assert '"skipped": true' in await other.fetchval("SELECT jobs.run_sweeps()::text")
        assert '"skipped": false' in await other.fetchval("SELECT jobs.run_sweeps()::text")
    finally:
        await holder.close()
        await other.close()


async def test_racing_status_changes_never_both_apply(db: psycopg.Connection, db_url: str) -> None:
    new_agent(db)
    lead = lead_at(db, "negotiation")
    a, b = await asyncpg.connect(db_url), await asyncpg.connect(db_url)
    try:
        tx = a.transaction()
        await tx.start()
        await a.execute("SELECT api.update_lead($1::uuid, $2::jsonb, 'a')", lead,
                        '{"status": "converted", "deal_value": 900000}')
        racer = asyncio.create_task(b.execute("SELECT api.update_lead($1::uuid, $2::jsonb, 'b')", lead,
                                              '{"status": "lost", "lost_reason": "price"}'))
        await asyncio.sleep(0.3)
        assert not racer.done()  # waits for the lead's row lock
        await tx.commit()
        with pytest.raises(asyncpg.PostgresError) as info:
            await racer
        assert (info.value.sqlstate, info.value.constraint_name) == ("PT409", "lead_status_transition")
    finally:
        await a.close()
        await b.close()
    assert db.execute("SELECT status FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == ("converted",)


async def test_parallel_reassignments_and_captures_keep_every_agent_within_capacity(db: psycopg.Connection,
                                                                                    db_url: str) -> None:
    agents = [new_agent(db, max_active_leads=m) for m in (4, 5, 6, 8)]  # 23 slots
    leads = [capture(db)["body"]["lead_id"] for _ in range(12)]
    pool = await asyncpg.create_pool(db_url, min_size=12, max_size=12)
    expected = {"agent_full", "no_agent_available", "same_agent"}
    outcomes: list[str] = []
    try:
        async def reassign(lead: str, target: str | None) -> None:
            try:
                await pool.execute("SELECT api.reassign_lead($1::uuid, 'race', $2::uuid, 'test')", lead, target)
                outcomes.append("moved")
            except asyncpg.PostgresError as exc:
                assert exc.constraint_name in expected or exc.sqlstate == "40P01", exc
                outcomes.append(exc.constraint_name or exc.sqlstate)

        async def capture_one(i: int) -> None:
            body = {"source_type": "referral", "lead_data": {"first_name": "Par", "last_name": "Allel",
                                                             "phone": f"+97150{i:07d}"}}
            await pool.execute("SELECT api.capture_lead($1::jsonb, 'test')", json.dumps(body))
            outcomes.append("captured")

        jobs = [reassign(lead, agents[i % 4] if i % 3 else None) for i, lead in enumerate(leads * 2)]
        jobs += [capture_one(i) for i in range(20)]
        await asyncio.gather(*jobs)
    finally:
        await pool.close()
    assert outcomes.count("captured") == 20 and outcomes.count("moved") > 0
    for agent in agents:
        assert active_leads(db, agent) == real_active_leads(db, agent)
    assert db.execute("SELECT count(*) FROM crm.agents WHERE active_leads > max_active_leads").fetchone() == (0,)
    assert violations(db) == []


def test_a_replayed_history_is_stamped_when_it_happened(db: psycopg.Connection) -> None:
    """A DBA replaying history (the demo data does): api.update_lead gets each event's time as p_now, crm.set_clock
    gives it to the triggers, so the status history, closed_at and the follow-ups the close cancels carry it too."""
    new_agent(db)
    then = datetime(2025, 3, 10, 6, 30, tzinfo=UTC)
    lead = capture(db, "bayut", now=then)["body"]["lead_id"]
    contacted, lost = then + timedelta(hours=2), then + timedelta(days=10)
    with db.transaction():
        db.execute("SELECT crm.set_clock(%s)", (contacted,))
        call = {"type": "call", "outcome": "positive", "next_follow_up": (then + timedelta(days=3)).isoformat()}
        update(db, lead, {"status": "contacted", "activity": call}, contacted)
        db.execute("SELECT crm.set_clock(%s)", (lost,))
        update(db, lead, status_body("lost"), lost)
        db.execute("SELECT crm.set_clock(NULL)")
        assert db.execute("SELECT crm.clock() = now()").fetchone() == (True,)
    history = db.execute("SELECT to_status::text, changed_at FROM crm.lead_conversion_history WHERE lead_id = %s "
                         "ORDER BY history_id", (lead,)).fetchall()
    assert history == [("new", then), ("contacted", contacted), ("lost", lost)]
    assert db.execute("SELECT closed_at FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == (lost,)
    tasks = db.execute("SELECT status::text, completed_at FROM crm.follow_up_tasks WHERE lead_id = %s ORDER BY due_at",
                       (lead,)).fetchall()
    assert tasks == [("done", contacted), ("cancelled", lost)]  # the SLA follow-up done by the call, the next one
    assert violations(db) == []


def test_only_a_dba_sets_the_clock(db: psycopg.Connection, db_url: str) -> None:
    """The app's login may set crm.clock like any setting, and nothing of its own changes is dated by it."""
    agent = new_agent(db)
    lead = capture(db)["body"]["lead_id"]
    key = db.execute("SELECT api.create_api_key('agent', 'clock test', %s)", (agent,)).fetchone()
    assert key is not None
    with psycopg.connect(with_user(db_url, "thinkrealty_app")) as app, app.transaction():
        app.execute("SELECT * FROM api.begin_request(%s)", (key[0]["key"],))
        app.execute("SELECT set_config('crm.clock', '2020-01-01 00:00+00', true)")
        assert app.execute("UPDATE crm.leads SET status = 'lost', lost_reason = 'x' WHERE lead_id = %s",
                           (lead,)).rowcount == 1
    row = db.execute("SELECT h.changed_at > now() - interval '1 minute', l.closed_at > now() - interval '1 minute' "
                     "FROM crm.lead_conversion_history AS h JOIN crm.leads AS l USING (lead_id) "
                     "WHERE h.lead_id = %s AND h.to_status = 'lost'", (lead,)).fetchone()
    assert row == (True, True)
