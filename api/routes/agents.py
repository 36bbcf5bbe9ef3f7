"""Agents: the dashboard (GET /api/v1/agents/{agent_id}/dashboard: one SQL function builds the body; Redis caches
it) and the agent as a resource (list, read, create, change)."""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT
from api.schemas.agents import AgentDashboard, DashboardQuery
from api.schemas.queries import AgentQuery
from api.schemas.resources import AgentCreate, AgentPage, AgentPatch, AgentResource

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


# --- agents as a resource --------------------------------------------------------------------------------------------

@router.get("", response_model=AgentPage, summary="The roster: workload, capacity, profile, performance",
            description="Filters: active, role, language, property type, area, has_capacity; by name, one keyset "
                        "page." + roles_note("manage_agents"),
            responses={**auth_responses("manage_agents"),
                       422: {"description": "`validation_error`, `invalid_filter`, `invalid_cursor`",
                             **PROBLEM_CONTENT}})
async def list_agents(request: Request, key: ApiKey, query: Annotated[AgentQuery, Query()]) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.LIST_AGENTS, query.filters(), query.limit,
                                       query.cursor, key))


@router.post("", response_model=AgentResource, status_code=201, summary="Add an agent with their routing profile",
             description="Languages and areas are mapped as at capture (unknown: 422)." + roles_note("manage_agents"),
             responses={**auth_responses("manage_agents"),
                        409: {"description": "`agents_email_key`: the e-mail is another agent's", **PROBLEM_CONTENT},
                        422: {"description": "`validation_error`, `unknown_language`, `unknown_area`",
                              **PROBLEM_CONTENT}})
async def create_agent(request: Request, body: AgentCreate, key: ApiKey) -> JSONResponse:
    agent = await call_api(await get_pool(request), queries.CREATE_AGENT, body.to_sql(), key)
    return JSONResponse(agent, status_code=201, headers={"Location": f"/api/v1/agents/{agent['agent_id']}"})


@router.get("/{agent_id}", response_model=AgentResource, summary="One agent",
            description=roles_note("read_agents").strip(),
            responses={**auth_responses("read_agents"), 404: {"description": "`agent_not_found`", **PROBLEM_CONTENT}})
async def get_agent(request: Request, agent_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.GET_AGENT, agent_id, key))


@router.patch("/{agent_id}", response_model=AgentResource, summary="Change an agent: profile, capacity, role, active",
              description=(
                  "A capacity below the agent's open leads is refused (409 `capacity_below_workload`). Deactivating "
                  "an agent moves each open lead they hold to the best available other agent (reason "
                  "`agent_deactivated`) in the same transaction, or is refused whole (409 `agent_leads_unplaced`) "
                  "when some lead finds nobody with room." + roles_note("manage_agents")),
              responses={**auth_responses("manage_agents"),
                         404: {"description": "`agent_not_found`", **PROBLEM_CONTENT},
                         409: {"description": "`capacity_below_workload`, `agent_leads_unplaced`, `agents_email_key`",
                               **PROBLEM_CONTENT},
                         422: {"description": "`validation_error`, `unknown_language`, `unknown_area`",
                               **PROBLEM_CONTENT}})
async def patch_agent(request: Request, agent_id: UUID, body: AgentPatch, key: ApiKey) -> JSONResponse:
    agent = await call_api(await get_pool(request), queries.PATCH_AGENT, agent_id, body.to_sql(), key)
    await request.app.state.dashboard_cache.invalidate(str(agent_id))
    return JSONResponse(agent)
