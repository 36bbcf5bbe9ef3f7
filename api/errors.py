"""Errors as RFC 9457 problem+json.

Business errors raised in SQL carry SQLSTATE `PTnnn` (nnn is the HTTP status, PostgREST's convention)
and a stable name in the CONSTRAINT field; real constraint violations carry their constraint's name.
Both become `{"type": ".../problems/<name>", "code": "<name>", "status": ..., "detail": ...}`.
Clients branch on `code`; `detail` is for people.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("api.errors")

PROBLEM_BASE = "https://thinkrealty.ae/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# for a route's `responses`: the 4xx/5xx it documents come as problem+json
PROBLEM_CONTENT: dict[str, Any] = {"content": {PROBLEM_MEDIA_TYPE: {}}}

# what a 401 asks for (RFC 9110 section 11.6.1)
WWW_AUTHENTICATE = 'ApiKey header="X-API-Key", Bearer realm="thinkrealty"'

# constraint names whose 23514 (check violation) is a conflict with the current state, not bad input
CONFLICT_CHECKS = frozenset({"agents_capacity"})

_HTTP_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
    409: "Conflict", 413: "Payload too large", 415: "Unsupported media type", 422: "Unprocessable content",
    429: "Too many requests", 500: "Internal server error", 503: "Service unavailable",
}

# SQLSTATEs that mean "the database is not available right now"
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "53400", "57014"})
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


class Problem(Exception):
    """An error the API answers with a problem+json body."""

    def __init__(self, status: int, code: str, detail: str, *, title: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or _HTTP_TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.code,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(problem.extra)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers)


def _detail_fields(raw: str | None) -> dict[str, Any]:
    """The DETAIL of a PT error may be a JSON object of extra fields for the client."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"reason": raw}
    return value if isinstance(value, dict) else {"reason": value}


def unavailable(detail: str = "The database is not reachable right now; retry shortly.") -> Problem:
    return Problem(503, "service_unavailable", detail, headers={"Retry-After": "2"})


def from_postgres(exc: asyncpg.PostgresError) -> Problem:
    """Map a PostgreSQL error to a Problem by SQLSTATE and constraint name."""
    state: str = getattr(exc, "sqlstate", "") or ""
    name: str | None = getattr(exc, "constraint_name", None)
    message: str = getattr(exc, "message", None) or str(exc)
    extra = _detail_fields(getattr(exc, "detail", None))
    if getattr(exc, "hint", None):
        extra.setdefault("hint", exc.hint)

    if state.startswith("PT") and state[2:].isdigit():
        status = int(state[2:])
        headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None
        return Problem(status, name or "business_rule", message, headers=headers, **extra)
    if state == "23505":
        return Problem(409, name or "unique_violation", message, **extra)
    if state == "23P01":
        return Problem(409, name or "exclusion_violation", message, **extra)
    if state == "23514":
        return Problem(409 if name in CONFLICT_CHECKS else 422, name or "check_violation", message, **extra)
    if state == "23503":
        return Problem(422, name or "foreign_key_violation", message, **extra)
    if state == "23502":
        return Problem(422, "not_null_violation", message, column=getattr(exc, "column_name", None))
    if state.startswith("22"):
        return Problem(422, "invalid_value", message)
    if state in RETRYABLE_SQLSTATES:
        return Problem(503, "concurrent_update", "The request collided with another; retry it.",
                       headers={"Retry-After": "1"})
    if state in UNAVAILABLE_SQLSTATES or state.startswith("08"):
        return unavailable()
    log.error("unmapped database error %s: %s", state, message)
    return Problem(500, "internal_error", "Something went wrong on our side; it has been logged.")


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return problem_response(
            request, Problem(422, "validation_error", f"{where}: {first['msg']}", errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else _HTTP_TITLES.get(exc.status_code, "Error")
        return problem_response(request, Problem(exc.status_code, code, detail, headers=dict(exc.headers or {})))

    @app.exception_handler(asyncpg.PostgresError)
    async def _postgres(request: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        return problem_response(request, from_postgres(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_connection_error(exc):
            return problem_response(request, unavailable())
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, Problem(500, "internal_error", "Something went wrong on our side; it has been logged.")
        )


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(
        exc,
        (
            OSError,
            TimeoutError,
            asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.InterfaceError,
            asyncpg.exceptions.InternalClientError,  # a pooled connection left mid-operation by a server restart
            asyncpg.exceptions.CannotConnectNowError,
            asyncpg.exceptions.TooManyConnectionsError,
        ),
    )
