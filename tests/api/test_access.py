"""Access control over HTTP: every role against every endpoint, keys in both headers, revocation at once, and
the hardening of every request (body size, content type, CORS, request ids)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from api.auth import ENDPOINT_ROLES
from tests.api.conftest import (
    ADMIN_KEY,
    INTEGRATION_KEY,
    OMAR_KEY,
    PRIYA_KEY,
    SUPERVISOR_KEY,
    api_client,
    assert_problem,
)
from tests.conftest import Servers

OMAR = "md5('agent-omar.haddad')::uuid"
KEYS = {"none": None, "integration": INTEGRATION_KEY, "agent": OMAR_KEY, "other_agent": PRIYA_KEY,
        "supervisor": SUPERVISOR_KEY, "admin": ADMIN_KEY}
_phones = itertools.count(1_000_000)


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url, api_key=None) as client:
        yield client


def one(url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
        return row[0] if row else None


def omars_open_lead(url: str, offset: int = 0) -> str:
    lead: str = one(url, f"""
        SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
         WHERE a.agent_id = {OMAR} AND a.released_at IS NULL AND l.status NOT IN ('converted', 'lost')
         ORDER BY a.lead_id OFFSET %s LIMIT 1""", offset)
    assert lead
    return lead


def as_(who: str) -> dict[str, str]:
    key = KEYS[who]
    return {"X-API-Key": key} if key else {}


def capture_body() -> dict[str, Any]:
    return {"source_type": "website",
            "lead_data": {"first_name": "Rana", "last_name": "Access", "phone": f"+97155{next(_phones)}"}}


# role -> expected status of each endpoint (a lead and a dashboard of the agent Omar Haddad)
MATRIX: dict[str, dict[str, int]] = {
    "none":        {"capture": 401, "update": 401, "dashboard": 401, "reassign": 401, "analytics": 401, "dead": 401},
    "integration": {"capture": 201, "update": 403, "dashboard": 403, "reassign": 403, "analytics": 403, "dead": 403},
    "agent":       {"capture": 403, "update": 200, "dashboard": 200, "reassign": 403, "analytics": 403, "dead": 403},
    "other_agent": {"capture": 403, "update": 404, "dashboard": 403, "reassign": 403, "analytics": 403, "dead": 403},
    "supervisor":  {"capture": 201, "update": 200, "dashboard": 200, "reassign": 200, "analytics": 200, "dead": 200},
    "admin":       {"capture": 201, "update": 200, "dashboard": 200, "reassign": 200, "analytics": 200, "dead": 200},
}
CODES = {401: "api_key_missing", 403: "forbidden", 404: "lead_not_found"}


@pytest.mark.parametrize("who", list(MATRIX))
async def test_every_role_against_every_endpoint(http: httpx.AsyncClient, seeded_db_url: str, who: str) -> None:
    expected = MATRIX[who]
    headers = as_(who)
    reassign_lead = omars_open_lead(seeded_db_url, offset=list(MATRIX).index(who) + 1)
    answers = {
        "capture": await http.post("/api/v1/leads/capture", json=capture_body(), headers=headers),
        "update": await http.put(f"/api/v1/leads/{omars_open_lead(seeded_db_url)}/update",
                                 json={"activity": {"type": "email", "notes": f"matrix: {who}"}}, headers=headers),
        "dashboard": await http.get(f"/api/v1/agents/{one(seeded_db_url, f'SELECT {OMAR}::text')}/dashboard",
                                    headers=headers),
        "reassign": await http.post(f"/api/v1/leads/{reassign_lead}/reassign", json={"reason": f"matrix: {who}"},
                                    headers=headers),
        "analytics": await http.get("/api/v1/analytics/conversion-by-source", headers=headers),
        "dead": await http.get("/api/v1/leads/capture/dead-letters", headers=headers),
    }
    for endpoint, response in answers.items():
        status = expected[endpoint]
        if status >= 400:
            problem = assert_problem(response, status, CODES[status])
            if status == 401:
                assert "ApiKey" in response.headers["www-authenticate"]
            assert endpoint and problem["request_id"] == response.headers["x-request-id"]
        else:
            assert response.status_code == status, (who, endpoint, response.text)


async def test_a_cached_dashboard_is_still_refused_to_another_agent(http: httpx.AsyncClient,
                                                                    seeded_db_url: str) -> None:
    url = f"/api/v1/agents/{one(seeded_db_url, f'SELECT {OMAR}::text')}/dashboard"
    for _ in range(40):  # the listener flushes the cache when it connects: wait for an answer to stay cached
        if (await http.get(url, headers=as_("agent"))).headers["x-cache"] == "hit":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the dashboard was never cached")
    assert_problem(await http.get(url, headers=as_("other_agent")), 403, "forbidden")
    assert_problem(await http.get(url, headers=as_("integration")), 403, "forbidden")
    assert_problem(await http.get(url), 401, "api_key_missing")


async def test_bearer_unknown_and_malformed_keys(http: httpx.AsyncClient) -> None:
    bearer = await http.get("/api/v1/analytics", headers={"Authorization": f"Bearer {SUPERVISOR_KEY}"})
    assert bearer.status_code == 200
    for bad in ("trk_de000004_demo-supervisor-but-wrong", "trk_zzzzzzzz_x", "nonsense", "x" * 500):
        assert_problem(await http.get("/api/v1/analytics", headers={"X-API-Key": bad}), 401, "api_key_invalid")
    assert_problem(await http.get("/api/v1/analytics", headers={"Authorization": "Basic abc"}), 401,
                   "api_key_missing")


async def test_an_unauthenticated_capture_keeps_nothing(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    before = one(seeded_db_url, "SELECT count(*) FROM crm.capture_dead_letters")
    assert_problem(await http.post("/api/v1/leads/capture", json={"source_type": "nope"}), 401, "api_key_missing")
    assert_problem(await http.post("/api/v1/leads/capture", json={"source_type": "nope"},
                                   headers={"X-API-Key": "trk_00000000_unknown"}), 401, "api_key_invalid")
    assert_problem(await http.post("/api/v1/leads/capture", json={"source_type": "nope"}, headers=as_("agent")),
                   403, "forbidden")
    assert one(seeded_db_url, "SELECT count(*) FROM crm.capture_dead_letters") == before
    # an integration key's bad capture is still kept, as before
    kept = assert_problem(await http.post("/api/v1/leads/capture", json={"source_type": "nope"},
                                          headers=as_("integration")), 422, "validation_error")
    assert kept["dead_letter_id"]


async def test_a_revoked_key_stops_at_once(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    created = one(seeded_db_url, "SELECT api.create_api_key('supervisor', 'revocation test')")
    key = created["key"]
    assert key.startswith(f"trk_{created['prefix']}_")
    assert (await http.get("/api/v1/analytics", headers={"X-API-Key": key})).status_code == 200
    one(seeded_db_url, "SELECT api.revoke_api_key(%s)", created["prefix"])
    assert_problem(await http.get("/api/v1/analytics", headers={"X-API-Key": key}), 401, "api_key_invalid")


async def test_keys_are_not_recoverable_from_the_database(seeded_db_url: str) -> None:
    created = one(seeded_db_url, "SELECT api.create_api_key('admin', 'hash test')")
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        stored = conn.execute("SELECT row_to_json(k)::text, encode(secret_hash, 'hex') FROM crm.api_keys AS k "
                              "WHERE prefix = %s", (created["prefix"],)).fetchone()
        assert stored is not None
        row, digest = stored
        secret = created["key"].split("_", 2)[2]
        assert created["key"] not in row and secret not in row  # only the prefix and a hash are kept
        assert len(digest) == 64
        everything = conn.execute("SELECT string_agg(row_to_json(k)::text, '') FROM crm.api_keys AS k").fetchone()
        assert everything is not None and secret not in everything[0]
        listed = conn.execute("SELECT api.list_api_keys()::text").fetchone()
        assert listed is not None and secret not in listed[0] and "secret_hash" not in listed[0]


async def test_the_documented_matrix_is_the_databases(seeded_db_url: str) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT action, role::text, scope FROM crm.api_permissions "
                            "WHERE action <> 'manage_keys'").fetchall()
    documented = {(action, role.split(" ")[0], "own" if "(own" in role else "all")
                  for action, roles in ENDPOINT_ROLES.items() for role in roles}
    assert set(rows) == documented


async def test_openapi_names_the_security_schemes(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    capture = spec["paths"]["/api/v1/leads/capture"]["post"]
    assert {"ApiKey": []} in capture["security"] and "integration" in capture["description"]
    assert "security" not in spec["paths"]["/health"]["get"]


async def test_bodies_are_bounded_and_json(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    lead = omars_open_lead(seeded_db_url)
    huge = b'{"activity": {"type": "email", "notes": "' + b"x" * 2_000_000 + b'"}}'
    assert_problem(await http.put(f"/api/v1/leads/{lead}/update", content=huge,
                                  headers={**as_("admin"), "Content-Type": "application/json"}), 413,
                   "payload_too_large")
    form = await http.put(f"/api/v1/leads/{lead}/update", content=b"status=contacted",
                          headers={**as_("admin"), "Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(form, 415, "unsupported_media_type")
    text = await http.post("/api/v1/leads/capture", content=b"{}", headers={**as_("integration"),
                                                                            "Content-Type": "text/plain"})
    assert_problem(text, 415, "unsupported_media_type")
    vendor = await http.post("/api/v1/leads/capture", json=capture_body(),
                             headers={**as_("integration"), "Content-Type": "application/vnd.portal+json"})
    assert vendor.status_code == 201, vendor.text


async def test_cors_is_off_by_default_and_configurable(seeded_db_url: str, servers: Servers) -> None:
    preflight = {"Origin": "https://crm.thinkrealty.ae", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "X-API-Key"}
    async with api_client(seeded_db_url, servers.redis_url, api_key=None) as closed:
        answer = await closed.options("/api/v1/analytics", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    async with api_client(seeded_db_url, servers.redis_url, api_key=None,
                          cors_origins="https://crm.thinkrealty.ae") as opened:
        answer = await opened.options("/api/v1/analytics", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://crm.thinkrealty.ae"
        other = await opened.options("/api/v1/analytics", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_request_ids_are_safe_and_errors_hold_no_internals(http: httpx.AsyncClient) -> None:
    injected = await http.get("/health", headers={"X-Request-ID": "abc <script> forged"})
    assert len(injected.headers["x-request-id"]) == 32  # not echoed: only letters, digits and ._:- are kept
    bad = await http.put("/api/v1/leads/not-a-uuid/update", json={"status": "contacted"}, headers=as_("admin"))
    body = assert_problem(bad, 422, "validation_error")
    assert "Traceback" not in bad.text and "SELECT" not in bad.text and body["request_id"]
