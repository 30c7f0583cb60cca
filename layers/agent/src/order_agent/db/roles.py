"""The application's database role: what the agent's tools may do, and nothing else.

The message function runs tools that a language model chooses, so it does not connect as the
master user (the owner of the schema, who can drop it). It connects as an application role that
`migrate` creates and keeps in step with the schema, on every run:

- a LOGIN role with no other attributes (no SUPERUSER, CREATEDB, CREATEROLE, REPLICATION,
  BYPASSRLS), which owns nothing, so it can CREATE, ALTER or DROP nothing;
- CONNECT on this database and USAGE on its schema (no TEMPORARY: revoked from PUBLIC, as is CREATE
  on the public schema), and exactly `APP_PRIVILEGES` on its tables
  and views: everything else is revoked first, in the same transaction, so a privilege removed
  from the table below is also removed from the database. Nothing on `schema_migrations`, nor on
  a table no tool reads (e.g. `order_fulfillments`, read only through `order_documents`: a view
  reads its tables with its owner's rights), nor SELECT on `handoffs`, which tools only append to;
- UPDATE only on the columns a tool changes (a customer's address, a gift card's balance, an
  order's status and request fields, an order item's variant);
- its password from its own Secrets Manager secret, sent as a SCRAM-SHA-256 verifier computed
  here, so the clear password never reaches the server's statement log (the RDS parameter group
  logs DDL);
- the per-role timeouts of `order_agent.db.migrate.apply_role_timeouts`.

The role's name is per deployment (the database module derives it from the system's name), so
several systems or test runs can share one server. Roles are server-wide and the migrations are
per database, which is why this is Python run by `migrate` and not a versioned SQL file; a
migration that adds a table also adds it here (tests check that every table and view the
migrations create is listed, with no privileges if the tools do not use it).
"""

from __future__ import annotations

import psycopg2.extensions
from psycopg2 import sql

from order_agent.db.pool import Database

_ORDER_UPDATES = (
    "status", "cancel_reason", "address1", "address2", "city", "state", "country", "zip",
    "exchange_items", "exchange_new_items", "exchange_payment_method_id", "exchange_price_difference",
    "return_items", "return_payment_method_id",
)  # fmt: skip

# table or view -> privileges; ("UPDATE", (columns...)) for column-level UPDATE.
APP_PRIVILEGES: dict[str, tuple[str | tuple[str, tuple[str, ...]], ...]] = {
    # look-ups by email / name + zip; modify_user_address
    "users": ("SELECT", ("UPDATE", ("address1", "address2", "city", "state", "country", "zip"))),
    # lock (SELECT ... FOR UPDATE needs an UPDATE privilege) and gift card balance
    "payment_methods": ("SELECT", ("UPDATE", ("balance",))),
    "products": ("SELECT",),
    "variants": ("SELECT",),
    "orders": ("SELECT", ("UPDATE", _ORDER_UPDATES)),
    "order_items": ("SELECT", ("UPDATE", ("item_id", "price", "options"))),
    "order_fulfillments": (),  # read through order_documents only
    "order_payments": ("SELECT", "INSERT"),
    # idempotency record of every write: insert, read back on a retry, store the result
    "tool_writes": ("SELECT", "INSERT", ("UPDATE", ("result",))),
    "handoffs": ("INSERT",),  # appended to, never read back by a tool
    "order_documents": ("SELECT",),
    "user_documents": ("SELECT",),
    "product_documents": ("SELECT",),
}

# Taken by the role statements: CREATE ROLE is not transactional against a concurrent CREATE.
_ROLE_LOCK_ID = 0x6F72646572 + 1


class AppRoleError(RuntimeError):
    pass


def _grants(role: str) -> list[sql.Composed]:
    statements = []
    for table, privileges in APP_PRIVILEGES.items():
        for privilege in privileges:
            if isinstance(privilege, tuple):
                kind, columns = privilege
                statements.append(
                    sql.SQL("GRANT {} ({}) ON {} TO {}").format(
                        sql.SQL(kind),
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                        sql.Identifier(table),
                        sql.Identifier(role),
                    )
                )
            else:
                grant = sql.SQL("GRANT {} ON {} TO {}")
                statements.append(grant.format(sql.SQL(privilege), sql.Identifier(table), sql.Identifier(role)))
    return statements


def scram_verifier(conn: psycopg2.extensions.connection, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of `password`, computed by libpq on this side."""
    return psycopg2.extensions.encrypt_password(password, role, conn, "scram-sha-256")


def ensure_app_role(db: Database, role: str, password: str | None) -> None:
    """Create `role` if it is missing, give it exactly `APP_PRIVILEGES` in this database, and
    (when `password` is given) make that its password. Idempotent; one transaction.

    Needs CREATEROLE (the RDS master user has it) or superuser; on PostgreSQL 16+ a CREATEROLE
    user may change only roles it administers, e.g. ones it created."""
    if not role or role.startswith("pg_"):
        raise AppRoleError(f"not a valid application role name: {role!r}")
    with db.connection() as conn:
        conn.autocommit = False
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_ROLE_LOCK_ID,))
                cur.execute("SELECT current_user = %s AS me, current_database() AS here", (role,))
                row = cur.fetchone()
                if row[0]:
                    raise AppRoleError(f"{role!r} is the role migrate connects as; the application role is another")
                here = row[1]
                name = sql.Identifier(role)
                cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", (role,))
                found = cur.fetchone()
                if found is None:
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(name))
                elif any(found):
                    raise AppRoleError(f"role {role!r} has SUPERUSER, CREATEROLE or CREATEDB; not used as the app role")
                if password is not None:
                    cur.execute(
                        sql.SQL("ALTER ROLE {} LOGIN PASSWORD %s").format(name),
                        (scram_verifier(conn, role, password),),
                    )
                cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(here), name))
                cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
                # By default every role may create temporary tables, and before PostgreSQL 15 objects
                # in the public schema; the owner (the master user) keeps both.
                cur.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(here)))
                cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
                cur.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(name))
                cur.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(name))
                for statement in _grants(role):
                    cur.execute(statement)
            conn.commit()
        except BaseException:
            if conn.closed == 0:
                conn.rollback()
            raise
