"""The `openai` provider: any OpenAI-compatible chat-completions endpoint (Ollama, vLLM, llama.cpp,
OpenAI itself) at OPENAI_BASE_URL, streamed.

It speaks the wire protocol with httpx, already in the deps layer, rather than the `openai` SDK: one
POST and a `data:` line parser are all it needs, the SDK would add ~10 MB and two packages to a layer
for that, and the servers it targets differ in details the SDK's typed models do not smooth over
(Ollama sends a whole tool call in one chunk and `finish_reason: "stop"` after tool calls; some
servers omit tool-call ids). So it needs no build option and runs anywhere the agent runs.

The transcript stays Converse-shaped; `chat_messages` converts at the edge: the system prompt is
the first message; an assistant message's text and toolUse blocks become `content` and
`tool_calls`; each toolResult becomes a `tool` message (an error result says so in its content, the
format having no error flag) directly after the assistant message that called, then the customer's
text as a `user` message. Cache points are dropped: no caching is assumed. Usage comes from the
final chunk (`stream_options.include_usage`); a server that reports cached prompt tokens has them
counted as cache reads, apart from the input tokens, as Converse counts them.

Retries as the other providers (order_agent/model/streaming.py): 408, 409, 429 and 5xx answers,
`retry-after` honoured, connection failures and timeouts, and an error sent inside the stream.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from order_agent.model.base import ModelError, ModelRequest, ModelResponse, TextCallback, Usage
from order_agent.model.streaming import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    StreamedBlock,
    StreamingProvider,
    TextForwarder,
    retry_after_seconds,
)
from order_agent.settings import Settings

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
FINISH_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filtered",
}
DONE = "[DONE]"


def _result_text(result: dict[str, Any]) -> str:
    text = "\n".join(part["text"] if "text" in part else json.dumps(part.get("json")) for part in result["content"])
    return f"Error: {text}" if result.get("status") == "error" else text


def chat_messages(system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The system prompt and the Converse messages -> chat-completions messages."""
    converted: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for message in messages:
        texts = [block["text"] for block in message["content"] if block.get("text")]
        if message["role"] == "assistant":
            calls = [
                {
                    "id": use["toolUseId"],
                    "type": "function",
                    "function": {"name": use["name"], "arguments": json.dumps(use["input"])},
                }
                for use in (block["toolUse"] for block in message["content"] if "toolUse" in block)
            ]
            assistant: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
            if calls:
                assistant["tool_calls"] = calls
            converted.append(assistant)
            continue
        for result in (block["toolResult"] for block in message["content"] if "toolResult" in block):
            converted.append({"role": "tool", "tool_call_id": result["toolUseId"], "content": _result_text(result)})
        if texts:
            converted.append({"role": "user", "content": "\n".join(texts)})
    return converted


def chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool["toolSpec"]["name"],
                "description": tool["toolSpec"].get("description", ""),
                "parameters": tool["toolSpec"]["inputSchema"]["json"],
            },
        }
        for tool in tools
        if "toolSpec" in tool
    ]


def _error_from_body(status: int, body: Any, headers: httpx.Headers | None = None) -> ModelError:
    """An error body: OpenAI's `{"error": {"message", "type", "code"}}`, or Ollama's `{"error": "..."}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or error.get("type") or f"http_{status}")
        message = str(error.get("message") or code)
    else:
        code, message = f"http_{status}", str(error or body or f"HTTP {status}")
    return ModelError(
        code,
        message,
        retryable=status in RETRYABLE_STATUS,
        retry_after_s=retry_after_seconds(headers) if headers is not None else None,
    )


class OpenAICompatibleProvider(StreamingProvider):
    name = "openai"

    def __init__(self, settings: Settings, *args: Any, **kwargs: Any) -> None:
        if not settings.openai_model:
            raise ValueError("MODEL_PROVIDER=openai needs OPENAI_MODEL (the model's name on OPENAI_BASE_URL)")
        super().__init__(settings, *args, **kwargs)

    @property
    def client(self) -> httpx.Client:
        """Created on first use (an import must not cost a client)."""
        if self._client is None:
            key = self.settings.openai_api_key
            headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}
            self._client = httpx.Client(
                base_url=self.settings.openai_base_url.rstrip("/") + "/",
                headers=headers,
                timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            )
        return self._client

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.openai_model,
            "messages": chat_messages(request.system, request.messages),
            "max_tokens": self.settings.model_max_tokens,
            "temperature": self.settings.model_temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        tools = chat_tools(request.tools)
        if tools:
            body["tools"] = tools
        return body

    def _chunks(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The stream's JSON chunks up to `data: [DONE]`; every HTTP or connection failure comes out as
        `ModelError`. A generator, so that exceptions raised by the consumer never pass through here."""
        try:
            with self.client.stream("POST", "chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    try:
                        error_body: Any = response.json()
                    except ValueError:
                        error_body = response.text
                    raise _error_from_body(response.status_code, error_body, response.headers)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, `: keep-alive` comments, `event:` lines
                    data = line[len("data:") :].strip()
                    if data == DONE:
                        return
                    chunk = json.loads(data)
                    if "error" in chunk:  # an error after the stream started (vLLM, OpenAI)
                        raise _error_from_body(500, chunk)
                    yield chunk
        except httpx.TransportError as exc:  # connect, read and write failures, timeouts included
            raise ModelError(type(exc).__name__, str(exc) or type(exc).__name__, retryable=True) from exc
        except json.JSONDecodeError as exc:
            raise ModelError("MalformedStream", f"A chunk is not JSON: {exc}", retryable=True) from exc
        raise ModelError("IncompleteStream", "The model's stream ended without `data: [DONE]`.", retryable=True)

    def _attempt(self, body: dict[str, Any], on_text: TextCallback, started: float) -> ModelResponse:
        text = StreamedBlock(text=[])
        calls: dict[int, StreamedBlock] = {}  # by the tool call's index
        finish_reason: str | None = None
        usage = Usage()
        forward = TextForwarder(on_text, started)
        with contextlib.closing(self._chunks(body)) as chunks:
            for chunk in chunks:
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        text.text.append(delta["content"])  # type: ignore[union-attr]
                        forward(delta["content"])
                    for call in delta.get("tool_calls") or []:
                        index = call.get("index", len(calls))
                        function = call.get("function") or {}
                        block = calls.get(index)
                        if block is None:  # the first fragment names the call
                            use = {"toolUseId": call.get("id") or f"call_{index}", "name": function.get("name", "")}
                            block = calls[index] = StreamedBlock(tool_use=use)
                        block.input_parts.append(function.get("arguments") or "")
                    finish_reason = choice.get("finish_reason") or finish_reason
        if finish_reason is None:
            raise ModelError("IncompleteStream", "The model's stream ended without a finish reason.", retryable=True)
        blocks = (block.as_content() for block in (text, *(calls[index] for index in sorted(calls))))
        content = [block for block in blocks if block is not None]
        stop_reason = FINISH_REASONS.get(finish_reason, finish_reason)
        if calls and stop_reason == "end_turn":  # Ollama says "stop" after tool calls
            stop_reason = "tool_use"
        return ModelResponse(
            content=content,
            stop_reason=stop_reason,
            usage=usage,
            model_id=self.settings.openai_model or "",
            latency_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=forward.first_token_ms,
        )


def _usage(raw: dict[str, Any]) -> Usage:
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(
        input_tokens=(raw.get("prompt_tokens") or 0) - cached,
        output_tokens=raw.get("completion_tokens") or 0,
        cache_read_tokens=cached,
    )
