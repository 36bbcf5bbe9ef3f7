"""Webhooks end to end, with a real receiver (devservers/webhook_receiver.py) checking every signature: the subscription
resource and its errors, 300 parallel captures delivered exactly once per event id and in order per lead, a
receiver that is down and comes back, one that answers 410 or hangs, and a dispatcher killed mid-batch while a second
process keeps running."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest

from api.dispatcher import Dispatcher
from devservers.ports import free_port
from devservers.webhook_receiver import Receiver
from tests.api.conftest import (
    ADMIN_KEY,
    INTEGRATION_KEY,
    ROOT,
    SUPERVISOR_KEY,
    api_client,
    app_url,
    assert_problem,
    ensure_demo_keys,
    jobs_url,
    live_api,
    uvicorn_command,
    wait_until_healthy,
)
from tests.conftest import Servers


def policy(db_url: str, **settings: str) -> None:
    """crm.settings as a DBA changes them (values as JSON text)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for key, value in settings.items():
            conn.execute("UPDATE crm.settings SET value = %s::jsonb WHERE setting_key = %s", (value, key))


def lead_body(i: int, tag: str) -> dict[str, Any]:
    return {"source_type": ["bayut", "propertyFinder", "dubizzle", "website", "walk_in", "referral"][i % 6],
            "lead_data": {"first_name": "Hook", "last_name": f"Test {chr(65 + i % 26)}", "phone": f"+97158{i:07d}",
                          "budget_max": 400_000 + 50_000 * (i % 40),
                          "property_type": ["apartment", "villa", "townhouse", "commercial"][i % 4],
                          "preferred_areas": [["Marina"], ["Downtown"], ["JVC"], []][i % 4]},
            "source_details": {"campaign_id": tag}}


async def subscribe(http: httpx.AsyncClient, receiver: Receiver, topics: list[str]) -> dict[str, Any]:
    response = await http.post("/api/v1/webhooks", json={"url": receiver.url, "topics": topics,
                                                         "description": "test receiver"},
                               headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()
    receiver.secret = webhook["secret"]
    return webhook


async def eventually(check: Any, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_the_subscription_resource_and_its_errors(seeded_db_url: str, servers: Servers) -> None:
    async with api_client(seeded_db_url, servers.redis_url) as http:
        body = {"url": "http://127.0.0.1:9/hooks", "topics": ["lead.assigned"]}
        assert_problem(await http.post("/api/v1/webhooks", json=body), 422, "webhook_url_refused")
        put = await http.put("/api/v1/policy/settings/webhook_allow_private_targets", json={"value": True})
        assert put.status_code == 200, put.text
        created = await http.post("/api/v1/webhooks", json=body | {"description": "gateway"})
        assert created.status_code == 201, created.text
        webhook = created.json()
        assert webhook["secret"].startswith("whsec_") and len(webhook["secret"]) == 70
        assert created.headers["Location"] == f"/api/v1/webhooks/{webhook['webhook_id']}"
        one = (await http.get(f"/api/v1/webhooks/{webhook['webhook_id']}")).json()
        assert one["secret"] is None and one["secret_hint"] == "..." + webhook["secret"][-4:]
        listed = (await http.get("/api/v1/webhooks")).json()["items"]
        assert [w["webhook_id"] for w in listed] == [webhook["webhook_id"]]
        topics = (await http.get("/api/v1/webhooks/topics")).json()["items"]
        assert {t["topic"] for t in topics} >= {"lead.captured", "lead.status_changed", "agent.capacity_reached"}

        assert_problem(await http.post("/api/v1/webhooks", json=body | {"topics": ["lead.sold"]}), 422,
                       "unknown_topic")
        for bad in ({"url": "ftp://example.com/x"}, {"url": "https://user:pw@example.com/x"}, {"topics": []},
                    {"topics": ["Lead Captured"]}, {"secret": "mine"}):
            assert_problem(await http.post("/api/v1/webhooks", json=body | bad), 422, "validation_error")
        unknown_agent = body | {"agent_id": "00000000-0000-4000-8000-000000000000"}
        assert_problem(await http.post("/api/v1/webhooks", json=unknown_agent), 422, "webhook_agent_unknown")

        path = f"/api/v1/webhooks/{webhook['webhook_id']}"
        rotated = (await http.patch(path, json={"rotate_secret": True})).json()
        assert rotated["secret"] and rotated["secret"] != webhook["secret"]
        assert_problem(await http.patch(path, json={}), 422, "validation_error")
        assert_problem(await http.patch(path, json={"topics": None}), 422, "validation_error")
        off = (await http.patch(path, json={"is_active": False})).json()
        assert off["is_active"] is False and off["disabled_at"] and off["disabled_reason"]
        assert_problem(await http.post(f"{path}/deliveries/1/redeliver"), 409, "webhook_inactive")
        await http.patch(path, json={"is_active": True})
        assert_problem(await http.post(f"{path}/deliveries/1/redeliver"), 404, "webhook_delivery_not_found")
        assert_problem(await http.get(f"{path}/deliveries", params={"state": "lost"}), 422, "validation_error")
        assert (await http.get(f"{path}/deliveries")).json() == {"items": [], "next": None}
        missing = "/api/v1/webhooks/00000000-0000-4000-8000-000000000000"
        assert_problem(await http.get(missing), 404, "webhook_not_found")
        assert_problem(await http.get(f"{missing}/deliveries"), 404, "webhook_not_found")
        assert_problem(await http.delete(missing), 404, "webhook_not_found")
        assert_problem(await http.get("/api/v1/webhooks", headers={"X-API-Key": SUPERVISOR_KEY}), 403, "forbidden")
        assert (await http.delete(path)).json() == {"webhook_id": webhook["webhook_id"], "deleted": True}
        assert_problem(await http.get(path), 404, "webhook_not_found")


@contextmanager
def dispatching_api(db_url: str, redis_url: str, **env: str) -> Iterator[str]:
    with live_api(app_url(db_url), redis_url, JOBS_DATABASE_URL=jobs_url(db_url), WEBHOOK_DISPATCH="true",
                  **env) as url:
        yield url


async def test_300_parallel_captures_arrive_once_each_signed_and_in_order(seeded_db_url: str,
                                                                          servers: Servers) -> None:
    ensure_demo_keys(seeded_db_url)
    policy(seeded_db_url, webhook_allow_private_targets="true")
    with Receiver() as receiver, dispatching_api(seeded_db_url, servers.redis_url) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60, headers={"X-API-Key": INTEGRATION_KEY},
                                     limits=httpx.Limits(max_connections=100)) as http:
            await subscribe(http, receiver, ["lead.captured", "lead.assigned"])
            statuses = await asyncio.gather(*(http.post("/api/v1/leads/capture", json=lead_body(i, "hooks"))
                                              for i in range(300)))
        assert {r.status_code for r in statuses} <= {201, 202}
        leads = {r.json()["lead_id"] for r in statuses}
        assigned = {r.json()["lead_id"] for r in statuses if r.status_code == 201}
        captured = await asyncio.to_thread(receiver.wait_for, 300, "lead.captured")
        await asyncio.to_thread(receiver.wait_for, len(assigned), "lead.assigned")
    arrivals = list(receiver.arrivals)
    assert all(a.signature_ok for a in arrivals)
    assert len({a.event_id for a in captured}) == 300 and {a.lead_id for a in captured} == leads
    by_id: dict[int, set[str]] = {}
    for a in arrivals:   # a repeat is the same event: same id, same body
        by_id.setdefault(a.event_id, set()).add(repr(sorted(a.body.items())))
    assert all(len(bodies) == 1 for bodies in by_id.values())
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        ids = {row[0] for row in conn.execute(
            "SELECT event_id FROM crm.outbox_events "
            "WHERE topic = 'lead.captured' AND data ->> 'campaign_id' = 'hooks'")}
        assert ids == {a.event_id for a in captured}
        assert conn.execute("SELECT * FROM reporting.invariant_violations").fetchall() == []
    first_seen: dict[tuple[str | None, str], float] = {}
    for a in arrivals:
        first_seen.setdefault((a.lead_id, a.topic), a.at)
    assert {a.lead_id for a in arrivals if a.topic == "lead.assigned"} == assigned
    for lead in assigned:   # per lead: captured went out before assigned
        assert first_seen[(lead, "lead.captured")] <= first_seen[(lead, "lead.assigned")]


async def test_a_receiver_down_for_10_s_loses_nothing_and_the_log_shows_the_backoff(seeded_db_url: str,
                                                                                    servers: Servers) -> None:
    policy(seeded_db_url, webhook_allow_private_targets="true", webhook_retry_base='"1 second"')
    receiver = Receiver()
    async with api_client(seeded_db_url, servers.redis_url, webhook_dispatch=True, webhook_poll_s=1.0) as http:
        webhook = await subscribe(http, receiver, ["lead.captured"])   # the receiver is down
        for i in range(5):
            response = await http.post("/api/v1/leads/capture", json=lead_body(i, "down"),
                                       headers={"X-API-Key": INTEGRATION_KEY})
            assert response.status_code in (201, 202)
        await asyncio.sleep(10)
        receiver.start()
        try:
            got = await asyncio.to_thread(receiver.wait_for, 5, "lead.captured", 40)
            assert len({a.event_id for a in got}) == 5 and all(a.signature_ok for a in got)
            assert all(a.attempt > 1 for a in got)
            page = (await http.get(f"/api/v1/webhooks/{webhook['webhook_id']}/deliveries")).json()
            assert len(page["items"]) == 5
            for delivery in page["items"]:
                log = delivery["attempt_log"]
                assert delivery["state"] == "delivered" and log[-1]["outcome"] == "delivered"
                failed = [a for a in log if a["outcome"] == "failed"]
                assert len(failed) >= 3 and all(a["status_code"] is None and a["error"] for a in failed)
                waits = [a["next_attempt_at"] for a in failed]
                assert waits == sorted(waits)
                gaps = [(_t(b) - _t(a)) for a, b in itertools.pairwise(waits)]
                assert gaps[-1] > gaps[0]   # exponential: the waits grow
            metrics = (await http.get("/metrics")).text
            assert 'webhook_delivery_attempts_total{outcome="failed"}' in metrics
            assert 'webhook_delivery_attempts_total{outcome="delivered"} 5.0' in metrics
            assert "webhook_delivery_latency_seconds_bucket" in metrics and "outbox_depth 0.0" in metrics
            assert "outbox_oldest_undelivered_seconds" in metrics
        finally:
            receiver.stop()


def _t(stamp: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(stamp).timestamp()


async def test_410_disables_the_subscription_a_hang_times_out_and_a_500_is_retried(seeded_db_url: str,
                                                                                    servers: Servers) -> None:
    policy(seeded_db_url, webhook_allow_private_targets="true", webhook_retry_base='"1 second"')
    with Receiver() as receiver:
        receiver.mode = "gone"
        async with api_client(seeded_db_url, servers.redis_url, webhook_dispatch=True, webhook_timeout_s=0.5) as http:
            webhook = await subscribe(http, receiver, ["lead.captured"])
            path = f"/api/v1/webhooks/{webhook['webhook_id']}"
            await http.post("/api/v1/leads/capture", json=lead_body(1, "gone"), headers={"X-API-Key": INTEGRATION_KEY})

            async def disabled() -> Any:
                return (await http.get(path)).json()["disabled_reason"]

            assert await eventually(disabled) == "the receiver answered 410 Gone"
            log = (await http.get(f"{path}/deliveries")).json()["items"][0]
            assert log["state"] == "pending" and log["attempt_log"][0]["outcome"] == "gone"
            # enabled again, against a receiver that hangs: each try times out, the captures go on
            receiver.mode, receiver.hang_s = "hang", 3.0
            assert (await http.patch(path, json={"is_active": True})).json()["is_active"] is True
            responses = [await http.post("/api/v1/leads/capture", json=lead_body(i, "hang"),
                                         headers={"X-API-Key": INTEGRATION_KEY}) for i in range(2, 5)]
            assert all(r.status_code in (201, 202) for r in responses)

            async def timed_out() -> Any:
                items = (await http.get(f"{path}/deliveries")).json()["items"]
                return [a for d in items for a in d["attempt_log"] if (a["error"] or "").startswith("no answer within")]

            attempts = await eventually(timed_out)
            assert attempts and attempts[0]["outcome"] == "failed" and attempts[0]["duration_ms"] >= 400
            # a receiver answering 500: a failed attempt with its status, retried
            receiver.mode = "error"

            async def answered_500() -> Any:
                items = (await http.get(f"{path}/deliveries")).json()["items"]
                return [a for d in items for a in d["attempt_log"] if a["status_code"] == 500]

            errors = await eventually(answered_500, timeout_s=60)
            assert errors and errors[0]["outcome"] == "failed" and errors[0]["error"] == "HTTP 500"
            assert errors[0]["next_attempt_at"] is not None
            receiver.mode = "ok"
            await asyncio.to_thread(receiver.wait_for, 4, "lead.captured", 90)
    assert len({a.event_id for a in receiver.arrivals}) == 4 and all(a.signature_ok for a in receiver.arrivals)


def _start_api(db_url: str, redis_url: str, **env: str) -> tuple[subprocess.Popen[Any], str]:
    port = free_port()
    environ = dict(os.environ, DATABASE_URL=app_url(db_url), REDIS_URL=redis_url, APP_ENV="test",
                   LOG_LEVEL="WARNING", SWEEP_INTERVAL_S="0", JOBS_DATABASE_URL=jobs_url(db_url),
                   WEBHOOK_DISPATCH="true", **env)
    process = subprocess.Popen(uvicorn_command(port), cwd=ROOT, env=environ)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, process, timeout_s=30)
    return process, url


@pytest.mark.fault
async def test_a_dispatcher_killed_mid_batch_loses_nothing(seeded_db_url: str, servers: Servers) -> None:
    ensure_demo_keys(seeded_db_url)
    policy(seeded_db_url, webhook_allow_private_targets="true", webhook_lease='"2 seconds"',
           webhook_retry_base='"1 second"')
    with Receiver() as receiver:
        receiver.mode, receiver.hang_s = "hang", 4.0
        doomed, doomed_url = _start_api(seeded_db_url, servers.redis_url)
        survivor, _ = _start_api(seeded_db_url, servers.redis_url, WEBHOOK_TIMEOUT_S="10")
        try:
            async with httpx.AsyncClient(base_url=doomed_url, timeout=30) as http:
                await subscribe(http, receiver, ["lead.captured"])
                for i in range(20):
                    response = await http.post("/api/v1/leads/capture", json=lead_body(i, "killed"),
                                               headers={"X-API-Key": INTEGRATION_KEY})
                    assert response.status_code in (201, 202)
            assert await asyncio.to_thread(receiver.wait_for_requests, 1, 10)  # in flight, from one process or both
            doomed.send_signal(signal.SIGKILL)   # mid-batch: its claims are leased, none recorded
            doomed.wait(timeout=10)
            receiver.mode = "ok"
            got = await asyncio.to_thread(receiver.wait_for, 20, "lead.captured", 60)
        finally:
            for process in (doomed, survivor):
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=15)
    assert len({a.event_id for a in got}) == 20 and all(a.signature_ok for a in got)
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM crm.webhook_deliveries WHERE state <> 'delivered'").fetchone() == (0,)


def test_crmctl_dispatch_delivers_what_is_due_once(seeded_db_url: str) -> None:
    """The cron path: `crmctl dispatch` as the job login (JOBS_DATABASE_URL), with no app running."""
    policy(seeded_db_url, webhook_allow_private_targets="true")
    with Receiver() as receiver, psycopg.connect(seeded_db_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret) "
                           "VALUES (%s, '{lead.captured}', crm.new_webhook_secret()) RETURNING secret",
                           (receiver.url,)).fetchone()
        assert row is not None
        receiver.secret = row[0]
        for i in range(3):
            conn.execute("SELECT api.capture_lead(%s::jsonb, 'cron-test')", (json.dumps(lead_body(i, "cron")),))
        env = dict(os.environ, DATABASE_URL=seeded_db_url, JOBS_DATABASE_URL=jobs_url(seeded_db_url),
                   REDIS_URL="redis://unused:1/0", APP_ENV="test")
        done = subprocess.run([sys.executable, "-m", "crmctl", "dispatch"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1]) == {"attempted": 3}
        assert len({a.event_id for a in receiver.arrivals}) == 3 and all(a.signature_ok for a in receiver.arrivals)
        assert conn.execute("SELECT count(*) FROM crm.webhook_deliveries WHERE state = 'delivered'").fetchone() == (3,)


async def test_odd_urls_and_cursors_are_clear_422s(seeded_db_url: str, servers: Servers) -> None:
    policy(seeded_db_url, webhook_allow_private_targets="true")   # no DNS here: a name need not resolve
    async with api_client(seeded_db_url, servers.redis_url) as http:
        base = {"topics": ["lead.captured"]}
        for url in ("http://a..b/", "http://.localhost/", "http://" + "x" * 64 + ".example.com/", "http://h:0/x",
                    "https://h:99999/", "gopher://h/"):
            assert_problem(await http.post("/api/v1/webhooks", json=base | {"url": url}), 422, "validation_error")
        made = await http.post("/api/v1/webhooks", json=base | {"url": "HTTPS://Hooks.Example.COM?team=sales"})
        assert made.status_code == 201, made.text
        assert made.json()["url"] == "https://hooks.example.com/?team=sales"
        path = f"/api/v1/webhooks/{made.json()['webhook_id']}/deliveries"
        for cursor in ("eyJpZCI6IngifQ", "eyJpZCI6MWU5OX0", "W10", "bnVsbA"):   # {"id":"x"}, {"id":1e99}, [], null
            assert_problem(await http.get(path, params={"cursor": cursor}), 422, "invalid_cursor")


async def test_a_dispatcher_that_cannot_run_the_jobs_backs_off(seeded_db_url: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Misconfigured (the app's login, which may not run the jobs): it says so, 1 s, 2 s, 4 s apart, not every
    second."""
    dispatcher = Dispatcher(app_url(seeded_db_url), retry_s=1.0)
    with caplog.at_level(logging.ERROR, logger="api.dispatcher"):
        task = asyncio.create_task(dispatcher.run())
        await asyncio.sleep(6.5)
        dispatcher.stop()
        await asyncio.wait_for(task, 10)
    refusals = [r for r in caplog.records if "42501" in r.getMessage()]
    assert 2 <= len(refusals) <= 4, [r.getMessage() for r in refusals]   # at 0, 1, 3 s (every second: 7)
