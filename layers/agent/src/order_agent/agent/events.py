"""What one customer turn emits, in order: text deltas while the model writes, then one final
message, then `done` — or an `error` instead of the final message. Every caller (the Lambda
handler, the local gateway, the terminal chat, the tests) consumes these. Also what the agent says
about a session to a client that comes back (`SessionSnapshot`, from `Agent.snapshot`).

These are the payloads of the WebSocket frames: fields are snake_case in Python and camelCase when
serialised, and order_agent.edge.protocol sends them as they are, adding only where they belong
(session, turn, seq). A field added here reaches the chat site's generated types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        # Serialised, every field is present: the schema says so (the TypeScript types need a required `type`).
        json_schema_serialization_defaults_required=True,
    )


class TextDelta(WireModel):
    type: Literal["delta"] = "delta"
    text: str


class QuickReply(WireModel):
    # Its name in the chat site's generated types (web/src/protocol.generated.ts).
    model_config = ConfigDict(title="QuickReplyModel")

    label: str
    text: str
    confirm_hash: str | None = None  # sent back with the reply: confirms exactly this proposal
    action: Literal["send", "new_conversation"] = "send"  # new_conversation: the client starts a new session


class FinalMessage(WireModel):
    type: Literal["message"] = "message"
    text: str
    stage: str  # entry_intent | order_confirmation | resolution | closed | handed_off
    order: dict[str, Any] | None = None  # the order the turn was about (τ shape), for a card
    quick_replies: list[QuickReply] = []
    model_provider: str  # "offline" replies are labelled as such in the UI


class Done(WireModel):
    type: Literal["done"] = "done"
    model_calls: int
    usage: dict[str, int]
    # The turn's own counts, for its log record and the model-call budget (model calls are at most
    # 1 + tool_rounds); the client is not sent them.
    tool_rounds: int = Field(exclude=True)
    tool_calls: int = Field(exclude=True)


class ErrorEvent(WireModel):
    type: Literal["error"] = "error"
    code: str
    message: str
    retryable: bool


# A proposed change waiting for the customer's yes, as it was put to them. (No docstring: it would
# become a comment in the chat site's generated types.)
class PendingConfirmation(WireModel):
    tool: str
    hash: str  # what a "yes" confirms (sent back as a quick reply's confirm_hash)
    text: str
    order: dict[str, Any] | None = None  # the order as it will be, for a card
    quick_replies: list[QuickReply] = []


class SessionSnapshot(WireModel):
    """Where a session stands, for a client that comes back to it."""

    status: Literal["new", "open", "closed", "handed_off"]
    turn_in_progress: bool
    # None while a turn runs: the saved proposal is probably being answered right then.
    pending: PendingConfirmation | None = None


AgentEvent = TextDelta | FinalMessage | Done | ErrorEvent
Emit = Callable[[AgentEvent], None]
