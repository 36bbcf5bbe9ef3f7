"""The webhook dispatcher: delivers the outbox's pending deliveries to their subscribers, signed, at least once.

A background loop in every app process (like the sweeper), on a connection of its own as the job login
(JOBS_DATABASE_URL, a direct connection: it LISTENs). Each round claims a batch of due deliveries
(jobs.claim_deliveries: FOR UPDATE SKIP LOCKED and a lease, so several processes share the queue and one that dies
lets its claims fall due again), POSTs them concurrently, with the deliveries of one lead sent one after the other
in event order and the rest of a lead's batch held back after a failure, and records every answer in one call
(jobs.record_deliveries: retries with backoff, dead after the retry limit, 410 disables the subscription). It wakes
on NOTIFY webhook_delivery (sent by the transaction that wrote the events), else at the next due delivery, else
every WEBHOOK_POLL_S. The rules (what is due, the order, the backoff) live in SQL; this module only sends.

Each request carries `X-ThinkRealty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed with
the subscription's secret, and `X-ThinkRealty-Event-Id` for de-duplication (docs/events.md has the receiver's check).
"""

from __future__ import annotations

import asyncio
import contextlib
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
from api.errors import is_connection_error
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


class Dispatcher:
    def __init__(self, jobs_url: str, *, timeout_s: float = 5.0, batch_size: int = 200, concurrency: int = 50,
                 poll_s: float = 5.0, retry_s: float = 1.0, metrics: Metrics | None = None) -> None:
        self.jobs_url = jobs_url
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.metrics = metrics
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._failures = 0  # rounds failed in a row: the retry waits 1 s, 2 s, 4 s ... up to 60 s
        self.ready = asyncio.Event()  # set once listening (tests wait for it)

    def stop(self) -> None:
        """Ends run() at its next step (a cancellation may be swallowed by a client library mid-call)."""
        self._stopping.set()
        self._wake.set()

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Delivers until stop() or cancellation; reconnects after any failure."""
        self._failures = 0
        while not self._stopping.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.jobs_url,
                                             server_settings={"application_name": "thinkrealty-dispatcher"})
                await init_connection(conn)
                await conn.add_listener(CHANNEL, self._on_notify)
                async with http_session(self.timeout_s, self._concurrency) as http:
                    self.ready.set()
                    await self._loop(conn, http)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                if is_connection_error(exc):
                    log.warning("dispatcher: the database is not reachable (%s)", type(exc).__name__)
                elif isinstance(exc, asyncpg.PostgresError):  # e.g. a login that may not run the jobs
                    log.error("dispatcher: %s %s; retrying", exc.sqlstate, exc)
                else:
                    log.exception("dispatcher failed; restarting")
            finally:
                self.ready.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if not self._stopping.is_set():  # 1 s, 2 s, 4 s ... up to 60 s while it keeps failing
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(self.retry_s * 2 ** max(self._failures - 1, 0), 60.0)):
                        await self._stopping.wait()

    async def _loop(self, conn: asyncpg.Connection, http: aiohttp.ClientSession) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # a NOTIFY from here on wakes the wait below
            claimed = await self.dispatch_once(conn, http)
            self._failures = 0  # a round that worked: the next failure starts the backoff afresh
            if claimed:
                continue  # a full or partial batch: more may be due at once
            due: datetime | None = await conn.fetchval(queries.NEXT_DELIVERY_AT)
            delay = self.poll_s
            if due is not None:  # at least 50 ms: what is due but was not claimable is another dispatcher's now
                delay = min(delay, max(0.05, (due - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

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
