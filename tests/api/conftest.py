"""The ASGI app inside its lifespan, on a fresh database, talking to the real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from api.main import create_app
from api.settings import Settings
from tests.conftest import Servers, with_user


def app_url(owner_url: str) -> str:
    """The API's own login (thinkrealty_app) when the server trusts it, as the embedded one does."""
    return owner_url if urlsplit(owner_url).password else with_user(owner_url, "thinkrealty_app")


def make_settings(database_url: str, redis_url: str) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url, app_env="test", db_pool_min_size=1,
                    db_pool_max_size=10, redis_timeout_s=0.3)


@pytest.fixture
async def client(seeded_db_url: str, servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(app_url(seeded_db_url), servers.redis_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
