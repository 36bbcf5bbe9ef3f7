"""GET /api/v1/analytics: every report answers over the demo data; unknown reports and bad windows are problems."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api.deps import init_connection
from api.sweeper import sweep_once
from tests.api.conftest import INTEGRATION_KEY, api_client, assert_problem
from tests.conftest import Servers, with_user

REPORTS = ("conversion-by-source", "conversion-by-agent", "time-to-conversion", "monthly-volume", "agent-rankings",
           "revenue-by-source", "high-score-not-converted", "low-score-converted", "source-quality",
           "response-time-conversion", "workload", "near-capacity", "specialist-vs-generalist", "speed-to-lead",
           "speed-to-lead-overall", "speed-to-lead-by-agent", "speed-to-lead-by-source", "speed-to-lead-by-weekday",
           "speed-to-lead-by-hour")


@pytest.fixture
async def http(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(seeded_db_url, servers.redis_url) as client:
        yield client


async def test_every_report_answers(http: httpx.AsyncClient) -> None:
    listed = (await http.get("/api/v1/analytics")).json()["reports"]
    assert {r["name"] for r in listed} == set(REPORTS)
    for name in REPORTS:
        response = await http.get(f"/api/v1/analytics/{name}", params={"date_from": "2026-01-01"})
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        assert body["report"] == name and isinstance(body["rows"], list)
        assert body["live"] is (name in ("workload", "near-capacity")) and body["as_of"]
    by_source = (await http.get("/api/v1/analytics/conversion-by-source")).json()["rows"]
    assert {r["source_type"] for r in by_source} == {"bayut", "propertyFinder", "dubizzle", "website", "walk_in",
                                                     "referral"}
    assert sum(r["leads"] for r in by_source) >= 195


async def test_report_errors(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get("/api/v1/analytics/horoscope"), 404, "report_not_found")
    # the key first, the name after: without a valid key (or with a role that may not) no name is confirmed
    for name in ("horoscope", "conversion-by-source"):
        assert_problem(await http.get(f"/api/v1/analytics/{name}", headers={"X-API-Key": ""}), 401,
                       "api_key_missing")
        assert_problem(await http.get(f"/api/v1/analytics/{name}", headers={"X-API-Key": "trk_00000000_nope"}),
                       401, "api_key_invalid")
        assert_problem(await http.get(f"/api/v1/analytics/{name}", headers={"X-API-Key": INTEGRATION_KEY}),
                       403, "forbidden")
    assert_problem(await http.get("/api/v1/analytics/conversion-by-source",
                                  params={"date_from": "2026-03-01", "date_to": "2026-02-01"}), 422, "validation_error")
    assert_problem(await http.get("/api/v1/analytics/conversion-by-source", params={"date_from": "soon"}),
                   422, "validation_error")


async def test_the_lists_page_with_a_cursor_and_a_total(http: httpx.AsyncClient) -> None:
    url = "/api/v1/analytics/high-score-not-converted"
    whole = (await http.get(url, params={"limit": 500})).json()
    assert whole["next"] is None and whole["total"] == len(whole["rows"]) > 3
    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await http.get(url, params=params)).json()
        assert page["total"] == whole["total"] and len(page["rows"]) <= 2
        seen += [r["lead_id"] for r in page["rows"]]
        if (cursor := page["next"]) is None:
            break
    assert seen == [r["lead_id"] for r in whole["rows"]]   # every row once, in the list's order
    catalog = {r["name"]: r for r in (await http.get("/api/v1/analytics")).json()["reports"]}
    assert catalog["high-score-not-converted"]["paged"] and not catalog["conversion-by-source"]["paged"]
    assert catalog["revenue-by-source"]["dated_by"] == ["capture", "close"] and catalog["workload"]["dated_by"] == []
    closed = (await http.get("/api/v1/analytics/revenue-by-source", params={"dated_by": "close"})).json()
    assert closed["filters"]["dated_by"] == "close" and closed["rows"]


async def test_paging_and_dating_errors(http: httpx.AsyncClient) -> None:
    url = "/api/v1/analytics/high-score-not-converted"
    first = (await http.get(url, params={"limit": 1})).json()
    assert_problem(await http.get(url, params={"cursor": first["next"], "date_from": "2026-01-01"}), 422,
                   "invalid_cursor")
    assert_problem(await http.get(url, params={"cursor": "x" * 32}), 422, "invalid_cursor")
    assert_problem(await http.get(url, params={"limit": 0}), 422, "invalid_report_parameter")
    assert_problem(await http.get(url, params={"limit": "many"}), 422, "validation_error")
    assert_problem(await http.get(url, params={"dated_by": "close"}), 422, "invalid_report_parameter")
    assert_problem(await http.get("/api/v1/analytics/conversion-by-source", params={"limit": 5}), 422,
                   "invalid_report_parameter")
    assert_problem(await http.get("/api/v1/analytics/conversion-by-source", params={"dated_by": "signed"}), 422,
                   "validation_error")


async def test_the_sweeper_refreshes_the_snapshot_when_due(seeded_db_url: str, servers: Servers) -> None:
    conn = await asyncpg.connect(with_user(seeded_db_url, "thinkrealty_jobs"))  # the sweeper's own login
    await init_connection(conn)
    try:
        first = await sweep_once(conn)
        assert first["analytics"]["refreshed"] is False and first["analytics"]["reason"] == "not due"  # seed took it
        taken = await asyncpg_owner_fetch(seeded_db_url, "SELECT refreshed_at FROM reporting.analytics_freshness")
        await asyncpg_owner_fetch(seeded_db_url, "UPDATE crm.analytics_snapshot_log "
                                                 "SET refreshed_at = refreshed_at - interval '1 hour'")
        second = await sweep_once(conn)
        assert second["analytics"]["refreshed"] is True and second["analytics"]["rows"] >= 195
        assert await asyncpg_owner_fetch(seeded_db_url,
                                         "SELECT refreshed_at FROM reporting.analytics_freshness") > taken
    finally:
        await conn.close()


async def asyncpg_owner_fetch(url: str, query: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()
