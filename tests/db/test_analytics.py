"""Analytics a sales manager can trust (issue 19): each definition of docs/analytics.md on a case built in SQL, and
the number it must give. One response time (the assignment's), calendar months, rankings with enough data, one rule
for supervisors, nulls and cut-offs that say what they mean, revenue by close date, a follow-up priority that follows
the lead, and no future in the data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from tests.db.factories import new_agent, new_lead

DUBAI = ZoneInfo("Asia/Dubai")


def rows(conn: psycopg.Connection, query: str, *args: Any) -> list[dict[str, Any]]:
    cur = conn.execute(query, args)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def one(conn: psycopg.Connection, query: str, *args: Any) -> Any:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def setting(conn: psycopg.Connection, key: str, value: Any) -> None:
    conn.execute("UPDATE crm.settings SET value = %s WHERE setting_key = %s", (Jsonb(value), key))


def lead_at(conn: psycopg.Connection, agent: str | None, created: datetime, *, source: str = "bayut",
            capture_score: int | None = None, property_type: str = "apartment") -> str:
    """A lead captured at `created` (scored by the rules, or given this capture score), assigned to `agent` at the
    same moment."""
    given = {} if capture_score is None else {
        "score": capture_score, "score_breakdown": Jsonb([{"rule": "test", "factor": "test", "points": capture_score}])}
    lead = new_lead(conn, source=source, created_at=created, property_type=property_type, **given)
    if agent:
        assign_at(conn, lead, agent, created)
    return lead


def assign_at(conn: psycopg.Connection, lead: str, agent: str, at: datetime) -> None:
    conn.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at) "
                 "VALUES (%s, %s, 'manual', %s)", (lead, agent, at))


def contact(conn: psycopg.Connection, lead: str, agent: str, at: datetime) -> None:
    conn.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome, occurred_at) "
                 "VALUES (%s, %s, 'call', 'neutral', %s)", (lead, agent, at))


NOW = datetime.now(DUBAI).replace(microsecond=0)


# --- 1. response time and first contact ------------------------------------------------------------------------

def test_the_first_contact_is_the_earliest_interaction(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = lead_at(db, agent, NOW - timedelta(days=2))
    contact(db, lead, agent, NOW - timedelta(days=1))
    contact(db, lead, agent, NOW - timedelta(days=1, hours=12))   # logged later, happened earlier
    first, seconds = db.execute("SELECT first_contacted_at, response_seconds FROM crm.leads WHERE lead_id = %s",
                                (lead,)).fetchone() or (None, None)
    assert first == NOW - timedelta(days=1, hours=12) and seconds == 12 * 3600
    assert rows(db, "SELECT * FROM reporting.invariant_violations") == []


# --- 8. no future in the data ------------------------------------------------------------------------------------

def test_invariants_catch_the_future_and_a_first_contact_that_is_not_the_first(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = lead_at(db, agent, NOW - timedelta(days=1))
    contact(db, lead, agent, NOW - timedelta(hours=20))
    contact(db, lead, agent, datetime.now(DUBAI) + timedelta(minutes=2))   # within the clock-skew allowance
    assert rows(db, "SELECT * FROM reporting.invariant_violations") == []
    contact(db, lead, agent, NOW + timedelta(days=1))
    found = {(r["rule"], r["entity"]) for r in rows(db, "SELECT * FROM reporting.invariant_violations")}
    assert found == {("business_timestamp_in_future", "activity"), ("business_timestamp_in_future", "lead")}
    other = lead_at(db, agent, NOW - timedelta(days=1))
    contact(db, other, agent, NOW - timedelta(hours=5))
    db.execute("UPDATE crm.leads SET first_contacted_at = first_contacted_at + interval '1 hour' WHERE lead_id = %s",
               (other,))   # a DBA's edit, or an import that wrote it by hand
    mismatch = rows(db, "SELECT entity_id, detail FROM reporting.invariant_violations "
                        "WHERE rule = 'first_contact_mismatch'")
    assert [m["entity_id"] for m in mismatch] == [other]
    setting(db, "future_timestamp_allowance", "2 days")
    assert {r["rule"] for r in rows(db, "SELECT rule FROM reporting.invariant_violations")} == {
        "first_contact_mismatch"}
