"""Follow-ups: GET /api/v1/follow-ups and POST /api/v1/follow-ups/{id}/complete | reschedule | cancel. An agent key
lists and changes its own; supervisors and admins anyone's. One api function each (41_api_follow_ups.sql)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT
from api.schemas.queries import FollowUpQuery
from api.schemas.resources import FollowUpCancel, FollowUpComplete, FollowUpItem, FollowUpPage, FollowUpReschedule

router = APIRouter(prefix="/api/v1/follow-ups", tags=["follow-ups"])

_CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **auth_responses("follow_ups"),
    404: {"description": "`follow_up_not_found` (also another agent's, for an agent key)", **PROBLEM_CONTENT},
    409: {"description": "`follow_up_task_closed` (done or cancelled already)", **PROBLEM_CONTENT},
    422: {"description": "`validation_error`", **PROBLEM_CONTENT},
}


async def _dashboards(request: Request, item: dict[str, Any]) -> None:
    """The agent's cached dashboards go before the answer (read-after-write, as for lead updates)."""
    await request.app.state.dashboard_cache.invalidate(str(item["agent_id"]))


@router.get("", response_model=FollowUpPage, summary="Follow-ups by due time, filtered; one keyset page",
            description="Filters: agent, lead, status, due range, overdue, escalated." + roles_note("follow_ups"),
            responses={**auth_responses("follow_ups"),
                       422: {"description": "`validation_error`, `invalid_filter`, `invalid_cursor`",
                             **PROBLEM_CONTENT}})
async def list_follow_ups(request: Request, key: ApiKey, query: Annotated[FollowUpQuery, Query()]) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.LIST_FOLLOW_UPS, query.filters(),
                                       query.limit, query.cursor, key))


@router.post("/{task_id}/complete", response_model=FollowUpItem, summary="Mark a follow-up done",
             description="With an `outcome`, the contact is logged as an activity of the task's type and scored "
                         "(`activity` in the answer)." + roles_note("follow_ups"),
             responses=_CHANGE_RESPONSES)
async def complete_follow_up(request: Request, task_id: UUID, body: FollowUpComplete, key: ApiKey) -> JSONResponse:
    item = await call_api(await get_pool(request), queries.COMPLETE_FOLLOW_UP, task_id,
                          body.model_dump(mode="json", exclude_none=True), key)
    await _dashboards(request, item)
    return JSONResponse(item)


@router.post("/{task_id}/reschedule", response_model=FollowUpItem, summary="Move a follow-up to another free slot",
             description="Checked as a new booking is: not in the past, within the horizon, not over another "
                         "follow-up of the agent (409 `follow_up_conflict` with `next_free_slot`)."
                         + roles_note("follow_ups"),
             responses={**_CHANGE_RESPONSES,
                        409: {"description": "`follow_up_conflict` (with `next_free_slot`), `follow_up_task_closed`",
                              **PROBLEM_CONTENT},
                        422: {"description": "`validation_error`, `follow_up_in_past`, `follow_up_too_far`",
                              **PROBLEM_CONTENT}})
async def reschedule_follow_up(request: Request, task_id: UUID, body: FollowUpReschedule,
                               key: ApiKey) -> JSONResponse:
    item = await call_api(await get_pool(request), queries.RESCHEDULE_FOLLOW_UP, task_id, body.due_at, key)
    await _dashboards(request, item)
    return JSONResponse(item)


@router.post("/{task_id}/cancel", response_model=FollowUpItem, summary="Cancel a follow-up, with its reason",
             description="The reason is kept in the task's notes." + roles_note("follow_ups"),
             responses=_CHANGE_RESPONSES)
async def cancel_follow_up(request: Request, task_id: UUID, body: FollowUpCancel, key: ApiKey) -> JSONResponse:
    item = await call_api(await get_pool(request), queries.CANCEL_FOLLOW_UP, task_id, body.reason, key)
    await _dashboards(request, item)
    return JSONResponse(item)
