"""A real webhook receiver on 127.0.0.1, for the tests and the benchmarks: it checks every signature the way
docs/events.md tells integrators to, records what arrived (and how long after its event was written), and can be told
to fail (500), hang, answer 410, or go down and come back on the same port. An aiohttp server on an event loop of its
own thread (HTTP/1.1, keep-alive), so the caller's code stays synchronous and a hanging answer holds nobody else."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from devservers.ports import free_port


def verify(secret: str, header: str, body: bytes, tolerance_s: int = 300) -> bool:
    """The receiver's check of X-ThinkRealty-Signature (the example of docs/events.md)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass
class Arrival:
    event_id: int
    topic: str
    lead_id: str | None
    attempt: int
    signature_ok: bool
    body: dict[str, Any]
    at: float
    latency_s: float  # from the event's occurred_at to its arrival here


class Receiver:
    """mode: "ok" (204), "error" (500), "hang" (answers 200 after hang_s), "gone" (410)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.secret = ""
        self.mode = "ok"
        self.hang_s = 10.0
        self.arrivals: list[Arrival] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.requests += 1
            mode = self.mode
        if mode == "hang":
            await asyncio.sleep(self.hang_s)
        status = {"ok": 204, "hang": 200, "error": 500, "gone": 410}[mode]
        if status < 300:
            payload = json.loads(body)
            now = time.time()
            event_id = int(request.headers["X-ThinkRealty-Event-Id"])
            arrival = Arrival(event_id, request.headers["X-ThinkRealty-Topic"], payload["lead_id"],
                              int(request.headers["X-ThinkRealty-Delivery-Attempt"]),
                              verify(self.secret, request.headers.get("X-ThinkRealty-Signature", ""), body)
                              and payload["event_id"] == event_id,
                              payload, now, now - datetime.fromisoformat(payload["occurred_at"]).timestamp())
            with self._lock:
                self.arrivals.append(arrival)
        return web.Response(status=status)

    def start(self) -> None:
        """Up: listening on self.port (the same port after a stop)."""
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/hooks", self._handle)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start())
            self._runner = runner
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        """Down: the port refuses connections until start()."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
        self._loop = self._runner = self._thread = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, count: int, topic: str | None = None, timeout_s: float = 30.0) -> list[Arrival]:
        """Until `count` distinct event ids (of `topic`) arrived; returns every arrival of them."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                got = [a for a in self.arrivals if topic is None or a.topic == topic]
            if len({a.event_id for a in got}) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def wait_for_requests(self, count: int, timeout_s: float) -> bool:
        """Until `count` requests came in (answered or not yet); False when the time ran out first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self.requests >= count:
                    return True
            time.sleep(0.05)
        return False
