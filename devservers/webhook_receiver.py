"""A real webhook receiver on 127.0.0.1, for the tests and the benchmarks: it checks every signature the way
docs/events.md tells integrators to, records what arrived (and how long after its event was written), and can be told
to fail (500), hang, answer 410, or go down and come back on the same port. HTTP/1.1 with keep-alive, as a real
receiver behind a load balancer would be."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
        self._server: ThreadingHTTPServer | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests += 1
                    mode = receiver.mode
                if mode == "hang":
                    time.sleep(receiver.hang_s)
                status = {"ok": 204, "hang": 200, "error": 500, "gone": 410}[mode]
                if status < 300:
                    payload = json.loads(body)
                    now = time.time()
                    arrival = Arrival(int(self.headers["X-ThinkRealty-Event-Id"]), self.headers["X-ThinkRealty-Topic"],
                                      payload["lead_id"], int(self.headers["X-ThinkRealty-Delivery-Attempt"]),
                                      verify(receiver.secret, self.headers.get("X-ThinkRealty-Signature", ""), body)
                                      and payload["event_id"] == int(self.headers["X-ThinkRealty-Event-Id"]),
                                      payload, now, now - datetime.fromisoformat(payload["occurred_at"]).timestamp())
                    with receiver._lock:
                        receiver.arrivals.append(arrival)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def topics_of(self, topic: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.topic == topic]

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
