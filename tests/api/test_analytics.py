"""GET /api/v1/analytics: every report answers over the demo data; unknown reports and bad windows are problems."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from api.deps import open_pool
from api.routes.analytics import REPORTS
from api.sweeper import sweep_once
from tests.api.conftest import api_client, assert_problem, make_settings
from tests.conftest import Servers, with_user


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
    assert_problem(await http.get("/api/v1/analytics/conversion-by-source",
                                  params={"date_from": "2026-03-01", "date_to": "2026-02-01"}), 422, "validation_error")
    assert_problem(await http.get("/api/v1/analytics/conversion-by-source", params={"date_from": "soon"}),
                   422, "validation_error")


async def test_the_sweeper_refreshes_the_snapshot_when_due(seeded_db_url: str, servers: Servers) -> None:
    pool = await open_pool(make_settings(with_user(seeded_db_url, "thinkrealty_app"), servers.redis_url))
    try:
        first = await sweep_once(pool)
        assert first["analytics"]["refreshed"] is False and first["analytics"]["reason"] == "not due"  # seed took it
        async with pool.acquire() as conn:
            taken = await conn.fetchval("SELECT refreshed_at FROM reporting.analytics_freshness")
        await asyncpg_owner_execute(seeded_db_url, "UPDATE crm.analytics_snapshot_log "
                                                   "SET refreshed_at = refreshed_at - interval '1 hour'")
        second = await sweep_once(pool)
        assert second["analytics"]["refreshed"] is True and second["analytics"]["rows"] >= 195
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT refreshed_at FROM reporting.analytics_freshness") > taken
    finally:
        await pool.close()


async def asyncpg_owner_execute(url: str, query: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(query)
    finally:
        await conn.close()
