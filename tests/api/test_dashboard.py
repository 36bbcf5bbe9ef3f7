"""GET /api/v1/agents/{id}/dashboard: every figure against a small hand-built dataset, every filter, the errors,
and the Redis cache (hits, invalidation by API and by plain SQL, Redis stopped and back: real processes)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from devservers.redis import EmbeddedRedis
from tests.api.conftest import api_client, assert_problem
from tests.conftest import Servers
from tests.db.factories import new_agent

DUBAI = ZoneInfo("Asia/Dubai")


class World:
    """Agent A with five leads (hand-picked scores, statuses, dates), agent B who answers faster, agent C inactive."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.a = new_agent(conn)
        self.b = new_agent(conn)
        self.c = new_agent(conn, is_active=False)
        self.today = datetime.now(DUBAI).date()
        self.l1 = self.lead(self.a, "bayut", days_ago=1, score=40)
        self.l2 = self.lead(self.a, "website", days_ago=2, score=80, status="converted")
        self.l3 = self.lead(self.a, "bayut", days_ago=3, score=20, status="lost")
        self.l4 = self.lead(self.a, "bayut", days_ago=10, score=60, status="contacted",
                            answered_after=timedelta(hours=2))
        self.l5 = self.lead(self.a, "referral", days_ago=60, score=30)
        self.lb = self.lead(self.b, "bayut", days_ago=1, score=70, answered_after=timedelta(hours=1))
        now = datetime.now(DUBAI)
        conn.execute("SELECT crm.refresh_performance_metrics(now())")  # what the sweep does every minute
        conn.execute("UPDATE crm.settings SET value = '1' WHERE setting_key = 'ranking_min_responses'")  # one each
        self.overdue = self.task(self.l1, now - timedelta(hours=2))
        self.upcoming = self.task(self.l4, now + timedelta(days=2))

    def lead(self, agent: str, source: str, *, days_ago: int, score: int, status: str = "new",
             answered_after: timedelta | None = None) -> str:
        created = datetime.now(DUBAI) - timedelta(days=days_ago)
        row = self.conn.execute(
            "INSERT INTO crm.leads (source_type, first_name, last_name, phone, score, created_at) "
            "VALUES (%s, 'Lead', %s, %s, %s, %s) RETURNING lead_id::text",
            (source, f"{source}-{days_ago}", f"+97155{uuid.uuid4().int % 10**7:07d}", score, created)).fetchone()
        assert row is not None
        lead = str(row[0])
        self.conn.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at) "
                          "VALUES (%s, %s, 'auto', %s)", (lead, agent, created + timedelta(minutes=1)))
        if answered_after:
            self.conn.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, occurred_at) "
                              "VALUES (%s, %s, 'call', %s)", (lead, agent, created + answered_after))
        path = {"converted": ["contacted", "qualified", "viewing_scheduled", "negotiation", "converted"],
                "lost": ["lost"], "contacted": ["contacted"], "new": []}[status]
        for step in path:
            self.conn.execute(
                "UPDATE crm.leads SET status = %s, deal_value_aed = CASE WHEN %s = 'converted' THEN 1000000 END, "
                "lost_reason = CASE WHEN %s = 'lost' THEN 'budget' END WHERE lead_id = %s", (step, step, step, lead))
        return lead

    def task(self, lead: str, due: datetime) -> str:
        row = self.conn.execute("INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at) "
                                "VALUES (%s, %s, 'call', 'high', %s) RETURNING task_id::text",
                                (lead, self.a, due)).fetchone()
        assert row is not None
        return str(row[0])


@pytest.fixture
def world(db: psycopg.Connection) -> World:
    return World(db)


@pytest.fixture
async def http(db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(db_url, servers.redis_url) as client:
        yield client


async def dashboard(http: httpx.AsyncClient, agent: str, **params: Any) -> dict[str, Any]:
    response = await http.get(f"/api/v1/agents/{agent}/dashboard", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_figure_over_30_days(http: httpx.AsyncClient, world: World) -> None:
    body = await dashboard(http, world.a)
    assert list(body) == ["agent_summary", "recent_leads", "pending_tasks", "performance_metrics", "filters",
                          "generated_at"]
    # the offers A has not accepted (the world assigns as psql does: every routed row an offer), oldest first;
    # l4 was answered by a call, l2 and l3 are closed
    assert [o["lead_id"] for o in body["agent_summary"].pop("pending_offers")] == [world.l5, world.l1]
    assert body["agent_summary"] == {
        "first_response_p50_seconds": 7200,  # of the range's leads only l4 had a first contact: 2 h after capture
        "total_active_leads": 3,            # l1, l4, l5 are open; l2 and l3 are closed
        "overdue_follow_ups": 1,            # the task due two hours ago
        "this_month_conversions": 1,        # l2, converted just now
        "average_response_time": "2.0 hours",
        "average_response_seconds": 7140,   # only l4 was answered, 2 h after it arrived: 1 h 59 after A got it
        "lead_score_average": 50,           # (40 + 80 + 20 + 60) / 4; l5 is older than 30 days
    }
    assert [lead["lead_id"] for lead in body["recent_leads"]] == [world.l1, world.l2, world.l3, world.l4]
    first = body["recent_leads"][0]
    assert (first["source"], first["status"], first["score"], first["name"]) == ("bayut", "new", 40, "Lead bayut-1")
    assert first["next_follow_up"] is not None and body["recent_leads"][1]["next_follow_up"] is None
    # both were booked high; the priority follows the lead: l4 (score 60) is medium, l1 (40) low, and two hours
    # overdue is not yet raised (follow_up_overdue_raise: a day); higher priority first
    assert [(t["task_id"], t["priority"]) for t in body["pending_tasks"]] == [(world.upcoming, "medium"),
                                                                              (world.overdue, "low")]
    assert body["pending_tasks"][1] | {"due_date": None} == {
        "task_id": world.overdue, "lead_name": "Lead bayut-1", "task_type": "call", "due_date": None,
        "priority": "low"}
    assert body["performance_metrics"] == {
        "conversion_rate": 50.0,            # l2 converted, l3 lost
        "average_deal_size": 1000000,
        "response_time_rank": 2,            # B answered in 59 minutes, A in 119; C has no leads
        "ranked_agents": 2,
        "response_time_rank_reason": None,
        "response_time_rank_months": sorted({(world.today - timedelta(days=29)).strftime("%Y-%m"),
                                             world.today.strftime("%Y-%m")}),
        "offer_accept_rate": 100.0,          # of the range's offers answered (l4's, by its call), all accepted
    }


@pytest.mark.parametrize(("params", "leads", "score_average", "conversion_rate"), [
    ({"date_range": "7d"}, ["l1", "l2", "l3"], 47, 50.0),
    ({"date_range": "90d"}, ["l1", "l2", "l3", "l4", "l5"], 46, 50.0),
    ({"status_filter": "active"}, ["l1", "l4"], 50, None),  # nothing closed: no rate
    ({"status_filter": "converted"}, ["l2"], 80, 100.0),
    ({"status_filter": "lost"}, ["l3"], 20, 0.0),
    ({"source_filter": "bayut"}, ["l1", "l3", "l4"], 40, 0.0),
    ({"source_filter": "referral", "date_range": "90d"}, ["l5"], 30, None),
    ({"source_filter": "dubizzle"}, [], None, None),
])
async def test_filters(http: httpx.AsyncClient, world: World, params: dict[str, str], leads: list[str],
                       score_average: int | None, conversion_rate: float | None) -> None:
    body = await dashboard(http, world.a, **params)
    assert [lead["lead_id"] for lead in body["recent_leads"]] == [getattr(world, name) for name in leads]
    assert body["agent_summary"]["lead_score_average"] == score_average
    assert body["performance_metrics"]["conversion_rate"] == conversion_rate


async def test_custom_range_in_dubai_days(http: httpx.AsyncClient, world: World) -> None:
    start, end = world.today - timedelta(days=4), world.today - timedelta(days=1)
    body = await dashboard(http, world.a, date_range="custom", date_from=start.isoformat(), date_to=end.isoformat())
    assert [lead["lead_id"] for lead in body["recent_leads"]] == [world.l1, world.l2, world.l3]
    assert body["filters"]["date_from"] == start.isoformat() and body["filters"]["timezone"] == "Asia/Dubai"
    only_l4 = world.today - timedelta(days=10)
    body = await dashboard(http, world.a, date_range="custom", date_from=only_l4.isoformat(),
                           date_to=only_l4.isoformat())
    assert [lead["lead_id"] for lead in body["recent_leads"]] == [world.l4]
    assert body["agent_summary"]["this_month_conversions"] == 1  # not range-bound: this calendar month


@pytest.mark.parametrize("params", [
    {"date_range": "1y"}, {"date_range": "custom"}, {"date_range": "custom", "date_from": "2026-02-01"},
    {"date_range": "custom", "date_from": "2026-03-01", "date_to": "2026-02-01"},
    {"date_range": "custom", "date_from": "2020-01-01", "date_to": "2026-01-01"},
    {"date_from": "2026-01-01"}, {"status_filter": "won"}, {"source_filter": "face book"},
    {"date_range": "custom", "date_from": "yesterday", "date_to": "2026-01-01"}, {"colour": "red"},
])
async def test_bad_filters_are_422(http: httpx.AsyncClient, world: World, params: dict[str, str]) -> None:
    assert_problem(await http.get(f"/api/v1/agents/{world.a}/dashboard", params=params), 422, "validation_error")


async def test_a_source_the_table_does_not_have_is_refused_by_the_database(http: httpx.AsyncClient,
                                                                          world: World) -> None:
    assert_problem(await http.get(f"/api/v1/agents/{world.a}/dashboard", params={"source_filter": "facebook"}),
                   422, "invalid_dashboard_filter")


async def test_unknown_agent_is_404(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get(f"/api/v1/agents/{uuid.uuid4()}/dashboard"), 404, "agent_not_found")
    assert_problem(await http.get("/api/v1/agents/bob/dashboard"), 422, "validation_error")


async def _until_miss(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """The invalidation reaches the app's listener at its next look at the change log (DASHBOARD_POLL_S): give it a
    moment."""
    for _ in range(40):
        response = await http.get(url)
        if response.headers["x-cache"] == "miss":
            return response
        await asyncio.sleep(0.05)
    raise AssertionError("the cached dashboard was never invalidated")


async def _until_hit(http: httpx.AsyncClient, url: str) -> None:
    for _ in range(40):
        if (await http.get(url)).headers["x-cache"] == "hit":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the dashboard was never served from the cache")


async def test_cache_hits_and_invalidation_by_api_and_by_sql(http: httpx.AsyncClient, world: World,
                                                             db_url: str) -> None:
    url = f"/api/v1/agents/{world.a}/dashboard"
    await http.get(url)  # the listener may have been connecting: this first answer is a miss
    assert (await http.get(url)).headers["x-cache"] == "hit"
    assert (await http.get(url, params={"date_range": "7d"})).headers["x-cache"] == "miss"
    assert (await http.get(url, params={"date_range": "7d"})).headers["x-cache"] == "hit"
    assert (await http.get(f"/api/v1/agents/{world.b}/dashboard")).headers["x-cache"] == "miss"

    # through the API
    updated = await http.put(f"/api/v1/leads/{world.l1}/update", json={"status": "contacted"})
    assert updated.status_code == 200
    first = await http.get(url)  # the route dropped A's entries before it answered: no waiting for the log
    assert first.headers["x-cache"] == "miss" and first.json()["recent_leads"][0]["status"] == "contacted"
    assert (await http.get(f"/api/v1/agents/{world.b}/dashboard")).headers["x-cache"] == "hit"  # B untouched

    # through plain SQL, as a DBA would (first let the change log's record of the API's change drop A's entry)
    await _until_hit(http, url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE crm.leads SET first_name = 'Renamed' WHERE lead_id = %s", (world.l3,))
    fresh = (await _until_miss(http, url)).json()
    assert {lead["name"].split()[0] for lead in fresh["recent_leads"] if lead["lead_id"] == world.l3} == {"Renamed"}
    # cached again (not necessarily at the next request: an answer given while the invalidation was pending is a
    # miss that is not stored, and the request after it may be one more miss)
    await _until_hit(http, url)


async def test_the_listener_reconnects_after_its_connection_is_killed(http: httpx.AsyncClient, world: World,
                                                                       db_url: str) -> None:
    """Its backend terminated (a DBA's pg_terminate_backend, a failover): the listener connects again, drops every
    cached dashboard (changes in between were not looked for), and changes made after that invalidate as before."""
    url = f"/api/v1/agents/{world.a}/dashboard"
    await _until_hit(http, url)
    listener = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'thinkrealty-listener'")
    with psycopg.connect(db_url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(listener)]
        assert len(pids) == 1
        conn.execute("SELECT pg_terminate_backend(%s)", (pids[0],))
        conn.execute("UPDATE crm.leads SET first_name = 'Unseen' WHERE lead_id = %s", (world.l3,))
        for _ in range(100):   # reconnects after DASHBOARD_POLL_S + its retry pause
            now = [r[0] for r in conn.execute(listener)]
            if now and now != pids:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the listener never reconnected")
        missed = (await _until_miss(http, url)).json()   # dropped at the reconnection
        assert any(lead["name"].startswith("Unseen") for lead in missed["recent_leads"])
        await _until_hit(http, url)
        conn.execute("UPDATE crm.leads SET first_name = 'Later' WHERE lead_id = %s", (world.l3,))
        later = (await _until_miss(http, url)).json()
        assert any(lead["name"].startswith("Later") for lead in later["recent_leads"])


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    with tempfile.TemporaryDirectory(prefix="dash-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp)).start()
        try:
            yield server
        finally:
            server.stop()


async def test_redis_down_serves_from_the_database_and_caching_resumes(
    world: World, db_url: str, own_redis: EmbeddedRedis
) -> None:
    url = f"/api/v1/agents/{world.a}/dashboard"
    async with api_client(db_url, own_redis.url()) as http:
        await http.get(url)
        assert (await http.get(url)).headers["x-cache"] == "hit"
        own_redis.stop()
        for _ in range(3):
            down = await http.get(url)
            assert down.status_code == 200 and down.headers["x-cache"] == "miss"
            assert down.json()["agent_summary"]["total_active_leads"] == 3
        own_redis.start()
        await asyncio.sleep(2.2)  # the cache is skipped for 2 s after a failure, then tried again
        for _ in range(20):
            if (await http.get(url)).headers["x-cache"] == "hit":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("caching did not resume after Redis came back")



async def test_notified_invalidations_are_batched_and_never_lost(own_redis: EmbeddedRedis) -> None:
    """The listener's notifications go through DashboardCache.schedule_invalidation: a burst is applied in a few
    pipelined rounds by one worker; an agent with an invalidation not yet applied is neither served nor stored; and
    when Redis is down the invalidations wait and are applied once it is back (a real redis-server, stopped)."""
    from api.cache import DashboardCache, create_redis

    client = create_redis(own_redis.url(), 0.5)
    cache = DashboardCache(client, ttl_s=60, retry_after_s=0.2)
    agents = [str(uuid.uuid4()) for _ in range(50)]
    try:
        for agent in agents:
            _, version = await cache.get(agent, "f")
            assert version is not None and await cache.put(agent, "f", b"old", version)
        worker = asyncio.create_task(cache.run_invalidations())
        for agent in agents:  # 50 notifications in one burst
            cache.schedule_invalidation(agent)
        assert await cache.get(agents[0], "f") == (None, None)  # pending: not served, not to be stored
        for _ in range(50):
            await asyncio.sleep(0.02)
            if not cache._pending and not cache._applying:
                break
        assert [await cache.get(agent, "f") for agent in agents[:3]] == [(None, "1")] * 3
        commands = (await client.info("commandstats")).get("cmdstat_exec", {}).get("calls", 0)
        assert 1 <= commands <= 5  # a few MULTI/EXEC rounds, not fifty
        # Redis unreachable: the invalidation stays pending (the stale entry is not served), and lands once it is back
        _, version = await cache.get(agents[0], "f")
        assert version is not None and await cache.put(agents[0], "f", b"old again", version)
        from devservers.ports import free_port

        dead = create_redis(f"redis://127.0.0.1:{free_port()}/0", 0.2)  # nothing listens there
        cache.client = dead
        cache.schedule_invalidation(agents[0])
        await asyncio.sleep(0.3)
        assert agents[0] in cache._pending and await cache.get(agents[0], "f") == (None, None)
        cache.client = client  # reachable again
        for _ in range(100):
            await asyncio.sleep(0.05)
            if not cache._pending and not cache._applying:
                break
        await asyncio.sleep(0.3)  # the cache skips Redis for retry_after_s after an error
        assert await cache.get(agents[0], "f") == (None, "2")
        await dead.aclose()
        worker.cancel()
    finally:
        await client.aclose()
