"""The per-conversation context the tools receive, and the policy checks built on it.

The model never supplies who the customer is: authentication is a fact recorded here by the
look-up tools, and every other tool reads it from here. The SQL of the writes, their checks'
reads included, is in tools/changes.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg2.extras import RealDictCursor
from pydantic import BaseModel, Field

from order_agent.settings import Settings
from order_agent.tools.models import User
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

    # -- documents ---------------------------------------------------------------------------------

    def user_document(self, user_id: str) -> User:
        self.cur.execute("SELECT document FROM user_documents WHERE user_id = %s", (user_id,))
        return User.model_validate(self.cur.fetchone()["document"])
