"""GET /metrics in the Prometheus format and JSON log lines with the request's id, route, status and duration."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from api.logs import JsonFormatter, RequestIdFilter
from api.metrics import Metrics
from tests.api.conftest import INTEGRATION_KEY, SUPERVISOR_KEY, api_client
from tests.conftest import Servers


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_what_happened(seeded_db_url: str, servers: Servers) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:  # the snapshot is due: the first sweep refreshes it
        conn.execute("UPDATE crm.analytics_snapshot_log SET refreshed_at = now() - interval '1 hour'")
    async with api_client(seeded_db_url, servers.redis_url, api_key=None, sweep_interval_s=0.2) as http:
        lead = {"source_type": "bayut",
                "lead_data": {"first_name": "Mo", "last_name": "Metrics", "phone": "+971509990001"}}
        ok = await http.post("/api/v1/leads/capture", headers={"X-API-Key": INTEGRATION_KEY}, json=lead)
        assert ok.status_code == 201
        again = await http.post("/api/v1/leads/capture", headers={"X-API-Key": INTEGRATION_KEY}, json=lead)
        assert again.status_code == 409
        bad = await http.post("/api/v1/leads/capture", headers={"X-API-Key": INTEGRATION_KEY},
                              json={"source_type": {"nested": True}})
        assert bad.status_code == 422
        agent = ok.json()["assigned_agent"]["agent_id"]
        for _ in range(3):
            await http.get(f"/api/v1/agents/{agent}/dashboard", headers={"X-API-Key": SUPERVISOR_KEY})
        await asyncio.sleep(0.6)  # at least one background sweep
        answer = await http.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert "x-request-id" in answer.headers
    found = samples(answer.text)
    assert value(found, "leads_captured_total", source="bayut", outcome="assigned") == 1
    assert value(found, "leads_captured_total", source="bayut", outcome="duplicate") == 1
    assert value(found, "leads_captured_total", source="unknown", outcome="invalid") == 1
    assert value(found, "http_request_duration_seconds_count", method="POST", route="/api/v1/leads/capture",
                 status="201") == 1
    dashboards = value(found, "http_request_duration_seconds_count", method="GET",
                       route="/api/v1/agents/{agent_id}/dashboard", status="200")
    assert dashboards == 3  # by route template, not by agent id
    hits = value(found, "dashboard_cache_requests_total", result="hit")
    misses = value(found, "dashboard_cache_requests_total", result="miss")
    assert hits + misses == 3 and misses >= 1
    assert value(found, "dashboard_cache_hit_ratio") == hits / 3
    assert value(found, "assignment_queue_length") == 0 and value(found, "database_up") == 1
    assert value(found, "sweep_duration_seconds_count", job="sweeps") >= 1
    assert value(found, "sweep_duration_seconds_count", job="analytics_refresh") == 1  # due once, then fresh


async def test_log_lines_are_json_with_the_request(seeded_db_url: str, servers: Servers) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("api.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        async with api_client(seeded_db_url, servers.redis_url, api_key=SUPERVISOR_KEY) as http:
            answer = await http.get("/api/v1/analytics/conversion-by-source", headers={"X-Request-ID": "trace-42"})
            missing = await http.get("/api/v1/analytics/horoscope")
    finally:
        access.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    first = next(x for x in lines if x["request_id"] == "trace-42")
    assert answer.status_code == 200 and first["route"] == "/api/v1/analytics/{report}"
    assert first["status"] == 200 and first["method"] == "GET" and first["duration_ms"] > 0
    assert first["level"] == "info" and first["logger"] == "api.access" and first["ts"].endswith("+00:00")
    second = next(x for x in lines if x["request_id"] == missing.headers["x-request-id"])
    assert second["status"] == 404 and second["path"] == "/api/v1/analytics/horoscope"


def test_an_odd_source_is_counted_as_unknown() -> None:
    metrics = Metrics()
    metrics.capture({"not": "hashable"}, "invalid")  # a body's odd source_type never breaks the count
    found = samples(metrics.render(None).decode())
    assert value(found, "leads_captured_total", source="unknown", outcome="invalid") == 1
    assert value(found, "database_up") == 0
