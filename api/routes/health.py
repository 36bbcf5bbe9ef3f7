"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from api.cache import redis_ok
from api.deps import call_api, get_pool
from api.errors import Problem

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    database: dict[str, Any] = Field(examples=[{"database": "thinkrealty_leads", "server_version": 180000}])
    redis: str = Field(examples=["ok"])


@router.get("/health", response_model=Health, summary="The process is up")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    summary="The database and Redis answer",
    responses={503: {"description": "A dependency is down (problem+json, code not_ready)"}},
)
async def ready(request: Request) -> Ready:
    database: dict[str, Any] | None = None
    failed: list[str] = []
    try:
        database = await call_api(await get_pool(request), "SELECT api.readiness()")
    except Problem:
        failed.append("database")
    if not await redis_ok(request.app.state.redis):
        failed.append("redis")
    if failed or database is None:
        raise Problem(503, "not_ready", f"not reachable: {', '.join(failed)}", failed=failed,
                      headers={"Retry-After": "2"})
    return Ready(status="ready", database=database, redis="ok")


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
        queue = await call_api(await get_pool(request), "SELECT api.metrics()")
    except Problem:
        queue = None  # the process's own metrics still answer; database_up says 0
    return Response(request.app.state.metrics.render(queue), media_type=CONTENT_TYPE_LATEST)
