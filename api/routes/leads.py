"""A lead after capture: PUT /api/v1/leads/{id}/update (status, activity, follow-up, interests), POST
/api/v1/leads/{id}/reassign, and the lead as a resource (GET one, GET the list, its timeline, PATCH a correction).
Each calls one api function; the answers are built in SQL."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT, Problem
from api.schemas.leads import LeadState, ReassignRequest, UpdateRequest
from api.schemas.offers import DeclineBody, OfferState, Pond
from api.schemas.queries import LeadQuery, PageQuery
from api.schemas.resources import LeadDetail, LeadPage, LeadPatch, TimelinePage

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


# --- the lead as a resource: read, list, timeline, correct ---------------------------------------------------------

def _etag(version: int) -> str:
    return f'W/"{version}"'


def _if_match(value: str | None) -> int | None:
    """The version an If-Match names (W/"7", "7" or 7); None when absent. A malformed one is 412: it matches no
    version."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise Problem(412, "lead_version_mismatch", "If-Match names no version of this lead; GET it for its ETag.")
    return int(text)


@router.get(
    "",
    response_model=LeadPage,
    summary="Search and list leads, one keyset page at a time",
    description=(
        "Filters combine with AND; `q` searches names (any script) and e-mail by substring (at least 2 "
        "characters; a phone in any format the capture accepts is matched exactly, normalised the same way). "
        "`sort`: created, score, last_activity, next_follow_up, with `-` for descending (default `-created`); "
        "ties go by lead id. Follow `next` with `cursor=` for the next page; no offsets (docs/api.md)."
        + roles_note("read_leads")
    ),
    responses={**auth_responses("read_leads"),
               422: {"description": "`validation_error`, `invalid_sort`, `invalid_cursor`, `invalid_filter`",
                     **PROBLEM_CONTENT}},
)
async def list_leads(request: Request, key: ApiKey, query: Annotated[LeadQuery, Query()]) -> JSONResponse:
    page = await call_api(await get_pool(request), queries.LIST_LEADS, query.filters(), query.sort, query.limit,
                          query.cursor, key)
    return JSONResponse(page)


@router.get("/pond", response_model=Pond, summary="The pond: leads every offer of which expired, to claim",
            description="Longest waiting first, without contact data (the claim gives it). " + roles_note("pond"),
            responses=auth_responses("pond"))
async def pond(request: Request, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.POND, key))


@router.post("/{lead_id}/accept", response_model=OfferState, summary="Accept the lead offered to you",
             description="Before `respond_by`; a first outbound contact (call, WhatsApp, e-mail) accepts too. The "
                         "clock stops; the 24-hour rule takes over." + roles_note("respond_offer"),
             responses={**auth_responses("respond_offer"),
                        404: {"description": "`lead_not_found`", **PROBLEM_CONTENT},
                        409: {"description": "`no_open_offer`, `offer_expired`", **PROBLEM_CONTENT}})
async def accept_lead(request: Request, lead_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.ACCEPT_LEAD, lead_id, key))


@router.post("/{lead_id}/decline", response_model=OfferState, summary="Decline the lead offered to you",
             description="It moves at once to the next ranked available agent (never back to one it was offered "
                         "to), or to the pond after max_offers." + roles_note("respond_offer"),
             responses={**auth_responses("respond_offer"),
                        404: {"description": "`lead_not_found`", **PROBLEM_CONTENT},
                        409: {"description": "`no_open_offer`", **PROBLEM_CONTENT}})
async def decline_lead(request: Request, lead_id: UUID, body: DeclineBody, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.DECLINE_LEAD, lead_id, body.reason, key))


@router.post("/{lead_id}/claim", response_model=OfferState, summary="Claim a lead from the pond",
             description="The first claim wins. You must be available now, with room, under the daily claim cap."
                         + roles_note("claim_lead"),
             responses={**auth_responses("claim_lead"),
                        404: {"description": "`lead_not_found`", **PROBLEM_CONTENT},
                        409: {"description": "`lead_already_claimed`, `agent_unavailable`, `agent_full`, "
                                             "`claim_cap_reached`", **PROBLEM_CONTENT}})
async def claim_lead(request: Request, lead_id: UUID, key: ApiKey) -> JSONResponse:
    return JSONResponse(await call_api(await get_pool(request), queries.CLAIM_LEAD, lead_id, key))


@router.get(
    "/{lead_id}",
    response_model=LeadDetail,
    summary="One lead: contact, pipeline, agent, follow-up, score breakdown and why it went to its agent",
    description="The `ETag` header is the lead's version: send it in `If-Match` to PATCH." + roles_note("read_leads"),
    responses={**auth_responses("read_leads"), 404: {"description": "`lead_not_found`", **PROBLEM_CONTENT}},
)
async def get_lead(request: Request, lead_id: UUID, key: ApiKey) -> JSONResponse:
    lead = await call_api(await get_pool(request), queries.GET_LEAD, lead_id, key)
    return JSONResponse(lead, headers={"ETag": _etag(lead["version"])})


@router.get(
    "/{lead_id}/timeline",
    response_model=TimelinePage,
    summary="A lead's story in time order: status changes, activities and score changes, assignments, follow-ups",
    description="One keyset page; follow `next` with `cursor=`." + roles_note("read_leads"),
    responses={**auth_responses("read_leads"), 404: {"description": "`lead_not_found`", **PROBLEM_CONTENT},
               422: {"description": "`validation_error`, `invalid_cursor`", **PROBLEM_CONTENT}},
)
async def lead_timeline(request: Request, lead_id: UUID, key: ApiKey,
                        query: Annotated[PageQuery, Query()]) -> JSONResponse:
    page = await call_api(await get_pool(request), queries.LEAD_TIMELINE, lead_id, query.limit, query.cursor, key)
    return JSONResponse(page)


@router.patch(
    "/{lead_id}",
    response_model=LeadDetail,
    summary="Correct a lead's contact fields and wishes (If-Match required)",
    description=(
        "Send the ETag of the lead as read in `If-Match`: a stale one is 412 (someone else changed it; GET it "
        "again), none is 428. The phone is normalised as at capture and must not be another lead's from the same "
        "source (409). Language, nationality and areas are mapped as at capture; what maps to nothing is 422. "
        "The status moves only through PUT .../update; the score is not recomputed (docs/api.md)."
        + roles_note("edit_lead")
    ),
    responses={**auth_responses("edit_lead"),
               404: {"description": "`lead_not_found`", **PROBLEM_CONTENT},
               409: {"description": "`leads_source_phone_key`", **PROBLEM_CONTENT},
               412: {"description": "`lead_version_mismatch` (with the current `version`)", **PROBLEM_CONTENT},
               422: {"description": "`validation_error`, `unknown_language`, `unknown_nationality`, `unknown_area`",
                     **PROBLEM_CONTENT},
               428: {"description": "`precondition_required`: no If-Match", **PROBLEM_CONTENT}},
)
async def patch_lead(request: Request, lead_id: UUID, body: LeadPatch, key: ApiKey,
                     if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None) -> JSONResponse:
    lead = await call_api(await get_pool(request), queries.PATCH_LEAD, lead_id, body.to_sql(), _if_match(if_match),
                          key)
    await _fresh_dashboards(request, lead)
    return JSONResponse(lead, headers={"ETag": _etag(lead["version"])})
