"""The brief's LeadScoringEngine and LeadAssignmentManager: thin facades over the same SQL as the API."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import psycopg
import pytest
from pydantic import ValidationError

from api.deps import init_connection
from api.engine import LeadAssignmentManager, LeadScoringEngine
from api.errors import Problem
from tests.api.conftest import INTEGRATION_KEY, SUPERVISOR_KEY, app_url, ensure_demo_keys
from tests.db.factories import new_agent, new_lead


async def test_scoring_engine_uses_the_rules(db_url: str) -> None:
    ensure_demo_keys(db_url)
    pool = await asyncpg.create_pool(app_url(db_url), min_size=1, max_size=2, init=init_connection)
    try:
        with pytest.raises(Problem) as anonymous:  # the API's login with no key is nobody
            await LeadScoringEngine(pool).calculate_lead_score({}, {"source_type": "bayut"})
        assert (anonymous.value.status, anonymous.value.code) == (401, "api_key_missing")
        engine = LeadScoringEngine(pool, api_key=INTEGRATION_KEY)
        lead = {"nationality": "UAE", "budget_min": 800000, "budget_max": 1500000, "property_type": "apartment"}
        assert await engine.calculate_lead_score(lead, {"source_type": "bayut"}) == 80
        assert await engine.calculate_lead_score({"response_seconds": 600}, {"source_type": "website"}) == 50
        with pytest.raises(ValidationError):
            await engine.calculate_lead_score({"budget_max": -1}, {"source_type": "bayut"})
        with pytest.raises(Problem) as unknown:  # a source is a row of crm.lead_sources: the database says
            await engine.calculate_lead_score({}, {"source_type": "myspace"})
        assert (unknown.value.status, unknown.value.code) == (422, "unknown_source")
    finally:
        await pool.close()


async def test_assignment_manager_assigns_a_waiting_lead(db: psycopg.Connection, db_url: str) -> None:
    full = new_agent(db, max_active_leads=0)
    waiting = new_lead(db, queued_at=datetime.now(UTC))  # as an import or a psql user leaves it
    ensure_demo_keys(db_url)
    pool = await asyncpg.create_pool(app_url(db_url), min_size=1, max_size=2, init=init_connection)
    try:
        with pytest.raises(Problem) as anonymous:
            await LeadAssignmentManager(pool).assign_lead({"lead_id": waiting})
        assert (anonymous.value.status, anonymous.value.code) == (401, "api_key_missing")
        with pytest.raises(Problem) as integration:
            await LeadAssignmentManager(pool, api_key=INTEGRATION_KEY).assign_lead({"lead_id": waiting})
        assert (integration.value.status, integration.value.code) == (403, "forbidden")
        manager = LeadAssignmentManager(pool, api_key=SUPERVISOR_KEY)
        assert await manager.assign_lead({"lead_id": waiting}) is None  # nobody has room: stays queued
        free = new_agent(db)  # new capacity: the deferred drain assigns the waiting lead at this commit
        assert db.execute("SELECT agent_id::text FROM crm.lead_assignments WHERE lead_id = %s",
                          (waiting,)).fetchone() == (free,)
        waiting = new_lead(db, queued_at=datetime.now(UTC))  # left queued by hand, with room available
        assert await manager.assign_lead({"lead_id": waiting}) == UUID(free)
        with pytest.raises(Problem) as info:
            await manager.assign_lead({"lead_id": waiting})
        assert (info.value.status, info.value.code) == (409, "lead_already_assigned")
        assert full != free
    finally:
        await pool.close()


def one_value(url: str, query: str, *args: object) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return int(row[0])


async def test_changes_through_the_engine_run_as_the_keys_holder(seeded_db_url: str) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        ensure_demo_keys(seeded_db_url)
        row = conn.execute(
            "SELECT a.lead_id FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id) "
            "WHERE a.released_at IS NULL AND l.status NOT IN ('converted', 'lost') "
            "ORDER BY a.lead_id LIMIT 1").fetchone()
    assert row is not None
    lead: UUID = row[0]
    pool = await asyncpg.create_pool(app_url(seeded_db_url), min_size=1, max_size=2, init=init_connection)
    try:
        with pytest.raises(Problem) as anonymous:  # on the app's login, a change needs a key
            await LeadScoringEngine(pool).update_lead_score(lead, {"type": "call", "outcome": "positive"})
        assert (anonymous.value.status, anonymous.value.code) == (401, "api_key_missing")
        with pytest.raises(Problem) as integration:
            await LeadScoringEngine(pool, api_key=INTEGRATION_KEY).update_lead_score(lead, {"type": "call"})
        assert (integration.value.status, integration.value.code) == (403, "forbidden")
        before = one_value(seeded_db_url, "SELECT score FROM crm.leads WHERE lead_id = %s", lead)
        score = await LeadScoringEngine(pool, api_key=SUPERVISOR_KEY).update_lead_score(
            lead, {"type": "call", "outcome": "positive"})
        assert score == one_value(seeded_db_url, "SELECT score FROM crm.leads WHERE lead_id = %s", lead)
        # the change is the rules' (activity_positive +5, and a first contact's response-time rule), as logged
        assert score - before == one_value(seeded_db_url, "SELECT score_delta FROM crm.lead_activities "
                                                          "WHERE lead_id = %s ORDER BY created_at DESC LIMIT 1", lead)
        moved = await LeadAssignmentManager(pool, api_key=SUPERVISOR_KEY).reassign_lead(lead, "engine test")
        with psycopg.connect(seeded_db_url, autocommit=True) as conn:
            holder = conn.execute("SELECT agent_id, assigned_by FROM crm.lead_assignments "
                                  "WHERE lead_id = %s AND released_at IS NULL", (lead,)).fetchone()
        assert holder is not None and holder[0] == moved and holder[1] == "supervisor:de000004"
    finally:
        await pool.close()
