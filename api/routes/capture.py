"""Lead intake: capture (POST /api/v1/leads/capture) and its dead letters (list, replay).

The route reads the raw body itself: a capture that fails validation must be kept (with its raw body) in
the dead-letter table before the 4xx goes back, so a portal's lead is never silently lost.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

import pydantic_core
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from api import queries
from api.auth import ApiKey, auth_responses, roles_note
from api.deps import call_api, get_pool
from api.errors import PROBLEM_CONTENT, Problem, invalid_json, validation_problem
from api.schemas.leads import CaptureRequest, CaptureResponse, DeadLetter
from api.suggestions import LIMIT as SUGGESTIONS

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200,
           description="Any unique string per lead submission; a retry with the same key returns the first answer."),
]

CAPTURE_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": CaptureResponse, "description": "Stored and assigned to an agent."},
    202: {"model": CaptureResponse, "description": "Stored and queued: no agent has capacity right now."},
    400: {"description": "`invalid_json`: the body is not JSON, not UTF-8, or nests deeper than the parser takes "
                         "(about 200 levels); kept as a dead letter (its raw text).", **PROBLEM_CONTENT},
    409: {"description": "`duplicate_lead`: this source already sent this phone; `existing_lead_id` names the lead.",
          **PROBLEM_CONTENT},
    413: {"description": "`payload_too_large`; kept (truncated) as a dead letter.", **PROBLEM_CONTENT},
    422: {"description": "`validation_error` with every bad field in `errors`, or a rule of the database; "
                         "kept as a dead letter. `idempotency_key_reused` when a key is sent with another body.",
          **PROBLEM_CONTENT},
    503: {"description": "The database is unavailable; retry (`Retry-After`).", **PROBLEM_CONTENT},
}


async def _read_capped(request: Request, limit: int) -> tuple[bytes, bool]:
    """The body, or its first `limit` bytes and True when it is larger."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


async def _dead_letter(request: Request, key: str, *, payload: Any, raw: bytes | None, problem: Problem,
                       idempotency_key: str | None, parsed: bool = True) -> Problem:
    """Keep the failed capture (its JSON, or its raw text when it was not JSON), then hand back the problem to
    raise, naming the dead letter. A key that may not capture gets its 401/403 instead, and nothing is kept."""
    source = payload.get("source_type") if isinstance(payload, dict) else None
    errors = {"code": problem.code, "detail": problem.detail, "errors": problem.extra.get("errors", [])}
    raw_text = (raw or b"").decode("utf-8", "replace").replace("\x00", "\ufffd")
    if parsed and "\\u0000" in json.dumps(payload):  # jsonb cannot hold NUL: keep such a body as text
        parsed, raw_text = False, json.dumps(payload).replace("\\u0000", "\ufffd")
    try:
        letter_id = await call_api(
            await get_pool(request),
            queries.RECORD_CAPTURE_DEAD_LETTER,
            source.replace("\x00", "") if isinstance(source, str) else None,
            payload if parsed else None,
            None if parsed else raw_text,
            problem.code, errors, getattr(request.state, "request_id", None), idempotency_key, key,
        )
        problem.extra["dead_letter_id"] = str(letter_id)
    except Problem as refused:
        if refused.status in (401, 403):
            return refused
        # the database is down: the client still gets its 4xx, and retries later
    return problem


def parse_json(raw: bytes) -> Any:
    """A body the client sent, as JSON, or the one documented 400 invalid_json: bad syntax, bytes that are not
    UTF-8, or nesting deeper than the parser takes (pydantic-core's parser stops at about 200 levels, before any
    recursion; the value then also fits jsonb and the dead-letter table)."""
    try:
        return pydantic_core.from_json(raw)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise invalid_json("The body nests arrays and objects too deeply.", reason="depth") from None
        raise invalid_json() from None


def _validation_problem(exc: ValidationError) -> Problem:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    where = ".".join(str(p) for p in errors[0]["loc"]) or "body"
    return validation_problem(where, errors)


async def _capture(request: Request, key: str, payload: Any, *, raw: bytes | None, idempotency_key: str | None,
                   dead_letter_id: UUID | None, body: CaptureRequest | None = None) -> Response:
    """Validate (unless the caller already did), call api.capture_lead, add suggestions. Shared by capture and
    dead-letter replay."""
    if body is None:
        if isinstance(payload, dict):
            request.state.capture_source = payload.get("source_type")
        try:
            body = CaptureRequest.model_validate(payload)
        except ValidationError as exc:
            problem = _validation_problem(exc)
            if dead_letter_id is None:
                problem = await _dead_letter(request, key, payload=payload, raw=raw, problem=problem,
                                             idempotency_key=idempotency_key)
            raise problem from None

    request.state.capture_source = body.source_type
    normalized = body.to_sql()
    pool = await get_pool(request)
    suggester = request.app.state.suggester
    # our own listings are suggested in the capture's transaction; an external service is asked after it
    in_database = suggester.service_url is None
    try:
        status, replayed, text = await call_api(
            pool, queries.CAPTURE_LEAD, normalized, idempotency_key, dead_letter_id,
            SUGGESTIONS if in_database else None, key, row=True,
        )
    except Problem as problem:
        if problem.status == 422 and problem.code != "idempotency_key_reused" and dead_letter_id is None:
            if payload is None and raw is not None:  # validated on the fast path: keep the body as it came
                payload = parse_json(raw)
            problem = await _dead_letter(request, key, payload=payload, raw=raw, problem=problem,
                                         idempotency_key=idempotency_key)
        raise problem from None

    if not in_database:
        answer: dict[str, Any] = json.loads(text)
        ids, warning = await suggester.suggest(pool, key, answer["lead_id"])
        answer["suggested_properties"] = ids
        if warning:
            answer["warnings"] = [*answer.get("warnings", []), warning]
        text = json.dumps(answer)
    request.state.capture_outcome = "replayed" if replayed else "assigned" if status == 201 else "queued"
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    # the body is json built in the documented order (crm.capture_response), sent as the database wrote it
    return Response(text, status_code=status, headers=headers, media_type="application/json")


@router.post(
    "/capture",
    status_code=201,
    summary="Capture a lead from a portal, the website, a walk-in or a referral",
    description=(
        "Scores the lead, assigns it to the best available agent (or queues it: 202), books the first "
        "follow-up and suggests up to three listings. Only `first_name`, `last_name`, `phone` and "
        "`source_type` are required. The same phone from the same source is a 409; from another source within "
        "the duplicate window (the setting `duplicate_window`, 24 hours as shipped) it is linked to the earlier "
        "lead (`duplicate_of`) and sent to the same agent. A retry with the "
        "same `Idempotency-Key`, or the same `source_details.external_id`, returns the first answer "
        "(header `Idempotent-Replayed: true`). Invalid captures are kept as dead letters."
        + roles_note("capture")
    ),
    responses={**CAPTURE_RESPONSES, **auth_responses("capture")},
    response_model=None,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/CaptureRequest"}}}}},
)
async def capture_lead(request: Request, key: ApiKey, idempotency_key: IdempotencyKey = None) -> Response:
    try:
        response = await _capture_request(request, key, idempotency_key)
    except Problem as problem:
        request.app.state.metrics.capture(getattr(request.state, "capture_source", None), _outcome(problem))
        raise
    request.app.state.metrics.capture(request.state.capture_source, request.state.capture_outcome)
    return response


def _outcome(problem: Problem) -> str:
    """A refused capture's outcome, for the leads_captured_total metric."""
    if problem.status in (401, 403):
        return "refused"
    if problem.status == 409:
        return "duplicate"
    return "unavailable" if problem.status >= 500 else "invalid"


async def _capture_request(request: Request, key: str, idempotency_key: str | None) -> Response:
    limit = request.app.state.settings.capture_max_body_bytes
    raw, too_large = await _read_capped(request, limit)
    if too_large:
        raise await _dead_letter(
            request, key, payload=None, raw=raw, idempotency_key=idempotency_key, parsed=False,
            problem=Problem(413, "payload_too_large", f"A capture body may be at most {limit} bytes.",
                            params={"limit": limit}),
        )
    try:  # the common case in one step: pydantic parses and validates the raw JSON
        body = CaptureRequest.model_validate_json(raw)
    except ValidationError:
        body = None  # parse it again below to tell bad JSON from bad content and keep the right dead letter
    if body is not None:
        return await _capture(request, key, None, raw=raw, idempotency_key=idempotency_key, dead_letter_id=None,
                              body=body)
    try:
        payload = parse_json(raw)
    except Problem as problem:
        raise await _dead_letter(request, key, payload=None, raw=raw, idempotency_key=idempotency_key,
                                 parsed=False, problem=problem) from None
    return await _capture(request, key, payload, raw=raw, idempotency_key=idempotency_key, dead_letter_id=None)


@router.get(
    "/capture/dead-letters",
    summary="Captures that failed validation, newest first",
    description="Each entry keeps the payload (or the raw body when it was not JSON), the source and the errors."
                + roles_note("dead_letters"),
    response_model=list[DeadLetter],
    responses=auth_responses("dead_letters"),
)
async def list_dead_letters(
    request: Request,
    key: ApiKey,
    pending: Annotated[bool, Query(description="Only those not replayed yet.")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    # json built in SQL in the table's column order (DeadLetter documents it)
    return JSONResponse(await call_api(await get_pool(request), queries.CAPTURE_DEAD_LETTERS, pending, limit, key))


@router.post(
    "/capture/dead-letters/{dead_letter_id}/replay",
    summary="Capture a dead letter again, as stored or with a corrected body",
    description=(
        "Without a body the stored payload is captured again; with a body (a corrected capture) that body is "
        "captured instead. On success the dead letter records the lead it became. Answers like the capture."
        + roles_note("dead_letters")
    ),
    responses={**CAPTURE_RESPONSES, **auth_responses("dead_letters"),
               404: {"description": "`dead_letter_not_found`", **PROBLEM_CONTENT}},
    response_model=None,
)
async def replay_dead_letter(request: Request, dead_letter_id: UUID, key: ApiKey) -> Response:
    raw, too_large = await _read_capped(request, request.app.state.settings.capture_max_body_bytes)
    if too_large:
        raise Problem(413, "payload_too_large", "The corrected body is too large.",
                      params={"limit": request.app.state.settings.capture_max_body_bytes})
    if raw.strip():
        payload = parse_json(raw)
    else:
        letter = await call_api(
            await get_pool(request), queries.CAPTURE_DEAD_LETTER, dead_letter_id, key)
        if letter is None:
            raise Problem(404, "dead_letter_not_found", f"dead letter {dead_letter_id} does not exist",
                          params={"dead_letter_id": str(dead_letter_id)})
        payload = letter.get("payload")
        if payload is None:
            raise Problem(422, "dead_letter_unreadable",
                          "This dead letter was not JSON; send a corrected body to replay it.")
    return await _capture(request, key, payload, raw=None, idempotency_key=None, dead_letter_id=dead_letter_id)
