"""One PostgreSQL connection pool per process.

Lambda reuses the process between invocations, so the pool is created lazily once and kept;
a fork (e.g. a test runner's worker) gets a pool of its own.

The server-side timeouts (DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS) are not sent when
connecting: RDS Proxy refuses a startup message with `options` ("RDS Proxy currently doesn't
support command-line options"), and a `SET` after connecting would pin every client connection
to one database connection. They are defaults of the database role instead, which a session
takes when it starts: `order_agent.db.migrate.apply_role_timeouts`, run by every migrate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

from order_agent.db.credentials import database_url
from order_agent.settings import Settings, get_settings

# Errors after which a connection must not go back into the pool.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class WaitingConnectionPool(psycopg2.pool.ThreadedConnectionPool):
    """psycopg2's pool raises PoolError at once when all `maxconn` connections are out. Threads of
    one process share it (the local gateway runs handlers in a thread pool, like concurrent
    Lambdas), so a thread waits up to `wait_s` for a connection to come back instead: a burst
    then costs a short wait, not a `busy` tool error."""

    def __init__(self, minconn: int, maxconn: int, wait_s: float, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(maxconn)
        self._wait_s = wait_s
        super().__init__(minconn, maxconn, **kwargs)

    def getconn(self, key: Any = None) -> Any:
        if not self._slots.acquire(timeout=self._wait_s):
            raise psycopg2.pool.PoolError(f"no free connection within {self._wait_s:g} s")
        try:
            return super().getconn(key)
        except BaseException:
            self._slots.release()
            raise

    def putconn(self, conn: Any = None, key: Any = None, close: bool = False) -> None:
        super().putconn(conn, key, close)
        self._slots.release()  # only after a successful return: a rejected connection held no slot


class Database:
    """A thread-safe pool plus the two ways the code uses a connection."""

    def __init__(self, settings: Settings, *, connection_factory: type | None = None) -> None:
        self.dsn = settings.database_url
        self._settings = settings
        # A psycopg2 connection subclass, e.g. one that counts round trips (the benchmarks).
        self._connection_factory = connection_factory
        self._pool: WaitingConnectionPool | None = None
        self._pool_lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    def connect_arguments(self) -> dict[str, Any]:
        """What `psycopg2.connect` gets for every connection. Only startup parameters RDS Proxy
        accepts (user, database, application_name, client_encoding, DateStyle, TimeZone,
        extra_float_digits, search_path): never `options`, so no timeouts here (see above)."""
        s = self._settings
        arguments: dict[str, Any] = {
            "dsn": database_url(s),
            "connect_timeout": s.db_connect_timeout_s,
            "application_name": "order-agent",
        }
        if self._connection_factory is not None:
            arguments["connection_factory"] = self._connection_factory
        return arguments

    def _get_pool(self) -> WaitingConnectionPool:
        # Created on first use: constructing a Database never fails, even with the server down.
        with self._pool_lock:
            if self._pool is None:
                s = self._settings
                self._pool = WaitingConnectionPool(
                    s.db_pool_min, s.db_pool_max, s.db_pool_wait_s, **self.connect_arguments()
                )
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection; a broken one is closed instead of being returned."""
        pool = self._get_pool()
        try:
            conn = pool.getconn()
        except psycopg2.OperationalError:
            # e.g. the secret's password was rotated: build the pool again, with a fresh secret
            self.close()
            raise
        broken = False
        try:
            yield conn
        except CONNECTION_ERRORS:
            broken = True
            raise
        finally:
            if not broken and conn.closed == 0 and conn.status != psycopg2.extensions.STATUS_READY:
                try:
                    conn.rollback()
                except CONNECTION_ERRORS:
                    broken = True
            pool.putconn(conn, close=broken or conn.closed != 0)

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extras.RealDictCursor]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self.connection() as conn:
            conn.autocommit = False
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if conn.closed == 0:
                    conn.rollback()
                raise

    def discard_idle(self) -> None:
        """Close the idle connections: after a server restart or failover they are all dead."""
        pool = self._pool
        if pool is None:
            return
        # psycopg2's pools keep idle connections in `_pool` under `_lock`; there is no public API.
        with pool._lock:
            idle, pool._pool = pool._pool, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None and not self._pool.closed:
                self._pool.closeall()
            self._pool = None


_lock = threading.Lock()
_database: Database | None = None
_database_key: tuple[int, str] | None = None


def get_database(settings: Settings | None = None) -> Database:
    """The process's pool, created on first use (and again after a fork or a new URL)."""
    global _database, _database_key
    settings = settings or get_settings()
    key = (os.getpid(), settings.database_url)
    with _lock:
        if _database is None or _database_key != key:
            if _database is not None and _database_key and _database_key[0] == os.getpid():
                _database.close()
            _database = Database(settings)
            _database_key = key
        return _database


def reset_database() -> None:
    """Close the process's pool (tests, and after the server was restarted on purpose)."""
    global _database, _database_key
    with _lock:
        if _database is not None:
            _database.close()
        _database = None
        _database_key = None
