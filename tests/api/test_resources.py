"""The REST resources over HTTP (issue 14): what each endpoint lets which caller see and change, cursors that walk
a list exactly once, search in any script and phone format, ETags that stop a lost update (also under parallel
requests), follow-up changes, agent capacity and deactivation, policy checked by the database and audited."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import OMAR_KEY, SUPERVISOR_KEY, api_client, assert_problem
from tests.conftest import Servers

OMAR = "md5('agent-omar.haddad')::uuid"
PRIYA = "md5('agent-priya.nair')::uuid"
AGENT = {"X-API-Key": OMAR_KEY}


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url) as client:
        yield client


def one(url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
        return row[0] if row else None


def open_lead_of(url: str, agent: str, offset: int = 0) -> str:
    return str(one(url, f"""SELECT a.lead_id::text FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
                             WHERE a.agent_id = {agent} AND a.released_at IS NULL
                               AND l.status NOT IN ('converted', 'lost') ORDER BY a.lead_id OFFSET {offset} LIMIT 1"""))


async def walk(http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None,
               **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(500):
        page = await http.get(url, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next"]
        if cursor is None:
            return items
    raise AssertionError("the walk did not end")


async def test_an_agent_sees_and_changes_only_their_own_leads(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    mine = await walk(http, "/api/v1/leads", AGENT, limit=50)
    omar = one(seeded_db_url, f"SELECT {OMAR}::text")
    assert mine and {lead["agent_id"] for lead in mine} == {omar}
    held = one(seeded_db_url, f"SELECT count(*) FROM crm.lead_assignments WHERE agent_id = {OMAR} "
                              "AND released_at IS NULL")
    assert len(mine) == held
    priyas = open_lead_of(seeded_db_url, PRIYA)
    for response in (await http.get(f"/api/v1/leads/{priyas}", headers=AGENT),
                     await http.get(f"/api/v1/leads/{priyas}/timeline", headers=AGENT),
                     await http.patch(f"/api/v1/leads/{priyas}", json={"email": "x@example.com"},
                                      headers={**AGENT, "If-Match": 'W/"1"'})):
        assert_problem(response, 404, "lead_not_found")
    priya = one(seeded_db_url, f"SELECT {PRIYA}::text")
    assert_problem(await http.get("/api/v1/follow-ups", params={"agent_id": priya}, headers=AGENT), 403, "forbidden")
    tasks = await walk(http, "/api/v1/follow-ups", AGENT, status="open")
    assert tasks and {t["agent_id"] for t in tasks} == {omar}
    assert_problem(await http.get("/api/v1/agents", headers=AGENT), 403, "forbidden")
    assert_problem(await http.get(f"/api/v1/agents/{priya}", headers=AGENT), 403, "forbidden")
    assert (await http.get(f"/api/v1/agents/{omar}", headers=AGENT)).status_code == 200


@pytest.mark.parametrize("sort", ["-created", "created", "score", "-score", "last_activity", "-next_follow_up"])
async def test_a_cursor_walk_gives_every_lead_once_in_order(http: httpx.AsyncClient, seeded_db_url: str,
                                                            sort: str) -> None:
    items = await walk(http, "/api/v1/leads", sort=sort, limit=37)
    assert len(items) == one(seeded_db_url, "SELECT count(*) FROM crm.leads")
    assert len({i["lead_id"] for i in items}) == len(items)
    key = {"created": "created_at", "score": "score", "last_activity": "last_activity_at",
           "next_follow_up": "next_follow_up_at"}[sort.lstrip("-")]
    values = [i[key] for i in items if i[key] is not None]
    assert values == sorted(values, reverse=sort.startswith("-"))
    if key in ("last_activity_at", "next_follow_up_at"):  # those without sort last
        missing = [i[key] is None for i in items]
        assert missing == sorted(missing)


async def test_filters_and_bad_list_parameters(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    hot = await walk(http, "/api/v1/leads", score_min=80, active=True, source="bayut", limit=200)
    assert hot == [] or all(i["score"] >= 80 and i["source_type"] == "bayut" and i["status"] not in
                            ("converted", "lost") for i in hot)
    assert len(hot) == one(seeded_db_url, "SELECT count(*) FROM crm.leads WHERE score >= 80 AND source_type = 'bayut' "
                                          "AND status NOT IN ('converted', 'lost')")
    closed = await walk(http, "/api/v1/leads", status="converted,lost", limit=200)
    assert closed and {i["status"] for i in closed} == {"converted", "lost"}
    area = await walk(http, "/api/v1/leads", area="dubai_marina", limit=200)
    assert len(area) == one(seeded_db_url,
                            "SELECT count(*) FROM crm.lead_preferred_areas WHERE area_code = 'dubai_marina'")
    page = (await http.get("/api/v1/leads", params={"limit": 2})).json()
    assert_problem(await http.get("/api/v1/leads", params={"cursor": page["next"], "sort": "score"}), 422,
                   "invalid_cursor")
    for params in ({"cursor": "bm90LWpzb24"}, {"cursor": "a b"}, {"limit": 500}, {"sort": "name"},
                   {"status": "won"}, {"score_min": 90, "score_max": 10}, {"created_from": "2026-01-01T00:00:00"},
                   {"q": "x"}):
        response = await http.get("/api/v1/leads", params=params)
        assert response.status_code == 422, (params, response.text)


async def test_search_by_name_in_any_script_by_email_and_by_phone_in_any_format(http: httpx.AsyncClient,
                                                                                seeded_db_url: str) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        arabic = conn.execute("SELECT lead_id::text, first_name, phone, email FROM crm.leads "
                              "WHERE first_name ~ '[\u0600-\u06FF]' AND email IS NOT NULL LIMIT 1").fetchone()
    assert arabic is not None
    lead, name, phone, email = arabic
    for q in (name[1:4], email.split("@")[0].upper(), phone, "0" + phone[4:] if phone.startswith("+971") else phone,
              " ".join([phone[:4], phone[4:6], phone[6:]])):
        found = await walk(http, "/api/v1/leads", q=q, limit=200)
        assert lead in {i["lead_id"] for i in found}, q
    assert await walk(http, "/api/v1/leads", q="zzqqxxnobody") == []
    assert await walk(http, "/api/v1/leads", q="%_") == []  # LIKE's wildcards are searched as text


async def test_patch_needs_a_current_etag_and_checks_what_it_changes(http: httpx.AsyncClient,
                                                                     seeded_db_url: str) -> None:
    lead = open_lead_of(seeded_db_url, OMAR)
    url = f"/api/v1/leads/{lead}"
    etag = (await http.get(url)).headers["ETag"]
    assert_problem(await http.patch(url, json={"last_name": "Smith"}), 428, "precondition_required")
    assert_problem(await http.patch(url, json={"last_name": "Smith"}, headers={"If-Match": 'W/"99999"'}), 412,
                   "lead_version_mismatch")
    assert_problem(await http.patch(url, json={"last_name": "Smith"}, headers={"If-Match": "nonsense"}), 412,
                   "lead_version_mismatch")
    assert_problem(await http.patch(url, json={}, headers={"If-Match": etag}), 422, "validation_error")
    assert_problem(await http.patch(url, json={"preferred_areas": ["Atlantis"]}, headers={"If-Match": etag}), 422,
                   "unknown_area")
    assert_problem(await http.patch(url, json={"language_preference": "Klingon"}, headers={"If-Match": etag}), 422,
                   "unknown_language")
    source, = (one(seeded_db_url, "SELECT source_type FROM crm.leads WHERE lead_id = %s", lead),)
    twin = one(seeded_db_url, "SELECT phone FROM crm.leads WHERE source_type = %s AND lead_id <> %s LIMIT 1",
               source, lead)
    assert_problem(await http.patch(url, json={"phone": twin}, headers={"If-Match": etag}), 409,
                   "leads_source_phone_key")
    fixed = await http.patch(url, json={"phone": "050 123 9876", "nationality": "Emirati",
                                        "preferred_areas": ["JBR", "Marina"]}, headers={"If-Match": etag})
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert (body["phone"], body["nationality"], body["preferred_areas"]) == (
        "+971501239876", "AE", ["dubai_marina", "jbr"])
    assert fixed.headers["ETag"] != etag
    audit = one(seeded_db_url, "SELECT new_values FROM crm.lead_audit WHERE lead_id = %s ORDER BY audit_id DESC "
                               "LIMIT 1", lead)
    assert audit["phone"] == "+971501239876"
    assert_problem(await http.patch(url, json={"last_name": "Late"}, headers={"If-Match": etag}), 412,
                   "lead_version_mismatch")


async def test_two_editors_with_one_etag_in_parallel_one_wins(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    lead = open_lead_of(seeded_db_url, OMAR, offset=1)
    url = f"/api/v1/leads/{lead}"
    etag = (await http.get(url)).headers["ETag"]
    answers = await asyncio.gather(*(http.patch(url, json={"last_name": f"Editor{i}"}, headers={"If-Match": etag})
                                     for i in range(8)))
    assert sorted(r.status_code for r in answers) == [200] + [412] * 7
    winner = next(r for r in answers if r.status_code == 200).json()["last_name"]
    assert one(seeded_db_url, "SELECT last_name FROM crm.leads WHERE lead_id = %s", lead) == winner


async def test_follow_up_changes(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    soon = dt.datetime.now(dt.UTC).isoformat()
    tasks = (await http.get("/api/v1/follow-ups", params={"status": "open", "limit": 3, "due_from": soon},
                            headers=AGENT)).json()["items"]
    first, second, third = tasks
    priya_task = one(seeded_db_url, f"SELECT task_id::text FROM crm.follow_up_tasks WHERE agent_id = {PRIYA} "
                                    "AND status = 'open' LIMIT 1")
    assert_problem(await http.post(f"/api/v1/follow-ups/{priya_task}/cancel", json={"reason": "x"}, headers=AGENT),
                   404, "follow_up_not_found")
    conflict = await http.post(f"/api/v1/follow-ups/{first['task_id']}/reschedule",
                               json={"due_at": second["due_at"]}, headers=AGENT)
    problem = assert_problem(conflict, 409, "follow_up_conflict")
    assert problem["next_free_slot"]
    assert_problem(await http.post(f"/api/v1/follow-ups/{first['task_id']}/reschedule",
                                   json={"due_at": "2020-01-01T10:00:00Z"}, headers=AGENT), 422, "follow_up_in_past")
    assert_problem(await http.post(f"/api/v1/follow-ups/{first['task_id']}/reschedule",
                                   json={"due_at": "2027-01-01T10:00:00"}, headers=AGENT), 422, "validation_error")
    free = dt.datetime.fromisoformat(problem["next_free_slot"])
    moved = await http.post(f"/api/v1/follow-ups/{first['task_id']}/reschedule",
                            json={"due_at": free.isoformat()}, headers=AGENT)
    assert moved.status_code == 200 and dt.datetime.fromisoformat(moved.json()["due_at"]) == free
    score = one(seeded_db_url, "SELECT score FROM crm.leads WHERE lead_id = %s", third["lead_id"])
    done = (await http.post(f"/api/v1/follow-ups/{third['task_id']}/complete", json={"outcome": "positive"},
                            headers=AGENT)).json()
    assert done["status"] == "done" and done["activity"]["score"]["from"] == score
    assert one(seeded_db_url, "SELECT score FROM crm.leads WHERE lead_id = %s", third["lead_id"]) == \
        done["activity"]["score"]["to"]
    assert_problem(await http.post(f"/api/v1/follow-ups/{third['task_id']}/cancel", json={"reason": "again"},
                                   headers=AGENT), 409, "follow_up_task_closed")
    assert one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0


async def test_capacity_and_deactivation(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    omar = one(seeded_db_url, f"SELECT {OMAR}::text")
    held = one(seeded_db_url, f"SELECT active_leads FROM crm.agents WHERE agent_id = {OMAR}")
    problem = assert_problem(await http.patch(f"/api/v1/agents/{omar}", json={"max_active_leads": held - 1}), 409,
                             "capacity_below_workload")
    assert problem["active_leads"] == held
    assert_problem(await http.patch(f"/api/v1/agents/{omar}", json={"max_active_leads": 51}), 422, "validation_error")
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:  # nobody else has room
        conn.execute(f"UPDATE crm.agents SET max_active_leads = active_leads WHERE agent_id <> {OMAR}")
        try:
            assert_problem(await http.patch(f"/api/v1/agents/{omar}", json={"is_active": False}), 409,
                           "agent_leads_unplaced")
            assert one(seeded_db_url, f"SELECT is_active FROM crm.agents WHERE agent_id = {OMAR}") is True
            assert one(seeded_db_url, f"SELECT active_leads FROM crm.agents WHERE agent_id = {OMAR}") == held
        finally:
            conn.execute(f"UPDATE crm.agents SET max_active_leads = 50 WHERE agent_id <> {OMAR}")
    gone = await http.patch(f"/api/v1/agents/{omar}", json={"is_active": False}, headers={"X-API-Key": SUPERVISOR_KEY})
    assert gone.status_code == 200, gone.text
    assert (gone.json()["is_active"], gone.json()["active_leads"]) == (False, 0)
    moved = one(seeded_db_url, f"SELECT count(*) FROM crm.lead_assignments WHERE agent_id = {OMAR} "
                               "AND release_reason = 'agent_deactivated'")
    open_held = one(seeded_db_url, f"""SELECT count(*) FROM crm.lead_assignments AS a JOIN crm.leads AS l
                                              USING (lead_id) WHERE a.agent_id = {OMAR} AND a.released_at IS NULL
                                               AND l.status NOT IN ('converted', 'lost')""")
    assert moved == held and open_held == 0
    assert one(seeded_db_url, "SELECT count(*) FROM reporting.invariant_violations") == 0


async def test_policy_is_checked_by_the_database_and_audited(http: httpx.AsyncClient, seeded_db_url: str) -> None:
    assert_problem(await http.put("/api/v1/policy/settings/duplicate_window", json={"value": "24 hours"},
                                  headers={"X-API-Key": SUPERVISOR_KEY}), 403, "forbidden")
    for key, value in (("duplicate_window", "soon"), ("duplicate_window", 24), ("business_hours", {"start": "09:00"}),
                       ("timezone", "Mars/Olympus"), ("assignment_weights", {"area": 500}),
                       ("sla_hot_lead", {"within": "1 hour", "priority": "urgent", "min_score": 80,
                                         "task_type": "call", "business_time": False})):
        response = await http.put(f"/api/v1/policy/settings/{key}", json={"value": value})
        problem = assert_problem(response, 422, "setting_shape")
        assert problem["setting_key"] == key and problem["reason"]
    assert_problem(await http.put("/api/v1/policy/settings/no_such_thing", json={"value": 1}), 404,
                   "setting_not_found")
    assert_problem(await http.put("/api/v1/policy/scoring-rules/budget_1m_2m", json={"points": 500}), 422,
                   "lead_scoring_rules_points_range")
    assert_problem(await http.put("/api/v1/policy/scoring-rules/budget_1m_2m", json={"min_value": 9000000}), 422,
                   "lead_scoring_rules_range_order")
    assert_problem(await http.put("/api/v1/policy/scoring-rules/new_rule", json={"points": 5}), 404,
                   "scoring_rule_not_found")
    created = await http.put("/api/v1/policy/scoring-rules/property_penthouse",
                             json={"factor": "property_type", "match_value": "villa", "points": 3})
    assert created.status_code == 201
    before = one(seeded_db_url, "SELECT points FROM crm.lead_scoring_rules WHERE rule_key = 'referral_bonus'")
    preview = (await http.post("/api/v1/policy/scoring-rules/preview", json={
        "lead": {"source_type": "referral", "lead_data": {}}, "rules": [{"rule_key": "referral_bonus", "points": 0}]},
        headers={"X-API-Key": SUPERVISOR_KEY})).json()
    assert preview["change"] == -before
    assert one(seeded_db_url, "SELECT points FROM crm.lead_scoring_rules WHERE rule_key = 'referral_bonus'") == before
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:  # psql meets the same shape check and audit
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("UPDATE crm.settings SET value = '\"often\"' WHERE setting_key = 'analytics_refresh_interval'")
        assert refused.value.diag.constraint_name == "setting_shape"
        conn.execute("UPDATE crm.settings SET value = '\"20 minutes\"' "
                     "WHERE setting_key = 'analytics_refresh_interval'")
    changes = (await http.get("/api/v1/policy/changes", params={"limit": 2})).json()["items"]
    assert [c["policy_key"] for c in changes] == ["analytics_refresh_interval", "property_penthouse"]
    assert changes[0]["old_value"]["value"] == "10 minutes" and changes[0]["new_value"]["value"] == "20 minutes"
