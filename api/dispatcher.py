"""The webhook dispatcher: delivers the outbox's pending deliveries to their subscribers, signed, at least once.

A background loop in every app process (api/loops.py: the shape it shares with the offer timer), on a connection of
its own as the job login (JOBS_DATABASE_URL, a direct connection: it LISTENs). Each round claims a batch of due
deliveries (jobs.claim_deliveries: FOR UPDATE SKIP LOCKED and a lease, so several processes share the queue and one
that dies lets its claims fall due again), POSTs them concurrently, with the deliveries of one lead sent one after
the other in event order and the rest of a lead's batch held back after a failure, and records every answer in one call
(jobs.record_deliveries: retries with backoff, dead after the retry limit, 410 disables the subscription). It wakes
on NOTIFY webhook_delivery (sent by the transaction that wrote the events), else at the next due delivery, else
every WEBHOOK_POLL_S. The rules (what is due, the order, the backoff) live in SQL; this module only sends.

Each request carries `X-ThinkRealty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed with
the subscription's secret, and `X-ThinkRealty-Event-Id` for de-duplication (docs/events.md has the receiver's check).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg

from api import queries
from api.deps import init_connection
from api.loops import DeadlineLoop
from api.metrics import Metrics

log = logging.getLogger("api.dispatcher")
CHANNEL = "webhook_delivery"
USER_AGENT = "ThinkRealty-Webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-ThinkRealty-Signature value of a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _error_text(exc: Exception, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed: {exc.os_error or exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def http_session(timeout_s: float, concurrency: int) -> aiohttp.ClientSession:
    """The dispatcher's HTTP client: keep-alive connections (up to `concurrency`), the whole request within
    timeout_s, no redirects followed (per request), nothing decompressed (the answer's body is not read)."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, ttl_dns_cache=60)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s),
                                 headers={"User-Agent": USER_AGENT}, auto_decompress=False)


class Dispatcher(DeadlineLoop):
    name = "dispatcher"
    channel = CHANNEL
    next_due_query = queries.NEXT_DELIVERY_AT

    def __init__(self, jobs_url: str, *, timeout_s: float = 5.0, batch_size: int = 200, concurrency: int = 50,
                 poll_s: float = 5.0, retry_s: float = 1.0, metrics: Metrics | None = None) -> None:
        super().__init__(jobs_url, poll_s=poll_s, retry_s=retry_s)
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.metrics = metrics
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency

    def session(self) -> aiohttp.ClientSession:
        return http_session(self.timeout_s, self._concurrency)

    async def round(self, conn: asyncpg.Connection, session: Any) -> bool:
        return await self.dispatch_once(conn, session) > 0

    async def dispatch_once(self, conn: asyncpg.Connection, http: aiohttp.ClientSession) -> int:
        """One round: claim, send, record. Returns how many deliveries were claimed."""
        rows = await conn.fetch(queries.CLAIM_DELIVERIES, self.batch_size)
        if not rows:
            return 0
        groups: dict[tuple[object, object], list[asyncpg.Record]] = {}
        for row in rows:  # in event order; one lead's deliveries to one subscriber go one after the other
            key = (row["subscription_id"], row["lead_id"] or row["event_id"])
            groups.setdefault(key, []).append(row)
        sent = await asyncio.gather(*(self._send_group(http, group) for group in groups.values()))
        results = [result for group in sent for result in group]
        counts = await conn.fetchval(queries.RECORD_DELIVERIES, results)  # the jsonb codec encodes it
        if self.metrics is not None:
            for result in results:
                if result["outcome"] != "skipped":
                    self.metrics.webhook_attempt(result["outcome"], result.get("latency_s"))
            self.metrics.webhooks_dead(int(counts.get("dead", 0)))
        return len(rows)

    async def _send_group(self, http: aiohttp.ClientSession, group: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for row in group:
            if results and results[-1]["outcome"] != "delivered":
                results.append({"subscription_id": str(row["subscription_id"]), "event_id": row["event_id"],
                                "outcome": "skipped"})
                continue
            async with self._slots:
                results.append(await self._send(http, row))
        return results

    async def _send(self, http: aiohttp.ClientSession, row: asyncpg.Record) -> dict[str, Any]:
        body = row["body"].encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json",
                   "X-ThinkRealty-Signature": signature(row["secret"], timestamp, body),
                   "X-ThinkRealty-Event-Id": str(row["event_id"]),
                   "X-ThinkRealty-Topic": row["topic"],
                   "X-ThinkRealty-Delivery-Attempt": str(row["attempt"])}
        result: dict[str, Any] = {"subscription_id": str(row["subscription_id"]), "event_id": row["event_id"],
                                  "attempted_at": datetime.now(UTC).isoformat()}
        started = time.perf_counter()
        try:
            async with http.post(row["url"], data=body, headers=headers, allow_redirects=False) as response:
                status = response.status
                await response.content.read(65536)  # a receiver's short answer; more is not waited for
        except Exception as exc:
            result |= {"outcome": "failed", "error": _error_text(exc, self.timeout_s)}
        else:
            result["status_code"] = status
            if 200 <= status < 300:
                result["outcome"] = "delivered"
                result["latency_s"] = (datetime.now(UTC) - row["occurred_at"]).total_seconds()
            elif status == 410:
                result |= {"outcome": "gone", "error": "410 Gone: the subscription is disabled"}
            else:
                result |= {"outcome": "failed", "error": f"HTTP {status}"}
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return result


async def dispatch_pending(jobs_url: str, *, timeout_s: float = 5.0, batch_size: int = 200) -> int:
    """Delivers whatever is due now, round after round, then returns how many deliveries were attempted (for
    `crmctl dispatch`, and cron)."""
    dispatcher = Dispatcher(jobs_url, timeout_s=timeout_s, batch_size=batch_size)
    conn = await asyncpg.connect(jobs_url, server_settings={"application_name": "thinkrealty-dispatch-once"})
    try:
        await init_connection(conn)
        total = 0
        async with http_session(timeout_s, 50) as http:
            while claimed := await dispatcher.dispatch_once(conn, http):
                total += claimed
        return total
    finally:
        await conn.close()
