"""The `anthropic` provider: Claude through the Anthropic Messages API, streamed, with the official SDK.

The transcript stays Converse-shaped; this module converts at its edge (`messages_params`) and reads
the SSE events back into Converse content blocks:
  text -> `text`; toolUse -> `tool_use`; toolResult -> `tool_result` (status error -> `is_error`),
  placed first in its user message as the API requires; a `cachePoint` block -> `cache_control` on
  the block before it.

Prompt caching mirrors the bedrock provider: one cache breakpoint on the last tool and one on the
system prompt (the API caches tools, then system, then messages, in that order), so the parts that
repeat on every call of a stage are read from the cache. Usage maps one to one: the API's
`input_tokens`, like Converse's, excludes the cached tokens, counted apart as cache reads and writes.

Retries: the SDK's own are off (`max_retries=0`); `converse_with_retries` retries 429 (rate limit),
529 (overloaded), other 5xx, timeouts and connection failures, and `error` events inside the stream,
honouring `retry-after`. Every failure comes out as `ModelError`.

The `anthropic` package is not in the production deps layer: scripts/build_layers.py adds it with
`--providers anthropic` (see docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2

from order_agent.model.base import ModelError, ModelRequest, ModelResponse, TextCallback, Usage
from order_agent.model.streaming import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    StreamedBlock,
    StreamingProvider,
    TextForwarder,
    assembled_content,
    retry_after_seconds,
)

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
# Worth another attempt: the same request can succeed a moment later (the API's error types).
RETRYABLE_ERROR_TYPES = frozenset({"rate_limit_error", "overloaded_error", "api_error", "timeout_error"})
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
# The API's stop reasons that Converse spells differently.
STOP_REASONS = {"refusal": "content_filtered"}


def _tool_result(result: dict[str, Any]) -> dict[str, Any]:
    parts = [
        {"type": "text", "text": part["text"] if "text" in part else json.dumps(part.get("json"))}
        for part in result.get("content", [])
    ]
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": result["toolUseId"], "content": parts}
    if result.get("status") == "error":
        block["is_error"] = True
    return block


def messages_params(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Converse messages -> Messages API messages."""
    converted = []
    for message in messages:
        blocks: list[dict[str, Any]] = []
        for block in message["content"]:
            if "text" in block:
                if block["text"]:  # the API refuses empty text blocks
                    blocks.append({"type": "text", "text": block["text"]})
            elif "toolUse" in block:
                use = block["toolUse"]
                blocks.append({"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use["input"]})
            elif "toolResult" in block:
                blocks.append(_tool_result(block["toolResult"]))
            elif "cachePoint" in block and blocks:
                blocks[-1]["cache_control"] = EPHEMERAL
        # Tool results must come first in a user message; the order of the rest is kept.
        blocks.sort(key=lambda b: b["type"] != "tool_result")
        converted.append({"role": message["role"], "content": blocks})
    return converted


def tools_params(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Converse toolSpec entries -> Messages API tools, with a cache breakpoint on the last."""
    converted = [
        {
            "name": tool["toolSpec"]["name"],
            "description": tool["toolSpec"].get("description", ""),
            "input_schema": tool["toolSpec"]["inputSchema"]["json"],
        }
        for tool in tools
        if "toolSpec" in tool
    ]
    if converted:
        converted[-1]["cache_control"] = EPHEMERAL
    return converted


def _counts(usage: dict[str, Any] | None) -> dict[str, int]:
    """The token counts of a usage object (it also carries breakdowns and nulls)."""
    return {key: value for key, value in (usage or {}).items() if isinstance(value, int)}


def _model_error(exc: Exception) -> ModelError:
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        error_type = error.get("type") or f"http_{exc.status_code}"
        return ModelError(
            error_type,
            error.get("message") or str(exc),
            retryable=error_type in RETRYABLE_ERROR_TYPES or exc.status_code in RETRYABLE_STATUS,
            retry_after_s=retry_after_seconds(exc.response.headers),
        )
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):  # timeouts included
        return ModelError(type(exc).__name__, str(exc) or type(exc).__name__, retryable=True)
    # No key, an invalid request built here and other local failures cannot get better by waiting.
    return ModelError(type(exc).__name__, str(exc), retryable=False)


class AnthropicProvider(StreamingProvider):
    name = "anthropic"

    @property
    def client(self) -> anthropic.Anthropic:
        """Created on first use (an import must not cost a client)."""
        if self._client is None:
            key = self.settings.anthropic_api_key
            self._client = anthropic.Anthropic(
                api_key=key.get_secret_value() if key is not None else None,
                base_url=self.settings.anthropic_base_url,
                max_retries=0,  # `converse_with_retries` retries
                timeout=httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            )
        return self._client

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.settings.anthropic_model,
            "system": [{"type": "text", "text": request.system, "cache_control": EPHEMERAL}],
            "messages": messages_params(request.messages),
            # No temperature: the Messages API of this SDK (anthropic 2.x) no longer takes sampling parameters.
            "max_tokens": self.settings.model_max_tokens,
        }
        tools = tools_params(request.tools)
        if tools:
            params["tools"] = tools
        return params

    def _events(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The stream's events as dicts; every SDK or connection failure comes out as `ModelError`.

        A generator, so that exceptions raised by the consumer (`on_text`) never pass through the `except`
        clauses here. Closing it closes the stream and frees the connection.
        """
        try:
            stream = self.client.messages.create(**params, stream=True)
        except (anthropic.AnthropicError, httpx2.TransportError) as exc:
            raise _model_error(exc) from exc
        try:
            for event in stream:  # the SDK raises an `error` event as an APIStatusError
                yield event.model_dump()
        except (anthropic.AnthropicError, httpx2.TransportError) as exc:
            raise _model_error(exc) from exc
        finally:
            stream.close()

    def _attempt(self, params: dict[str, Any], on_text: TextCallback, started: float) -> ModelResponse:
        blocks: dict[int, StreamedBlock] = {}
        content: dict[int, dict[str, Any] | None] = {}
        stop_reason: str | None = None
        tokens: dict[str, int] = {}
        forward = TextForwarder(on_text, started)
        with contextlib.closing(self._events(params)) as events:
            for event in events:
                kind = event["type"]
                if kind == "message_start":
                    tokens.update(_counts(event["message"].get("usage")))
                elif kind == "content_block_start":
                    start = event["content_block"]
                    if start["type"] == "tool_use":
                        use = {"toolUseId": start["id"], "name": start["name"]}
                        blocks[event["index"]] = StreamedBlock(tool_use=use)
                    elif start["type"] == "text":  # its text comes in deltas (the start's own is empty)
                        blocks[event["index"]] = StreamedBlock(text=[])
                    # Other block types (thinking, server tools) are not asked for and not kept.
                elif kind == "content_block_delta":
                    block = blocks.get(event["index"])
                    delta = event["delta"]
                    if block is None:
                        continue
                    if delta["type"] == "text_delta" and block.text is not None:
                        block.text.append(delta["text"])
                        forward(delta["text"])
                    elif delta["type"] == "input_json_delta" and block.tool_use is not None:
                        block.input_parts.append(delta["partial_json"])
                    elif delta["type"] in ("text_delta", "input_json_delta"):
                        wrong = f"{delta['type']} in the wrong kind of block {event['index']}."
                        raise ModelError("MalformedStream", wrong, retryable=True)
                elif kind == "content_block_stop":
                    if event["index"] in blocks:
                        content[event["index"]] = blocks[event["index"]].as_content()
                elif kind == "message_delta":
                    stop_reason = event["delta"].get("stop_reason") or stop_reason
                    # Cumulative counts: they replace what message_start said.
                    tokens.update(_counts(event.get("usage")))
        return ModelResponse(
            content=assembled_content(blocks, content, stop_reason),
            stop_reason=STOP_REASONS.get(stop_reason, stop_reason),
            usage=Usage(
                input_tokens=tokens.get("input_tokens", 0),
                output_tokens=tokens.get("output_tokens", 0),
                cache_read_tokens=tokens.get("cache_read_input_tokens", 0),
                cache_write_tokens=tokens.get("cache_creation_input_tokens", 0),
            ),
            model_id=self.settings.anthropic_model,
            latency_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=forward.first_token_ms,
        )
