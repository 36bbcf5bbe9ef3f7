"""The FastAPI application: factory and lifespan (database pool, Redis client, clean shutdown)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api import errors, logs
from api.cache import DashboardCache, create_redis
from api.deps import open_pool
from api.dispatcher import Dispatcher
from api.errors import is_connection_error
from api.listener import NotificationListener
from api.metrics import Metrics
from api.middleware import RequestGuardMiddleware, RequestIdMiddleware
from api.offer_timer import OfferTimer
from api.routes import agents, analytics, capture, follow_ups, health, leads, policy, webhooks
from api.schemas.leads import CaptureRequest
from api.settings import Settings, get_settings
from api.suggestions import CircuitBreaker, PropertySuggester
from api.sweeper import run_forever

log = logging.getLogger("api")

DESCRIPTION = """
Lead management for a Dubai real-estate brokerage. Leads arrive from Bayut, PropertyFinder, Dubizzle,
the website, walk-ins and referrals; PostgreSQL scores, routes and tracks them, and every business rule
lives in the database. Errors are RFC 9457 `application/problem+json` bodies whose `code` is stable.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure_once(settings.log_level, settings.log_format)  # a worker process of its own (--workers N)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("DATABASE_URL and REDIS_URL must be set (crmctl serve sets them for you)")
        app.state.settings = settings
        app.state.pool = None
        app.state.reporting_pool = None  # REPORTING_DATABASE_URL's, opened at the first report (api.deps)
        app.state.pool_lock = asyncio.Lock()
        try:
            app.state.pool = await open_pool(settings)
        except Exception as exc:  # start anyway: the pool is retried on first use, /ready says why
            if not is_connection_error(exc):
                raise
            log.error("database not reachable at start-up: %s", exc)
        app.state.redis = create_redis(settings.redis_url, settings.redis_timeout_s)
        app.state.dashboard_cache = DashboardCache(app.state.redis, settings.dashboard_cache_ttl_s)
        # the change listener keeps a connection of its own: a direct one (DATABASE_LISTEN_URL) when DATABASE_URL is a
        # transaction pooler
        listener = NotificationListener(settings.listen_url or settings.database_url, app.state.dashboard_cache,
                                        poll_s=settings.dashboard_poll_s)
        app.state.listener = listener
        listening = asyncio.create_task(listener.run(), name="listener")
        invalidating = asyncio.create_task(app.state.dashboard_cache.run_invalidations(), name="cache-invalidations")
        app.state.suggester = PropertySuggester(
            settings.property_service_url,
            settings.property_service_timeout_ms / 1000,
            CircuitBreaker(settings.property_service_failure_threshold, settings.property_service_cooldown_s),
        )
        sweeper = None
        if settings.sweep_interval_s > 0 and settings.jobs_url:
            sweeper = asyncio.create_task(run_forever(settings.jobs_url, settings.sweep_interval_s,
                                                      app.state.metrics), name="sweeper")
        elif settings.sweep_interval_s > 0:
            log.warning("no JOBS_DATABASE_URL: the background sweeper is off (run `crmctl sweep` from cron)")
        app.state.dispatcher = None
        dispatching = None
        if settings.webhook_dispatch and settings.jobs_url:
            app.state.dispatcher = Dispatcher(
                settings.jobs_url, timeout_s=settings.webhook_timeout_s, batch_size=settings.webhook_batch_size,
                concurrency=settings.webhook_concurrency, poll_s=settings.webhook_poll_s, metrics=app.state.metrics)
            dispatching = asyncio.create_task(app.state.dispatcher.run(), name="webhook-dispatcher")
        app.state.offer_timer = None
        timing = None
        if settings.offer_timer and settings.jobs_url:
            app.state.offer_timer = OfferTimer(settings.jobs_url, poll_s=settings.offer_timer_poll_s,
                                               workers=settings.offer_timer_workers)
            timing = asyncio.create_task(app.state.offer_timer.run(), name="offer-timer")
        try:
            yield
        finally:
            listener.stop()
            app.state.dashboard_cache.stop()
            for task in (listening, invalidating):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if app.state.dispatcher is not None:
                app.state.dispatcher.stop()
            if app.state.offer_timer is not None:
                app.state.offer_timer.stop()
            for background in (sweeper, dispatching, timing):
                if background is not None:
                    background.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await background
            await app.state.suggester.aclose()
            for pool in (app.state.pool, app.state.reporting_pool):
                if pool is not None:
                    await pool.close()
            await app.state.redis.aclose()

    app = FastAPI(
        title="ThinkRealty Lead Management API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()
    errors.install(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # off unless CORS_ORIGINS names the browsers' origins
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "If-Match"],
            expose_headers=["X-Request-ID", "X-Cache", "Server-Timing", "Idempotent-Replayed", "Retry-After", "ETag",
                            "Location"],
            max_age=600)
    app.add_middleware(RequestGuardMiddleware,
                       max_body_bytes=max(settings.max_body_bytes, settings.capture_max_body_bytes + 1))
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer, 413 and 415 included, carries an id
    app.include_router(health.router)
    app.include_router(capture.router)
    app.include_router(leads.router)
    app.include_router(agents.router)
    app.include_router(follow_ups.router)
    app.include_router(policy.router)
    app.include_router(policy.reference)
    app.include_router(analytics.router)
    app.include_router(webhooks.router)
    _document_raw_bodies(app, [CaptureRequest])
    return app


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. Branch on `code`; `detail` is for people. Some problems add members "
                   "(`errors`, `existing_lead_id`, `next_free_slot`, `dead_letter_id`, ...).",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "code": {"type": "string"}, "instance": {"type": "string"},
        "request_id": {"type": "string"},
    },
    "additionalProperties": True,
}
# answers every route can give besides its own, by what it takes: (status, when, code)
COMMON_PROBLEMS = (
    (400, "body", "`invalid_json`: the body is not JSON"),
    (413, "body", "`payload_too_large`: the body is over MAX_BODY_BYTES"),
    (415, "body", "`unsupported_media_type`: the body is not JSON"),
    (422, "input", "`validation_error`: a path, query or body value is invalid (`errors` lists each)"),
    (503, "database", "`service_unavailable`: the database is unreachable; retry after `Retry-After`"),
)
PUBLIC_PATHS = frozenset({"/health", "/metrics"})
# every operation: the language of its problem bodies (api/problems.py)
ACCEPT_LANGUAGE: dict[str, Any] = {
    "name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "The language of problem+json `title` and `detail`: `ar` (or `ar-AE`, any `ar-*`, weighed by q "
                   "against `en`) for Arabic; English otherwise. `code` and every other member are the same in both.",
    "examples": {"arabic": {"value": "ar-AE"}, "english": {"value": "en"}},
}
CONTENT_LANGUAGE: dict[str, Any] = {"description": "`ar` or `en`: the language of `title` and `detail`",
                                    "schema": {"type": "string", "enum": ["en", "ar"]}}


def _document_raw_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """The OpenAPI document, finished: routes that read their body themselves (to keep dead letters) name its model
    by $ref in openapi_extra, so those models are put into components/schemas; and every 4xx/5xx is documented as
    what it is, application/problem+json with the Problem schema, including the answers every route can give
    (400, 413, 415 with a body; 422 with inputs; 503 when it needs the database), in English or Arabic
    (Accept-Language, on every operation; Content-Language on every problem)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            components["Problem"] = PROBLEM_SCHEMA
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            problem = {errors.PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    takes = {"body": "requestBody" in operation, "input": bool(operation.get("parameters"))
                             or "requestBody" in operation, "database": path not in PUBLIC_PATHS}
                    for status, when, text in COMMON_PROBLEMS:
                        if takes[when]:
                            responses.setdefault(str(status), {"description": text})
                    for status, response in responses.items():
                        if status[0] in "45":
                            response["content"] = problem
                            response["headers"] = {"Content-Language": CONTENT_LANGUAGE}
                    operation.setdefault("parameters", []).append(ACCEPT_LANGUAGE)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
