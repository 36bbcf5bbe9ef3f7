"""The ASGI layers every request passes: its id and timing (outermost), then the guard on what a body may be.

- RequestIdMiddleware: the caller's X-Request-ID (letters, digits and `._:-`, at most 100) or a new one, echoed in
  `X-Request-ID`, put on every log line written while the request runs (api.logs), and the time the app took as
  `Server-Timing: app;dur=<ms>`; one `api.access` log line per request (method, route, status, duration) and its
  latency in the app's metrics, by route template.
- RequestGuardMiddleware: a body larger than max_body_bytes is a 413 and a body that is not JSON a 415, both
  before any route runs (so before any database work), as problem+json.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import Problem, problem_response, unexpected
from api.logs import REQUEST_ID

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
access_log = logging.getLogger("api.access")
log = logging.getLogger("api.errors")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.append((b"server-timing", f"app;dur={elapsed_ms:.2f}".encode("latin-1")))
            await send(message)

        started_response = False

        async def tracked(message: Message) -> None:
            nonlocal started_response
            started_response = started_response or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            try:
                await self.app(scope, receive, tracked)
            except ClientDisconnect:
                # the client went away mid-request (mid-body, typically): nothing to answer, nothing went wrong here
                status = 499
                access_log.info("client disconnected before the request was read", extra={"status": 499})
            except Exception as exc:
                # anything no handler answered: logged here, inside the request's context (its id on every line),
                # and answered as problem+json; nothing escapes to the server's own error page and log line
                problem = unexpected(exc)
                if problem.status == 500:
                    log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                else:
                    log.warning("database not reachable on %s %s: %s", scope["method"], scope["path"],
                                type(exc).__name__)
                if started_response:
                    raise
                await problem_response(Request(scope), problem)(scope, receive, tracked)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # a template: bounded label values
            metrics = getattr(getattr(scope.get("app"), "state", None), "metrics", None)
            if metrics is not None:
                metrics.requests.labels(scope["method"], route, str(status)).observe(elapsed)
            access_log.info("%s %s %s %.1f ms", scope["method"], scope["path"], status, elapsed * 1000,
                            extra={"method": scope["method"], "route": route, "path": scope["path"],
                                   "status": status, "duration_ms": round(elapsed * 1000, 2)})
            REQUEST_ID.reset(token)


class _TooLarge(Exception):
    pass


class RequestGuardMiddleware:
    """413 for a body over max_body_bytes (by Content-Length, or counted as it streams in), 415 for a body that is
    not JSON. A request without a body (GET, an empty POST) passes untouched."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._refuse(scope, receive, send, Problem(
                413, "payload_too_large", f"A request body may be at most {self.max_body_bytes} bytes.",
                params={"limit": self.max_body_bytes}))
            return
        if (chunked or (length is not None and int(length) > 0)) and not _is_json(headers.get(b"content-type", b"")):
            await self._refuse(scope, receive, send, Problem(
                415, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json).",
                headers={"Accept": "application/json"}))
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, Problem(
                413, "payload_too_large", f"A request body may be at most {self.max_body_bytes} bytes.",
                params={"limit": self.max_body_bytes}))

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, problem: Problem) -> None:
        await problem_response(Request(scope), problem)(scope, receive, send)


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
