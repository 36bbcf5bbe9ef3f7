"""A lead's life after capture: PUT /api/v1/leads/{id}/update (status, activity, follow-up, interests) and
POST /api/v1/leads/{id}/reassign. Each calls one api function; the answers are the lead as it now stands."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT
from api.schemas.leads import LeadState, ReassignRequest, UpdateRequest

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


_UPDATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "`lead_not_found`", **PROBLEM_CONTENT},
    409: {"description": "`lead_status_transition` (with `from` and `to`), `follow_up_conflict` (with "
                         "`next_free_slot`), `lead_has_no_agent`, `lead_closed`", **PROBLEM_CONTENT},
    422: {"description": "`validation_error` (an empty body, a malformed id, lost without lost_reason...), "
                         "`unknown_property`, `follow_up_in_past`", **PROBLEM_CONTENT},
}


@router.put(
    "/{lead_id}/update",
    response_model=LeadState,
    summary="Move a lead along the pipeline, log an activity, book the next follow-up, record property interests",
    description=(
        "All in one transaction: all or nothing. The activity is scored (positive +5, viewing +10, offer +20; the "
        "first contact also scores its response time) and completes the follow-up it fulfils; `next_follow_up` books "
        "a slot for the lead's agent (409 with `next_free_slot` when taken); interests are upserted per listing; the "
        "status must be the next stage or `lost` (with `lost_reason`); `converted` (or `conversion`) takes a "
        "`deal_value` in AED. Answers the lead as it now stands, with `changes`. An agent key that does not hold "
        "the lead gets 404, as if it did not exist." + roles_note("update_lead")
    ),
    responses={**_UPDATE_RESPONSES, **auth_responses("update_lead")},
)
async def update_lead(request: Request, lead_id: UUID, body: UpdateRequest, key: ApiKey) -> JSONResponse:
    state = await call_api(
        await get_pool(request), queries.UPDATE_LEAD, lead_id, body.to_sql(), key)
    await _fresh_dashboards(request, state)
    return JSONResponse(state)


async def _fresh_dashboards(request: Request, answer: dict[str, Any]) -> None:
    """Read-after-write for the agents' app and supervisors: the cached dashboards of the agents an update or a
    reassignment names (the lead's agent; the old and the new one) are dropped before the client hears back, so its
    next dashboard read is fresh. Captures do not pay this Redis round trip on their hot path: their clients
    (portals, the website) never read dashboards, and the agent's dashboard follows by NOTIFY, as changes made
    elsewhere (psql, the sweeper, a queue drain at commit) do (api.listener)."""
    agents = {(answer.get("assigned_agent") or {}).get("agent_id")}
    moved = answer.get("reassignment") or {}
    agents |= {moved.get("from_agent_id"), moved.get("to_agent_id")}
    cache = request.app.state.dashboard_cache
    for agent_id in agents - {None}:
        await cache.invalidate(str(agent_id))


@router.post(
    "/{lead_id}/reassign",
    response_model=LeadState,
    summary="Move a lead to another agent (a named one, or the best available)",
    description=(
        "Closes the current assignment and opens a new one with the reason; the lead's open follow-ups are "
        "replaced by a first follow-up for the new agent. A named agent must be active and under capacity."
        + roles_note("reassign_lead")
    ),
    responses={
        **auth_responses("reassign_lead"),
        404: {"description": "`lead_not_found`, `agent_not_found`", **PROBLEM_CONTENT},
        409: {"description": "`agent_inactive`, `agent_full`, `same_agent`, `lead_closed`, `no_agent_available`",
              **PROBLEM_CONTENT},
        422: {"description": "`validation_error`", **PROBLEM_CONTENT},
    },
)
async def reassign_lead(request: Request, lead_id: UUID, body: ReassignRequest, key: ApiKey) -> JSONResponse:
    state = await call_api(
        await get_pool(request), queries.REASSIGN_LEAD, lead_id, body.reason, body.new_agent_id, key)
    await _fresh_dashboards(request, state)
    return JSONResponse(state)
