"""One response contract: the database builds every response body as json in the documented order, and the pydantic
models document it (OpenAPI). Here every endpoint's real responses are checked against its model: the same keys, in
the model's order, at every level, and values the model accepts. An endpoint added without a case here fails
test_every_endpoint_has_a_contract_case."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import types
import typing
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import BaseModel

from api.main import create_app
from api.routes.analytics import Report, ReportCatalog
from api.routes.health import Health, Ready
from api.schemas.agents import AgentDashboard
from api.schemas.availability import Absence, AbsenceDeleted, AbsencePage, Availability, Schedule
from api.schemas.leads import AssignedAgent, CaptureResponse, DeadLetter, LeadState
from api.schemas.offers import OfferState, Pond
from api.schemas.resources import (
    AgentPage,
    AgentResource,
    AreaList,
    FollowUpItem,
    FollowUpPage,
    LanguageList,
    LeadDetail,
    LeadPage,
    PolicyChangePage,
    ScoringPreview,
    ScoringRule,
    ScoringRuleList,
    Setting,
    SettingList,
    SourceList,
    TimelinePage,
)
from api.schemas.webhooks import Delivery, DeliveryPage, EventTopicList, Webhook, WebhookDeleted, WebhookList
from tests.api.conftest import OMAR_KEY, api_client
from tests.conftest import Servers

_phones = itertools.count(3_100_000)
NOT_JSON = {("GET", "/metrics")}  # Prometheus text


def assert_contract(model: Any, value: Any, where: str = "body") -> None:
    """`value` has exactly the keys of `model`, in its order, recursively; the model accepts it."""
    origin = typing.get_origin(model)
    if origin in (typing.Union, types.UnionType):
        options = [m for m in typing.get_args(model) if m is not type(None)]
        if value is None:
            assert type(None) in typing.get_args(model), f"{where}: null where the model wants a value"
            return
        assert len(options) == 1, f"{where}: a union the contract test cannot follow"
        assert_contract(options[0], value, where)
        return
    if origin is list:
        assert isinstance(value, list), f"{where}: not a list"
        (inner,) = typing.get_args(model)
        for i, item in enumerate(value):
            assert_contract(inner, item, f"{where}[{i}]")
        return
    if isinstance(model, type) and issubclass(model, BaseModel):
        assert isinstance(value, dict), f"{where}: not an object"
        fields = model.model_fields
        assert list(value) == list(fields), f"{where}: keys {list(value)} != the model's {list(fields)}"
        for name, field in fields.items():
            assert_contract(field.annotation, value[name], f"{where}.{name}")
        model.model_validate(value)


def check(model: Any, response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert_contract(model, body)
    return body


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url) as client:
        yield client


def one(url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
        return row[0] if row else None


def capture_body(**lead: Any) -> dict[str, Any]:
    return {"source_type": "bayut",
            "lead_data": {"first_name": "Layla", "last_name": "Contract", "phone": f"+97152{next(_phones)}",
                          "nationality": "Emirati", "budget_min": 1_500_000, "budget_max": 2_500_000,
                          "property_type": "villa", "preferred_areas": ["Marina", "Atlantis"], **lead},
            "source_details": {"external_id": f"BY-{next(_phones)}"}}


async def test_every_endpoint_answers_in_its_documented_shape(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    covered: set[tuple[str, str]] = set()

    def hit(method: str, path: str) -> None:
        covered.add((method, path))

    # capture: assigned (201), its retry, a duplicate linked from another source, and queued (202)
    body = capture_body()
    first = check(CaptureResponse, await http.post("/api/v1/leads/capture", json=body), 201)
    assert first["warnings"] and first["follow_up"] and first["score_breakdown"]
    replay = await http.post("/api/v1/leads/capture", json=body)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == (await http.post("/api/v1/leads/capture", json=body)).content
    assert_contract(CaptureResponse, replay.json())
    linked = capture_body(phone=body["lead_data"]["phone"])
    linked["source_type"] = "website"
    duplicate = check(CaptureResponse, await http.post("/api/v1/leads/capture", json=linked), 201)
    assert duplicate["duplicate_of"]["lead_id"] == first["lead_id"]
    with psycopg.connect(seeded_db_url, autocommit=True) as owner:  # nobody free: the lead waits in the queue
        active = [r[0] for r in owner.execute("SELECT agent_id FROM crm.agents WHERE is_active AND role = 'agent'")]
        owner.execute("UPDATE crm.agents SET is_active = false WHERE agent_id = ANY (%s)", (active,))
        try:
            queued = check(CaptureResponse, await http.post("/api/v1/leads/capture", json=capture_body()), 202)
        finally:
            owner.execute("UPDATE crm.agents SET is_active = true WHERE agent_id = ANY (%s)", (active,))
    assert queued["queued"] is True and queued["assigned_agent"] is None
    hit("POST", "/api/v1/leads/capture")

    # dead letters: a capture that fails validation, listed and replayed
    bad = capture_body()
    bad["lead_data"]["phone"] = "12"
    assert (await http.post("/api/v1/leads/capture", json=bad)).status_code == 422
    letters = check(list[DeadLetter], await http.get("/api/v1/leads/capture/dead-letters"))
    assert letters
    hit("GET", "/api/v1/leads/capture/dead-letters")
    fixed = capture_body()
    check(CaptureResponse, await http.post(
        f"/api/v1/leads/capture/dead-letters/{letters[0]['dead_letter_id']}/replay", json=fixed), 201)
    hit("POST", "/api/v1/leads/capture/dead-letters/{dead_letter_id}/replay")

    # update and reassign
    lead = first["lead_id"]
    updated = check(LeadState, await http.put(f"/api/v1/leads/{lead}/update", json={
        "status": "contacted", "activity": {"type": "call", "outcome": "positive", "notes": "Wants a villa"}}))
    assert updated["changes"]["status"] == {"from": "new", "to": "contacted"} and updated["reassignment"] is None
    hit("PUT", "/api/v1/leads/{lead_id}/update")
    moved = check(LeadState, await http.post(f"/api/v1/leads/{lead}/reassign", json={"reason": "Client asked"}))
    assert moved["reassignment"] and moved["changes"] is None
    hit("POST", "/api/v1/leads/{lead_id}/reassign")

    # the dashboard, built (miss) and cached (hit): the same bytes
    agent = moved["assigned_agent"]["agent_id"]
    url = f"/api/v1/agents/{agent}/dashboard"
    built = await http.get(url, params={"date_range": "90d"})
    assert built.headers["X-Cache"] == "miss"
    dashboard = check(AgentDashboard, built)
    assert dashboard["recent_leads"] and dashboard["pending_tasks"]
    for _ in range(20):  # the change notices of the writes above may still drop the first entry: build until kept
        cached = await http.get(url, params={"date_range": "90d"})
        if cached.headers["X-Cache"] == "hit":
            break
        built = cached
        await asyncio.sleep(0.05)
    assert cached.headers["X-Cache"] == "hit" and cached.content == built.content
    hit("GET", "/api/v1/agents/{agent_id}/dashboard")

    # analytics: the catalogue and every report in it
    catalog = check(ReportCatalog, await http.get("/api/v1/analytics"))
    hit("GET", "/api/v1/analytics")
    for entry in catalog["reports"]:
        report = check(Report, await http.get(entry["path"], params={"date_from": "2025-01-01"}))
        if report["rows"]:  # a report's columns come in its own order, the same for every row
            assert len({tuple(r) for r in report["rows"]}) == 1
    hit("GET", "/api/v1/analytics/{report}")

    check(Health, await http.get("/health"))
    hit("GET", "/health")
    check(Ready, await http.get("/ready"))
    hit("GET", "/ready")

    await _resources(http, seeded_db_url, hit)
    await _webhooks(http, hit)
    await _availability(http, hit)
    await _offers(http, seeded_db_url, hit)

    documented = _documented()
    assert len(documented) >= 30  # the OpenAPI document was read
    assert documented - NOT_JSON <= covered, f"endpoints without a contract case: {documented - NOT_JSON - covered}"
    assert one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0


def _documented() -> set[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document (the routes as clients see them)."""
    return {(method.upper(), path) for path, operations in create_app().openapi()["paths"].items()
            for method in operations}


async def _resources(http: httpx.AsyncClient, seeded_db_url: str, hit: Any) -> None:
    """The REST resources of leads, follow-ups, agents, policy and reference data."""
    page = check(LeadPage, await http.get("/api/v1/leads", params={"limit": 2, "sort": "-score"}))
    assert len(page["items"]) == 2 and page["next"]
    hit("GET", "/api/v1/leads")
    lead = page["items"][0]["lead_id"]
    got = await http.get(f"/api/v1/leads/{lead}")
    detail = check(LeadDetail, got)
    assert got.headers["ETag"] == f'W/"{detail["version"]}"' and detail["score_breakdown"]
    hit("GET", "/api/v1/leads/{lead_id}")
    timeline = check(TimelinePage, await http.get(f"/api/v1/leads/{lead}/timeline"))
    assert timeline["items"]
    hit("GET", "/api/v1/leads/{lead_id}/timeline")
    patched = check(LeadDetail, await http.patch(f"/api/v1/leads/{lead}", json={"budget_max": 9_000_000},
                                                 headers={"If-Match": got.headers["ETag"]}))
    assert patched["version"] == detail["version"] + 1 and patched["budget_max"] == 9_000_000
    hit("PATCH", "/api/v1/leads/{lead_id}")

    tasks = check(FollowUpPage, await http.get("/api/v1/follow-ups", params={"status": "open", "limit": 3}))
    assert len(tasks["items"]) == 3
    hit("GET", "/api/v1/follow-ups")
    first, second, third = (t["task_id"] for t in tasks["items"])
    done = check(FollowUpItem, await http.post(f"/api/v1/follow-ups/{first}/complete", json={"outcome": "positive"}))
    assert done["status"] == "done" and done["activity"]["score"]["delta"] > 0
    hit("POST", "/api/v1/follow-ups/{task_id}/complete")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=200)).replace(minute=0, second=0, microsecond=0)
    moved = check(FollowUpItem, await http.post(f"/api/v1/follow-ups/{second}/reschedule",
                                                json={"due_at": later.isoformat()}))
    assert moved["due_at"] == later.isoformat()
    hit("POST", "/api/v1/follow-ups/{task_id}/reschedule")
    cancelled = check(FollowUpItem, await http.post(f"/api/v1/follow-ups/{third}/cancel", json={"reason": "test"}))
    assert cancelled["status"] == "cancelled" and cancelled["activity"] is None
    hit("POST", "/api/v1/follow-ups/{task_id}/cancel")

    roster = check(AgentPage, await http.get("/api/v1/agents", params={"active": True}))
    assert roster["items"]
    hit("GET", "/api/v1/agents")
    created = await http.post("/api/v1/agents", json={
        "full_name": "Contract Agent", "email": "contract.agent@thinkrealty.ae", "phone": "+971501230001",
        "languages": ["English", "ar"], "property_types": ["villa"], "areas": ["Marina"]})
    agent = check(AgentResource, created, 201)
    assert created.headers["Location"] == f"/api/v1/agents/{agent['agent_id']}"
    assert (agent["languages"], agent["areas"]) == (["arabic", "english"], ["dubai_marina"])
    hit("POST", "/api/v1/agents")
    check(AgentResource, await http.get(f"/api/v1/agents/{agent['agent_id']}"))
    hit("GET", "/api/v1/agents/{agent_id}")
    changed = check(AgentResource, await http.patch(f"/api/v1/agents/{agent['agent_id']}",
                                                    json={"max_active_leads": 10, "property_types": []}))
    assert (changed["max_active_leads"], changed["property_types"]) == (10, [])
    hit("PATCH", "/api/v1/agents/{agent_id}")

    rules = check(ScoringRuleList, await http.get("/api/v1/policy/scoring-rules"))
    assert any(r["rule_key"] == "referral_bonus" for r in rules["items"])
    hit("GET", "/api/v1/policy/scoring-rules")
    preview = check(ScoringPreview, await http.post("/api/v1/policy/scoring-rules/preview", json={
        "lead": {"source_type": "referral", "lead_data": {}}, "rules": [{"rule_key": "referral_bonus", "points": 30}]}))
    assert preview["change"] == 20
    hit("POST", "/api/v1/policy/scoring-rules/preview")
    rule = check(ScoringRule, await http.put("/api/v1/policy/scoring-rules/referral_bonus", json={"points": 12}))
    assert rule["points"] == 12
    hit("PUT", "/api/v1/policy/scoring-rules/{rule}")
    settings = check(SettingList, await http.get("/api/v1/policy/settings"))
    assert {s["setting_key"] for s in settings["items"]} >= {"timezone", "duplicate_window"}
    hit("GET", "/api/v1/policy/settings")
    check(Setting, await http.put("/api/v1/policy/settings/duplicate_window", json={"value": "36 hours"}))
    hit("PUT", "/api/v1/policy/settings/{setting}")
    changes = check(PolicyChangePage, await http.get("/api/v1/policy/changes"))
    assert [c["policy_key"] for c in changes["items"][:2]] == ["duplicate_window", "referral_bonus"]
    hit("GET", "/api/v1/policy/changes")
    for kind, model in (("sources", SourceList), ("areas", AreaList), ("languages", LanguageList)):
        assert check(model, await http.get(f"/api/v1/{kind}"))["items"]
        hit("GET", f"/api/v1/{kind}")


def test_every_endpoint_has_a_response_model() -> None:
    """OpenAPI shows a JSON schema for every JSON answer: the models are what clients read."""
    paths = create_app().openapi()["paths"]
    missing = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            if (method.upper(), path) in NOT_JSON:
                continue
            success = [operation["responses"][c] for c in ("200", "201", "202") if c in operation["responses"]]
            if not success or not all("application/json" in r.get("content", {}) for r in success):
                missing.append((method, path))
    assert len(paths) >= 25 and missing == []


def test_the_contract_check_fails_on_order_missing_and_extra_keys() -> None:
    good = {"status": "ok"}
    assert_contract(Health, good)
    for wrong in ({}, {"status": "ok", "extra": 1}):
        with pytest.raises(AssertionError):
            assert_contract(Health, wrong)
    agent = {"agent_id": "5ac1beeb-a11c-4c70-aa58-bafb53c04ac7", "name": "Sara", "phone": "+971501234567"}
    assert_contract(AssignedAgent, agent)
    with pytest.raises(AssertionError):
        assert_contract(AssignedAgent, dict(reversed(agent.items())))
    with pytest.raises(AssertionError):
        assert_contract(list[AssignedAgent], [agent, {"name": "Sara"}])


async def _webhooks(http: httpx.AsyncClient, hit: Any) -> None:
    """Subscriptions, their topics and their delivery log (no dispatcher runs here: the deliveries stay pending)."""
    topics = check(EventTopicList, await http.get("/api/v1/webhooks/topics"))
    assert len(topics["items"]) == 16
    hit("GET", "/api/v1/webhooks/topics")
    created = check(Webhook, await http.post("/api/v1/webhooks", json={
        "url": "https://93.184.216.34/hooks", "topics": ["lead.captured"], "description": "contract"}), 201)
    assert created["secret"].startswith("whsec_")
    hit("POST", "/api/v1/webhooks")
    path = f"/api/v1/webhooks/{created['webhook_id']}"
    assert check(WebhookList, await http.get("/api/v1/webhooks"))["items"][0]["secret"] is None
    hit("GET", "/api/v1/webhooks")
    check(Webhook, await http.get(path))
    hit("GET", "/api/v1/webhooks/{webhook_id}")
    assert check(Webhook, await http.patch(path, json={"topics": ["*"]}))["topics"] == ["*"]
    hit("PATCH", "/api/v1/webhooks/{webhook_id}")
    check(CaptureResponse, await http.post("/api/v1/leads/capture", json=capture_body()), 201)
    page = check(DeliveryPage, await http.get(f"{path}/deliveries", params={"limit": 2}))
    assert len(page["items"]) == 2 and page["next"] and page["items"][0]["state"] == "pending"
    hit("GET", "/api/v1/webhooks/{webhook_id}/deliveries")
    delivery = page["items"][0]["delivery_id"]
    again = check(Delivery, await http.post(f"{path}/deliveries/{delivery}/redeliver"), 202)
    assert again["delivery_id"] == delivery and again["state"] == "pending"
    hit("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
    assert check(WebhookDeleted, await http.delete(path))["deleted"] is True
    hit("DELETE", "/api/v1/webhooks/{webhook_id}")


async def _availability(http: httpx.AsyncClient, hit: Any) -> None:
    """An agent's schedule, absences and pause."""
    agent = check(AgentPage, await http.get("/api/v1/agents", params={"limit": 1}))["items"][0]["agent_id"]
    base = f"/api/v1/agents/{agent}"
    schedule = check(Schedule, await http.put(f"{base}/schedule", json={
        "hours": [{"day": 1, "start": "08:00", "end": "12:00"}, {"day": 1, "start": "13:00", "end": "24:00"}]}))
    assert len(schedule["hours"]) == 2
    hit("PUT", "/api/v1/agents/{agent_id}/schedule")
    check(Schedule, await http.get(f"{base}/schedule"))
    hit("GET", "/api/v1/agents/{agent_id}/schedule")
    absence = check(Absence, await http.post(f"{base}/absences", json={
        "starts_at": "2027-02-01T00:00:00+04:00", "ends_at": "2027-02-03T00:00:00+04:00", "reason": "training"}), 201)
    hit("POST", "/api/v1/agents/{agent_id}/absences")
    assert check(AbsencePage, await http.get(f"{base}/absences"))["items"][0]["absence_id"] == absence["absence_id"]
    hit("GET", "/api/v1/agents/{agent_id}/absences")
    check(AbsenceDeleted, await http.delete(f"{base}/absences/{absence['absence_id']}"))
    hit("DELETE", "/api/v1/agents/{agent_id}/absences/{absence_id}")
    assert check(Availability, await http.post(f"{base}/pause", json={"minutes": 20}))["paused_until"]
    hit("POST", "/api/v1/agents/{agent_id}/pause")
    assert check(Availability, await http.delete(f"{base}/pause"))["paused_until"] is None
    hit("DELETE", "/api/v1/agents/{agent_id}/pause")


async def _offers(http: httpx.AsyncClient, seeded_db_url: str, hit: Any) -> None:
    """An offer accepted, one declined, one that ran through every agent to the pond and is claimed."""
    omar = "md5('agent-omar.haddad')::uuid"
    with psycopg.connect(seeded_db_url, autocommit=True) as owner:   # Omar works around the clock
        owner.execute(f"INSERT INTO crm.agent_working_hours (agent_id, isodow, starts, ends) "
                      f"SELECT {omar}, d, '00:00', '24:00' FROM generate_series(1, 7) AS d ON CONFLICT DO NOTHING")
    taken = check(CaptureResponse, await http.post("/api/v1/leads/capture", json=capture_body()), 201)
    assert taken["offer"]["offer_round"] == 1
    accepted = check(OfferState, await http.post(f"/api/v1/leads/{taken['lead_id']}/accept"))
    assert accepted["accepted_at"]
    hit("POST", "/api/v1/leads/{lead_id}/accept")
    passed = check(CaptureResponse, await http.post("/api/v1/leads/capture", json=capture_body()), 201)
    moved = check(OfferState, await http.post(f"/api/v1/leads/{passed['lead_id']}/decline", json={"reason": "busy"}))
    assert moved["offer_round"] == 2
    hit("POST", "/api/v1/leads/{lead_id}/decline")
    for _ in range(2):   # every agent offered declines: the pond
        await http.post(f"/api/v1/leads/{passed['lead_id']}/decline", json={})
    pond = check(Pond, await http.get("/api/v1/leads/pond"))
    assert passed["lead_id"] in {p["lead_id"] for p in pond["items"]}
    hit("GET", "/api/v1/leads/pond")
    claimed = check(OfferState, await http.post(f"/api/v1/leads/{passed['lead_id']}/claim",
                                                headers={"X-API-Key": OMAR_KEY}))
    assert claimed["pooled_at"] is None and claimed["accepted_at"]
    hit("POST", "/api/v1/leads/{lead_id}/claim")
