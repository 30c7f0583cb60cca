"""The per-conversation context the tools receive, and the policy checks built on it.

The model never supplies who the customer is: authentication is a fact recorded here by the
look-up tools, and every other tool reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from psycopg2.extras import RealDictCursor
from pydantic import BaseModel, Field

from order_agent.settings import Settings
from order_agent.tools.models import Order, User
from order_agent.tools.registry import ToolError

if TYPE_CHECKING:
    from order_agent.tools.changes import Change


class ConversationContext(BaseModel):
    """What the tools know about a conversation; serialisable, so it persists with the state."""

    session_id: str = Field(min_length=1)
    customer_id: str | None = None
    failed_auth_attempts: int = 0
    # Writes applied so far; part of the default idempotency key, so that a retry at the same
    # point of the conversation is recognised while a later identical request is a new write.
    write_count: int = 0

    @property
    def authenticated(self) -> bool:
        return self.customer_id is not None


@dataclass
class ToolCall:
    """What a tool function receives besides its arguments."""

    cur: RealDictCursor | None  # None for tools that touch no data (`uses_database=False`)
    ctx: ConversationContext
    settings: Settings
    confirmed: bool = False  # a confirmed write, not a dry run: its reads lock what its rules check
    change: Change | None = None  # what a write changes, staged for the runner (`tools/changes.py`)

    # -- authentication ---------------------------------------------------------------------

    def check_auth_attempts_left(self) -> None:
        if self.ctx.failed_auth_attempts >= self.settings.auth_max_failed_attempts:
            raise ToolError(
                "too_many_attempts",
                "Too many failed attempts to identify the customer in this conversation; transfer to a human agent.",
            )

    def authenticate(self, user_id: str | None) -> str:
        """Record the customer found by a look-up; one customer per conversation."""
        if user_id is None:
            self.ctx.failed_auth_attempts += 1
            raise ToolError("not_found", "User not found")
        if self.ctx.customer_id is not None and self.ctx.customer_id != user_id:
            raise ToolError(
                "forbidden",
                "This conversation is already verified for another customer; one conversation serves one customer.",
            )
        self.ctx.customer_id = user_id
        return user_id

    @property
    def customer_id(self) -> str:
        if self.ctx.customer_id is None:
            raise ToolError(
                "not_authenticated",
                "The customer is not verified yet: find them by email, or by first name, last name and zip.",
            )
        return self.ctx.customer_id

    def require_own_user(self, user_id: str) -> None:
        if user_id != self.customer_id:
            raise ToolError("forbidden", "Only the verified customer's own details can be read or changed.")

    # -- orders and payment methods of the authenticated customer ---------------------------------

    def own_order(self, order_id: str, *, lock: bool = False) -> dict[str, Any]:
        """The order row, if it belongs to the customer; `lock` holds it until the transaction ends."""
        self.cur.execute(
            "SELECT order_id, user_id, status FROM orders WHERE order_id = %s" + (" FOR UPDATE" if lock else ""),
            (order_id,),
        )
        order = self.cur.fetchone()
        if order is None:
            raise ToolError("not_found", "Order not found")
        if order["user_id"] != self.customer_id:
            raise ToolError("forbidden", f"Order {order_id} is not one of the verified customer's orders.")
        return order

    def own_payment_methods(self, payment_method_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The customer's payment methods among these ids, locked in id order (no deadlocks)."""
        self.cur.execute(
            """SELECT payment_method_id, source, balance FROM payment_methods
               WHERE user_id = %s AND payment_method_id = ANY(%s)
               ORDER BY payment_method_id FOR UPDATE""",
            (self.customer_id, sorted(set(payment_method_ids))),
        )
        return {row["payment_method_id"]: row for row in self.cur.fetchall()}

    def own_payment_method(self, payment_method_id: str) -> dict[str, Any]:
        found = self.own_payment_methods([payment_method_id])
        if payment_method_id not in found:
            raise ToolError("not_found", "Payment method not found")
        return found[payment_method_id]

    def adjust_gift_card(self, payment_method_id: str, delta: Decimal) -> None:
        self.cur.execute(
            "UPDATE payment_methods SET balance = balance + %s WHERE payment_method_id = %s AND source = 'gift_card'",
            (delta, payment_method_id),
        )

    def append_payments(self, order_id: str, entries: list[tuple[str, Decimal, str]]) -> None:
        """Add (transaction_type, amount, payment_method_id) entries to the order's history."""
        self.cur.execute(
            "SELECT coalesce(max(position) + 1, 0) AS next FROM order_payments WHERE order_id = %s", (order_id,)
        )
        start = self.cur.fetchone()["next"]
        for offset, (kind, amount, payment_method_id) in enumerate(entries):
            self.cur.execute(
                """INSERT INTO order_payments (order_id, position, user_id, transaction_type, amount, payment_method_id)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (order_id, start + offset, self.customer_id, kind, amount, payment_method_id),
            )

    def order_document(self, order_id: str) -> Order:
        self.cur.execute("SELECT document FROM order_documents WHERE order_id = %s", (order_id,))
        return Order.model_validate(self.cur.fetchone()["document"])

    def user_document(self, user_id: str) -> User:
        self.cur.execute("SELECT document FROM user_documents WHERE user_id = %s", (user_id,))
        return User.model_validate(self.cur.fetchone()["document"])
