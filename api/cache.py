"""Redis client for the dashboard cache. Redis holds nothing else; the API works without it."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis

log = logging.getLogger("api.cache")


def create_redis(url: str, timeout_s: float) -> aioredis.Redis:
    """A client that never blocks a request for long: short connect and socket timeouts."""
    client: aioredis.Redis = aioredis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )
    return client


async def redis_ok(client: aioredis.Redis) -> bool:
    try:
        return bool(await client.ping())
    except Exception:  # any failure means "not reachable"; the caller reports it
        return False


class DashboardCache:
    """Dashboards in Redis, one hash per agent (`dash:<agent_id>`, a field per filter set), with a short TTL.

    Invalidation is by notification: triggers send pg_notify('dashboard_invalidation', agent_id) on every change
    to the agent's leads, assignments or follow-ups (API or psql), and the listener calls `invalidate`, which bumps
    the agent's version (`dash:v:<agent_id>`) and deletes the hash. A dashboard computed from the database is
    stored only if the version is still the one read before the query, so a change that lands while it is being
    computed can never leave a stale entry behind. Redis being down or slow never fails a request: after an error
    the cache is skipped for `retry_after_s` seconds and then tried again.

    The listener's notifications are not sent one by one: `schedule_invalidation` adds the agent to a pending set and
    one worker (`run_invalidations`) applies everything pending in one pipelined transaction, so a burst of captures
    costs a few Redis round trips, not one each (and never more connections than one). Until an agent's
    invalidation is applied, its cached dashboards are neither served nor stored; a failed batch stays pending and
    is tried again, so a notification is never lost to a Redis hiccup.
    """

    _PUT = """
    if (redis.call('GET', KEYS[2]) or '0') == ARGV[1] then
        redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
        redis.call('EXPIRE', KEYS[1], ARGV[4])
        return 1
    end
    return 0
    """

    def __init__(self, client: aioredis.Redis, ttl_s: int, retry_after_s: float = 2.0) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._down_until = 0.0
        self._put = client.register_script(self._PUT)
        self._pending: set[str] = set()  # notified, not applied yet
        self._applying: set[str] = set()  # in the batch being applied
        self._wake = asyncio.Event()
        self._stopping = False

    @staticmethod
    def _keys(agent_id: str) -> tuple[str, str]:
        return f"dash:{agent_id}", f"dash:v:{agent_id}"

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        log.warning("dashboard cache unavailable (%s); serving from the database", type(exc).__name__)
        self._down_until = time.monotonic() + self.retry_after_s

    async def get(self, agent_id: str, field: str) -> tuple[bytes | None, str | None]:
        """(cached body or None, version to store under). Version None: do not store (Redis unavailable)."""
        if not self._available() or agent_id in self._pending or agent_id in self._applying:
            return None, None
        key, version_key = self._keys(agent_id)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hget(key, field)
                pipe.get(version_key)
                body, version = await pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return None, None
        return body, (version or b"0").decode()

    async def put(self, agent_id: str, field: str, body: bytes, version: str) -> bool:
        if not self._available():
            return False
        key, version_key = self._keys(agent_id)
        try:
            return bool(await self._put(keys=[key, version_key], args=[version, field, body, self.ttl_s]))
        except Exception as exc:
            self._failed(exc)
            return False

    async def _drop(self, agent_ids: set[str]) -> None:
        """Bumps each agent's version and deletes its hash, all in one MULTI; raises what Redis raised."""
        async with self.client.pipeline(transaction=True) as pipe:
            for agent_id in agent_ids:
                key, version_key = self._keys(agent_id)
                pipe.incr(version_key)
                pipe.delete(key)
            await pipe.execute()

    async def invalidate(self, agent_id: str) -> None:
        """At once (a route's own change, awaited before it answers)."""
        try:
            await self._drop({agent_id})
        except Exception as exc:
            self._failed(exc)

    def schedule_invalidation(self, agent_id: str) -> None:
        """A notification: the agent's dashboards changed. Applied by run_invalidations, with whatever else is
        pending; meanwhile they are not served from the cache."""
        self._pending.add(agent_id)
        self._wake.set()

    async def run_invalidations(self) -> None:
        """Applies pending invalidations, all of them in one pipelined MULTI per round, until cancelled. A failed
        round keeps its agents pending and is tried again after retry_after_s. stop() ends it: a cancellation alone
        is not enough, because redis-py may swallow a CancelledError that lands inside one of its calls."""
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            batch, self._pending = self._pending, set()
            if not batch:
                continue
            self._applying = batch
            try:
                await self._drop(batch)
            except Exception as exc:
                self._failed(exc)
                self._pending |= batch
                self._applying = set()
                await asyncio.sleep(self.retry_after_s)
                self._wake.set()
                continue
            self._applying = set()

    def stop(self) -> None:
        """Ends run_invalidations at its next step (what is pending then is dropped with the process)."""
        self._stopping = True
        self._wake.set()

    async def invalidate_all(self) -> None:
        """After the listener lost its connection (notifications may have been missed): drop every dashboard."""
        try:
            async for key in self.client.scan_iter(match="dash:*", count=500):
                if not key.startswith(b"dash:v:"):
                    await self.client.delete(key)
                else:
                    await self.client.incr(key)
        except Exception as exc:
            self._failed(exc)
