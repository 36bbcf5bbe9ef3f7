"""Direct-SQL builders for tests: rows written the way a psql user would write them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

_counter = itertools.count(1)


def new_agent(conn: psycopg.Connection, *, max_active_leads: int = 50, is_active: bool = True,
              role: str = "agent", performance: float = 50, languages: tuple[str, ...] = (),
              property_types: tuple[str, ...] = (), areas: tuple[str, ...] = ()) -> str:
    n = next(_counter)
    row = conn.execute(
        """INSERT INTO crm.agents (full_name, email, phone, max_active_leads, is_active, role, performance_score)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING agent_id::text""",
        (f"Agent {n}", f"agent{n}.{id(conn)}@thinkrealty.ae", f"+97150{n:07d}", max_active_leads, is_active, role,
         performance),
    ).fetchone()
    assert row is not None
    agent = str(row[0])
    for language in languages:
        conn.execute("INSERT INTO crm.agent_languages (agent_id, language) VALUES (%s, %s)", (agent, language))
    for property_type in property_types:
        conn.execute("INSERT INTO crm.agent_property_types (agent_id, property_type) VALUES (%s, %s)",
                     (agent, property_type))
    for area in areas:
        conn.execute("INSERT INTO crm.agent_areas (agent_id, area_code) VALUES (%s, %s)", (agent, area))
    return agent


def capture(conn: psycopg.Connection, source: str = "website", *, phone: str | None = None,
            details: dict[str, Any] | None = None, key: str | None = None, now: Any = None,
            suggest: int | None = None, accept: bool = True, **lead: Any) -> dict[str, Any]:
    """api.capture_lead as the API calls it (body already normalised; `suggest` listings asked in the same
    transaction); returns {"status", "replayed", "body"}. `accept`: the agent accepts the offer as it is made (as a
    first call would), so a test of another rule, on a clock of its own, meets no overdue offer; the tests of offers
    pass False."""
    n = next(_counter)
    body = {
        "source_type": source,
        "lead_data": {"first_name": "Sara", "last_name": f"Capture{n}", "phone": phone or f"+97156{n:07d}", **lead},
        "source_details": details or {},
    }
    row = conn.execute(
        "SELECT api.capture_lead(%s, 'test', %s, NULL, %s, %s)", (Jsonb(body), key, now, suggest)
    ).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    if accept and result["body"].get("lead_id"):
        conn.execute("UPDATE crm.lead_assignments SET accepted_at = assigned_at "
                     "WHERE lead_id = %s AND released_at IS NULL AND accepted_at IS NULL", (result["body"]["lead_id"],))
    return result


SCORE_INPUTS = ("source_type", "budget_min", "budget_max", "nationality", "property_type", "referrer_agent_id")


def new_lead(conn: psycopg.Connection, *, source: str = "bayut", phone: str | None = None, **cols: Any) -> str:
    """A lead inserted directly, as a careful psql user would: scored by the rules (crm.capture_score) unless `score`
    is given, so that it keeps the invariant capture_score_mismatch."""
    n = next(_counter)
    values: dict[str, Any] = {
        "source_type": source,
        "first_name": "Ahmed",
        "last_name": f"Test{n}",
        "phone": phone or f"+97155{n:07d}",
    }
    values.update(cols)
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    query, args = f"INSERT INTO crm.leads ({names}) VALUES ({marks}) RETURNING lead_id::text", tuple(values.values())
    if "score" not in values:
        inputs = Jsonb({k: values[k] for k in SCORE_INPUTS if k in values})
        query = (f"INSERT INTO crm.leads ({names}, score, score_breakdown) "
                 f"SELECT {marks}, (s.v ->> 'score')::smallint, s.v -> 'breakdown' "
                 "FROM (SELECT crm.capture_score(jsonb_populate_record(NULL::crm.leads, %s)) AS v) AS s "
                 "RETURNING lead_id::text")
        args = (*values.values(), inputs)
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return str(row[0])


def on_shift_always(conn: psycopg.Connection, agent_id: str) -> str:
    """The agent works every day 00:00-24:00 (crm.agent_working_hours): available whenever the test runs, so routing
    and offers take the day's path whatever the hour."""
    conn.execute("INSERT INTO crm.agent_working_hours (agent_id, isodow, starts, ends) "
                 "SELECT %s, d, '00:00', '24:00' FROM generate_series(1, 7) AS d", (agent_id,))
    return agent_id


def assign(conn: psycopg.Connection, lead_id: str, agent_id: str, kind: str = "manual") -> str:
    row = conn.execute(
        "INSERT INTO crm.lead_assignments (lead_id, agent_id, kind) VALUES (%s, %s, %s) RETURNING assignment_id::text",
        (lead_id, agent_id, kind),
    ).fetchone()
    assert row is not None
    return str(row[0])


def release(conn: psycopg.Connection, lead_id: str, reason: str = "test") -> None:
    conn.execute(
        "UPDATE crm.lead_assignments SET released_at = now(), release_reason = %s "
        "WHERE lead_id = %s AND released_at IS NULL",
        (reason, lead_id),
    )


def active_leads(conn: psycopg.Connection, agent_id: str) -> int:
    row = conn.execute("SELECT active_leads FROM crm.agents WHERE agent_id = %s", (agent_id,)).fetchone()
    assert row is not None
    return int(row[0])


def real_active_leads(conn: psycopg.Connection, agent_id: str) -> int:
    row = conn.execute(
        """SELECT count(*) FROM crm.lead_assignments a JOIN crm.leads l USING (lead_id)
            WHERE a.agent_id = %s AND a.released_at IS NULL AND l.status NOT IN ('converted', 'lost')""",
        (agent_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def violations(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT rule, entity_id, detail FROM reporting.invariant_violations").fetchall()


PIPELINE = ["new", "contacted", "qualified", "viewing_scheduled", "negotiation", "converted"]


def ensure_agent(conn: psycopg.Connection, lead_id: str) -> None:
    """Give the lead an agent (a new one) unless it has one: a lead without an agent does not move
    (lead_unassigned)."""
    row = conn.execute("SELECT 1 FROM crm.lead_assignments WHERE lead_id = %s AND released_at IS NULL",
                       (lead_id,)).fetchone()
    if row is None:
        assign(conn, lead_id, new_agent(conn))


def walk_to(conn: psycopg.Connection, lead_id: str, status: str) -> None:
    """Move a lead along the legal path to `status` (with an agent, given one if it has none)."""
    ensure_agent(conn, lead_id)
    if status == "lost":
        conn.execute("UPDATE crm.leads SET status = 'lost', lost_reason = 'test' WHERE lead_id = %s", (lead_id,))
        return
    for step in PIPELINE[1 : PIPELINE.index(status) + 1]:
        conn.execute("UPDATE crm.leads SET status = %s WHERE lead_id = %s", (step, lead_id))


@contextmanager
def db_error(sqlstate: str, name: str) -> Iterator[None]:
    """The block must fail with this SQLSTATE and this constraint / error name."""
    with pytest.raises(psycopg.Error) as info:
        yield
    assert info.value.sqlstate == sqlstate, info.value
    assert info.value.diag.constraint_name == name, info.value
