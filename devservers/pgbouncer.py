"""PgBouncer in transaction mode in front of a PostgreSQL server: the pooler most PostgreSQL deployments put between
their applications and the database, for the tests and the benchmarks that prove the API works behind it.

It is the `pgbouncer` binary of the system (Debian: `apt-get install pgbouncer`; `available()` says whether there is
one), not a PyPI package. It listens on 127.0.0.1 only, trusts the logins it is told about (like the embedded
PostgreSQL behind it), sends every database name to the same server (`* = host=... port=...`), and hands a server
connection to a client for one transaction at a time. The process is ours: `stop()` ends it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devservers.ports import free_port, wait_for_port

UNPRIVILEGED_USER = "nobody"  # pgbouncer refuses to run as root; started by root, it switches to this user


def available() -> str | None:
    """The pgbouncer binary on PATH (or /usr/sbin, where Debian puts it), else None."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


class PgBouncer:
    """pgbouncer on 127.0.0.1:`port`, transaction pooling, in front of upstream_host:upstream_port."""

    def __init__(self, workdir: Path, upstream_host: str, upstream_port: int, users: list[str], *,
                 port: int | None = None, pool_size: int = 10, pool_mode: str = "transaction") -> None:
        self.workdir = Path(workdir).resolve()
        self.upstream = (upstream_host, upstream_port)
        self.users = users
        self.port = port or free_port()
        self.pool_size = pool_size
        self.pool_mode = pool_mode
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, direct_url: str) -> str:
        """`direct_url` (a URL of the upstream server) as it reads through this pooler: same login and database."""
        parts = urlsplit(direct_url)
        credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit((parts.scheme, f"{credentials}127.0.0.1:{self.port}", parts.path, parts.query,
                           parts.fragment))

    def _config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        userlist = self.workdir / "userlist.txt"
        userlist.write_text("".join(f'"{user}" ""\n' for user in self.users))
        ini = self.workdir / "pgbouncer.ini"
        host, port = self.upstream
        ini.write_text(f"""[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {userlist}
pool_mode = {self.pool_mode}
default_pool_size = {self.pool_size}
min_pool_size = 0
max_client_conn = 1000
max_db_connections = 0
; asyncpg and psycopg send extra_float_digits at connect; PgBouncer tracks it for no one
ignore_startup_parameters = extra_float_digits
server_idle_timeout = 30
""")
        return ini

    def start(self) -> PgBouncer:
        binary = available()
        if binary is None:
            raise RuntimeError("no pgbouncer binary (Debian: apt-get install pgbouncer)")
        ini = self._config()
        args = [binary, str(ini)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", UNPRIVILEGED_USER]  # it reads its files first; its log is our stderr file
        with (self.workdir / "pgbouncer.stderr").open("wb") as stderr:
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            wait_for_port(self.port, 15, "PgBouncer")
        except RuntimeError:
            self.stop()
            log = self.workdir / "pgbouncer.stderr"
            raise RuntimeError(f"PgBouncer did not start: {log.read_text(errors='replace')[-2000:]}") from None
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
