"""What one customer turn emits, in order: text deltas while the model writes, then one final
message, then `done` — or an `error` instead of the final message. Every caller (the Lambda
handler, the local gateway, the terminal chat, the tests) consumes these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel


class TextDelta(BaseModel):
    type: Literal["delta"] = "delta"
    text: str


class QuickReply(BaseModel):
    label: str
    text: str
    confirm_hash: str | None = None  # sent back with the reply: confirms exactly this proposal
    action: Literal["send", "new_conversation"] = "send"  # new_conversation: the client starts a new session


class FinalMessage(BaseModel):
    type: Literal["message"] = "message"
    text: str
    stage: str  # entry_intent | order_confirmation | resolution | closed | handed_off
    order: dict[str, Any] | None = None  # the order the turn was about (τ shape), for a card
    quick_replies: list[QuickReply] = []
    model_provider: str  # "offline" replies are labelled as such in the UI


class Done(BaseModel):
    type: Literal["done"] = "done"
    model_calls: int
    tool_rounds: int  # model calls are at most 1 + tool_rounds
    tool_calls: int
    usage: dict[str, int]


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    code: str
    message: str
    retryable: bool


AgentEvent = TextDelta | FinalMessage | Done | ErrorEvent
Emit = Callable[[AgentEvent], None]
