"""Dropping a database role the tests created, with whatever it owns or was granted."""

from __future__ import annotations

from order_agent.db.pool import Database


def drop_role(db: Database, role: str) -> None:
    with db.connection() as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone():
                cur.execute(f'DROP OWNED BY "{role}"')
                cur.execute(f'DROP ROLE "{role}"')
