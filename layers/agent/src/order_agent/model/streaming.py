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
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from order_agent.model.base import ModelError, ModelRequest, ModelResponse, TextCallback
from order_agent.settings import Settings

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


class TextForwarder:
    """Passes each piece of streamed text to `on_text` and notes when the first came (`first_token_ms`, since
    `started`, a `time.perf_counter()` reading): the time the customer waits for the first words."""

    def __init__(self, on_text: TextCallback, started: float) -> None:
        self.on_text = on_text
        self.started = started
        self.first_token_ms: float | None = None

    def __call__(self, text: str) -> None:
        if not text:
            return
        if self.first_token_ms is None:
            self.first_token_ms = (time.perf_counter() - self.started) * 1000
        self.on_text(text)


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


def assembled_content(
    blocks: dict[int, StreamedBlock], finished: dict[int, dict[str, Any] | None], stop_reason: str | None
) -> list[dict[str, Any]]:
    """The response's content blocks in the stream's order: those finished, and any the stream never closed.
    A stream that ended without saying why it stopped was cut short, and is worth another attempt."""
    if stop_reason is None:  # the connection ended cleanly but early
        raise ModelError("IncompleteStream", "The model's stream ended without a stop reason.", retryable=True)
    content = {**{index: block.as_content() for index, block in blocks.items() if index not in finished}, **finished}
    return [block for _, block in sorted(content.items()) if block is not None]


class StreamingProvider(ABC):
    """The frame of a provider that streams from an API: a client made on first use, and `converse`, which
    retries `_attempt` (one streamed call of the request `request_params` built) with `converse_with_retries`.
    `sleep` and `rand` are the backoff's, replaceable in tests."""

    name: str

    def __init__(
        self,
        settings: Settings,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self._client = client
        self._sleep = sleep
        self._rand = rand

    @abstractmethod
    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        """The provider's API request for this model request (its wire format)."""

    @abstractmethod
    def _attempt(self, params: dict[str, Any], on_text: TextCallback, started: float) -> ModelResponse:
        """One streamed call of `params`, its text forwarded to `on_text` as it arrives."""

    def converse(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        params = self.request_params(request)
        started = time.perf_counter()  # latency and first-token times include retries: the customer waits for them
        return converse_with_retries(
            lambda forward: self._attempt(params, forward, started),
            on_text,
            attempts=self.settings.model_max_attempts,
            sleep=self._sleep,
            rand=self._rand,
        )
