"""The defects of the hostile pass that are database rules, driven from SQL as psql would: duplicate captures in
parallel, parallel reassignments, closing a lead directly, closed and unassigned leads, names, the follow-up
horizon, and the sweep rehearsal that must not commit the future."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.db.factories import assign, capture, db_error, ensure_agent, new_agent, new_lead, violations, walk_to


def _body(source: str, phone: str, n: int) -> dict[str, Any]:
    return {"source_type": source,
            "lead_data": {"first_name": "Race", "last_name": f"Pair{n}", "phone": phone},
            "source_details": {}}


async def _capture(url: str, body: dict[str, Any], barrier: asyncio.Barrier) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await barrier.wait()  # both captures of a pair start together, on their own connections
        raw = await conn.fetchval("SELECT api.capture_lead($1::text::jsonb, 'race')::text", json.dumps(body))
        result: dict[str, Any] = json.loads(raw)
        return result
    finally:
        await conn.close()


async def test_simultaneous_captures_of_one_client_from_two_sources_link(db: psycopg.Connection, db_url: str) -> None:
    """20 pairs, each pair one phone from bayut and propertyFinder at the same moment: exactly one of each pair is
    the original, the other links to it and goes to the same agent."""
    for _ in range(6):
        new_agent(db)
    pairs = 20
    barrier = asyncio.Barrier(2 * pairs)
    bodies = [(_body("bayut", f"+97150{n:07d}", n), _body("propertyFinder", f"+97150{n:07d}", n))
              for n in range(pairs)]
    results = await asyncio.gather(*(_capture(db_url, b, barrier) for pair in bodies for b in pair))
    for n in range(pairs):
        first, second = results[2 * n]["body"], results[2 * n + 1]["body"]
        linked = [b for b in (first, second) if b["duplicate_of"] is not None]
        assert len(linked) == 1, (first, second)
        original = second if linked[0] is first else first
        assert linked[0]["duplicate_of"]["lead_id"] == original["lead_id"]
        assert linked[0]["assigned_agent"]["agent_id"] == original["assigned_agent"]["agent_id"]
    assert violations(db) == []


async def test_parallel_reassignments_of_one_lead_each_succeed_in_turn(db: psycopg.Connection, db_url: str) -> None:
    agents = [new_agent(db) for _ in range(4)]
    lead = new_lead(db)
    assign(db, lead, agents[0])
    workers = 8
    barrier = asyncio.Barrier(workers)

    async def move(i: int) -> str:
        conn = await asyncpg.connect(db_url)
        try:
            await barrier.wait()
            return str(await conn.fetchval("SELECT api.reassign_lead($1::uuid, $2, NULL, 'race')::text",
                                           lead, f"parallel move {i}"))
        finally:
            await conn.close()

    answers = await asyncio.gather(*(move(i) for i in range(workers)), return_exceptions=True)
    assert [a for a in answers if isinstance(a, BaseException)] == []  # one after the other, none refused
    rows = db.execute("SELECT assigned_at, released_at FROM crm.lead_assignments WHERE lead_id = %s "
                      "ORDER BY assigned_at", (lead,)).fetchall()
    assert len(rows) == workers + 1 and sum(r[1] is None for r in rows) == 1
    assert all(r[1] is None or r[1] >= r[0] for r in rows)
    assert violations(db) == []


def test_closing_a_lead_in_sql_cancels_its_follow_ups(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    body = capture(db, "website")["body"]
    assert body["assigned_agent"]["agent_id"] == agent and body["follow_up"] is not None
    db.execute("UPDATE crm.leads SET status = 'lost', lost_reason = 'x' WHERE lead_id = %s", (body["lead_id"],))
    open_tasks = db.execute("SELECT count(*) FROM crm.follow_up_tasks WHERE lead_id = %s AND status = 'open'",
                            (body["lead_id"],)).fetchone()
    assert open_tasks == (0,)
    # the invariant names the case, were it ever to happen again (a trigger disabled, an old row)
    db.execute("ALTER TABLE crm.leads DISABLE TRIGGER leads_35_cancel_follow_ups")
    other = capture(db, "bayut")["body"]
    db.execute("UPDATE crm.leads SET status = 'lost', lost_reason = 'x' WHERE lead_id = %s", (other["lead_id"],))
    db.execute("ALTER TABLE crm.leads ENABLE TRIGGER leads_35_cancel_follow_ups")
    assert {v[0] for v in violations(db)} == {"closed_lead_open_follow_up"}


def test_a_closed_leads_score_is_frozen(db: psycopg.Connection) -> None:
    new_agent(db)
    lead = capture(db, "bayut", budget_max=20_000_000)["body"]["lead_id"]
    walk_to(db, lead, "negotiation")
    db.execute("UPDATE crm.leads SET status = 'converted', deal_value_aed = 2000000 WHERE lead_id = %s", (lead,))
    before = db.execute("SELECT score FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone()
    answer = db.execute("SELECT api.update_lead(%s, %s, 'test')",
                        (lead, Jsonb({"activity": {"type": "offer_made", "outcome": "positive"}}))).fetchone()
    assert answer is not None and answer[0]["changes"]["score"]["delta"] == 0
    assert db.execute("SELECT score FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == before
    with db_error("PT409", "leads_score_frozen"):  # a direct UPDATE too
        db.execute("UPDATE crm.leads SET score = 1 WHERE lead_id = %s", (lead,))


def test_a_lead_without_an_agent_does_not_move(db: psycopg.Connection) -> None:
    lead = new_lead(db)  # no agent: as a queued lead
    with db_error("PT409", "lead_unassigned"):
        db.execute("UPDATE crm.leads SET status = 'contacted' WHERE lead_id = %s", (lead,))
    with db_error("PT409", "lead_unassigned"):
        db.execute("SELECT api.update_lead(%s, '{\"status\": \"contacted\"}', 'test')", (lead,))
    ensure_agent(db, lead)
    db.execute("UPDATE crm.leads SET status = 'contacted' WHERE lead_id = %s", (lead,))


@pytest.mark.parametrize("name", ["ابن\u200cعلی", "O'Brien-Smith", "Jean (JP) 2nd", "अनुराग", "Zoë"])
def test_names_keep_what_was_typed(db: psycopg.Connection, name: str) -> None:
    lead = new_lead(db, first_name=name)
    assert db.execute("SELECT first_name FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == (name,)


@pytest.mark.parametrize("name", ["   ", "Tab\there", "Bell\x07", "C1\u0085"])
def test_names_refuse_blanks_and_control_characters(db: psycopg.Connection, name: str) -> None:
    with db_error("23514", "leads_first_name_printable"):
        new_lead(db, first_name=name)


def test_follow_ups_stay_within_the_horizon(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = new_lead(db)
    assign(db, lead, agent)
    far = datetime.now(UTC) + timedelta(days=400)
    with db_error("PT422", "follow_up_too_far"):
        db.execute("SELECT api.update_lead(%s, %s, 'test')", (lead, Jsonb(
            {"activity": {"type": "call", "next_follow_up": far.isoformat()}})))
    with db_error("PT422", "follow_up_too_far"):
        db.execute("SELECT api.update_lead(%s, %s, 'test')", (lead, Jsonb(
            {"activity": {"type": "call", "next_follow_up": "9999-12-31T23:59:00-12:00"}})))
    near = datetime.now(UTC) + timedelta(days=300)
    db.execute("SELECT api.update_lead(%s, %s, 'test')", (lead, Jsonb(
        {"activity": {"type": "call", "next_follow_up": near.isoformat()}})))


def test_a_custom_dashboard_range_stays_within_sane_dates(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    with db_error("PT422", "date_range_out_of_bounds"):
        db.execute("SELECT api.agent_dashboard(%s, 'custom', '9998-01-01', '9999-12-31')", (agent,))
    with db_error("PT422", "date_range_out_of_bounds"):
        db.execute("SELECT api.agent_dashboard(%s, 'custom', '1900-01-01', '1900-01-31')", (agent,))
    body = db.execute("SELECT api.agent_dashboard(%s, 'custom', '2026-01-01', '2026-01-31')", (agent,)).fetchone()
    assert body is not None and "infinity" not in json.dumps(body[0])


def test_a_sweep_rehearsal_commits_nothing(db: psycopg.Connection) -> None:
    """`crmctl sweep --now <a later day>` was documented as a rehearsal and wrote that day into the data."""
    new_agent(db, role="supervisor")
    new_agent(db)
    lead = capture(db, "website")["body"]["lead_id"]
    later = datetime.now(UTC) + timedelta(days=60)

    def footprint() -> tuple[Any, ...]:
        row = db.execute("""SELECT (SELECT count(*) FROM crm.follow_up_escalations),
                                   (SELECT count(*) FROM crm.lead_activities),
                                   (SELECT count(*) FROM crm.lead_assignments),
                                   (SELECT score FROM crm.leads WHERE lead_id = %s)""", (lead,)).fetchone()
        assert row is not None
        return tuple(row)

    before = footprint()
    rehearsal = db.execute("SELECT jobs.rehearse_sweeps(%s)", (later,)).fetchone()
    assert rehearsal is not None
    result = rehearsal[0]
    assert result["dry_run"] is True and result["escalated"] + result["decayed"] + result["reassigned_no_response"] > 0
    assert footprint() == before
    with db_error("PT422", "sweep_clock_ahead"):  # for real, the future is refused...
        db.execute("SELECT jobs.run_sweeps(%s)", (later,))
    assert footprint() == before
    forced = db.execute("SELECT jobs.run_sweeps(%s, true)", (later,)).fetchone()  # ...unless forced
    assert forced is not None and forced[0]["escalated"] == result["escalated"]
    assert footprint() != before
