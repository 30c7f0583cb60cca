"""What every streaming provider shares: the retry loop around one call, and the assembly of content
blocks that arrive in pieces.

Retries: throttling and transient failures are retried with exponential backoff and full jitter
(never shorter than a server's `retry-after`), up to `attempts` attempts in all, but only until
the first text has been passed to `on_text`: after that a retry would show the customer the same
words twice, so the call fails instead. Exceptions raised by `on_text` itself are the caller's and
pass through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from order_agent.model.base import ModelError, ModelResponse, TextCallback

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
CONNECT_TIMEOUT_S = 5
# Between two reads of the stream; the first event waits for the whole prompt to be processed.
READ_TIMEOUT_S = 60


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """A `retry-after` header in seconds (`retry-after-ms` first, as some APIs send it); None if absent or a date."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue  # an HTTP date: rare for these APIs; the backoff applies
    return None


def backoff_delay(retry: int, rand: Callable[[], float]) -> float:
    """Full jitter: anywhere between 0 and an exponentially growing ceiling (retry 0, 1, 2, ...)."""
    return rand() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retry)


def converse_with_retries(
    attempt: Callable[[TextCallback], ModelResponse],
    on_text: TextCallback | None,
    *,
    attempts: int,
    sleep: Callable[[float], None],
    rand: Callable[[], float],
) -> ModelResponse:
    """Run `attempt(forward)` until it succeeds, fails for good, or has streamed text and then failed."""
    streamed = False  # whether the customer has seen text in this call

    def forward(text: str) -> None:
        nonlocal streamed
        if on_text is not None:
            streamed = True
            on_text(text)

    for number in range(1, attempts + 1):
        try:
            return attempt(forward)
        except ModelError as error:
            if not error.retryable:
                raise
            if streamed:
                raise ModelError(
                    error.code, f"{error.message} (after part of the answer was streamed)", retryable=True
                ) from error
            if number == attempts:
                raise ModelError(
                    error.code, f"{error.message} (gave up after {attempts} attempts)", retryable=True
                ) from error
            delay = backoff_delay(number - 1, rand)
            if error.retry_after_s is not None:  # the server said when; waiting less would be refused again
                delay = max(delay, min(error.retry_after_s, BACKOFF_CAP_S))
        sleep(delay)
    raise AssertionError("unreachable")


@dataclass
class StreamedBlock:
    """One content block while it streams in; text and tool input arrive in pieces."""

    text: list[str] | None = None
    tool_use: dict[str, Any] | None = None  # toolUseId and name, known from the block's start
    input_parts: list[str] = field(default_factory=list)

    def as_content(self) -> dict[str, Any] | None:
        """The Converse content block, or None for a block with nothing in it."""
        if self.tool_use is not None:
            raw = "".join(self.input_parts)
            try:
                arguments = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as exc:  # e.g. cut off by maxTokens
                raise ModelError(
                    "InvalidToolInput",
                    f"The model's input for tool {self.tool_use['name']!r} is not valid JSON: {exc}",
                    retryable=False,
                ) from exc
            return {"toolUse": {**self.tool_use, "input": arguments}}
        text = "".join(self.text or [])
        return {"text": text} if text else None  # Converse refuses blank text blocks sent back
