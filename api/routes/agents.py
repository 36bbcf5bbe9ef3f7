"""GET /api/v1/agents/{agent_id}/dashboard: one SQL function builds the body; Redis caches it."""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT
from api.schemas.agents import AgentDashboard, DashboardQuery

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.get(
    "/{agent_id}/dashboard",
    response_model=AgentDashboard,
    summary="An agent's dashboard: summary, recent leads, pending tasks, performance",
    description=(
        "Figures for the agent's leads created in the date range (Asia/Dubai days) that match the filters; every "
        "definition is in docs/business-rules.md section 9. Cached in Redis per agent and filter set, dropped when "
        "the agent's data changes (also from psql), 60 s at most otherwise; `X-Cache: hit|miss` says which. The key "
        "is checked on every call, cached or not." + roles_note("dashboard")
    ),
    responses={**auth_responses("dashboard"),
               404: {"description": "`agent_not_found`", **PROBLEM_CONTENT},
               422: {"description": "`validation_error` (a bad filter value or date range)", **PROBLEM_CONTENT}},
)
async def agent_dashboard(request: Request, agent_id: UUID, key: ApiKey,
                          query: Annotated[DashboardQuery, Query()]) -> Response:
    cache = request.app.state.dashboard_cache
    field = query.cache_field()
    pool = await get_pool(request)
    cached, version = await cache.get(str(agent_id), field)
    if cached is not None:  # served from Redis only to a caller the database lets see it
        await call_api(pool, queries.AUTHORIZE_DASHBOARD, key, agent_id)
        request.app.state.metrics.cache_result(hit=True)
        return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
    body = await call_api(
        pool, queries.AGENT_DASHBOARD,
        agent_id, query.date_range, query.date_from, query.date_to, query.status_filter, query.source_filter, key)
    request.app.state.metrics.cache_result(hit=False)
    content = json.dumps(body, separators=(",", ":")).encode()
    if version is not None:
        await cache.put(str(agent_id), field, content, version)
    return Response(content, media_type="application/json", headers={"X-Cache": "miss"})
