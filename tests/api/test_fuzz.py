"""Schemathesis against our own /openapi.json, over a real uvicorn process: every operation, bounded examples, a
fixed seed. No answer may be a 5xx, and every answer must match what the document says (status codes, content
types, schemas: problems included). Then the database must still hold every rule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.api.conftest import ADMIN_KEY, INTEGRATION_KEY, LEAK_PATTERNS, app_url, live_api
from tests.conftest import Servers

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def schemathesis(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    return subprocess.run(
        [cli, "run", f"{url}/openapi.json", "--checks", CHECKS, "--seed", "20261129", "--no-color",
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "10", *args],
        capture_output=True, text=True, timeout=600, cwd=tmp)


@pytest.mark.fuzz
def test_every_endpoint_answers_as_documented(seeded_db_url: str, servers: Servers, tmp_path: Path) -> None:
    with live_api(app_url(seeded_db_url), servers.redis_url) as url:
        for key, examples in ((ADMIN_KEY, "25"), (INTEGRATION_KEY, "5"), (None, "3")):
            headers = ["-H", f"X-API-Key: {key}"] if key else []
            done = schemathesis(url, tmp_path, "--max-examples", examples, *headers)
            assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
            assert " passed" in done.stdout and "failures" not in done.stdout.split("SUMMARY")[-1].lower()
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        assert conn.execute("SELECT * FROM reporting.invariant_violations").fetchall() == []


@pytest.mark.fuzz
def test_deep_nesting_on_every_body_endpoint(seeded_db_url: str, servers: Servers) -> None:
    """Bodies nested 100 to 20,000 deep (alone, and inside an otherwise valid capture) on every operation that
    takes a body: never a 5xx, always problem+json when refused, and a capture's raw bytes kept."""
    import httpx

    lead = "00000000-0000-0000-0000-000000000000"
    with live_api(app_url(seeded_db_url), servers.redis_url) as url:
        spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
        with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": ADMIN_KEY,
                                                              "Content-Type": "application/json"}) as http:
            for path, operations in spec["paths"].items():
                for method, operation in operations.items():
                    if "requestBody" not in operation:
                        continue
                    target = path.replace("{lead_id}", lead).replace("{dead_letter_id}", lead)
                    for depth in (100, 1000, 20000):
                        nested = "[" * depth + "]" * depth
                        for body in (nested, '{"source_type": "website", "lead_data": {"first_name": "A", '
                                             '"last_name": "B", "phone": "+971501119999"}, "x": ' + nested + "}"):
                            answer = http.request(method.upper(), target, content=body)
                            assert answer.status_code < 500, (method, path, depth, answer.text)
                            if answer.status_code >= 400:
                                assert answer.headers["content-type"].startswith("application/problem+json")
                                assert LEAK_PATTERNS.search(answer.text) is None, answer.text
