"""TCP ports on 127.0.0.1 for the development servers: a free one, whether one is taken, waiting for one."""

from __future__ import annotations

import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_for_port(port: int, timeout: float, what: str) -> None:
    """Returns once something listens on 127.0.0.1:`port`; RuntimeError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not port_is_free(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port} within {timeout:.0f}s")
