"""Offers over HTTP and on the real clock: the offer timer of the app moves an offer its agent did not accept within a
2-second SLA to the next agent within 5 s of its deadline; accept, decline, claim and the pond answer their errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import psycopg

from tests.api.conftest import INTEGRATION_KEY, OMAR_KEY, SUPERVISOR_KEY, api_client, assert_problem
from tests.conftest import Servers

AROUND_THE_CLOCK = ("INSERT INTO crm.agent_working_hours (agent_id, isodow, starts, ends) "
                    "SELECT g.agent_id, d, '00:00', '24:00' FROM crm.agents g, generate_series(1, 7) d "
                    "WHERE g.is_active ON CONFLICT DO NOTHING")


def body(n: int) -> dict[str, Any]:
    return {"source_type": "website", "lead_data": {"first_name": "Clock", "last_name": f"Test{n}",
                                                    "phone": f"+97154{n:07d}", "property_type": "apartment"}}


async def test_the_timer_moves_an_unanswered_offer_within_5_s(seeded_db_url: str, servers: Servers) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as owner:
        owner.execute(AROUND_THE_CLOCK)
        owner.execute("UPDATE crm.settings SET value = '\"2 seconds\"' WHERE setting_key = 'first_response_sla'")
    async with api_client(seeded_db_url, servers.redis_url, offer_timer=True) as http:
        captured = await http.post("/api/v1/leads/capture", json=body(1), headers={"X-API-Key": INTEGRATION_KEY})
        assert captured.status_code == 201, captured.text
        lead, first = captured.json()["lead_id"], captured.json()["assigned_agent"]["agent_id"]
        deadline = time.monotonic() + 15
        moved: Any = None
        while moved is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            with psycopg.connect(seeded_db_url, autocommit=True) as owner:
                moved = owner.execute(
                    "SELECT o.released_at - o.respond_by, n.agent_id::text, n.offer_round FROM crm.lead_assignments o "
                    "JOIN crm.lead_assignments n ON n.lead_id = o.lead_id AND n.released_at IS NULL "
                    "WHERE o.lead_id = %s AND o.offer_round = 1 AND o.release_reason = 'offer_expired'",
                    (lead,)).fetchone()
    assert moved is not None, "the offer was not moved"
    lag, second, round_ = moved
    assert dt.timedelta(0) <= lag < dt.timedelta(seconds=5), lag   # acted on within 5 s of respond_by
    assert second != first and round_ == 2


async def test_accept_decline_claim_and_their_errors(seeded_db_url: str, servers: Servers) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as owner:
        owner.execute(AROUND_THE_CLOCK)
    async with api_client(seeded_db_url, servers.redis_url) as http:
        lead = (await http.post("/api/v1/leads/capture", json=body(2))).json()["lead_id"]
        assert (await http.post(f"/api/v1/leads/{lead}/accept")).status_code == 200
        assert_problem(await http.post(f"/api/v1/leads/{lead}/accept"), 409, "no_open_offer")
        assert_problem(await http.post(f"/api/v1/leads/{lead}/decline", json={}), 409, "no_open_offer")
        assert_problem(await http.post(f"/api/v1/leads/{lead}/claim", headers={"X-API-Key": OMAR_KEY}), 409,
                       "lead_already_claimed")
        assert_problem(await http.post(f"/api/v1/leads/{lead}/claim", headers={"X-API-Key": SUPERVISOR_KEY}), 403,
                       "forbidden")
        missing = "/api/v1/leads/00000000-0000-4000-8000-000000000000"
        assert_problem(await http.post(f"{missing}/accept"), 404, "lead_not_found")
        assert_problem(await http.post(f"/api/v1/leads/{lead}/decline", json={"reason": ""}), 422,
                       "validation_error")
        assert_problem(await http.get("/api/v1/leads/pond", headers={"X-API-Key": INTEGRATION_KEY}), 403,
                       "forbidden")
