"""Versioned migrations: applied once, in order, safely from concurrent migrators."""

from __future__ import annotations

import secrets
import threading

import psycopg2
import psycopg2.errors
import pytest

from order_agent.db.migrate import (
    MigrationError,
    apply_role_timeouts,
    available_migrations,
    drop_schema,
    migrate,
    role_timeouts,
)
from order_agent.db.pool import Database
from order_agent.settings import Settings


@pytest.fixture
def empty_db(scratch_database):
    db = Database(Settings(database_url=scratch_database()))
    yield db
    db.close()


def _tables(db: Database) -> set[str]:
    with db.transaction() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return {row["table_name"] for row in cur.fetchall()}


def test_migrate_applies_everything_once_and_is_idempotent(empty_db):
    applied = migrate(empty_db)
    assert [m.version for m in applied] == [m.version for m in available_migrations()]
    assert migrate(empty_db) == []
    with empty_db.transaction() as cur:
        cur.execute("SELECT version, checksum FROM schema_migrations ORDER BY version")
        rows = cur.fetchall()
    assert [(r["version"], r["checksum"]) for r in rows] == [(m.version, m.checksum) for m in available_migrations()]
    assert {"users", "orders", "order_items", "order_payments", "payment_methods", "tool_writes"} <= _tables(empty_db)


def test_concurrent_migrators_apply_each_migration_once(empty_db):
    results, errors = [], []

    def run():
        try:
            results.append(migrate(empty_db))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    # each migration is its own transaction under the lock: whichever run applies one, it is applied once
    assert sorted(m.version for run in results for m in run) == [m.version for m in available_migrations()]


def test_an_edited_applied_migration_is_an_error(empty_db):
    migrate(empty_db)
    with empty_db.transaction() as cur:
        cur.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_db)


def test_drop_schema_removes_only_this_schema(empty_db):
    migrate(empty_db)
    with empty_db.transaction() as cur:
        cur.execute("CREATE TABLE someone_elses (id int)")
    drop_schema(empty_db)
    assert _tables(empty_db) == {"someone_elses"}
    migrate(empty_db)  # and it comes back


def test_constraints_protect_the_data(demo_db):
    cases = [
        ("UPDATE payment_methods SET balance = -0.01 WHERE payment_method_id = 'gift_card_1001002'",
         psycopg2.errors.CheckViolation),
        ("INSERT INTO users (user_id, first_name, last_name, email, address1, address2, city, country, state, zip) "
         "VALUES ('x', 'X', 'Y', 'ANA.LIMA@example.com', 'a', '', 'c', 'USA', 'CA', '1')",
         psycopg2.errors.UniqueViolation),
        ("UPDATE orders SET status = 'shipped' WHERE order_id = '#W1000001'", psycopg2.errors.CheckViolation),
        ("UPDATE orders SET cancel_reason = 'bored' WHERE order_id = '#W1000005'", psycopg2.errors.CheckViolation),
        # a payment of Ana's order with Ben's gift card
        ("INSERT INTO order_payments VALUES ('#W1000001', 9, 'ana_lima_1001', 'payment', 1, 'gift_card_1002002')",
         psycopg2.errors.ForeignKeyViolation),
        # an item that is not a variant of the product it claims
        ("UPDATE order_items SET item_id = '8200000021' WHERE order_id = '#W1000002'",
         psycopg2.errors.ForeignKeyViolation),
        ("UPDATE order_payments SET amount = -5 WHERE order_id = '#W1000001'", psycopg2.errors.CheckViolation),
    ]  # fmt: skip
    for statement, error in cases:
        with pytest.raises(error), demo_db.transaction() as cur:
            cur.execute(statement)


def _role_defaults(db: Database, role: str) -> dict[str, str]:
    with db.transaction() as cur:
        cur.execute(
            """SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
                JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = %s AND d.datname = current_database()""",
            (role,),
        )
        row = cur.fetchone()
    return dict(entry.split("=", 1) for entry in (row["setconfig"] if row else []))


def test_migrate_makes_the_timeouts_the_defaults_of_the_role_it_connects_as(scratch_database):
    settings = Settings(database_url=scratch_database(), db_statement_timeout_ms=2500, db_lock_timeout_ms=700)
    db = Database(settings)
    try:
        migrate(db)
        with db.transaction() as cur:
            cur.execute("SELECT current_user AS me, current_setting('statement_timeout') AS statement,"
                        " current_setting('lock_timeout') AS lock")  # fmt: skip
            row = cur.fetchone()
        assert (row["statement"], row["lock"]) == ("2500ms", "700ms")  # a new session: the role's defaults
        assert _role_defaults(db, row["me"]) == role_timeouts(settings)
        assert apply_role_timeouts(db) == []  # idempotent
    finally:
        db.close()


def test_migrate_gives_the_timeouts_to_the_roles_it_is_told(postgres_server_url, scratch_database):
    # e.g. the application's own least-privilege role, while the migrator connects as the master user
    role = f"order_agent_app_{secrets.token_hex(4)}"
    admin = psycopg2.connect(postgres_server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{role}" LOGIN')  # generated name
    except psycopg2.errors.InsufficientPrivilege:
        admin.close()
        pytest.skip("the test server's user cannot create roles")
    settings = Settings(database_url=scratch_database(), db_statement_timeout_ms=2500, db_lock_timeout_ms=700)
    db = Database(settings)
    try:
        migrate(db, roles=[role])
        assert _role_defaults(db, role) == role_timeouts(settings)
        with db.transaction() as cur:
            cur.execute("SELECT current_user AS me")
            me = cur.fetchone()["me"]
        assert _role_defaults(db, me) == {}  # the migrator's own role was not asked for
        assert migrate(db, roles=[role]) == [] and apply_role_timeouts(db, [role]) == []
    finally:
        db.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP ROLE "{role}"')  # its per-database settings go with it
        admin.close()
