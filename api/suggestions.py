"""Property suggestions from an external service (PROPERTY_SERVICE_URL), fetched after the capture has committed.

Without one, our own listings are suggested inside the capture's transaction (api.capture_lead's p_suggest,
crm.capture_suggestions) and nothing here runs. The service is called with a short timeout and a circuit breaker.
A failure never fails the capture: the lead is already stored; the response gets an empty list and a warning.

The service contract: `POST {PROPERTY_SERVICE_URL}` with the lead's wishes as JSON
(`lead_id`, `property_type`, `budget_min`, `budget_max`, `preferred_areas`, `source_property_id`, `limit`);
it answers 200 with `{"property_ids": ["uuid", ...]}` (a bare JSON array is accepted too).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from api import queries
from api.deps import call_api
from api.errors import Problem

log = logging.getLogger("api.suggestions")

LIMIT = 3


@dataclass
class CircuitBreaker:
    """Closed: calls go through. After `threshold` failures in a row it opens for `cooldown_s` seconds:
    calls are refused at once. Then one trial call is let through (half-open): success closes it, failure
    opens it again."""

    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = field(default=False)

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if time.monotonic() - self.opened_at < self.cooldown_s or self.trial_in_flight:
            return False
        self.trial_in_flight = True
        return True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_in_flight = False

    def failure(self) -> None:
        self.failures += 1
        self.trial_in_flight = False
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = time.monotonic()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if time.monotonic() - self.opened_at >= self.cooldown_s else "open"


class SuggestionError(Exception):
    """The suggestion source failed; `code` goes into the capture response's warning."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class PropertySuggester:
    def __init__(self, service_url: str | None, timeout_s: float, breaker: CircuitBreaker) -> None:
        self.service_url = service_url
        self.timeout_s = timeout_s
        self.breaker = breaker
        self._http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def suggest(self, pool: asyncpg.Pool, key: str,
                      lead_id: uuid.UUID | str) -> tuple[list[str], dict[str, Any] | None]:
        """(property ids, warning or None) from the service, asked with the capturing caller's key. Never raises."""
        try:
            return await self._from_service(pool, key, lead_id), None
        except SuggestionError as exc:
            log.warning("property suggestions unavailable for lead %s: %s", lead_id, exc.detail)
            return [], {"code": exc.code, "field": "suggested_properties", "detail": exc.detail}

    async def _from_service(self, pool: asyncpg.Pool, key: str, lead_id: uuid.UUID | str) -> list[str]:
        if not self.breaker.allow():
            raise SuggestionError("suggestions_circuit_open",
                                  "The property suggestion service failed repeatedly; calls are paused for a while.")
        try:
            profile = await call_api(pool, queries.LEAD_PROFILE, lead_id, key)
        except Problem as exc:
            self.breaker.trial_in_flight = False
            raise SuggestionError("suggestions_unavailable", f"lead profile unavailable: {exc.detail}") from exc
        try:
            ids = await self._post(dict(profile or {}, limit=LIMIT))
        except SuggestionError:
            self.breaker.failure()
            raise
        self.breaker.success()
        return ids

    async def _post(self, payload: dict[str, Any]) -> list[str]:
        assert self.service_url
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s))
        try:
            async with asyncio.timeout(self.timeout_s):  # a hard bound on the whole call, not per socket read
                response = await self._http.post(self.service_url, json=payload)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise SuggestionError(
                "suggestions_timeout", f"The property suggestion service did not answer within {self.timeout_s:g} s."
            ) from exc
        except httpx.HTTPError as exc:
            raise SuggestionError("suggestions_unavailable",
                                  f"The property suggestion service is unreachable ({type(exc).__name__}).") from exc
        if response.status_code != 200:
            raise SuggestionError("suggestions_unavailable",
                                  f"The property suggestion service answered {response.status_code}.")
        try:
            data = response.json()
            raw = data.get("property_ids", []) if isinstance(data, dict) else data
            return [str(uuid.UUID(str(item))) for item in raw][:LIMIT]
        except (ValueError, TypeError, AttributeError) as exc:
            raise SuggestionError("suggestions_unavailable",
                                  "The property suggestion service sent an answer we cannot read.") from exc
