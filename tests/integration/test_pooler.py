"""The code's database connections through a pooler that refuses startup options as RDS Proxy
does (PgBouncer, transaction pooling), with the server-side timeouts coming from the role.

RDS Proxy answered the `options=-c statement_timeout=...` the pool used to send with "Feature not
supported: RDS Proxy currently doesn't support command-line options": the migrate Lambda, then
every tool call, failed. These tests fail the same way if that comes back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest

from order_agent.db.dataset import load_dataset, read_dataset
from order_agent.db.migrate import available_migrations, migrate, role_timeouts
from order_agent.db.pool import Database
from order_agent.settings import Settings
from order_agent.tools import ToolRunner

BEN = "ben_okafor_1002"
CANCEL = {"order_id": "#W1000004", "reason": "no longer needed"}


@pytest.fixture
def pooled_settings(pooler, scratch_database) -> Settings:
    """A new database reached only through the pooler; timeouts unlike the defaults, to tell them apart."""
    name = psycopg2.extensions.parse_dsn(scratch_database())["dbname"]
    return Settings(database_url=pooler.url_for(name), db_statement_timeout_ms=1500, db_lock_timeout_ms=400)


@pytest.fixture
def pooled_db(pooled_settings) -> Iterator[Database]:
    db = Database(pooled_settings)
    migrate(db)
    yield db
    db.close()


def test_the_pool_sends_no_startup_options(demo_settings):
    arguments = Database(demo_settings).connect_arguments()
    assert "options" not in arguments
    assert "options" not in psycopg2.extensions.parse_dsn(arguments["dsn"])


def test_the_pooler_refuses_startup_options_as_rds_proxy_does(pooler):
    with pytest.raises(psycopg2.OperationalError, match="unsupported startup parameter: options"):
        psycopg2.connect(pooler.url, options="-c statement_timeout=5000")
    psycopg2.connect(pooler.url, application_name="order-agent").close()  # what the pool sends is accepted


def test_the_pooler_checks_the_password(pooler):
    with pytest.raises(psycopg2.OperationalError, match="authentication failed"):
        psycopg2.connect(pooler.url, password="not-" + pooler.password)


def test_after_migrate_every_connection_through_the_pooler_has_the_role_timeouts(pooler, pooled_settings):
    db = Database(pooled_settings)
    try:
        migrate(db)  # as the migrate Lambda does on apply: through the proxy
        assert migrate(db) == []
    finally:
        db.close()
    # Five transactions at once take five server connections: any the pooler kept from before the
    # timeouts were set (they are read when a session starts) would show the server's defaults.
    clients = [Database(pooled_settings) for _ in range(5)]
    seen = []
    with ExitStack() as stack:
        for client in clients:
            stack.callback(client.close)
        for client in clients:
            cur = stack.enter_context(client.transaction())  # held open until the end
            cur.execute(
                "SELECT pg_backend_pid() AS pid, json_object_agg(name, setting) AS settings"
                " FROM pg_settings WHERE name = ANY(%s)",
                (list(role_timeouts(pooled_settings)),),
            )
            seen.append(cur.fetchone())
            assert cur.connection.get_dsn_parameters()["port"] == str(pooler.port)
    assert len({row["pid"] for row in seen}) == 5
    assert [row["settings"] for row in seen] == [role_timeouts(pooled_settings)] * 5
    assert role_timeouts(pooled_settings) == {
        "statement_timeout": "1500", "lock_timeout": "400", "idle_in_transaction_session_timeout": "9000",
    }  # fmt: skip


def test_concurrent_migrators_through_the_pooler_apply_each_migration_once(pooled_settings):
    # The pooler hands each transaction to any server connection: a session-level advisory lock
    # would be taken on one and released (or not) on another. Several functions starting at once:
    results, errors = [], []

    def run() -> None:
        db = Database(pooled_settings)
        try:
            results.append([m.version for m in migrate(db)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(version for run in results for version in run) == [m.version for m in available_migrations()]


def test_a_statement_over_the_timeout_is_cancelled_through_the_pooler(pooled_db):
    with pytest.raises(psycopg2.errors.QueryCanceled, match="statement timeout"), pooled_db.transaction() as cur:
        cur.execute("SELECT pg_sleep(30)")
    with pooled_db.transaction() as cur:  # and the connection is fine afterwards
        cur.execute("SELECT 1 AS one")
        assert cur.fetchone()["one"] == 1


def test_tool_calls_through_the_pooler(pooled_db, pooled_settings, new_ctx):
    load_dataset(pooled_db, read_dataset("demo", pooled_settings))
    runner = ToolRunner(pooled_db, pooled_settings)
    ctx = new_ctx()
    assert runner.run(ctx, "find_user_id_by_email", {"email": "ben.okafor@example.com"}).content == BEN
    assert runner.run(ctx, "get_order_details", {"order_id": "#W1000004"}).content["status"] == "pending"
    holder = Database(pooled_settings)
    try:
        with holder.transaction() as cur:  # someone else's long write holds the order's row
            cur.execute("SELECT 1 FROM orders WHERE order_id = %s FOR UPDATE", (CANCEL["order_id"],))
            busy = runner.run(ctx, "cancel_pending_order", CANCEL)
    finally:
        holder.close()
    # the role's lock_timeout (400 ms) ended the wait: a retryable error, nothing changed
    assert (busy.ok, busy.error_code, busy.retryable) == (False, "busy", True)
    done = runner.run(ctx, "cancel_pending_order", CANCEL)
    assert done.ok, done.error_message
    assert done.content["status"] == "cancelled"
