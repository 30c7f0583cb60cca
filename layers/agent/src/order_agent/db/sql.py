"""The statements the tools' policy checks and writes share (tools/context.py), each a function of
a cursor of the tool's transaction (psycopg2's RealDictCursor: rows are dicts). What a row means
to the customer, and who may see it, is the tools' business, not this module's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg2.extras import RealDictCursor


def order_row(cur: RealDictCursor, order_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The order's id, owner and status; `lock` holds the row until the transaction ends."""
    cur.execute(
        "SELECT order_id, user_id, status FROM orders WHERE order_id = %s" + (" FOR UPDATE" if lock else ""),
        (order_id,),
    )
    return cur.fetchone()


def payment_methods(cur: RealDictCursor, user_id: str, payment_method_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The user's payment methods among these ids, by id, locked in id order (no deadlocks)."""
    cur.execute(
        """SELECT payment_method_id, source, balance FROM payment_methods
           WHERE user_id = %s AND payment_method_id = ANY(%s)
           ORDER BY payment_method_id FOR UPDATE""",
        (user_id, sorted(set(payment_method_ids))),
    )
    return {row["payment_method_id"]: row for row in cur.fetchall()}


def adjust_gift_card(cur: RealDictCursor, payment_method_id: str, delta: Decimal) -> None:
    """Add `delta` (negative: a charge) to a gift card's balance; other payment methods have none."""
    cur.execute(
        "UPDATE payment_methods SET balance = balance + %s WHERE payment_method_id = %s AND source = 'gift_card'",
        (delta, payment_method_id),
    )


def append_payments(cur: RealDictCursor, order_id: str, user_id: str, entries: list[tuple[str, Decimal, str]]) -> None:
    """Add (transaction_type, amount, payment_method_id) entries to the end of the order's payment history."""
    cur.execute("SELECT coalesce(max(position) + 1, 0) AS next FROM order_payments WHERE order_id = %s", (order_id,))
    start = cur.fetchone()["next"]
    for offset, (kind, amount, payment_method_id) in enumerate(entries):
        cur.execute(
            """INSERT INTO order_payments (order_id, position, user_id, transaction_type, amount, payment_method_id)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (order_id, start + offset, user_id, kind, amount, payment_method_id),
        )


def order_document(cur: RealDictCursor, order_id: str) -> dict[str, Any]:
    """The order as one JSON document (τ-bench's shape), from the order_documents view."""
    cur.execute("SELECT document FROM order_documents WHERE order_id = %s", (order_id,))
    return cur.fetchone()["document"]


def user_document(cur: RealDictCursor, user_id: str) -> dict[str, Any]:
    """The user as one JSON document (τ-bench's shape), from the user_documents view."""
    cur.execute("SELECT document FROM user_documents WHERE user_id = %s", (user_id,))
    return cur.fetchone()["document"]
