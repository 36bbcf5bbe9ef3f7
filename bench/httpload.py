"""A Python stand-in for wrk when it is not installed: a separate process with one asyncio client per
connection, each posting unique captures for the duration. It shares the CPU with the server, so the
figures it gives are a lower bound; install wrk (Debian: apt-get install wrk) for the real ones."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

INTEGRATION_KEY = "trk_de000001_demo-integration-portals-and-website"  # demo data (db/seed/60_api_keys.sql)


async def _load(url: str, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    non_2xx = errors = 0
    stop = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal non_2xx, errors
        async with httpx.AsyncClient(base_url=url, timeout=10, headers={"X-API-Key": INTEGRATION_KEY}) as http:
            n = 0
            while time.monotonic() < stop:
                n += 1
                body = {"source_type": "website", "source_details": {"campaign_id": "bench"},
                        "lead_data": {"first_name": "Bench", "last_name": "Lead",
                                      "phone": f"+971567{w:02d}{n:04d}"[:13], "property_type": "apartment"}}
                started = time.perf_counter()
                try:
                    response = await http.post("/api/v1/leads/capture", json=body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if not 200 <= response.status_code < 300:
                    non_2xx += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(connections)))
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": cuts[49], "p99_ms": cuts[98],
            "non_2xx": non_2xx, "errors": errors}


def run(url: str, connections: int, seconds: float) -> dict[str, Any]:
    """Runs the load in a child process and returns its figures."""
    done = subprocess.run([sys.executable, "-m", "bench.httpload", url, str(connections), str(seconds)],
                          check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_load(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))))
