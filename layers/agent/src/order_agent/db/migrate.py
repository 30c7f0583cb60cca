"""Versioned SQL migrations, applied in order, each once, each in its own transaction.

A migration is a file `NNNN_name.sql` in `migrations/`. The applied versions and the SHA-256
of their text are recorded in `schema_migrations`; a recorded migration whose file has since
changed is an error, not something to apply again. A transaction-scoped advisory lock taken by
every migration's transaction serialises concurrent runs (several Lambda cold starts, or a
developer and CI against the same server). Transaction-scoped because the connection may go
through a pooler that hands each transaction to whichever server connection is free (RDS
Proxy, PgBouncer in transaction mode): a session-level lock would be held, or released, by
a server connection the next statement may not use.

A migration runs under the role's timeouts (below); one that needs longer sets its own with
`SET LOCAL statement_timeout = ...` at the top of its file (it is one transaction).

Every run also makes the settings' server-side timeouts (DB_STATEMENT_TIMEOUT_MS,
DB_LOCK_TIMEOUT_MS) the defaults of the application's database role in this database,
`ALTER ROLE ... IN DATABASE ... SET`: the one place RDS Proxy lets them be set without pinning
(order_agent.db.pool explains why not at connect time).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

from psycopg2 import sql

from order_agent.db.pool import CONNECTION_ERRORS, Database
from order_agent.db.roles import ensure_app_role
from order_agent.settings import Settings

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every migrator of this schema.
_ADVISORY_LOCK_ID = 0x6F72646572  # "order"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files("order_agent.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return found


def migrate(
    db: Database,
    roles: Iterable[str] | None = None,
    *,
    app_role: str | None = None,
    app_password: str | None = None,
) -> list[Migration]:
    """Apply what is missing, then (with `app_role`) create or update the application role
    (`order_agent.db.roles.ensure_app_role`: its privileges, and `app_password` when given), then
    the role timeouts (`apply_role_timeouts` for `roles`; by default `app_role`, or without one
    the role `db` connects as); return the migrations applied by this call.

    Each migration is its own transaction, which first takes the advisory lock and then reads
    what is recorded, so a concurrent run applies each migration once whichever run applies it.
    """
    applied_now: list[Migration] = []
    for attempt in (1, 2):
        try:
            while (migration := _apply_next(db)) is not None:
                applied_now.append(migration)
            if app_role is not None:
                ensure_app_role(db, app_role, app_password)
                if roles is None:
                    roles = [app_role]
            if changed := apply_role_timeouts(db, roles):
                db.discard_idle()  # the pool's own idle connections are about to end too
                _end_idle_sessions(db, changed)
            return applied_now
        except CONNECTION_ERRORS:
            # A concurrent run that changed the role's timeouts ends the idle sessions opened
            # before, possibly this one between two of its transactions: start again once.
            db.discard_idle()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _apply_next(db: Database) -> Migration | None:
    """Apply the first missing migration, in one transaction under the advisory lock."""
    with db.transaction() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_ID,))
        cur.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        cur.execute("SELECT version, checksum FROM schema_migrations")
        recorded = {row["version"]: row["checksum"] for row in cur.fetchall()}
        for migration in available_migrations():
            if migration.version not in recorded:
                cur.execute(migration.sql)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                return migration
            if recorded[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} was changed after it "
                    "was applied; add a new migration instead of editing an applied one"
                )
    return None


def role_timeouts(settings: Settings) -> dict[str, str]:
    """The server-side limits every session of the application's role starts with (milliseconds)."""
    return {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "lock_timeout": str(settings.db_lock_timeout_ms),
        # a transaction left open (e.g. a function frozen mid-write) gives its row locks back
        "idle_in_transaction_session_timeout": str(settings.db_statement_timeout_ms * 6),
    }


def apply_role_timeouts(db: Database, roles: Iterable[str] | None = None) -> list[str]:
    """Make `role_timeouts(db.settings)` the defaults of `roles` (by default the role `db`
    connects as) in this database, `ALTER ROLE r IN DATABASE d SET ...`, where they differ;
    return the roles whose defaults changed. Idempotent: a second call changes nothing.

    PostgreSQL reads these defaults when a session starts. So when they changed, the session
    that changed them ends (if it is of one of `roles`) rather than go back to a pool with the
    old values. Through a pooler that multiplexes transactions (RDS Proxy, PgBouncer in
    transaction mode) other server connections opened before may be idle in its pool: `migrate`
    ends those too. Connecting as the master user, as the migrate Lambda does, this can set
    another role's defaults (superuser, CREATEROLE with ADMIN OPTION, or the role itself).
    """
    wanted = role_timeouts(db.settings)
    changed: list[str] = []
    with db.transaction() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_ID,))  # one ALTER ROLE at a time
        cur.execute("SELECT current_user AS me, current_database() AS here")
        row = cur.fetchone()
        me, here = row["me"], row["here"]
        names = sorted(set(roles)) if roles is not None else [me]
        for role in names:
            cur.execute(
                """SELECT s.setconfig FROM pg_db_role_setting s
                     JOIN pg_roles r ON r.oid = s.setrole
                     JOIN pg_database d ON d.oid = s.setdatabase
                    WHERE r.rolname = %s AND d.datname = %s""",
                (role, here),
            )
            found = cur.fetchone()
            current = dict(entry.split("=", 1) for entry in (found["setconfig"] if found else []))
            for name, value in wanted.items():
                if current.get(name) != value:
                    cur.execute(
                        sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = %s").format(
                            sql.Identifier(role), sql.Identifier(here), sql.Identifier(name)
                        ),
                        (value,),
                    )
                    if role not in changed:
                        changed.append(role)
    if me in changed:
        _end_this_session(db)
    return changed


def _end_this_session(db: Database) -> None:
    with db.connection() as conn:
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        except CONNECTION_ERRORS:
            pass  # as intended; the pool closes the connection instead of keeping it


def _end_idle_sessions(db: Database, roles: list[str]) -> None:
    """End the idle sessions of `roles` in this database, which may have started before their
    timeouts changed: e.g. the server connections a pooler or RDS Proxy keeps (for up to 24
    hours). A session inside a transaction is left alone."""
    with db.connection() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'
                      AND usename = ANY(%s)""",
                (roles,),
            )


_CREATED_OBJECT = re.compile(r"^CREATE (TABLE|VIEW) (\w+)", re.MULTILINE)


def drop_schema(db: Database) -> None:
    """Drop every table and view the migrations create, and the migration record.

    Only this schema's own objects go, so a shared development database keeps the rest.
    """
    objects = [
        (kind, name) for migration in available_migrations() for kind, name in _CREATED_OBJECT.findall(migration.sql)
    ]
    with db.transaction() as cur:
        for kind, name in reversed(objects):
            cur.execute(f"DROP {kind} IF EXISTS {name} CASCADE")  # names come from our own files
        cur.execute("DROP TABLE IF EXISTS schema_migrations")
