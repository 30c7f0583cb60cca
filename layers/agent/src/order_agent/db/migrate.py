"""Versioned SQL migrations, applied in order, each once, each in its own transaction.

A migration is a file `NNNN_name.sql` in `migrations/`. The applied versions and the SHA-256
of their text are recorded in `schema_migrations`; a recorded migration whose file has since
changed is an error, not something to apply again. An advisory lock serialises concurrent
runs (several Lambda cold starts, or a developer and CI against the same server).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources

from order_agent.db.pool import Database

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


def migrate(db: Database) -> list[Migration]:
    """Apply what is missing; return the migrations applied by this call."""
    applied_now: list[Migration] = []
    with db.connection() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_ID,))
            try:
                cur.execute(
                    """CREATE TABLE IF NOT EXISTS schema_migrations (
                           version integer PRIMARY KEY,
                           name text NOT NULL,
                           checksum text NOT NULL,
                           applied_at timestamptz NOT NULL DEFAULT now())"""
                )
                cur.execute("SELECT version, checksum FROM schema_migrations")
                recorded = dict(cur.fetchall())
                for migration in available_migrations():
                    if migration.version in recorded:
                        if recorded[migration.version] != migration.checksum:
                            raise MigrationError(
                                f"migration {migration.version:04d}_{migration.name} was changed after it "
                                "was applied; add a new migration instead of editing an applied one"
                            )
                        continue
                    conn.autocommit = False
                    try:
                        cur.execute(migration.sql)
                        cur.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                        conn.commit()
                    except Exception:
                        conn.rollback()
                        raise
                    finally:
                        conn.autocommit = True
                    applied_now.append(migration)
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_ID,))
    return applied_now


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
