"""PgBouncer in front of a PostgreSQL server: the local stand-in for RDS Proxy.

In AWS the functions reach PostgreSQL through RDS Proxy, which refuses what a direct connection
accepts: a startup message carrying `options` ("RDS Proxy currently doesn't support command-line
options"). PgBouncer does too ("unsupported startup parameter: options"): by default it accepts
only the parameters it tracks (application_name, client_encoding, DateStyle, TimeZone,
standard_conforming_strings). Putting it between the code and the database in tests and in the
local stack makes that class of bug fail here first.

    pooler = Pooler("postgresql://postgres:@/postgres?host=/tmp/pg", Path(".local/pgbouncer"))
    pooler.url            # postgresql://postgres:<password>@127.0.0.1:<port>/postgres
    pooler.url_for("db")  # the same, to the server's database "db" (any database passes through)
    pooler.port, pooler.user, pooler.password
    pooler.stop()         # always stops the process; also `with Pooler(...) as pooler:`

- Pool mode `transaction` (the default): RDS Proxy hands each transaction of a client
  connection to any free database connection ("multiplexing", reuse "at the conclusion of each
  transaction"), and pins a client to one only when it detects session state (SET, advisory
  locks, prepared statements, temporary tables ...). Transaction pooling is that behaviour
  without the pinning, so code that relies on session state fails here instead of quietly
  pinning there; and idle client connections (warm functions' pools) hold no server
  connection, as with the proxy. `pool_mode="session"` is there for code that cannot avoid it.
- Authentication as RDS Proxy does it: the client logs in with the database user's own name and
  password (there, the ones in the Secrets Manager secret) and the pooler logs in to the server
  with the same credentials. Here PgBouncer checks them with SCRAM-SHA-256 against a userlist
  holding the server URL's user and password; when the URL has no password (the embedded
  server trusts its Unix socket), a random one is made, so a client must still present it:
  `.password`, and in `.url`. `users` adds more (name: password), e.g. the application role the
  agent's functions connect as (order_agent.db.roles), as RDS Proxy is given its secret too; the
  server must accept them (the embedded one trusts its socket). Only loopback is listened on (no
  TLS: set DATABASE_SSLMODE=disable towards it).
- PgBouncer refuses to run as root; as root it is started as the owner of the server's Unix
  socket directory (the embedded server's own user), or `nobody` for a TCP server.

The `pgbouncer` binary comes from the Debian package of that name (`make pgbouncer`); without
it `Pooler(...)` raises `PgBouncerNotInstalled`.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import psycopg2
import psycopg2.extensions

from order_agent_dev.local.aws import free_port

START_TIMEOUT_S = 20
POOL_MODES = ("transaction", "session")


class PoolerError(RuntimeError):
    pass


class PgBouncerNotInstalled(PoolerError):
    pass


def pgbouncer_binary() -> str:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    found = shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer") if os.access(path, os.X_OK)), None
    )
    if found is None:
        raise PgBouncerNotInstalled(
            "pgbouncer is not installed: install the Debian package `pgbouncer` (`make pgbouncer`, "
            "or `apt-get install pgbouncer`)"
        )
    return found


def _quoted(value: str) -> str:
    """A user name or password in PgBouncer's userlist, quoted."""
    return '"' + value.replace('"', '""') + '"'


class Pooler:
    """PgBouncer on a free loopback port (or `port`) in front of `server_url`, with its ini,
    userlist and log in `work_dir`; started and ready (a login through it succeeded) on return."""

    def __init__(
        self,
        server_url: str,
        work_dir: Path,
        port: int | None = None,
        *,
        pool_mode: str = "transaction",
        password: str | None = None,
        users: dict[str, str] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        if pool_mode not in POOL_MODES:
            raise ValueError(f"pool_mode must be one of {POOL_MODES}, not {pool_mode!r}")
        binary = pgbouncer_binary()
        server = psycopg2.extensions.parse_dsn(server_url)
        self.user = server.get("user") or pwd.getpwuid(os.getuid()).pw_name
        self.password = password or server.get("password") or secrets.token_urlsafe(18)
        self.database = server.get("dbname") or self.user
        self.port = port or free_port()
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.work_dir / "pgbouncer.log"

        host, server_port = server.get("host"), server.get("port") or "5432"
        if host and "," in host:
            raise PoolerError(f"one server host only, not {host!r}")
        if host and any(c.isspace() or c in "'\"" for c in host):
            raise PoolerError(f"a server host PgBouncer can be given: {host!r}")
        target = f"port={server_port}" + (f" host={host}" if host else "")
        ini = self.work_dir / "pgbouncer.ini"
        userlist = self.work_dir / "userlist.txt"
        ini.write_text(
            "\n".join([
                "[databases]",
                f"* = {target}",  # every database name passes through to the same name on the server
                "",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",  # TCP only, as a proxy endpoint is
                "auth_type = scram-sha-256",
                f"auth_file = {userlist}",
                f"pool_mode = {pool_mode}",
                "max_client_conn = 1000",
                "default_pool_size = 20",
                # no ignore_startup_parameters: anything PgBouncer does not track is refused
                # towards a real server over TCP, as its URL asks (a Unix socket has no TLS)
                f"server_tls_sslmode = {server.get('sslmode') or 'prefer'}",
                "logfile =",  # stderr, into log_path
                "pidfile =",
                "",
            ]),
            encoding="utf-8",
        )  # fmt: skip
        entries = {**(users or {}), self.user: self.password}
        userlist.write_text("".join(f"{_quoted(u)} {_quoted(p)}\n" for u, p in entries.items()), encoding="utf-8")
        for path in (ini, userlist):
            path.chmod(0o600)  # read at start, before PgBouncer switches user (below)
        command = [binary, str(ini)]
        run_as = self._run_as(host)
        if run_as is not None:
            command[1:1] = ["-u", run_as.pw_name]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _run_as(host: str | None) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        if host and host.startswith("/"):
            owner = Path(host).stat().st_uid
            if owner != 0:
                return pwd.getpwuid(owner)
        return pwd.getpwnam("nobody")

    @property
    def url(self) -> str:
        """DATABASE_URL through the pooler to the server URL's database."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """DATABASE_URL through the pooler to another database on the same server."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{quote(database, safe='')}?sslmode=disable"

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PoolerError(f"pgbouncer exited with {self._process.returncode}; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                conn = psycopg2.connect(self.url, connect_timeout=5)
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT 1")
                    return
                finally:
                    conn.close()
            except (OSError, psycopg2.OperationalError) as exc:
                error = exc
            time.sleep(0.1)
        raise PoolerError(f"pgbouncer not ready after {timeout_s:.0f} s ({error}); see {self.log_path}")

    def stop(self, timeout_s: float = 5) -> None:
        """Stop PgBouncer (SIGTERM, then SIGKILL): its clients' connections end with it."""
        if self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=timeout_s)

    def __enter__(self) -> Pooler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
