"""Agent availability (28_crm_availability.sql) as psql meets it: working hours, absences and the pause decide who
routing may give a lead to, by day and at night, and a paused or absent agent never receives one."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import psycopg

from tests.db.factories import assign, capture, db_error, new_agent, new_lead, on_shift_always, violations

TUESDAY_10 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)     # Tuesday 10:00 in Dubai: the office is open
TUESDAY_23 = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)    # Tuesday 23:00 in Dubai: closed until 09:00
WEDNESDAY_09 = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)   # Wednesday 09:00 in Dubai


def available(db: psycopg.Connection, agent: str, at: datetime) -> bool:
    row = db.execute("SELECT crm.agent_available_at(%s, %s)", (agent, at)).fetchone()
    assert row is not None
    return bool(row[0])


def hours(db: psycopg.Connection, agent: str, *ranges: tuple[int, str, str]) -> None:
    for day, starts, ends in ranges:
        db.execute("INSERT INTO crm.agent_working_hours (agent_id, isodow, starts, ends) VALUES (%s, %s, %s, %s)",
                   (agent, day, starts, ends))


def absent(db: psycopg.Connection, agent: str, starts: datetime, ends: datetime, reason: str = "leave") -> None:
    db.execute("INSERT INTO crm.agent_absences (agent_id, period, reason) VALUES (%s, tstzrange(%s, %s), %s)",
               (agent, starts, ends, reason))


def captured_agent(db: psycopg.Connection, at: datetime, **lead: Any) -> tuple[str | None, dict[str, Any]]:
    body = capture(db, "website", now=at, **lead)["body"]
    decision = db.execute("SELECT assignment_decision FROM crm.leads WHERE lead_id = %s",
                          (body["lead_id"],)).fetchone()
    assert decision is not None
    return (body["assigned_agent"] or {}).get("agent_id"), decision[0]


def test_office_hours_own_hours_absences_and_the_pause(db: psycopg.Connection) -> None:
    office = new_agent(db)
    evening = new_agent(db)
    hours(db, evening, (2, "16:00", "24:00"), (3, "00:00", "02:00"))
    assert available(db, office, TUESDAY_10) and not available(db, office, TUESDAY_23)
    assert not available(db, evening, TUESDAY_10) and available(db, evening, TUESDAY_23)
    assert available(db, evening, datetime(2026, 12, 1, 21, 30, tzinfo=UTC))  # Wednesday 01:30
    absent(db, office, TUESDAY_10 - timedelta(hours=1), TUESDAY_10 + timedelta(days=1))
    assert not available(db, office, TUESDAY_10)
    db.execute("UPDATE crm.agents SET paused_until = %s WHERE agent_id = %s",
               (TUESDAY_23 + timedelta(hours=1), evening))
    assert not available(db, evening, TUESDAY_23)
    assert available(db, evening, TUESDAY_23 + timedelta(hours=1))
    # when each becomes available, and why not now
    state = db.execute("SELECT crm.agent_availability(%s, %s)", (office, TUESDAY_10)).fetchone()
    assert state is not None
    assert (state[0]["available_now"], state[0]["reason"]) == (False, "absent")
    assert datetime.fromisoformat(state[0]["available_from"]) == TUESDAY_10 + timedelta(days=1)
    start = db.execute("SELECT crm.agent_available_from(g, %s) FROM crm.agents g WHERE agent_id = %s",
                       (TUESDAY_23, office)).fetchone()
    assert start == (TUESDAY_10 + timedelta(days=1),)   # the absence ends Wednesday 10:00, on shift
    assert violations(db) == []


def test_routing_takes_only_available_agents_by_day(db: psycopg.Connection) -> None:
    paused, away, off, free = (new_agent(db, performance=p) for p in (99, 98, 97, 10))
    db.execute("UPDATE crm.agents SET paused_until = %s WHERE agent_id = %s", (TUESDAY_10 + timedelta(hours=2), paused))
    absent(db, away, TUESDAY_10 - timedelta(days=1), TUESDAY_10 + timedelta(days=3))
    hours(db, off, (1, "09:00", "10:00"))
    for _ in range(3):
        agent, decision = captured_agent(db, TUESDAY_10)
        assert agent == free and decision["available_now"] is True
    assert violations(db) == []


def test_at_night_the_agent_whose_shift_starts_first_gets_the_lead(db: psycopg.Connection) -> None:
    best, early_bird, paused = (new_agent(db, performance=p) for p in (99, 10, 95))
    hours(db, early_bird, (3, "06:00", "14:00"))   # Wednesday from 06:00, before the office opens
    db.execute("UPDATE crm.agents SET paused_until = %s WHERE agent_id = %s", (TUESDAY_23 + timedelta(hours=2), paused))
    agent, decision = captured_agent(db, TUESDAY_23)
    assert agent == early_bird and decision["available_now"] is False
    assert decision["available_from"] == (WEDNESDAY_09 - timedelta(hours=3)).isoformat()
    db.execute("DELETE FROM crm.agent_working_hours WHERE agent_id = %s", (early_bird,))
    agent, decision = captured_agent(db, TUESDAY_23)   # all on office hours: the best ranked, from 09:00
    assert agent == best and decision["available_from"] == WEDNESDAY_09.isoformat()
    assert paused not in (agent,)


def test_a_duplicate_never_goes_to_its_paused_or_absent_agent(db: psycopg.Connection) -> None:
    first_agent, other = new_agent(db, performance=99), new_agent(db, performance=10)
    first = capture(db, "bayut", phone="+971501110000", now=TUESDAY_10)["body"]
    assert first["assigned_agent"]["agent_id"] == first_agent
    db.execute("UPDATE crm.agents SET paused_until = %s WHERE agent_id = %s",
               (TUESDAY_10 + timedelta(hours=1), first_agent))
    second = capture(db, "website", phone="+971501110000", now=TUESDAY_10 + timedelta(minutes=5))["body"]
    assert second["duplicate_of"]["lead_id"] == first["lead_id"]   # the link is kept
    assert second["assigned_agent"]["agent_id"] == other
    # at night the duplicate waits for its own agent (off shift, not away)
    db.execute("UPDATE crm.agents SET paused_until = NULL WHERE agent_id = %s", (first_agent,))
    third = capture(db, "dubizzle", phone="+971501110000", now=TUESDAY_23)["body"]
    assert third["assigned_agent"]["agent_id"] == first_agent


def test_no_open_assignment_for_a_paused_or_absent_agent_even_in_psql(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    db.execute("UPDATE crm.agents SET paused_until = now() + interval '1 hour' WHERE agent_id = %s", (agent,))
    with db_error("PT409", "agent_unavailable"):
        assign(db, new_lead(db), agent)
    db.execute("UPDATE crm.agents SET paused_until = NULL WHERE agent_id = %s", (agent,))
    absent(db, agent, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(days=1), "sick")
    with db_error("PT409", "agent_unavailable"):
        assign(db, new_lead(db), agent)
    with db_error("PT409", "agents_availability_derived"):
        db.execute("UPDATE crm.agents SET absent = '{}' WHERE agent_id = %s", (agent,))
    with db_error("23P01", "agent_absences_no_overlap"):
        absent(db, agent, datetime.now(UTC), datetime.now(UTC) + timedelta(hours=2))
    with db_error("23P01", "agent_working_hours_no_overlap"):
        hours(db, agent, (1, "09:00", "13:00"), (1, "12:00", "18:00"))
    with db_error("23514", "agent_working_hours_order"):
        hours(db, agent, (2, "18:00", "09:00"))


async def test_parallel_captures_reach_only_the_available_agents(db: psycopg.Connection, db_url: str) -> None:
    """100 captures at once, 3 agents available and 10 not (paused, absent, off shift): every lead goes to one of
    the three, none beyond their capacity."""
    available_agents = [new_agent(db, performance=10, max_active_leads=40) for _ in range(3)]
    unavailable = [new_agent(db, performance=90) for _ in range(10)]
    for i, agent in enumerate(unavailable):
        if i < 4:
            db.execute("UPDATE crm.agents SET paused_until = now() + interval '1 hour' WHERE agent_id = %s", (agent,))
        elif i < 7:
            absent(db, agent, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(days=1))
        else:
            hours(db, agent, (1, "00:00", "00:01"))   # effectively never on shift
    for agent in available_agents:   # on shift whenever the test runs
        on_shift_always(db, agent)

    async def worker(w: int) -> None:   # 20 connections at once, 5 captures each
        conn = await asyncpg.connect(db_url)
        try:
            for k in range(5):
                i = w * 5 + k
                body = {"source_type": "website", "source_details": {},
                        "lead_data": {"first_name": "Par", "last_name": f"Allel{i}", "phone": f"+97155{i:07d}"}}
                await conn.fetchval("SELECT api.capture_lead($1::jsonb, 'test')::text", json.dumps(body))
        finally:
            await conn.close()

    await asyncio.gather(*(worker(w) for w in range(20)))
    # 20 connections on 3 agents: a capture that finds all three locked for longer than its polling (about 1.4 s,
    # on a slow disk) stores the lead queued, never with an unavailable agent; the drain hands it on
    unassigned = db.execute("SELECT count(*) FILTER (WHERE queued_at IS NOT NULL), count(*) FROM crm.leads l "
                            "WHERE l.first_name = 'Par' AND NOT EXISTS "
                            "(SELECT 1 FROM crm.lead_assignments a WHERE a.lead_id = l.lead_id)").fetchone()
    assert unassigned is not None and unassigned[0] == unassigned[1]
    db.execute("SELECT crm.drain_assignment_queue(100, now())")
    rows = db.execute("SELECT a.agent_id::text, count(*) FROM crm.lead_assignments a JOIN crm.leads l USING (lead_id) "
                      "WHERE l.first_name = 'Par' GROUP BY 1").fetchall()
    assert {agent for agent, _ in rows} <= set(available_agents)
    assert sum(n for _, n in rows) == 100
    assert violations(db) == []
