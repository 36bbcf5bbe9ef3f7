"""docker-compose.yml, end to end: `up -d --build` of the whole stack (PostgreSQL, Redis, the one-shot migrate, the API
in 2 worker processes) under a project name and a host port of its own (so a `make run` on 8000 or another run of
this test is no obstacle), then what the README says an operator does: wait for /ready, make a key with
`docker compose run --rm migrate python -m crmctl keys create ...`, capture a lead, read the dashboard; the API's
container runs as a non-root user and its healthcheck turns healthy; `down -v` removes it all.

Marker `compose`: `make test` leaves it out (it builds an image: minutes), `.ci/run` runs it where a Docker engine
answers; without one it is skipped, saying why. Works with `docker compose` (v2) and `docker-compose` (v1).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devservers.ports import free_port
from tests.containers import compose_command, docker_unavailable

pytestmark = pytest.mark.compose
ROOT = Path(__file__).resolve().parents[1]


class Stack:
    def __init__(self, compose: list[str]) -> None:
        self.project = f"trtest{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.compose = [*compose, "-p", self.project, "-f", str(ROOT / "docker-compose.yml")]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "MIGRATION_"))}
        self.env |= {"POSTGRES_PASSWORD": secrets.token_hex(12), "APP_DB_PASSWORD": secrets.token_hex(12),
                     "JOBS_DB_PASSWORD": secrets.token_hex(12), "REPORTING_DB_PASSWORD": secrets.token_hex(12),
                     "API_PORT": str(self.port), "API_BIND": "127.0.0.1", "WEB_CONCURRENCY": "2"}

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.compose, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                                 f"{done.stderr[-3000:]}")
        return done

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail", "80", check=False).stdout[-6000:]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    compose = compose_command()
    if compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    running = Stack(compose)
    try:
        running.run("up", "-d", "--build", timeout=1200)
        yield running
    finally:
        running.run("down", "-v", "--remove-orphans", timeout=300, check=False)


def _wait(what: str, ok: object, stack: Stack, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ok():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} never happened:\n{stack.logs()}"
        time.sleep(1)


def _ready(stack: Stack) -> bool:
    try:
        return httpx.get(f"{stack.url}/ready", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_stack_comes_up_and_serves_as_the_readme_says(stack: Stack) -> None:
    _wait("GET /ready answering 200", lambda: _ready(stack), stack, 240)

    # the first admin key, as the README says (the migrate service runs as the schema owner)
    made = stack.run("run", "--rm", "-T", "migrate", "python", "-m", "crmctl", "keys", "create", "--role", "admin",
                     "--label", "compose test", timeout=300)
    key = json.loads(made.stdout[made.stdout.index("{"):made.stdout.rindex("}") + 1])["key"]
    assert key.startswith("trk_")

    # agents to route to: the demo data, loaded the documented way (production loads none on its own)
    stack.run("run", "--rm", "-T", "migrate", "python", "-m", "crmctl", "seed", timeout=300)

    with httpx.Client(base_url=stack.url, headers={"X-API-Key": key}, timeout=30) as http:
        assert http.get("/api/v1/analytics").status_code == 200
        captured = http.post("/api/v1/leads/capture", json={
            "source_type": "bayut", "lead_data": {"first_name": "Compose", "last_name": "Stack",
                                                  "phone": "+971559876543", "property_type": "apartment",
                                                  "preferred_areas": ["Dubai Marina"]}})
        assert captured.status_code == 201, captured.text
        agent = captured.json()["assigned_agent"]["agent_id"]
        dashboard = http.get(f"/api/v1/agents/{agent}/dashboard")
        assert dashboard.status_code == 200, dashboard.text
        assert dashboard.json()["agent_summary"]["total_active_leads"] >= 1
        arabic = http.get("/api/v1/analytics/nothing", headers={"Accept-Language": "ar"})
        assert arabic.status_code == 404 and arabic.headers["content-language"] == "ar"

    # the API's container: a non-root user, two workers, a healthcheck that turns healthy
    container = stack.run("ps", "-q", "api").stdout.strip()
    assert container
    uid = stack.run("exec", "-T", "api", "id", "-u").stdout.strip()
    assert uid.isdigit() and int(uid) != 0
    count = ("import pathlib; print(sum(b'spawn' + b'_main' in p.read_bytes() "  # (split: not this command itself)
             "for p in pathlib.Path('/proc').glob('[0-9]*/cmdline')))")
    workers = stack.run("exec", "-T", "api", "python", "-c", count)
    assert workers.stdout.strip() == "2"  # WEB_CONCURRENCY=2: uvicorn's two worker processes

    def healthy() -> bool:
        state = subprocess.run(["docker", "inspect", "--format", "{{.State.Health.Status}}", container],
                               capture_output=True, text=True)
        return state.stdout.strip() == "healthy"

    _wait("the API container's healthcheck turning healthy", healthy, stack, 120)
