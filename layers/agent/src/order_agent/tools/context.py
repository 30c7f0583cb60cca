"""The per-conversation context the tools receive, and the policy checks built on it.

The model never supplies who the customer is: authentication is a fact recorded here by the
look-up tools, and every other tool reads it from here. The SQL the checks run is in
order_agent/db/sql.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg2.extras import RealDictCursor
from pydantic import BaseModel, Field

from order_agent.db import sql
from order_agent.settings import Settings
from order_agent.tools.models import Order, User
from order_agent.tools.registry import ToolError


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
        order = sql.order_row(self.cur, order_id, lock=lock)
        if order is None:
            raise ToolError("not_found", "Order not found")
        if order["user_id"] != self.customer_id:
            raise ToolError("forbidden", f"Order {order_id} is not one of the verified customer's orders.")
        return order

    def own_payment_methods(self, payment_method_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The customer's payment methods among these ids, locked in id order (no deadlocks)."""
        return sql.payment_methods(self.cur, self.customer_id, payment_method_ids)

    def own_payment_method(self, payment_method_id: str) -> dict[str, Any]:
        found = self.own_payment_methods([payment_method_id])
        if payment_method_id not in found:
            raise ToolError("not_found", "Payment method not found")
        return found[payment_method_id]

    def adjust_gift_card(self, payment_method_id: str, delta: Decimal) -> None:
        sql.adjust_gift_card(self.cur, payment_method_id, delta)

    def append_payments(self, order_id: str, entries: list[tuple[str, Decimal, str]]) -> None:
        """Add (transaction_type, amount, payment_method_id) entries to the order's history."""
        sql.append_payments(self.cur, order_id, self.customer_id, entries)

    def order_document(self, order_id: str) -> Order:
        return Order.model_validate(sql.order_document(self.cur, order_id))

    def user_document(self, user_id: str) -> User:
        return User.model_validate(sql.user_document(self.cur, user_id))
