"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from api import queries
from api.cache import redis_ok
from api.deps import call_api, get_pool
from api.errors import Problem

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(description="ready, or degraded when Redis is down", examples=["ready"])
    database: dict[str, Any] = Field(examples=[{"database": "thinkrealty_leads", "server_version": 180000}])
    redis: str = Field(description="ok, or degraded: the cache is skipped and every request still served",
                       examples=["ok"])


@router.get("/health", response_model=Health, summary="The process is up")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    summary="The API can serve: the database answers (Redis is only the dashboard cache)",
    description="200 while the database answers, with `redis: ok` or `redis: degraded` (Redis down: every request "
                "still succeeds, dashboards come from the database uncached); 503 when the database does not.",
    responses={503: {"description": "`not_ready`: the database is not reachable (problem+json)"}},
)
async def ready(request: Request) -> Ready:
    try:
        database = await call_api(await get_pool(request), queries.READINESS)
        why = ""
    except Problem as problem:
        database = None
        why = problem.detail if problem.code == "function_layer_missing" else "The database is not reachable."
    redis = "ok" if await redis_ok(request.app.state.redis) else "degraded"
    if database is None:
        raise Problem(503, "not_ready", why, failed=["database"], redis=redis, headers={"Retry-After": "2"},
                      params={"cause": "function_layer_missing" if why != "The database is not reachable."
                              else "database"})
    return Ready(status="ready" if redis == "ok" else "degraded", database=database, redis=redis)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request latency histograms by route, captures by source and outcome, the assignment queue, the "
                "dashboard cache's hit ratio and the sweeps' durations, in the Prometheus text format. No key: "
                "scrapers reach it from the inside network.",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                     "description": "Prometheus exposition format"}},
)
async def metrics(request: Request) -> Response:
    try:
        queue = await call_api(await get_pool(request), queries.METRICS)
    except Problem:
        queue = None  # the process's own metrics still answer; database_up says 0
    return Response(request.app.state.metrics.render(queue), media_type=CONTENT_TYPE_LATEST)
