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

from api import errors
from api.cache import DashboardCache, create_redis
from api.deps import app_pool, open_pool
from api.errors import is_connection_error
from api.listener import NotificationListener
from api.middleware import RequestGuardMiddleware, RequestIdMiddleware
from api.routes import agents, analytics, health, leads
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url or not settings.redis_url:
            raise RuntimeError("DATABASE_URL and REDIS_URL must be set (python -m api serve sets them for you)")
        app.state.settings = settings
        app.state.pool = None
        app.state.pool_lock = asyncio.Lock()
        try:
            app.state.pool = await open_pool(settings)
        except Exception as exc:  # start anyway: the pool is retried on first use, /ready says why
            if not is_connection_error(exc):
                raise
            log.error("database not reachable at start-up: %s", exc)
        app.state.redis = create_redis(settings.redis_url, settings.redis_timeout_s)
        app.state.dashboard_cache = DashboardCache(app.state.redis, settings.dashboard_cache_ttl_s)
        listener = NotificationListener(settings.database_url, app.state.dashboard_cache)
        app.state.listener = listener
        listening = asyncio.create_task(listener.run(), name="listener")
        app.state.suggester = PropertySuggester(
            settings.property_service_url,
            settings.property_service_timeout_ms / 1000,
            CircuitBreaker(settings.property_service_failure_threshold, settings.property_service_cooldown_s),
        )
        sweeper = None
        if settings.sweep_interval_s > 0:
            sweeper = asyncio.create_task(run_forever(lambda: app_pool(app), settings.sweep_interval_s),
                                          name="sweeper")
        try:
            yield
        finally:
            listener.stop()
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            await app.state.suggester.aclose()
            if app.state.pool is not None:
                await app.state.pool.close()
            await app.state.redis.aclose()

    app = FastAPI(
        title="ThinkRealty Lead Management API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    errors.install(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # off unless CORS_ORIGINS names the browsers' origins
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PUT"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Cache", "Server-Timing", "Idempotent-Replayed", "Retry-After"],
            max_age=600)
    app.add_middleware(RequestGuardMiddleware,
                       max_body_bytes=max(settings.max_body_bytes, settings.capture_max_body_bytes + 1))
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer, 413 and 415 included, carries an id
    app.include_router(health.router)
    app.include_router(leads.router)
    app.include_router(agents.router)
    app.include_router(analytics.router)
    _document_raw_bodies(app, [CaptureRequest])
    return app


def _document_raw_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Routes that read their body themselves (to keep dead letters) name its model by $ref in openapi_extra;
    this puts those models (and the models they use) into components/schemas."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
