"""The container backend of the tests (TEST_BACKEND=containers): PostgreSQL and Redis as Docker containers through
testcontainers-python, from the official images `postgres:16` and `redis:7` (or whatever a local registry mirror or
a stand-in serves under those names). Needs a Docker engine; without one every test that needs the servers is
skipped, saying why. Every container started here carries the label `thinkrealty.tests=1` and is removed when the
session ends (testcontainers' reaper, ryuk, may be off: TESTCONTAINERS_RYUK_DISABLED=true where its image cannot be
pulled; `.ci/run` also removes any container with that label that a killed run left).
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

POSTGRES_IMAGE = "postgres:16"
REDIS_IMAGE = "redis:7"
LABELS = {"thinkrealty.tests": "1"}
# throwaway data: no need to hit the disk; as many connections as the embedded server allows
POSTGRES_COMMAND = "postgres -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"


def docker_unavailable() -> str | None:
    """Why no Docker engine can run containers here, or None when one answers."""
    try:
        import docker
    except ImportError:
        return "the docker package is not installed (pip install -e '.[dev]')"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # no socket, no permission, a daemon that does not answer
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:200]})"
    return None


def compose_command() -> list[str] | None:
    """`docker compose` (v2) when the docker CLI has it, else `docker-compose` (v1, what Debian ships), else None."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def start_postgres() -> tuple[Any, str]:
    """A PostgreSQL container, trusting every login as the embedded server does (the tests connect as the app, job
    and BI logins without passwords); returns the container and its superuser's URL."""
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers before its community split
        from testcontainers.postgres import PostgresContainer

    container = (PostgresContainer(POSTGRES_IMAGE, username="postgres", password="postgres", dbname="postgres",
                                   driver=None)
                 .with_env("POSTGRES_HOST_AUTH_METHOD", "trust")
                 .with_command(POSTGRES_COMMAND)
                 .with_kwargs(labels=LABELS))
    container.start()
    host, port = container.get_container_host_ip(), container.get_exposed_port(5432)
    return container, f"postgresql://postgres@{host}:{port}/postgres"


def start_redis() -> tuple[Any, str]:
    try:
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        from testcontainers.redis import RedisContainer

    container = RedisContainer(REDIS_IMAGE).with_kwargs(labels=LABELS)
    container.start()
    host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
    return container, f"redis://{host}:{port}/1"
