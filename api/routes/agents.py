"""Agents: the dashboard (GET /api/v1/agents/{agent_id}/dashboard: one SQL function builds the body; Redis caches
it) and the agent as a resource (list, read, create, change)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT
from api.schemas.agents import AgentDashboard, DashboardQuery
from api.schemas.availability import (
    Absence,
    AbsenceBody,
    AbsenceDeleted,
    AbsencePage,
    AbsenceQuery,
    Availability,
    PauseBody,
    Schedule,
    ScheduleBody,
)
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


# --- availability: weekly hours, absences, the pause ----------------------------------------------------------------

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "`agent_not_found`", **PROBLEM_CONTENT}}


@router.get("/{agent_id}/schedule", response_model=Schedule, summary="An agent's weekly hours and availability now",
            description="Hours in the business time zone; none: the office's `business_hours`."
                        + roles_note("read_agents"),
            responses={**auth_responses("read_agents"), **NOT_FOUND})
async def agent_schedule(request: Request, agent_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.AGENT_SCHEDULE, agent_id, key))


@router.put("/{agent_id}/schedule", response_model=Schedule, summary="Replace an agent's weekly working hours",
            description="Several ranges a day allowed, `24:00` runs to midnight; `[]` returns the agent to the "
                        "office's hours. Routing offers leads only to agents on shift (docs/business-rules.md 13)."
                        + roles_note("manage_availability"),
            responses={**auth_responses("manage_availability"), **NOT_FOUND,
                       422: {"description": "`validation_error` (the field named), `schedule_overlap`",
                             **PROBLEM_CONTENT}})
async def put_schedule(request: Request, agent_id: UUID, body: ScheduleBody, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.PUT_AGENT_SCHEDULE, agent_id, body.to_sql(),
                                       key))


@router.post("/{agent_id}/absences", response_model=Absence, status_code=201, summary="Record an absence",
             description="Leave, sick, training or other, as [starts_at, ends_at); an absent agent receives no lead."
                         + roles_note("manage_availability"),
             responses={**auth_responses("manage_availability"), **NOT_FOUND,
                        409: {"description": "`agent_absences_no_overlap` (a concurrent overlapping absence)",
                              **PROBLEM_CONTENT},
                        422: {"description": "`validation_error`, `absence_overlap`, `absence_period`",
                              **PROBLEM_CONTENT}})
async def add_absence(request: Request, agent_id: UUID, body: AbsenceBody, key: ApiKey) -> JSONResponse:
    absence = await call_api(await get_pool(request), queries.ADD_AGENT_ABSENCE, agent_id,
                             body.model_dump(mode="json"), key)
    return JSONResponse(absence, status_code=201,
                        headers={"Location": f"/api/v1/agents/{agent_id}/absences/{absence['absence_id']}"})


@router.get("/{agent_id}/absences", response_model=AbsencePage, summary="An agent's absences",
            description="By start, those not yet over unless `include_past`; one keyset page."
                        + roles_note("read_agents"),
            responses={**auth_responses("read_agents"), **NOT_FOUND,
                       422: {"description": "`validation_error`, `invalid_cursor`", **PROBLEM_CONTENT}})
async def list_absences(request: Request, agent_id: UUID, key: ApiKey,
                        query: Annotated[AbsenceQuery, Query()]) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.AGENT_ABSENCES, agent_id, query.include_past,
                                       query.limit, query.cursor, key))


@router.delete("/{agent_id}/absences/{absence_id}", response_model=AbsenceDeleted, summary="Delete an absence",
               description=roles_note("manage_availability").strip(),
               responses={**auth_responses("manage_availability"),
                          404: {"description": "`absence_not_found`", **PROBLEM_CONTENT}})
async def delete_absence(request: Request, agent_id: UUID, absence_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.DELETE_AGENT_ABSENCE, agent_id, absence_id,
                                       key))


@router.post("/{agent_id}/pause", response_model=Availability, summary="Pause: take no new lead for a while",
             description="`minutes` (default 30) or `until`, at most the `max_pause` setting (12 h) ahead; during a "
                         "viewing, say. An agent pauses itself; supervisors anyone." + roles_note("pause"),
             responses={**auth_responses("pause"), **NOT_FOUND,
                        422: {"description": "`validation_error`, `pause_out_of_range`", **PROBLEM_CONTENT}})
async def pause(request: Request, agent_id: UUID, body: PauseBody, key: ApiKey) -> JSONResponse:
    until = body.ends(dt.datetime.now(dt.UTC))
    return JSONResponse(await call_api(await get_pool(request), queries.PAUSE_AGENT, agent_id, until, body.reason,
                                       key))


@router.delete("/{agent_id}/pause", response_model=Availability, summary="End the pause now",
               description=roles_note("pause").strip(), responses={**auth_responses("pause"), **NOT_FOUND})
async def resume(request: Request, agent_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.RESUME_AGENT, agent_id, key))
