"""One interface for every model provider: Converse-shaped messages, streamed text, usage.

The conversation sent to a provider follows the Bedrock Converse API exactly:
- `messages` alternate `user` and `assistant`; content blocks are `{"text": ...}`,
  `{"toolUse": {"toolUseId", "name", "input"}}` (assistant) and
  `{"toolResult": {"toolUseId", "content": [{"json": ...} | {"text": ...}], "status"}}` (user);
- the agent answers every toolUse in the next user message. For a *write* tool (one that
  changes an order or the customer), the answer is deferred until the customer has replied to
  the confirmation: the next user message then carries the toolResult (the real outcome when
  the customer said yes; an error `{"error": "not_confirmed", ...}` otherwise) followed by the
  customer's text.
- `tools` are Converse `toolSpec` entries; besides the order tools there is the control tool
  `end_conversation` (no arguments), which the model calls only on a clear goodbye.

A response may also carry `suggested_replies`: the answers a closed question allows ("No longer
needed" / "Ordered by mistake"), which the chat shows as quick replies. They are not part of the
transcript: a provider that offers them derives them again from the transcript when it needs to.

Providers: `bedrock` (Claude on Amazon Bedrock, ConverseStream), `anthropic` (Claude through the
Anthropic Messages API), `openai` (any OpenAI-compatible chat-completions endpoint: Ollama, vLLM,
llama.cpp), `scripted` (replays a file, for tests), `offline` (deterministic rules, for `make dev`
with no cloud access). Each converts the Converse transcript to its wire format at its edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

END_CONVERSATION = "end_conversation"
END_CONVERSATION_SPEC: dict[str, Any] = {
    "toolSpec": {
        "name": END_CONVERSATION,
        "description": (
            "End the conversation. Call this only when the customer clearly says goodbye and has "
            "nothing else to ask; never when a goodbye comes with a new question or request."
        ),
        "inputSchema": {"json": {"type": "object", "properties": {}, "additionalProperties": False}},
    }
}


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def cost_usd(self, price: Any) -> tuple[float, float]:
        """(input cost, output cost) in USD at a `ModelPrice`. Converse counts cached input apart from
        `inputTokens`, and each kind has its own price."""
        per_token = 1e-6
        input_cost = (
            self.input_tokens * price.input
            + self.cache_read_tokens * price.cache_read
            + self.cache_write_tokens * price.cache_write
        ) * per_token
        return input_cost, self.output_tokens * price.output * per_token

    def as_dict(self) -> dict[str, int]:
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "cacheReadInputTokens": self.cache_read_tokens,
            "cacheWriteInputTokens": self.cache_write_tokens,
        }


@dataclass
class ModelRequest:
    system: str  # the stage's system prompt
    messages: list[dict[str, Any]]  # Converse messages, ending with a user message
    tools: list[dict[str, Any]]  # Converse toolSpec entries offered in this call
    stage: str  # the graph stage that calls: "entry_intent" or "resolution"
    # Facts the graph already knows, for providers that cannot read prose (offline, scripted):
    # customer_id (verified customer or None), pending (the write awaiting confirmation or None),
    # language hints. The bedrock provider ignores it: the model reads the transcript.
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class SuggestedReply:
    """An answer the model offers as a button: `label` is shown, `text` is sent as the customer's message."""

    label: str
    text: str


@dataclass
class ModelResponse:
    content: list[dict[str, Any]]  # the assistant message's content blocks
    stop_reason: str  # "end_turn", "tool_use", "max_tokens", ...
    usage: Usage = field(default_factory=Usage)
    model_id: str = ""
    latency_ms: float = 0.0
    first_token_ms: float | None = None  # time to the first streamed text, when there was text
    suggested_replies: list[SuggestedReply] = field(default_factory=list)  # quick replies for this answer

    @property
    def text(self) -> str:
        return "".join(block["text"] for block in self.content if "text" in block)

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [block["toolUse"] for block in self.content if "toolUse" in block]


def converse_transcript_problems(messages: list[dict[str, Any]]) -> list[str]:
    """What Bedrock would refuse in this transcript: roles must alternate starting with the user,
    no message may be empty, and each toolUse must be answered by a toolResult in the very next
    (user) message. Providers that cannot reach Bedrock check it so that tests catch it here."""
    problems = []
    expected_role = "user"
    open_uses: set[str] = set()
    for index, message in enumerate(messages):
        content = message.get("content") or []
        if message.get("role") != expected_role:
            problems.append(f"message {index}: role {message.get('role')!r}, expected {expected_role!r}")
        if not content:
            problems.append(f"message {index}: no content")
        if message.get("role") == "user":
            answered = {b["toolResult"]["toolUseId"] for b in content if "toolResult" in b}
            if answered != open_uses:
                problems.append(f"message {index}: answers {sorted(answered)}, open tool uses {sorted(open_uses)}")
            open_uses = set()
        else:
            open_uses = {b["toolUse"]["toolUseId"] for b in content if "toolUse" in b}
        expected_role = "assistant" if expected_role == "user" else "user"
    if messages and messages[-1].get("role") != "user":
        problems.append("the last message must be the user's")
    return problems


class ModelError(Exception):
    """The model could not answer (throttled past the retries, timed out, refused the request)."""

    def __init__(self, code: str, message: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s  # how long the server asked to wait (a `retry-after` header), if it said


TextCallback = Callable[[str], None]


class ModelProvider(Protocol):
    name: str  # "bedrock", "anthropic", "openai", "scripted" or "offline"

    def converse(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        """One model call. Text is passed to `on_text` as it is generated, then returned whole."""
        ...
