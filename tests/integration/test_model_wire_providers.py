"""The anthropic and openai providers against loopback servers that speak each API's wire protocol
(tests/integration/support/model_wire.py): streamed text and tool calls, usage, prompt caching,
retries on 429/529 and on errors inside the stream, and the errors that must not be retried.
No sleeps: the providers' `sleep` is recorded instead."""

from __future__ import annotations

import sys

import pytest

from order_agent.model import ProviderPackageMissing, make_provider
from order_agent.model.anthropic_api import AnthropicProvider
from order_agent.model.base import END_CONVERSATION_SPEC, ModelError, ModelRequest
from order_agent.model.openai_compatible import OpenAICompatibleProvider
from order_agent.settings import Settings

from .support.model_wire import Error, StreamError, WireModelServer, anthropic_error, openai_error, wire_provider

LOOKUP = {"name": "get_order_details", "input": {"order_id": "#W9300146"}}
ORDER_TOOL = {
    "toolSpec": {
        "name": "get_order_details",
        "description": "The order's status and items.",
        "inputSchema": {"json": {"type": "object", "properties": {"order_id": {"type": "string"}}}},
    }
}
REQUEST = ModelRequest(
    system="You help customers with their orders.",
    messages=[
        {"role": "user", "content": [{"text": "Where is #W9300146?"}]},
        {"role": "assistant", "content": [{"text": "Let me look."},
                                          {"toolUse": {"toolUseId": "t1", "name": "find_user_id_by_email",
                                                       "input": {"email": "a@example.com"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "status": "error",
                                                     "content": [{"json": {"error": "not_found"}}]}},
                                     {"text": "Try aarav.anderson9752@example.com"}]},
    ],
    tools=[ORDER_TOOL, END_CONVERSATION_SPEC],
    stage="entry_intent",
)  # fmt: skip


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def provider(protocol: str, url: str, sleeps: Sleeps, **settings):
    """The provider for `protocol` at a loopback server; its backoff sleeps are recorded, at their ceiling."""
    return wire_provider(protocol, url, Settings(**settings), sleep=sleeps, rand=lambda: 1.0)


PROTOCOLS = ["anthropic", "openai"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_text_and_tool_calls_stream_in_and_come_back_converse_shaped(protocol):
    reply = {"text": "Found it: it is pending.", "tool_uses": [LOOKUP, {"name": "end_conversation", "input": {}}],
             "usage": {"inputTokens": 120, "outputTokens": 30, "cacheReadInputTokens": 900}}  # fmt: skip
    with WireModelServer(protocol, [reply]) as server:
        pieces: list[str] = []
        response = provider(protocol, server.url, Sleeps()).converse(REQUEST, on_text=pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == response.text == "Found it: it is pending."
    assert [(u["name"], u["input"]) for u in response.tool_uses] == [
        ("get_order_details", {"order_id": "#W9300146"}),
        ("end_conversation", {}),
    ]
    assert response.stop_reason == "tool_use"
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cache_read_tokens) == (
        120,
        30,
        900,
    )
    assert response.first_token_ms is not None


def test_anthropic_request_caches_the_system_prompt_and_tools_and_converts_the_transcript():
    reply = {"text": "Thanks.", "usage": {"inputTokens": 10, "outputTokens": 2, "cacheWriteInputTokens": 1500}}
    with WireModelServer("anthropic", [reply]) as server:
        response = provider("anthropic", server.url, Sleeps()).converse(REQUEST)
    assert response.usage.cache_write_tokens == 1500 and response.model_id == "claude-sonnet-4-6"
    sent = server.requests[0]
    # The key travels as `x-api-key` or, as this SDK release sends it, `authorization: Bearer`.
    assert "test-key" in (sent["headers"].get("x-api-key") or sent["headers"]["authorization"])
    assert "anthropic-version" in sent["headers"]
    body = sent["body"]
    assert body["stream"] is True and body["model"] == "claude-sonnet-4-6"
    assert body["system"] == [{"type": "text", "text": REQUEST.system, "cache_control": {"type": "ephemeral"}}]
    assert [t["name"] for t in body["tools"]] == ["get_order_details", "end_conversation"]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"} and "cache_control" not in body["tools"][0]
    assert body["tools"][0]["input_schema"] == ORDER_TOOL["toolSpec"]["inputSchema"]["json"]
    result, text = body["messages"][2]["content"]
    assert result == {"type": "tool_result", "tool_use_id": "t1", "is_error": True,
                      "content": [{"type": "text", "text": '{"error": "not_found"}'}]}  # fmt: skip
    assert text == {"type": "text", "text": "Try aarav.anderson9752@example.com"}


def test_openai_request_carries_tool_messages_usage_option_and_the_key():
    with WireModelServer("openai", [{"text": "Thanks."}]) as server:
        provider("openai", server.url, Sleeps()).converse(REQUEST)
    sent = server.requests[0]
    assert sent["headers"]["authorization"] == "Bearer test-key"
    body = sent["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "qwen3:8b"
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert body["messages"][2]["tool_calls"][0]["function"] == {
        "name": "find_user_id_by_email",
        "arguments": '{"email": "a@example.com"}',
    }
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "t1", "content": 'Error: {"error": "not_found"}'}
    assert body["tools"][0] == {"type": "function", "function": {"name": "get_order_details",
                                "description": "The order's status and items.",
                                "parameters": ORDER_TOOL["toolSpec"]["inputSchema"]["json"]}}  # fmt: skip


@pytest.mark.parametrize(
    ("protocol", "failures"),
    [
        ("anthropic", [anthropic_error(429, "rate_limit_error", "Slow down", retry_after="3"),
                       anthropic_error(529, "overloaded_error", "Overloaded"),
                       StreamError({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]),
        ("openai", [openai_error(429, "rate_limit_exceeded", "Rate limit reached", retry_after="3"),
                    openai_error(503, "server_error", "Busy"),
                    StreamError({"error": {"message": "worker died", "type": "server_error", "code": None}})]),
    ],
)  # fmt: skip
def test_throttling_overload_and_stream_errors_are_retried_with_backoff(protocol, failures):
    with WireModelServer(protocol, [*failures, {"text": "Here it is."}]) as server:
        sleeps = Sleeps()
        response = provider(protocol, server.url, sleeps).converse(REQUEST)
    assert response.text == "Here it is." and server.remaining == 0
    # Full jitter with rand() = 1: the ceilings 0.5, 1, 2 s; the first raised to the server's retry-after.
    assert sleeps == [3.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("protocol", "failure", "code"),
    [
        ("anthropic", anthropic_error(529, "overloaded_error", "Overloaded"), "overloaded_error"),
        ("openai", openai_error(429, "rate_limit_exceeded", "Rate limit reached"), "rate_limit_exceeded"),
    ],
)
def test_retries_stop_at_the_attempt_limit(protocol, failure, code):
    with WireModelServer(protocol, [failure, failure]) as server, pytest.raises(ModelError) as raised:
        provider(protocol, server.url, Sleeps(), model_max_attempts=2).converse(REQUEST)
    assert raised.value.code == code and raised.value.retryable
    assert "gave up after 2 attempts" in raised.value.message


@pytest.mark.parametrize(
    ("protocol", "failure", "code"),
    [
        ("anthropic", anthropic_error(401, "authentication_error", "invalid x-api-key"), "authentication_error"),
        ("anthropic", anthropic_error(400, "invalid_request_error", "max_tokens: too large"), "invalid_request_error"),
        ("openai", openai_error(400, "invalid_request_error", "tools not supported"), "invalid_request_error"),
        ("openai", openai_error(401, "invalid_api_key", "Incorrect API key"), "invalid_api_key"),
    ],
)
def test_request_and_key_errors_are_not_retried(protocol, failure, code):
    with WireModelServer(protocol, [failure, {"text": "never sent"}]) as server, pytest.raises(ModelError) as raised:
        provider(protocol, server.url, Sleeps()).converse(REQUEST)
    assert (raised.value.code, raised.value.retryable, len(server.requests)) == (code, False, 1)


def test_ollama_error_body_is_a_plain_string():
    missing_model = Error(404, {"error": "model 'qwen3:8b' not found"})
    with WireModelServer("openai", [missing_model]) as server, pytest.raises(ModelError) as raised:
        provider("openai", server.url, Sleeps()).converse(REQUEST)
    assert (raised.value.code, raised.value.message) == ("http_404", "model 'qwen3:8b' not found")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_that_is_not_there_is_a_retryable_connection_error(protocol):
    with WireModelServer(protocol, []) as server:
        url = server.url  # a port nothing listens on once the server has stopped
    sleeps = Sleeps()
    with pytest.raises(ModelError) as raised:
        provider(protocol, url, sleeps, model_max_attempts=2).converse(REQUEST)
    assert raised.value.retryable and len(sleeps) == 1


def test_the_registry_builds_both_and_names_the_missing_package(monkeypatch):
    assert isinstance(make_provider(Settings(model_provider="anthropic")), AnthropicProvider)
    assert isinstance(make_provider(Settings(model_provider="openai", openai_model="m")), OpenAICompatibleProvider)
    with pytest.raises(ValueError, match="needs OPENAI_MODEL"):
        make_provider(Settings(model_provider="openai"))
    monkeypatch.setitem(sys.modules, "anthropic", None)  # as if the deps layer had been built without it
    with pytest.raises(
        ProviderPackageMissing,
        match="provider anthropic needs package anthropic, which is not installed here: build the layers",
    ):
        make_provider(Settings(model_provider="anthropic"))
