"""PUT /api/v1/leads/{id}/update and POST /api/v1/leads/{id}/reassign over HTTP; the sweeper and its CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import api_client, app_url, assert_problem, jobs_url
from tests.conftest import Servers

ROOT = Path(__file__).resolve().parents[2]
_phones = iter(range(2_000_000, 9_999_999))


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url) as client:
        yield client


async def new_lead(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/api/v1/leads/capture", json={
        "source_type": "website",
        "lead_data": {"first_name": "Mona", "last_name": "Update", "phone": f"+97158{next(_phones)}"}})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def one(url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
        return row[0] if row else None


async def test_the_brief_update_body(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    lead = await new_lead(http)
    listing = one(seeded_db_url, "SELECT property_id::text FROM crm.properties LIMIT 1")
    follow_up = (datetime.now(UTC) + timedelta(days=9)).replace(hour=6, minute=5, second=0, microsecond=0)
    response = await http.put(f"/api/v1/leads/{lead['lead_id']}/update", json={
        "status": "contacted",
        "activity": {"type": "call", "notes": "Lead showed interest in 2BR apartment in Marina",
                     "outcome": "positive", "next_follow_up": follow_up.isoformat()},
        "property_interests": [{"property_id": listing, "interest_level": "high"}],
    })
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["status"] == "contacted" and state["score"] == lead["lead_score"] + 15
    assert state["changes"]["status"] == {"from": "new", "to": "contacted"}
    assert datetime.fromisoformat(state["changes"]["follow_up"]["due_at"]) == follow_up
    assert state["property_interests"] == [{"property_id": listing, "interest_level": "high"}]
    assert state["assigned_agent"] == lead["assigned_agent"]


async def test_conversion_alias_and_deal_value(http: httpx.AsyncClient) -> None:
    lead = (await new_lead(http))["lead_id"]
    for step in ("contacted", "qualified", "viewing_scheduled", "negotiation"):
        assert (await http.put(f"/api/v1/leads/{lead}/update", json={"status": step})).status_code == 200
    won = await http.put(f"/api/v1/leads/{lead}/update", json={"status": "conversion", "deal_value": 2_400_000})
    assert won.status_code == 200 and won.json()["status"] == "converted" and won.json()["deal_value"] == 2400000


@pytest.mark.parametrize(("payload", "code"), [
    ({}, "validation_error"),
    ({"status": "lost"}, "validation_error"),
    ({"status": "contacted", "lost_reason": "x"}, "validation_error"),
    ({"status": "contacted", "deal_value": 5}, "validation_error"),
    ({"status": "promoted"}, "validation_error"),
    ({"activity": {"type": "dance"}}, "validation_error"),
    ({"activity": {"type": "call", "next_follow_up": "2030-01-01T10:00:00"}}, "validation_error"),
    ({"stauts": "contacted"}, "validation_error"),
    ({"property_interests": [{"property_id": "not-a-uuid", "interest_level": "high"}]}, "validation_error"),
])
async def test_bad_updates_are_422(http: httpx.AsyncClient, payload: dict[str, Any], code: str) -> None:
    lead = (await new_lead(http))["lead_id"]
    assert_problem(await http.put(f"/api/v1/leads/{lead}/update", json=payload), 422, code)


async def test_update_errors(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    lead = (await new_lead(http))["lead_id"]
    skip = assert_problem(await http.put(f"/api/v1/leads/{lead}/update", json={"status": "negotiation"}),
                          409, "lead_status_transition")
    assert (skip["from"], skip["to"]) == ("new", "negotiation")
    assert_problem(await http.put(f"/api/v1/leads/{uuid.uuid4()}/update", json={"status": "contacted"}),
                   404, "lead_not_found")
    assert_problem(await http.put("/api/v1/leads/not-a-uuid/update", json={"status": "contacted"}),
                   422, "validation_error")
    assert_problem(await http.put(f"/api/v1/leads/{lead}/update", json={"property_interests": [
        {"property_id": str(uuid.uuid4()), "interest_level": "low"}]}), 422, "unknown_property")
    at = (datetime.now(UTC) + timedelta(days=11)).replace(hour=7, minute=0, second=0, microsecond=0)
    first = await http.put(f"/api/v1/leads/{lead}/update", json={"activity": {"type": "call",
                                                                             "next_follow_up": at.isoformat()}})
    assert first.status_code == 200
    second = await new_lead(http)
    other, agent = second["lead_id"], first.json()["assigned_agent"]["agent_id"]
    if second["assigned_agent"]["agent_id"] != agent:  # by day the next lead goes to the next agent; at night (when
        # every agent's day starts at the same hour) both go to the one whose availability starts first
        one(seeded_db_url, "SELECT api.reassign_lead(%s, 'same desk', %s, 'test')", other, agent)
    conflict = assert_problem(await http.put(f"/api/v1/leads/{other}/update", json={
        "activity": {"type": "call", "next_follow_up": (at + timedelta(minutes=15)).isoformat()}}),
        409, "follow_up_conflict")
    assert datetime.fromisoformat(conflict["next_free_slot"]) == at + timedelta(minutes=30)


async def test_reassign_endpoint(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    lead = await new_lead(http)
    current = lead["assigned_agent"]["agent_id"]
    target = one(seeded_db_url, "SELECT agent_id::text FROM crm.agents WHERE is_active AND role = 'agent' "
                                "AND active_leads < max_active_leads AND agent_id <> %s LIMIT 1", current)
    inactive = one(seeded_db_url, "SELECT agent_id::text FROM crm.agents WHERE NOT is_active LIMIT 1")
    url = f"/api/v1/leads/{lead['lead_id']}/reassign"
    assert_problem(await http.post(url, json={"reason": "x", "new_agent_id": inactive}), 409, "agent_inactive")
    assert_problem(await http.post(url, json={"reason": "x", "new_agent_id": str(uuid.uuid4())}),
                   404, "agent_not_found")
    assert_problem(await http.post(url, json={}), 422, "validation_error")
    moved = await http.post(url, json={"reason": "Client asked for another agent", "new_agent_id": target})
    assert moved.status_code == 200, moved.text
    assert moved.json()["assigned_agent"]["agent_id"] == target
    assert moved.json()["reassignment"]["from_agent_id"] == current
    auto = await http.post(url, json={"reason": "Agent on leave"})
    assert auto.status_code == 200 and auto.json()["assigned_agent"]["agent_id"] != target
    assert one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0


async def test_background_sweeper_escalates(seeded_db_url: str, servers: Servers) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, due_at)
                        SELECT a.lead_id, a.agent_id, 'call', now() - interval '45 days'
                          FROM crm.lead_assignments a JOIN crm.leads l USING (lead_id)
                         WHERE a.released_at IS NULL AND l.status = 'qualified' LIMIT 1""")
    assert one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 1
    async with api_client(seeded_db_url, servers.redis_url, sweep_interval_s=0.2):
        for _ in range(50):
            await asyncio.sleep(0.2)
            if one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0:
                break
    assert one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0


def test_sweep_command(seeded_db_url: str) -> None:
    """`--now` rehearses (reports, changes nothing); `--commit` sweeps at that clock only within the tolerance,
    `--force` past it."""
    env = dict(os.environ, DATABASE_URL=app_url(seeded_db_url),
               JOBS_DATABASE_URL=jobs_url(seeded_db_url))
    later = (datetime.now(UTC) + timedelta(days=40)).isoformat()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crmctl", "sweep", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    def footprint() -> Any:
        return one(seeded_db_url, "SELECT (SELECT count(*) FROM crm.lead_activities) + "
                                  "(SELECT count(*) FROM crm.follow_up_escalations)")

    before = footprint()
    rehearsal = run("--now", later)
    assert rehearsal.returncode == 0, rehearsal.stderr
    result = json.loads(rehearsal.stdout)
    assert result["dry_run"] is True and result["skipped"] is False and result["decayed"] > 0
    assert footprint() == before
    refused = run("--now", later, "--commit")
    assert refused.returncode == 1 and "future" in refused.stderr
    assert footprint() == before
    forced = run("--now", later, "--commit", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["decayed"] == result["decayed"] and footprint() > before
    assert run("--force").returncode == 2  # --force goes with --now
