"""Redis client for the dashboard cache. Redis holds nothing else; the API works without it."""

from __future__ import annotations

import redis.asyncio as aioredis


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
