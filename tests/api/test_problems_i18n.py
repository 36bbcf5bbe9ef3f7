"""Problems in English and Arabic: every stable code has both (api/problems.py), Accept-Language: ar answers them in
Arabic with their parameters filled in, and English stays the default."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import problems
from api.errors import CONSTRAINT_KINDS
from tests.api.conftest import api_client, assert_problem
from tests.conftest import Servers

ROOT = Path(__file__).resolve().parents[2]
ARABIC = re.compile(r"[\u0600-\u06FF]")
_phones = iter(range(3_000_000, 3_999_999))


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url) as client:
        yield client


async def new_lead(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.post("/api/v1/leads/capture", json={
        "source_type": "website",
        "lead_data": {"first_name": "Mona", "last_name": "Arabic", "phone": f"+97158{next(_phones)}"}})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def stable_codes() -> set[str]:
    """Every code a client can meet: what docs/catalogue.md lists as raised in SQL (make docs reads it from the
    database, and tests/db/test_docs.py keeps the file as the database says), the `<table>_append_only` names of
    docs/business-rules.md, every Problem(...) of the API, and the kinds a constraint violation's name falls under."""
    catalogue = (ROOT / "docs" / "catalogue.md").read_text()
    raised = set(re.findall(r"^\| `([a-z_]+)` \| PT\d{3} \|", catalogue, re.M))
    rules = (ROOT / "docs" / "business-rules.md").read_text()
    append_only = set(re.findall(r"`([a-z_]+_append_only)`", rules))
    api = set()
    for path in (ROOT / "api").rglob("*.py"):
        api |= set(re.findall(r'Problem\(\d{3}, "([a-z_]+)"', path.read_text()))
    assert len(raised) > 40 and len(append_only) >= 6 and {"validation_error", "payload_too_large"} <= api
    return raised | append_only | api | {"not_found", "method_not_allowed", "business_rule"} | {
        kind for _, kind, _ in CONSTRAINT_KINDS.values()}


def test_every_stable_code_has_a_title_and_a_detail_in_both_languages() -> None:
    missing = sorted(code for code in stable_codes() if code not in problems.CATALOGUE)
    assert missing == [], f"codes without an entry in api/problems.py: {missing}"
    for code, entry in problems.CATALOGUE.items():
        assert entry.title_en and ARABIC.search(entry.title_ar), code
        assert entry.details, code
        for variant in entry.details:
            words = re.sub(r"\{[a-z_]+\}", "", variant.ar).strip(" :")
            assert variant.en and (ARABIC.search(words) or not words), (code, variant)  # (or only parameters)
            assert variant.placeholders("en") == variant.placeholders("ar"), (code, variant)
        last = entry.details[-1]
        assert not last.when and not last.placeholders("en"), f"{code}: the last variant must need no parameter"


def test_the_arabic_words_for_values_and_validation_errors_are_arabic() -> None:
    for name, values in problems.VALUES_AR.items():
        assert all(ARABIC.search(v) for v in values.values()), name
    assert all(ARABIC.search(v) for v in problems.VALIDATION_AR.values())
    assert all(ARABIC.search(v) for v in problems.VALUE_ERRORS_AR.values())


@pytest.mark.parametrize(("header", "language"), [
    (None, "en"), ("", "en"), ("ar", "ar"), ("ar-AE", "ar"), ("AR-ae", "ar"), ("ar-SA,en;q=0.5", "ar"),
    ("en-GB,en;q=0.9,ar;q=0.8", "en"), ("fr-FR, ar;q=0.4", "ar"), ("fr", "en"), ("*", "en"), ("ar;q=0", "en"),
    ("en;q=0.2, ar;q=0.9", "ar"), ("ar;q=abc", "en"), ("ar;;;q=1.5", "en"), ("\x00\xff,,;", "en"),
])
def test_the_language_is_negotiated_by_q_value(header: str | None, language: str) -> None:
    assert problems.negotiate(header) == language


def test_a_template_falls_back_when_a_parameter_is_missing() -> None:
    entry = problems.CATALOGUE["follow_up_conflict"]
    both = {"requested_at": "2030-01-02T07:00:00+00:00", "next_free_slot": "2030-01-02T07:30:00+00:00"}
    assert "2030-01-02T07:30:00+00:00" in (problems.render(entry, "ar", both) or "")
    assert problems.render(entry, "ar", {**both, "next_free_slot": None}) == \
        "لدى الوكيل متابعة أخرى في 2030-01-02T07:00:00+00:00."
    assert problems.render(entry, "en", {}) == "The agent already has a follow-up in that slot."
    forbidden = problems.CATALOGUE["forbidden"]
    assert problems.render(forbidden, "ar", {"role": "agent", "action": "dashboard", "scope": "own"}) == \
        "مفتاح الوكيل يطّلع على بيانات وكيله فقط."
    assert problems.render(forbidden, "ar", {"role": "integration", "action": "analytics"}) == \
        "مفتاح API بدور التكامل لا يملك صلاحية قراءة التقارير."


async def test_arabic_is_asked_for_and_english_stays_the_default(http: httpx.AsyncClient) -> None:
    english = assert_problem(await http.get("/api/v1/analytics/no-such-report"), 404, "report_not_found")
    arabic_response = await http.get("/api/v1/analytics/no-such-report", headers={"Accept-Language": "ar-AE"})
    arabic = assert_problem(arabic_response, 404, "report_not_found")
    assert english["title"] == "Report not found" and not ARABIC.search(english["detail"])
    assert arabic["title"] == "التقرير غير موجود" and ARABIC.search(arabic["detail"])
    assert "no-such-report" in arabic["detail"]  # the parameter, in both
    assert arabic_response.headers["content-language"] == "ar"
    assert "accept-language" in arabic_response.headers["vary"].lower()
    assert {k: v for k, v in arabic.items() if k not in ("title", "detail", "request_id")} == \
        {k: v for k, v in english.items() if k not in ("title", "detail", "request_id")}
    french = await http.get("/api/v1/analytics/no-such-report", headers={"Accept-Language": "fr, en;q=0.1"})
    assert french.headers["content-language"] == "en" and french.json()["title"] == "Report not found"


async def test_a_problem_raised_in_sql_is_arabic_with_its_parameters(http: httpx.AsyncClient) -> None:
    lead = (await new_lead(http))["lead_id"]
    skip = assert_problem(await http.put(f"/api/v1/leads/{lead}/update", json={"status": "negotiation"},
                                         headers={"Accept-Language": "ar"}), 409, "lead_status_transition")
    assert skip["title"] == "تغيير الحالة غير مسموح"
    assert skip["detail"] == "لا يمكن نقل العميل المحتمل من الحالة «جديد» إلى «تفاوض»."
    assert (skip["from"], skip["to"]) == ("new", "negotiation")  # the members stay the machine's
    missing = uuid.uuid4()
    gone = assert_problem(await http.put(f"/api/v1/leads/{missing}/update", json={"status": "contacted"},
                                         headers={"Accept-Language": "ar"}), 404, "lead_not_found")
    assert gone["detail"] == f"العميل المحتمل {missing} غير موجود."

    # a slot conflict proposes the next free slot, in Arabic too
    at = (datetime.now(UTC) + timedelta(days=12)).replace(hour=7, minute=0, second=0, microsecond=0)
    first = await http.put(f"/api/v1/leads/{lead}/update", json={"activity": {"type": "call",
                                                                             "next_follow_up": at.isoformat()}})
    assert first.status_code == 200, first.text
    agent = first.json()["assigned_agent"]["agent_id"]
    other = (await new_lead(http))["lead_id"]
    moved = await http.post(f"/api/v1/leads/{other}/reassign", json={"reason": "same desk", "new_agent_id": agent})
    assert moved.status_code in (200, 409), moved.text  # 409 same_agent: it already was that agent's
    conflict = assert_problem(await http.put(f"/api/v1/leads/{other}/update", headers={"Accept-Language": "ar"},
                                             json={"activity": {"type": "call", "next_follow_up": at.isoformat()}}),
                              409, "follow_up_conflict")
    assert conflict["title"] == "موعد المتابعة محجوز"
    assert conflict["next_free_slot"] and str(conflict["next_free_slot"]) in conflict["detail"]
    assert str(conflict["requested_at"]) in conflict["detail"] and ARABIC.search(conflict["detail"])


async def test_validation_errors_name_the_field_in_both_languages(http: httpx.AsyncClient) -> None:
    body = {"source_type": "website", "lead_data": {"first_name": "Mona", "last_name": "Test", "phone": "12"}}
    english = assert_problem(await http.post("/api/v1/leads/capture", json=body), 422, "validation_error")
    arabic = assert_problem(await http.post("/api/v1/leads/capture", json=body, headers={"Accept-Language": "ar"}),
                            422, "validation_error")
    assert english["detail"].startswith("lead_data.phone: ") and "phone" in english["detail"]
    assert arabic["detail"].startswith("lead_data.phone: ") and ARABIC.search(arabic["detail"])
    assert arabic["errors"][0]["loc"] == english["errors"][0]["loc"]
    assert ARABIC.search(arabic["errors"][0]["msg"]) and not ARABIC.search(english["errors"][0]["msg"])
    query = await http.get(f"/api/v1/agents/{uuid.uuid4()}/dashboard", params={"date_range": "century"},
                           headers={"Accept-Language": "ar"})
    problem = assert_problem(query, 422, "validation_error")
    assert problem["detail"].startswith("query.date_range: ") and ARABIC.search(problem["detail"])


async def test_problems_the_api_itself_raises_are_arabic_too(http: httpx.AsyncClient) -> None:
    ar = {"Accept-Language": "ar"}
    no_key = assert_problem(await http.get("/api/v1/analytics", headers={**ar, "X-API-Key": ""}), 401,
                            "api_key_missing")
    assert no_key["title"] == "مفتاح API مطلوب"
    media = assert_problem(await http.post("/api/v1/leads/capture", content=b"x=1",
                                           headers={**ar, "Content-Type": "text/plain"}), 415,
                           "unsupported_media_type")
    assert ARABIC.search(media["detail"])
    bad_json = assert_problem(await http.post("/api/v1/leads/capture", content=b"{",
                                              headers={**ar, "Content-Type": "application/json"}), 400,
                              "invalid_json")
    assert bad_json["detail"] == "نص الطلب ليس JSON صالحاً."
    big = assert_problem(await http.post("/api/v1/leads/capture", content=b"{" + b" " * 70_000 + b"}",
                                         headers={**ar, "Content-Type": "application/json"}), 413,
                         "payload_too_large")
    assert "65536" in big["detail"] and ARABIC.search(big["detail"])
    nowhere = assert_problem(await http.get("/nowhere", headers=ar), 404, "not_found")
    assert nowhere["title"] == "غير موجود"


async def test_the_openapi_documents_the_header(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    capture = schema["paths"]["/api/v1/leads/capture"]["post"]
    assert any(p["name"] == "Accept-Language" and p["in"] == "header" for p in capture["parameters"])
    assert "Content-Language" in capture["responses"]["409"]["headers"]
    health = schema["paths"]["/health"]["get"]
    assert "422" not in health["responses"]  # the header is no input that can be invalid
