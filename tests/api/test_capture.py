"""POST /api/v1/leads/capture over HTTP (ASGI, real PostgreSQL and Redis): the brief's shape, phone
normalisation, every kind of bad input (problem+json and a dead letter each), duplicates, retries,
and the property-suggestion service failing in every way (a real local HTTP server)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import api_client, assert_problem, suggestion_service
from tests.conftest import Servers

BRIEF_BODY: dict[str, Any] = {
    "source_type": "bayut",
    "lead_data": {
        "first_name": "Ahmed", "last_name": "Al Mansouri", "email": "Ahmed@Email.com", "phone": "+971501234567",
        "nationality": "UAE", "language_preference": "arabic", "budget_min": 800000, "budget_max": 1500000,
        "property_type": "apartment", "preferred_areas": ["Downtown Dubai", "Marina", "JBR"],
    },
    "source_details": {"campaign_id": "spring_campaign_2024", "utm_source": "google_ads"},
}
BRIEF_KEYS = {"success", "lead_id", "assigned_agent", "lead_score", "next_follow_up", "suggested_properties"}
_phones = iter(range(1_000_000, 9_999_999))


def body_with(phone: str | None = None, source: str = "website", **lead: Any) -> dict[str, Any]:
    data = {"first_name": "Layla", "last_name": "Test", "phone": phone or f"+97155{next(_phones)}", **lead}
    return {"source_type": source, "lead_data": data}


def scalar(url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
        assert row is not None
        return row[0]


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url) as client:
        yield client


async def test_the_brief_body_gets_the_brief_answer(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    response = await http.post("/api/v1/leads/capture", json=BRIEF_BODY)
    assert response.status_code == 201, response.text
    body = response.json()
    assert BRIEF_KEYS <= set(body) and body["success"] is True
    assert set(body["assigned_agent"]) == {"agent_id", "name", "phone"}
    assert body["lead_score"] == 80 and body["next_follow_up"] and body["queued"] is False
    assert 1 <= len(body["suggested_properties"]) <= 3
    assert all(uuid.UUID(p) for p in body["suggested_properties"])
    assert body["warnings"] == [] and body["duplicate_of"] is None
    stored = scalar(seeded_db_url, "SELECT row(email, phone, nationality, language_preference)::text "
                                   "FROM crm.leads WHERE lead_id = %s", body["lead_id"])
    assert stored == "(ahmed@email.com,+971501234567,AE,arabic)"


@pytest.mark.parametrize("name", ["ابن\u200cعلی", "R2D2", "Jean (JP)", "O'Neil", "Nguyễn"])
async def test_a_name_is_kept_as_typed(http: httpx.AsyncClient, seeded_db_url: str, name: str) -> None:
    """Any script, joiners (ZWNJ in Persian), digits, brackets: a lead with a valid phone is not lost over how a
    person typed their name."""
    response = await http.post("/api/v1/leads/capture", json=body_with(first_name=name))
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []
    assert scalar(seeded_db_url, "SELECT first_name FROM crm.leads WHERE lead_id = %s",
                  response.json()["lead_id"]) == name


async def test_control_characters_leave_a_name_with_a_warning(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    response = await http.post("/api/v1/leads/capture",
                               json=body_with(first_name="Fati\u0007ma\u200b", last_name="Ali\n"))
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert [(w["code"], w["field"]) for w in warnings] == [("control_characters_removed", "lead_data.first_name"),
                                                          ("control_characters_removed", "lead_data.last_name")]
    assert scalar(seeded_db_url, "SELECT first_name || '|' || last_name FROM crm.leads WHERE lead_id = %s",
                  response.json()["lead_id"]) == "Fatima\u200b|Ali"


async def test_a_source_added_as_a_row_is_accepted_at_once(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    """Sources are data: a manager adds one in psql and the next capture from it is scored and routed."""
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO crm.lead_sources (source_type, display_name, quality_score, is_portal, description) "
                     "VALUES ('instagram', 'Instagram', 70, false, 'Instagram lead ads')")
    response = await http.post("/api/v1/leads/capture", json=body_with(source="instagram"))
    assert response.status_code == 201, response.text
    assert {item["rule"] for item in response.json()["score_breakdown"]} >= {"source_quality"}
    agent = response.json()["assigned_agent"]["agent_id"]
    dashboard = await http.get(f"/api/v1/agents/{agent}/dashboard", params={"source_filter": "instagram"})
    assert dashboard.status_code == 200 and dashboard.json()["recent_leads"][0]["source"] == "instagram"
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        conn.execute("UPDATE crm.lead_sources SET is_active = false WHERE source_type = 'instagram'")
    assert_problem(await http.post("/api/v1/leads/capture", json=body_with(source="instagram")), 422,
                   "source_inactive")


async def test_only_names_phone_and_source_are_required(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/leads/capture", json=body_with(source="walk_in"))
    assert response.status_code == 201 and response.json()["lead_score"] == 35


@pytest.mark.parametrize("spelling", ["0501234567", "971501234567", "+971 50 123 4567", "00971-50-123-4567"])
async def test_uae_phone_spellings_are_one_number(http: httpx.AsyncClient, spelling: str) -> None:
    first = await http.post("/api/v1/leads/capture", json=body_with("+971501234567", "dubizzle"))
    assert first.status_code == 201
    again = await http.post("/api/v1/leads/capture", json=body_with(spelling, "dubizzle"))
    problem = assert_problem(again, 409, "duplicate_lead")
    assert problem["existing_lead_id"] == first.json()["lead_id"]


async def test_foreign_numbers_and_arabic_names_are_welcome(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    response = await http.post("/api/v1/leads/capture", json=body_with(
        "+44 20 7946 0958", first_name="  فاطمة ", last_name="الهاشمي", nationality="British"))
    assert response.status_code == 201, response.text
    row = scalar(seeded_db_url, "SELECT row(first_name, phone, nationality)::text FROM crm.leads WHERE lead_id = %s",
                 response.json()["lead_id"])
    assert row == "(فاطمة,+442079460958,GB)"


BAD_INPUTS: list[tuple[str, Any, int, str]] = [
    ("missing first name", {"source_type": "bayut", "lead_data": {"last_name": "X", "phone": "0501234567"}},
     422, "validation_error"),
    ("missing phone", {"source_type": "bayut", "lead_data": {"first_name": "A", "last_name": "X"}},
     422, "validation_error"),
    ("missing source", {"lead_data": {"first_name": "A", "last_name": "X", "phone": "0501234567"}},
     422, "validation_error"),
    ("missing lead_data", {"source_type": "bayut"}, 422, "validation_error"),
    ("unknown source", body_with(source="facebook"), 422, "unknown_source"),
    ("a source that cannot be a key", body_with(source="Face Book!"), 422, "validation_error"),
    ("unknown property type", body_with(property_type="castle"), 422, "validation_error"),
    ("invalid phone", body_with("12345"), 422, "validation_error"),
    ("letters for a phone", body_with("call me"), 422, "validation_error"),
    ("invalid email", body_with(email="not-an-email"), 422, "validation_error"),
    ("inverted budget", body_with(budget_min=2_000_000, budget_max=1_000_000), 422, "validation_error"),
    ("negative budget", body_with(budget_min=-5), 422, "validation_error"),
    ("absurd budget", body_with(budget_max=10**15), 422, "validation_error"),
    ("budget as words", body_with(budget_max="a lot"), 422, "validation_error"),
    ("areas as a string", body_with(preferred_areas="Marina"), 422, "validation_error"),
    ("too many areas", body_with(preferred_areas=["Marina"] * 21), 422, "validation_error"),
    ("name too long", body_with(first_name="A" * 101), 422, "validation_error"),
    ("blank name", body_with(last_name="   "), 422, "validation_error"),
    ("blank once controls are gone", body_with(last_name="\t\x07 "), 422, "validation_error"),
    ("campaign id too long", {**body_with(), "source_details": {"campaign_id": "c" * 201}}, 422, "validation_error"),
    ("referrer not a uuid", {**body_with(), "source_details": {"referrer_agent_id": "bob"}}, 422, "validation_error"),
    ("lead_data is a list", {"source_type": "bayut", "lead_data": []}, 422, "validation_error"),
    ("body is a list", [1, 2], 422, "validation_error"),
    ("body is a string", "lead please", 422, "validation_error"),
    ("name is a number", body_with(first_name=42), 422, "validation_error"),
    ("NUL in a campaign id", {**body_with(), "source_details": {"campaign_id": "spring\u0000"}}, 422,
     "validation_error"),
    ("NUL in the source", {**body_with(), "source_type": "bay\u0000ut"}, 422, "validation_error"),
]


@pytest.mark.parametrize(("case", "payload", "status", "code"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_input_is_problem_json_and_a_dead_letter(
    http: httpx.AsyncClient, seeded_db_url: str, case: str, payload: Any, status: int, code: str
) -> None:
    before = scalar(seeded_db_url, "SELECT count(*) FROM crm.capture_dead_letters")
    response = await http.post("/api/v1/leads/capture", json=payload)
    problem = assert_problem(response, status, code)
    if code == "validation_error":  # the API's own check names every field; the database names its rule
        assert problem["errors"] and all("loc" in e and "msg" in e for e in problem["errors"])
    letter = scalar(seeded_db_url, "SELECT to_jsonb(d) FROM crm.capture_dead_letters d WHERE dead_letter_id = %s",
                    problem["dead_letter_id"])
    assert letter["error_code"] == code and letter["request_id"]
    if "\\u0000" in json.dumps(payload):  # jsonb cannot hold NUL: such a body is kept as text
        assert letter["payload"] is None and '"first_name": "Layla"' in letter["raw_body"]
    else:
        assert letter["payload"] == payload
    assert scalar(seeded_db_url, "SELECT count(*) FROM crm.capture_dead_letters") == before + 1


async def test_every_bad_field_is_named(http: httpx.AsyncClient) -> None:
    payload = body_with("123", email="nope", property_type="castle")
    problem = assert_problem(await http.post("/api/v1/leads/capture", json=payload), 422, "validation_error")
    fields = {tuple(e["loc"]) for e in problem["errors"]}
    assert {("lead_data", "phone"), ("lead_data", "email"), ("lead_data", "property_type")} <= fields


async def test_malformed_json_and_huge_bodies_are_kept_raw(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    broken = await http.post("/api/v1/leads/capture", content=b'{"source_type": "bayut", "lead_data": {',
                             headers={"Content-Type": "application/json"})
    letter_id = assert_problem(broken, 400, "invalid_json")["dead_letter_id"]
    assert scalar(seeded_db_url, "SELECT raw_body FROM crm.capture_dead_letters WHERE dead_letter_id = %s",
                  letter_id) == '{"source_type": "bayut", "lead_data": {'
    assert_problem(await http.post("/api/v1/leads/capture"), 400, "invalid_json")  # no body at all
    huge = await http.post("/api/v1/leads/capture", content=b"{" + b" " * 200_000 + b"}",
                           headers={"Content-Type": "application/json"})
    letter_id = assert_problem(huge, 413, "payload_too_large")["dead_letter_id"]
    assert scalar(seeded_db_url, "SELECT length(raw_body) FROM crm.capture_dead_letters WHERE dead_letter_id = %s",
                  letter_id) == 65536


async def test_dead_letters_are_listed_and_replayed(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    bad = body_with("0501112222", email="broken@")
    letter_id = assert_problem(await http.post("/api/v1/leads/capture", json=bad), 422,
                               "validation_error")["dead_letter_id"]
    listed = (await http.get("/api/v1/leads/capture/dead-letters")).json()
    assert letter_id in [d["dead_letter_id"] for d in listed]
    # as stored it still fails, and nothing changes
    assert_problem(await http.post(f"/api/v1/leads/capture/dead-letters/{letter_id}/replay"), 422, "validation_error")
    fixed = {**bad, "lead_data": {**bad["lead_data"], "email": "fixed@example.com"}}
    replayed = await http.post(f"/api/v1/leads/capture/dead-letters/{letter_id}/replay", json=fixed)
    assert replayed.status_code == 201, replayed.text
    assert scalar(seeded_db_url, "SELECT replayed_lead_id::text FROM crm.capture_dead_letters "
                                 "WHERE dead_letter_id = %s", letter_id) == replayed.json()["lead_id"]
    assert letter_id not in [d["dead_letter_id"] for d in (await http.get("/api/v1/leads/capture/dead-letters")).json()]
    assert_problem(await http.post(f"/api/v1/leads/capture/dead-letters/{letter_id}/replay", json=fixed),
                   409, "dead_letter_replayed")
    assert_problem(await http.post(f"/api/v1/leads/capture/dead-letters/{uuid.uuid4()}/replay"),
                   404, "dead_letter_not_found")


async def test_cross_source_duplicate_is_linked_and_flagged(http: httpx.AsyncClient) -> None:
    first = (await http.post("/api/v1/leads/capture", json=body_with("0507654321", "bayut"))).json()
    second = await http.post("/api/v1/leads/capture", json=body_with("+971507654321", "propertyFinder"))
    assert second.status_code == 201
    body = second.json()
    assert body["duplicate_of"]["lead_id"] == first["lead_id"] and body["duplicate_of"]["source_type"] == "bayut"
    assert body["assigned_agent"] == first["assigned_agent"]


async def test_idempotency_key_replays_the_first_answer(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    payload = body_with()
    headers = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    first = await http.post("/api/v1/leads/capture", json=payload, headers=headers)
    leads = scalar(seeded_db_url, "SELECT count(*) FROM crm.leads")
    again = await http.post("/api/v1/leads/capture", json=payload, headers=headers)
    assert (again.status_code, again.headers.get("idempotent-replayed")) == (first.status_code, "true")
    assert again.json()["lead_id"] == first.json()["lead_id"]
    assert scalar(seeded_db_url, "SELECT count(*) FROM crm.leads") == leads
    other = await http.post("/api/v1/leads/capture", json=body_with(), headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")
    assert_problem(await http.post("/api/v1/leads/capture", json=body_with(), headers={"Idempotency-Key": "k" * 201}),
                   422, "validation_error")


async def test_portal_external_id_retry(http: httpx.AsyncClient) -> None:
    payload = {**body_with(source="bayut"), "source_details": {"external_id": f"BAY-{uuid.uuid4()}"}}
    first = await http.post("/api/v1/leads/capture", json=payload)
    again = await http.post("/api/v1/leads/capture", json=payload)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["lead_id"] == first.json()["lead_id"] and again.status_code == first.status_code


async def test_unmapped_values_are_warnings_not_errors(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/leads/capture", json=body_with(
        nationality="Atlantean", preferred_areas=["Marina", "Atlantis"]))
    assert response.status_code == 201
    assert [w["code"] for w in response.json()["warnings"]] == ["nationality_unrecognized", "area_unrecognized"]


# --- the property-suggestion service (a real local HTTP server) ---------------------------------------------

async def test_external_suggestions_are_used(seeded_db_url: str, servers: Servers) -> None:
    with suggestion_service() as service:
        service.property_ids = [str(uuid.uuid4()) for _ in range(4)]
        async with api_client(seeded_db_url, servers.redis_url, property_service_url=service.url) as http:
            response = await http.post("/api/v1/leads/capture", json=BRIEF_BODY)
    assert response.status_code == 201
    assert response.json()["suggested_properties"] == service.property_ids[:3]
    sent = service.calls[0]
    assert sent["property_type"] == "apartment" and sent["preferred_areas"] and sent["limit"] == 3


async def test_an_empty_service_url_means_our_own_listings(seeded_db_url: str, servers: Servers,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-compose.yml passes PROPERTY_SERVICE_URL as "" when it is not set: an empty variable is an unset one."""
    monkeypatch.setenv("PROPERTY_SERVICE_URL", "")
    async with api_client(seeded_db_url, servers.redis_url) as http:
        response = await http.post("/api/v1/leads/capture", json=BRIEF_BODY)
    assert response.status_code == 201, response.text
    assert 1 <= len(response.json()["suggested_properties"]) <= 3


@pytest.mark.parametrize(("mode", "warning"), [("error", "suggestions_unavailable"),
                                               ("garbage", "suggestions_unavailable"),
                                               ("hang", "suggestions_timeout")])
async def test_a_failing_suggestion_service_never_fails_the_capture(
    seeded_db_url: str, servers: Servers, mode: str, warning: str
) -> None:
    with suggestion_service() as service:
        service.mode = mode
        # a short timeout only where the service hangs: an error or a garbled answer comes at once, and on a loaded
        # machine 0.3 s could pass before it does (the capture then reported a timeout instead)
        async with api_client(seeded_db_url, servers.redis_url, property_service_url=service.url,
                              property_service_timeout_ms=300 if mode == "hang" else 5000) as http:
            started = time.monotonic()
            response = await http.post("/api/v1/leads/capture", json=body_with())
            elapsed = time.monotonic() - started
    assert response.status_code == 201
    body = response.json()
    assert body["suggested_properties"] == [] and body["warnings"][-1]["code"] == warning
    if mode == "hang":
        assert elapsed < service.hang_s  # bounded by our timeout, not by the hanging service


async def test_a_down_service_opens_the_circuit(seeded_db_url: str, servers: Servers) -> None:
    with suggestion_service() as service:
        down_url = service.url
    async with api_client(seeded_db_url, servers.redis_url, property_service_url=down_url,
                          property_service_failure_threshold=2, property_service_cooldown_s=60) as http:
        codes = []
        for _ in range(4):
            response = await http.post("/api/v1/leads/capture", json=body_with())
            assert response.status_code == 201
            codes.append(response.json()["warnings"][-1]["code"])
    assert codes == ["suggestions_unavailable", "suggestions_unavailable",
                     "suggestions_circuit_open", "suggestions_circuit_open"]


async def test_openapi_documents_the_capture_body(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/leads/capture"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CaptureRequest")
    assert {"CaptureRequest", "LeadData", "SourceDetails", "CaptureResponse"} <= set(spec["components"]["schemas"])
    assert {"201", "202", "409", "422"} <= set(operation["responses"])
