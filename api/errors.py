"""Errors as RFC 9457 problem+json.

Business errors raised in SQL carry SQLSTATE `PTnnn` (nnn is the HTTP status, PostgREST's convention)
and a stable name in the CONSTRAINT field; real constraint violations carry their constraint's name.
Both become `{"type": ".../problems/<name>", "code": "<name>", "status": ..., "detail": ...}`.
Clients branch on `code`; `title` and `detail` are for people, in English or, for `Accept-Language: ar`, in Arabic
(api/problems.py holds both languages of every code).
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
from starlette.requests import HTTPConnection

from api import problems

log = logging.getLogger("api.errors")

PROBLEM_BASE = "https://thinkrealty.ae/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
# for a route's `responses`: the 4xx/5xx it documents come as problem+json
PROBLEM_CONTENT: dict[str, Any] = {"content": {PROBLEM_MEDIA_TYPE: {}}}

# what a 401 asks for (RFC 9110 section 11.6.1)
WWW_AUTHENTICATE = 'ApiKey header="X-API-Key", Bearer realm="thinkrealty"'

# constraint names whose 23514 (check violation) is a conflict with the current state, not bad input
CONFLICT_CHECKS = frozenset({"agents_capacity"})


# SQLSTATEs that mean "the database is not available right now"
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "53400", "57014"})
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# undefined function / table / schema: the database does not match this release (a rollback, a missed migrate)
SCHEMA_MISSING_SQLSTATES = frozenset({"42883", "42P01", "3F000"})


class Problem(Exception):
    """An error the API answers with a problem+json body. `detail` is the English sentence; `params` fill the
    catalogue's templates (api/problems.py) beside the body members of `extra`, and `kind` names the catalogue entry
    of a code that has none of its own (a constraint's name: its kind, e.g. unique_violation)."""

    def __init__(self, status: int, code: str, detail: str, *, title: str | None = None,
                 headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
                 kind: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.headers = headers or {}
        self.params = params or {}
        self.kind = kind
        self.extra = extra


def problem_response(request: HTTPConnection, problem: Problem) -> JSONResponse:
    """The problem+json answer, in the language the request's Accept-Language asks for (English unless Arabic)."""
    language = problems.negotiate(request.headers.get("accept-language"))
    params = {**problem.extra, **problem.params}
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.code,
        "title": (problem.title if problem.title and language == problems.DEFAULT_LANGUAGE
                  else problems.title(problem.code, problem.kind, problem.status, language)),
        "status": problem.status,
        "detail": problems.detail(problem.code, problem.kind, problem.status, language, problem.detail, params),
        "code": problem.code,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(problem.extra)
    if language != problems.DEFAULT_LANGUAGE and isinstance(body.get("errors"), list):
        body["errors"] = [e | {"msg": problems.validation_reason(e)[language]} if isinstance(e, dict) else e
                          for e in body["errors"]]
    headers = {**problem.headers, "Content-Language": language, "Vary": "Accept-Language"}
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _detail_fields(raw: str | None) -> dict[str, Any]:
    """The DETAIL of a PT error is a JSON object of extra fields for the client (our raises build it so); anything
    else is not the client's to see."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def unavailable(detail: str = "The database is not reachable right now; retry shortly.",
                database: str = "primary") -> Problem:
    """503 service_unavailable; `database` says which one (primary, or reporting: the replica of the reports)."""
    return Problem(503, "service_unavailable", detail, headers={"Retry-After": "2"}, params={"database": database})


def internal_error() -> Problem:
    """The generic 500: the original is logged, never sent."""
    return Problem(500, "internal_error", "Something went wrong on our side; it has been logged.")


# what a client is told about a value PostgreSQL refused (SQLSTATE class 22): never the server's own message, which
# may quote SQL types, the value and the statement
_DATA_EXCEPTIONS = {
    "22001": "A text is longer than its field allows.",
    "22003": "A number is out of range.",
    "22007": "A date or time is malformed.",
    "22008": "A date or time is out of range.",
    "22021": "A text holds a byte sequence that is not valid UTF-8.",
    "22P02": "A value does not have the format its field needs.",
    "22P05": "A text holds a character the database cannot store (for example an unpaired surrogate).",
}
# what a violated constraint means, for the people reading `detail` (the `code` is the constraint's name)
CONSTRAINT_KINDS = {
    "23505": (409, "unique_violation", "This would duplicate an existing record ({name})."),
    "23P01": (409, "exclusion_violation", "This overlaps an existing record ({name})."),
    "23514": (422, "check_violation", "A value breaks the rule {name}."),
    "23503": (422, "foreign_key_violation", "A referenced record does not exist ({name})."),
}


def from_postgres(exc: asyncpg.PostgresError) -> Problem:
    """Map a PostgreSQL error to a Problem by SQLSTATE and constraint name. Only our own raises (PTnnn) pass their
    message, hint and JSON detail on; for every other error the client gets the stable name and a sentence of ours,
    never the server's text (which can carry SQL, a raw row or the values of other columns)."""
    state: str = getattr(exc, "sqlstate", "") or ""
    name: str | None = getattr(exc, "constraint_name", None)
    message: str = getattr(exc, "message", None) or str(exc)

    if state.startswith("PT") and state[2:].isdigit():
        status = int(state[2:])
        extra = _detail_fields(getattr(exc, "detail", None))
        if getattr(exc, "hint", None):
            extra.setdefault("hint", exc.hint)
        headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None
        return Problem(status, name or "business_rule", message, headers=headers, kind="business_rule", **extra)
    if state in CONSTRAINT_KINDS:
        status, fallback, text = CONSTRAINT_KINDS[state]
        if state == "23514" and name in CONFLICT_CHECKS:
            status = 409
        log.info("constraint %s (%s): %s", name, state, message)
        return Problem(status, name or fallback, text.format(name=name or "of the database"), kind=fallback,
                       params={"name": name} if name else None)
    if state == "23502":
        column = getattr(exc, "column_name", None)
        return Problem(422, "not_null_violation", f"The field {column or 'named in the request'} is required.",
                       column=column)
    if state.startswith("22"):
        log.info("data exception %s: %s", state, message)
        return Problem(422, "invalid_value", _DATA_EXCEPTIONS.get(state, "A value is not valid for its field."),
                       params={"sqlstate": state})
    if state in RETRYABLE_SQLSTATES:
        return Problem(503, "concurrent_update", "The request collided with another; retry it.",
                       headers={"Retry-After": "1"})
    if state in UNAVAILABLE_SQLSTATES or state.startswith("08"):
        return unavailable()
    if state in SCHEMA_MISSING_SQLSTATES:
        log.error("the database lacks what this release calls (%s): %s", state, message)
        return function_layer_missing()
    log.error("unmapped database error %s: %s", state, message)
    return internal_error()


def function_layer_missing() -> Problem:
    """The database has no function (or table) this release calls: it was rolled back, or never migrated to this
    release. 503: nothing is wrong with the request, and it succeeds once the database matches (docs/operations.md)."""
    return Problem(503, "function_layer_missing",
                   "The database does not have the functions this release calls (rolled back, or not migrated); "
                   "run `crmctl migrate` of the matching release.", headers={"Retry-After": "30"})


def unexpected(exc: BaseException) -> Problem:
    """The answer to an exception nothing else handled: 503 when it is the database going away, else a generic
    500 (the caller logs the exception)."""
    if is_connection_error(exc):
        return unavailable()
    return internal_error()


def invalid_json(detail: str = "The body is not valid JSON.", reason: str = "syntax") -> Problem:
    """Every body the JSON parser cannot take (syntax, encoding, nesting deeper than it goes) is this one documented
    400, on every route."""
    return Problem(400, "invalid_json", detail, reason=reason)


def validation_problem(where: str, errors: list[dict[str, Any]], *, more: bool = True) -> Problem:
    """422 validation_error naming the first invalid field (`where`, a dotted path), in both languages; `more`: say
    how many other errors `errors` lists."""
    first = errors[0] if errors else {"msg": "invalid request", "type": ""}
    others = len(errors) - 1 if more else 0
    reason = problems.validation_reason(first)
    suffix = {"en": f" (and {others} more)", "ar": f" (و{others} أخرى)"} if others > 0 else {"en": "", "ar": ""}
    return Problem(422, "validation_error", f"{where}: {reason['en']}{suffix['en']}", errors=errors,
                   params={"field": where, "reason": reason, "more": suffix})


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
        if any(e["type"] == "json_invalid" for e in errors):  # FastAPI's own parse of a body: same 400 as ours
            return problem_response(request, invalid_json())
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return problem_response(request, validation_problem(where, errors, more=False))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI answers a body it could not decode (bad UTF-8, nesting too deep for json.loads) with a bare
            # 400: it is the same unparseable body as any other
            return problem_response(request, invalid_json(
                "The body could not be read as JSON (its encoding or its nesting).", reason="unreadable"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else problems.title(code, None, exc.status_code, "en")
        return problem_response(request, Problem(exc.status_code, code, detail, headers=dict(exc.headers or {})))

    @app.exception_handler(asyncpg.PostgresError)
    async def _postgres(request: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        return problem_response(request, from_postgres(exc))
    # (anything else is answered by RequestIdMiddleware, inside the request's context: api.middleware)


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
