"""Probes and the problem+json error contract."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from api.errors import from_postgres
from api.main import create_app
from crmctl import database
from devservers.ports import free_port
from tests.api.conftest import api_client, app_url, assert_problem, ensure_demo_keys, make_settings
from tests.conftest import Servers


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["redis"] == "ok"
    assert body["database"]["server_version"] >= 150000 and body["database"]["agents"] >= 12


async def test_every_response_carries_a_request_id_and_its_server_time(client: httpx.AsyncClient) -> None:
    own = await client.get("/health", headers={"X-Request-ID": "req-123"})
    assert own.headers["x-request-id"] == "req-123"
    fresh = await client.get("/health")
    assert len(fresh.headers["x-request-id"]) == 32
    name, duration = fresh.headers["server-timing"].split(";dur=")
    assert name == "app" and float(duration) >= 0
    missing = await client.get("/no/such/route")
    assert missing.status_code == 404 and "server-timing" in missing.headers


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/nope"), 404, "not_found")
    assert body["instance"] == "/nope" and body["request_id"]
    assert_problem(await client.post("/health"), 405, "method_not_allowed")


async def test_ready_is_degraded_not_down_when_redis_is_down(seeded_db_url: str) -> None:
    """Redis is only the dashboard cache: without it every request still succeeds, so the API is ready."""
    dead_redis = f"redis://127.0.0.1:{free_port()}/1"
    app = create_app(make_settings(app_url(seeded_db_url), dead_redis))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            ready = await http.get("/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["redis"] == "degraded" and ready.json()["status"] == "degraded"
            assert (await http.get("/health")).status_code == 200


async def test_ready_is_503_when_the_database_is_down(servers: Servers) -> None:
    dead_pg = f"postgresql://thinkrealty_app@127.0.0.1:{free_port()}/nowhere"
    app = create_app(make_settings(dead_pg, servers.redis_url))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            response = await http.get("/ready")
            body = assert_problem(response, 503, "not_ready")
            assert body["failed"] == ["database"] and response.headers["retry-after"]


@pytest.mark.parametrize(
    ("statement", "status", "code"),
    [
        ("UPDATE crm.leads SET status = 'converted'", 409, "lead_unassigned"),  # (the test's lead has no agent)
        ("UPDATE crm.leads SET score = 101", 422, "leads_score_range"),
        ("INSERT INTO crm.leads (source_type, first_name, last_name, phone) "
         "SELECT source_type, 'A', 'B', phone FROM crm.leads LIMIT 1", 409, "leads_source_phone_key"),
        ("INSERT INTO crm.leads (source_type, first_name, last_name, phone) "
         "VALUES ('myspace', 'A', 'B', '+971501112233')", 422, "leads_source_type_fkey"),
        ("DELETE FROM crm.lead_activities", 409, "lead_activities_append_only"),
        ("SELECT 'x'::uuid", 422, "invalid_value"),
    ],
)
async def test_database_errors_map_to_statuses_and_names(db_url: str, statement: str, status: int,
                                                         code: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        lead = await conn.fetchval("INSERT INTO crm.leads (source_type, first_name, last_name, phone) "
                                   "VALUES ('bayut', 'Fatima', 'Hassan', '+971501234567') RETURNING lead_id")
        await conn.execute("INSERT INTO crm.lead_activities (lead_id, activity_type) VALUES ($1, 'note')", lead)
        with pytest.raises(asyncpg.PostgresError) as info:
            await conn.execute(statement)
    finally:
        await conn.close()
    problem = from_postgres(info.value)
    assert (problem.status, problem.code) == (status, code)


async def test_capacity_check_is_a_conflict_not_bad_input(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        agent = await conn.fetchval("INSERT INTO crm.agents (full_name, email, phone, max_active_leads) "
                                    "VALUES ('Full', 'full@t.ae', '+971509999999', 0) RETURNING agent_id")
        lead = await conn.fetchval("INSERT INTO crm.leads (source_type, first_name, last_name, phone) "
                                   "VALUES ('website', 'A', 'B', '+971501112299') RETURNING lead_id")
        with pytest.raises(asyncpg.PostgresError) as info:
            await conn.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind) VALUES ($1, $2, 'manual')",
                               lead, agent)
    finally:
        await conn.close()
    problem = from_postgres(info.value)
    assert (problem.status, problem.code) == (409, "agents_capacity")


async def test_a_rolled_back_database_is_a_clear_503(servers: Servers) -> None:
    name = servers.create_database()
    url = servers.url(name)
    try:
        database.migrate(url)
        ensure_demo_keys(url)
        database.rollback(url, "0012")
        async with api_client(url, servers.redis_url, demo_keys=False) as http:
            ready = await http.get("/ready")
            assert ready.status_code == 503 and ready.json()["code"] == "not_ready"
            assert "migrate" in ready.json()["detail"]
            capture = await http.post("/api/v1/leads/capture", json={
                "source_type": "bayut", "lead_data": {"first_name": "A", "last_name": "B", "phone": "+971501234567"}})
            assert_problem(capture, 503, "function_layer_missing")
    finally:
        servers.drop_database(name)
