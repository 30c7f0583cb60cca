"""Loopback servers that speak the model APIs' real wire protocols, replaying a script of model turns.

`WireModelServer("anthropic")` answers `POST /v1/messages` as the Anthropic Messages API streams:
SSE events `message_start` (usage with cache reads and writes), `ping`, `content_block_start`,
`content_block_delta` (`text_delta`, `input_json_delta` in fragments), `content_block_stop`,
`message_delta` (stop reason, output tokens), `message_stop`; failures as the API sends them (a JSON
error body with `retry-after`, or an `error` event inside the stream).
`WireModelServer("openai")` answers `POST /v1/chat/completions` as OpenAI-compatible servers stream:
`data:` chunks with `delta.content`, `delta.tool_calls` (index, id and name first, then argument
fragments), a finish chunk, the usage chunk (`stream_options.include_usage`), `data: [DONE]`.

Each reply is a scripted step in the short form the `scripted` provider reads (text, tool_use(s),
usage, stop_reason), or an `Error`/`StreamError`. Every request is recorded and checked against the
API's rules for a conversation (roles, each tool call answered in the next message), so a conversion
mistake fails as the real API would fail it: with a 400.

For whole conversations, `script_over_wire` serves a `ScriptedProvider` instead: the provider under
test converts the agent's Converse request to the wire; the server answers what the script answers
to that same Converse request (its `expect` checks included), encoded in the wire format, and the
provider reads it back. So the scenarios the scripted model passes run unchanged over each protocol.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import SecretStr

from order_agent.model.anthropic_api import AnthropicProvider
from order_agent.model.base import ModelError, ModelRequest, ModelResponse, TextCallback
from order_agent.model.openai_compatible import OpenAICompatibleProvider
from order_agent.settings import Settings
from order_agent_dev.providers.scripted import ScriptedProvider

CHUNK = 7  # characters per streamed piece: small, so that text and tool input arrive in several


@dataclass
class Error:
    """An HTTP error answer: the status, the API's JSON error body, headers such as retry-after."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamError:
    """A stream that starts (200) and then carries an error: an `error` event, or an error chunk."""

    body: dict[str, Any]


def anthropic_error(status: int, error_type: str, message: str, retry_after: str | None = None) -> Error:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    body = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": "req_loopback"}
    return Error(status, body, headers)


def openai_error(status: int, code: str, message: str, retry_after: str | None = None) -> Error:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return Error(status, {"error": {"message": message, "type": code, "param": None, "code": code}}, headers)


def _pieces(text: str) -> list[str]:
    return [text[start : start + CHUNK] for start in range(0, len(text), CHUNK)] or [""]


def _sse(event: str | None, data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


def anthropic_stream(content: list[dict[str, Any]], stop_reason: str, usage: dict[str, int], model: str) -> bytes:
    """Converse content blocks as the Messages API streams them."""
    start_usage = {
        "input_tokens": usage.get("inputTokens", 0),
        "cache_creation_input_tokens": usage.get("cacheWriteInputTokens", 0),
        "cache_read_input_tokens": usage.get("cacheReadInputTokens", 0),
        "output_tokens": 1,
    }
    message = {"id": "msg_loopback", "type": "message", "role": "assistant", "content": [], "model": model,
               "stop_reason": None, "stop_sequence": None, "usage": start_usage}  # fmt: skip
    out = [_sse("message_start", {"type": "message_start", "message": message}), _sse("ping", {"type": "ping"})]
    for index, block in enumerate(content):
        if "text" in block:
            start, deltas = (
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": p} for p in _pieces(block["text"])],
            )
        else:
            use = block["toolUse"]
            start = {"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": {}}
            # The API's first input_json_delta is empty; the JSON then arrives in fragments.
            fragments = ["", *_pieces(json.dumps(use["input"]))]
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        out += [
            _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
        ]
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
             "usage": {"output_tokens": usage.get("outputTokens", 0)}}  # fmt: skip
    out += [_sse("message_delta", delta), _sse("message_stop", {"type": "message_stop"})]
    return b"".join(out)


OPENAI_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


def openai_stream(content: list[dict[str, Any]], stop_reason: str, usage: dict[str, int], model: str) -> bytes:
    """Converse content blocks as an OpenAI-compatible server streams chat-completion chunks."""

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {"id": "chatcmpl-loopback", "object": "chat.completion.chunk", "created": 0, "model": model}
        return _sse(None, {**body, "choices": choices, **extra})

    def delta(**fields: Any) -> bytes:
        return chunk([{"index": 0, "delta": fields, "finish_reason": None}])

    out = [delta(role="assistant", content="")]
    calls = 0
    for block in content:
        if "text" in block:
            out += [delta(content=piece) for piece in _pieces(block["text"])]
            continue
        use = block["toolUse"]
        first = {"index": calls, "id": use["toolUseId"], "type": "function",
                 "function": {"name": use["name"], "arguments": ""}}  # fmt: skip
        out.append(delta(tool_calls=[first]))
        out += [delta(tool_calls=[{"index": calls, "function": {"arguments": fragment}}])
                for fragment in _pieces(json.dumps(use["input"]))]  # fmt: skip
        calls += 1
    out.append(chunk([{"index": 0, "delta": {}, "finish_reason": OPENAI_FINISH.get(stop_reason, stop_reason)}]))
    prompt = usage.get("inputTokens", 0) + usage.get("cacheReadInputTokens", 0)
    counts = {"prompt_tokens": prompt, "completion_tokens": usage.get("outputTokens", 0),
              "total_tokens": prompt + usage.get("outputTokens", 0)}  # fmt: skip
    if usage.get("cacheReadInputTokens"):
        counts["prompt_tokens_details"] = {"cached_tokens": usage["cacheReadInputTokens"]}
    out += [chunk([], usage=counts), _sse(None, "[DONE]")]
    return b"".join(out)


def anthropic_problems(body: dict[str, Any]) -> list[str]:
    """What the Messages API refuses in a conversation: roles alternating from the user, empty text, and
    each tool_use answered by tool_result blocks that come first in the very next user message."""
    problems, open_uses = [], set()
    for index, message in enumerate(body.get("messages", [])):
        if message["role"] != ("user" if index % 2 == 0 else "assistant"):
            problems.append(f"message {index}: role {message['role']}")
        blocks = message["content"]
        if any(b["type"] == "text" and not b["text"] for b in blocks):
            problems.append(f"message {index}: an empty text block")
        if message["role"] == "user":
            results = [b["tool_use_id"] for b in blocks if b["type"] == "tool_result"]
            if set(results) != open_uses:
                problems.append(f"message {index}: answers {results}, open tool uses {sorted(open_uses)}")
            if [b["type"] for b in blocks[: len(results)]] != ["tool_result"] * len(results):
                problems.append(f"message {index}: tool_result blocks must come first")
            open_uses = set()
        else:
            open_uses = {b["id"] for b in blocks if b["type"] == "tool_use"}
    if body.get("messages") and body["messages"][-1]["role"] != "user":
        problems.append("the last message must be the user's")
    return problems


def openai_problems(body: dict[str, Any]) -> list[str]:
    """What chat-completions servers refuse: each tool call answered by `tool` messages right after it."""
    problems, open_calls = [], set()
    for index, message in enumerate(body.get("messages", [])):
        if message["role"] == "tool":
            if message["tool_call_id"] not in open_calls:
                problems.append(f"message {index}: answers {message['tool_call_id']}, not an open tool call")
            open_calls.discard(message["tool_call_id"])
            continue
        if open_calls:
            problems.append(f"message {index}: tool calls {sorted(open_calls)} were not answered")
        open_calls = {call["id"] for call in message.get("tool_calls") or []}
    if body.get("messages", [{}])[0].get("role") != "system":
        problems.append("the system prompt must be the first message")
    return problems


SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}
PROTOCOLS = {
    "anthropic": ("/v1/messages", anthropic_stream, anthropic_problems),
    "openai": ("/v1/chat/completions", openai_stream, openai_problems),
}


class WireModelServer:
    """A model API on 127.0.0.1 that replays `replies` in order; `requests` holds what it was sent."""

    def __init__(
        self,
        protocol: str,
        replies: list[Any] | None = None,
        model: str = "loopback-model",
        script: ScriptedProvider | None = None,
    ) -> None:
        self.protocol = protocol
        self.script = script  # answers instead of `replies`, given `converse_request`
        self.converse_request: ModelRequest | None = None
        self.script_failure: AssertionError | None = None
        self.path, self._encode, self._problems = PROTOCOLS[protocol]
        self.replies = list(replies or [])
        self.model = model
        self.requests: list[dict[str, Any]] = []  # {"headers": {...}, "body": {...}}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval: `shutdown` waits for the loop to notice, up to one interval.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> WireModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def remaining(self) -> int:
        return len(self.replies) - len(self.requests)

    def _answer(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            index = len(self.requests)
            self.requests.append({"headers": headers, "body": body})
        problems = self._problems(body)
        if not problems and self.script is not None:
            assert self.converse_request is not None, "a scripted server is called through ConverseOverWire"
            try:
                response = self.script.converse(self.converse_request)
            except AssertionError as divergence:  # ScriptDivergence: ConverseOverWire raises it again in the test
                self.script_failure = divergence
                problems = [str(divergence)]
            else:
                stream = self._encode(response.content, response.stop_reason, response.usage.as_dict(), self.model)
                return 200, SSE_HEADERS, stream
        elif not problems and index >= len(self.replies):
            problems = [f"request {index + 1}, but the script has {len(self.replies)} replies"]
        if problems:
            error = {"type": "invalid_request_error", "message": "; ".join(problems)}
            payload = {"type": "error", "error": error} if self.protocol == "anthropic" else {"error": error}
            return 400, {"content-type": "application/json"}, json.dumps(payload).encode()
        reply = self.replies[index]
        if isinstance(reply, Error):
            return reply.status, {"content-type": "application/json", **reply.headers}, json.dumps(reply.body).encode()
        if isinstance(reply, StreamError):  # the stream's first event, then the error
            first = self._encode([], "end_turn", {}, self.model).split(b"\n\n")[0] + b"\n\n"
            return 200, SSE_HEADERS, first + _sse("error" if self.protocol == "anthropic" else None, reply.body)
        content, stop_reason, usage = ScriptedProvider._response(index, reply)
        return 200, SSE_HEADERS, self._encode(content, stop_reason, usage.as_dict(), self.model)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != server.path:
                    status, headers, payload = 404, {"content-type": "application/json"}, b'{"error": "not found"}'
                else:
                    status, headers, payload = server._answer({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:  # quiet: pytest shows failures, not access logs
                pass

        return Handler


def wire_provider(protocol: str, url: str, settings: Settings | None = None, **options: Any) -> Any:
    """The provider of `protocol` pointed at a loopback server at `url`; `options` go to its constructor."""
    settings = settings or Settings()  # model_copy does not validate: the keys are given as SecretStr
    if protocol == "anthropic":
        update = {"anthropic_api_key": SecretStr("test-key"), "anthropic_base_url": url}
        return AnthropicProvider(settings.model_copy(update=update), **options)
    update = {"openai_base_url": f"{url}/v1", "openai_model": "qwen3:8b", "openai_api_key": SecretStr("test-key")}
    return OpenAICompatibleProvider(settings.model_copy(update=update), **options)


class ConverseOverWire:
    """The provider under test, for the agent: each call's Converse request is also handed to the server,
    whose script answers it; a script divergence is raised here as the scripted provider would raise it."""

    def __init__(self, provider: Any, server: WireModelServer) -> None:
        self.provider = provider
        self.server = server
        self.name = provider.name

    def converse(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        self.server.converse_request = request
        try:
            return self.provider.converse(request, on_text)
        except ModelError:
            if self.server.script_failure is not None:
                raise self.server.script_failure from None
            raise


def script_over_wire(protocol: str, settings: Settings, servers: list[WireModelServer]):
    """For `Chat(..., wire=...)`: serve the conversation's script over `protocol` (the servers are kept in `servers`
    for the caller to stop)."""

    def wire(script: ScriptedProvider) -> ConverseOverWire:
        server = WireModelServer(protocol, script=script).__enter__()
        servers.append(server)
        return ConverseOverWire(wire_provider(protocol, server.url, settings, sleep=_no_retry_sleep), server)

    return wire


def _no_retry_sleep(seconds: float) -> None:
    raise AssertionError("a scripted conversation over the wire retried a model call")
