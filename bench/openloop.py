"""Open-loop capture latency: POST /api/v1/leads/capture sent on a fixed schedule, whatever the server does.

wrk keeps N connections busy: a slow answer delays the next request, so the queue a slow server builds never shows
in its latency (coordinated omission), and its p99 at 64 connections is Little's law, not what a portal waits.
Here request i is due at start + i / rate; it is sent at that time on an idle keep-alive connection (a new one when
none is idle, up to MAX_CONNECTIONS, after which it waits for one: that wait counts), and its latency is measured
from the time it was due to the end of its answer. A server that cannot keep up shows it as latency that grows with
the backlog, as a portal would see it.

The generator is a bare asyncio HTTP/1.1 client (no httpx: at 300 requests/s its own cost would be a third of a
core on a 2-core machine) in a process of its own; it reports how late it sent against the schedule (its own
lateness, kept apart from the server's). `python -m bench.openloop URL RATE SECONDS OFFSET` runs one rate.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

INTEGRATION_KEY = "trk_de000001_demo-integration-portals-and-website"  # demo data (db/seed/60_api_keys.sql)
MAX_CONNECTIONS = 256
TIMEOUT_S = 10.0
SOURCES = ("bayut", "propertyFinder", "dubizzle", "website", "walk_in", "referral")
TYPES = ("apartment", "villa", "townhouse", "commercial")
LANGUAGES = ("english", "arabic", "russian", "hindi")
AREAS: tuple[list[str], ...] = (["Marina", "JBR"], ["Downtown Dubai"], ["JVC", "JLT"], [])


@dataclass
class RateResult:
    rate: int  # offered, requests per second
    seconds: float
    sent: int
    completed: int
    non_2xx: int
    errors: int  # connection errors and timeouts (counted at TIMEOUT_S in the percentiles)
    achieved_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    send_late_p99_ms: float  # how late the generator itself sent, against the schedule
    connections: int  # keep-alive connections it needed


def body(n: int) -> bytes:
    """A unique, valid lead (its own phone), rotating source, language, type and areas, as bench/capture.lua."""
    return json.dumps({
        "source_type": SOURCES[n % 6],
        "lead_data": {"first_name": "Open", "last_name": "Loop", "phone": f"+97155{n % 10_000_000:07d}",
                      "email": f"open{n}@example.com", "nationality": "UAE", "language_preference": LANGUAGES[n % 4],
                      "budget_min": 500000 + (n % 40) * 50000, "budget_max": 900000 + (n % 40) * 100000,
                      "property_type": TYPES[n % 4], "preferred_areas": AREAS[n % 4]},
        "source_details": {"campaign_id": "bench"}}).encode()


def _request(host: str, payload: bytes) -> bytes:
    return (f"POST /api/v1/leads/capture HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {INTEGRATION_KEY}\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One request on a keep-alive connection; the status of its answer (the body read and dropped)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return round(sorted_values[index], 2)


async def run_rate(url: str, rate: int, seconds: float, offset: int) -> RateResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    free = asyncio.Semaphore(MAX_CONNECTIONS)
    opened = 0
    latencies: list[float] = []
    late: list[float] = []
    non_2xx = errors = 0
    loop = asyncio.get_running_loop()

    async def one(n: int, due: float) -> None:
        nonlocal opened, non_2xx, errors
        late.append((loop.time() - due) * 1000)
        async with free:
            try:
                async with asyncio.timeout(max(0.001, due + TIMEOUT_S - loop.time())):
                    request = _request(host, body(offset + n))
                    status = None
                    if idle:  # the most recently used; the server may have closed an older one (keep-alive 5 s)
                        conn = idle.pop()
                        try:
                            status = await _exchange(*conn, request)
                        except (ConnectionError, asyncio.IncompleteReadError):
                            conn[1].close()  # closed by the server while idle: send again on a new connection,
                            # as any HTTP client does (the request never reached the application)
                    if status is None:
                        conn = await asyncio.open_connection(host, port)
                        opened += 1
                        status = await _exchange(*conn, request)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                latencies.append(TIMEOUT_S * 1000)
                return
            idle.append(conn)
            latencies.append((loop.time() - due) * 1000)
            if not 200 <= status < 300:
                non_2xx += 1

    total = int(rate * seconds)
    start = loop.time() + 0.2
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for _, writer in idle:
        writer.close()
    ordered = sorted(latencies)
    return RateResult(rate, seconds, total, len(latencies) - errors, non_2xx, errors,
                      round((len(latencies) - errors) / elapsed, 1), _pct(ordered, 50), _pct(ordered, 90),
                      _pct(ordered, 99), _pct(ordered, 99.9), round(ordered[-1], 2) if ordered else float("nan"),
                      _pct(sorted(late), 99), opened)


def run(url: str, rate: int, seconds: float, offset: int) -> RateResult:
    """One rate in a child process (the generator does not share the server's event loop or interpreter)."""
    done = subprocess.run([sys.executable, "-m", "bench.openloop", url, str(rate), str(seconds), str(offset)],
                          check=True, capture_output=True, text=True, timeout=seconds + 3 * TIMEOUT_S + 60)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return RateResult(**result)


def crossing(results: list[RateResult], threshold_ms: float = 100.0) -> str:
    """Where the p99 crosses the threshold, in words: between which measured rates (linear between them)."""
    ordered = sorted(results, key=lambda r: r.rate)
    for below, above in itertools.pairwise(ordered):
        if below.p99_ms < threshold_ms <= above.p99_ms:
            at = below.rate + (threshold_ms - below.p99_ms) / (above.p99_ms - below.p99_ms) * (above.rate - below.rate)
            return (f"between {below.rate}/s (p99 {below.p99_ms:.0f} ms) and {above.rate}/s (p99 {above.p99_ms:.0f} "
                    f"ms): about **{at:.0f} captures/s** by linear interpolation")
    if ordered and ordered[0].p99_ms >= threshold_ms:
        return f"already at the lowest rate measured, {ordered[0].rate}/s"
    return f"not within the rates measured (p99 {ordered[-1].p99_ms:.0f} ms at {ordered[-1].rate}/s)" if ordered \
        else "not measured"


if __name__ == "__main__":
    result = asyncio.run(run_rate(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
    print(json.dumps(asdict(result)))
