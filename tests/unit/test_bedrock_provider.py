"""The bedrock provider against a real `bedrock-runtime` client whose HTTP layer is a botocore Stubber.

Stubber checks every stubbed response against the service model, but it does not know event
streams: it validates ConverseStream's `stream` member as a plain structure, so the object a real
call returns (a `botocore.eventstream.EventStream`, which yields one dict per event) is refused,
and so are a list or a generator of event dicts. The tests therefore queue a response whose
`stream` is an empty structure (valid) and then put in its place, in the same dict, a real
`EventStream` over bytes framed as Bedrock frames them. Stubber hands back that very dict, so the
provider reads the stream exactly as in production: botocore decodes the frames, parses each
event against the model and raises `EventStreamError` for an error event. Each event is also
validated against its own shape before it is framed, so a typo in a test event fails loudly
instead of being dropped by the parser.
"""

from __future__ import annotations

import binascii
import json
import random
import struct
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
import urllib3.exceptions
from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from order_agent.model.base import ModelError, ModelRequest
from order_agent.model.bedrock import BedrockProvider
from order_agent.settings import Settings

MODEL_ID = "us.anthropic.claude-test-v1"
SYSTEM = "You help customers with their orders."
MESSAGES = [{"role": "user", "content": [{"text": "Where is my order #W123?"}]}]
TOOLS = [
    {
        "toolSpec": {
            "name": "find_user_id_by_email",
            "description": "Find a customer by email.",
            "inputSchema": {"json": {"type": "object", "properties": {"email": {"type": "string"}}}},
        }
    },
    {
        "toolSpec": {
            "name": "end_conversation",
            "description": "End the conversation.",
            "inputSchema": {"json": {"type": "object", "properties": {}}},
        }
    },
]
USAGE = {"inputTokens": 40, "outputTokens": 12, "totalTokens": 2452, "cacheReadInputTokens": 2300}
METRICS = {"latencyMs": 321}


# -- event-stream framing ---------------------------------------------------------------------------


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One message in the AWS event-stream binary format (string headers only, as Bedrock sends)."""
    header_bytes = b""
    for name, value in headers.items():
        name_b, value_b = name.encode(), value.encode()
        header_bytes += struct.pack("!B", len(name_b)) + name_b + b"\x07" + struct.pack("!H", len(value_b)) + value_b
    prelude = struct.pack("!II", 12 + len(header_bytes) + len(payload) + 4, len(header_bytes))
    message = prelude + struct.pack("!I", binascii.crc32(prelude)) + header_bytes + payload
    return message + struct.pack("!I", binascii.crc32(message))


class RawStream:
    """Stands in for the urllib3 response botocore reads the stream from, in small chunks.

    `fail` is raised once the chunks run out, as a dropped connection or a read timeout would be.
    """

    def __init__(self, data: bytes, fail: Exception | None = None, chunk: int = 7) -> None:
        self.data, self.fail, self.chunk = data, fail, chunk
        self.closed = False

    def stream(self) -> Iterator[bytes]:
        for offset in range(0, len(self.data), self.chunk):
            yield self.data[offset : offset + self.chunk]
        if self.fail is not None:
            raise self.fail

    def close(self) -> None:
        self.closed = True


def event_stream(client: Any, events: list[dict[str, Any]], raw: RawStream) -> EventStream:
    """A real EventStream over the given events, each `{member name: body}` of ConverseStreamOutput."""
    shape = client.meta.service_model.operation_model("ConverseStream").output_shape.members["stream"]
    data = b""
    for event in events:
        ((name, body),) = event.items()
        member = shape.members[name]
        validate_parameters(body, member)
        if member.metadata.get("exception"):
            headers = {":message-type": "exception", ":exception-type": name, ":content-type": "application/json"}
        else:
            headers = {":message-type": "event", ":event-type": name, ":content-type": "application/json"}
        data += frame(headers, json.dumps(body).encode())
    raw.data = data
    return EventStream(raw, shape, EventStreamJSONParser(), "ConverseStream")


def stub_stream(
    stubber: Stubber,
    events: list[dict[str, Any]],
    expected_params: dict[str, Any] | None = None,
    fail: Exception | None = None,
) -> RawStream:
    """Queues one ConverseStream response; returns the raw connection, to see that it was closed."""
    response: dict[str, Any] = {"stream": {}}  # what Stubber's validation accepts for an event stream
    stubber.add_response("converse_stream", response, expected_params)
    raw = RawStream(b"", fail)
    response["stream"] = event_stream(stubber.client, events, raw)  # Stubber returns this very dict
    return raw


# -- events ----------------------------------------------------------------------------------------


def start() -> dict[str, Any]:
    return {"messageStart": {"role": "assistant"}}


def text(index: int, value: str) -> dict[str, Any]:
    return {"contentBlockDelta": {"delta": {"text": value}, "contentBlockIndex": index}}


def tool_start(index: int, tool_use_id: str, name: str) -> dict[str, Any]:
    return {
        "contentBlockStart": {
            "start": {"toolUse": {"toolUseId": tool_use_id, "name": name}},
            "contentBlockIndex": index,
        }
    }


def tool_input(index: int, fragment: str) -> dict[str, Any]:
    return {"contentBlockDelta": {"delta": {"toolUse": {"input": fragment}}, "contentBlockIndex": index}}


def stop_block(index: int) -> dict[str, Any]:
    return {"contentBlockStop": {"contentBlockIndex": index}}


def stop(reason: str = "end_turn") -> list[dict[str, Any]]:
    return [{"messageStop": {"stopReason": reason}}, {"metadata": {"usage": USAGE, "metrics": METRICS}}]


def answer(*parts: str) -> list[dict[str, Any]]:
    return [start(), *(text(0, part) for part in parts), stop_block(0), *stop()]


def throttling_event() -> dict[str, Any]:
    return {"throttlingException": {"message": "Too many tokens, please wait before trying again."}}


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def client() -> Any:
    return boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber


class Sleeps(list):
    """A fake `time.sleep` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_provider(client: Any, *, max_attempts: int = 4, rand: Any = None) -> tuple[BedrockProvider, Sleeps]:
    settings = Settings(
        bedrock_model_id=MODEL_ID, model_max_tokens=512, model_temperature=0.3, model_max_attempts=max_attempts
    )
    sleeps = Sleeps()
    return BedrockProvider(settings, client=client, sleep=sleeps, rand=rand or (lambda: 1.0)), sleeps


def request(tools: list[dict[str, Any]] | None = None) -> ModelRequest:
    return ModelRequest(system=SYSTEM, messages=MESSAGES, tools=tools or [], stage="entry_intent")


# -- the request -----------------------------------------------------------------------------------


def test_the_request_caches_the_system_prompt_and_the_tools(client, stubber):
    expected = {
        "modelId": MODEL_ID,
        "system": [{"text": SYSTEM}, {"cachePoint": {"type": "default"}}],
        "messages": MESSAGES,
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.3},
        "toolConfig": {"tools": [*TOOLS, {"cachePoint": {"type": "default"}}]},
    }
    stub_stream(stubber, answer("Hello."), expected_params=expected)
    provider, _ = make_provider(client)

    assert provider.converse(request(TOOLS)).text == "Hello."
    stubber.assert_no_pending_responses()


def test_a_request_without_tools_has_no_tool_config(client, stubber):
    expected = {
        "modelId": MODEL_ID,
        "system": [{"text": SYSTEM}, {"cachePoint": {"type": "default"}}],
        "messages": MESSAGES,
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.3},
    }
    stub_stream(stubber, answer("Hello."), expected_params=expected)
    provider, _ = make_provider(client)

    assert provider.converse(request([])).text == "Hello."
    stubber.assert_no_pending_responses()


def test_the_client_is_created_on_first_use_without_botocore_retries(monkeypatch):
    created: list[dict[str, Any]] = []
    real_client = boto3.client

    def spy(*args: Any, **kwargs: Any) -> Any:
        created.append(kwargs)
        return real_client(*args, aws_access_key_id="x", aws_secret_access_key="x", **kwargs)

    monkeypatch.setattr(boto3, "client", spy)
    settings = Settings(bedrock_region="eu-west-3", bedrock_endpoint_url="http://127.0.0.1:4566")
    provider = BedrockProvider(settings)
    assert created == []

    client = provider.client
    assert provider.client is client and len(created) == 1
    assert client.meta.region_name == "eu-west-3"
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    # botocore's `max_attempts` would count retries; one attempt in all means no botocore retry.
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert client.meta.config.read_timeout > 0 and client.meta.config.connect_timeout > 0


# -- parsing the stream ----------------------------------------------------------------------------


def test_text_is_streamed_as_it_arrives_and_returned_as_one_block(client, stubber):
    stream = stub_stream(stubber, answer("Your order ", "#W123 ", "has shipped."))
    provider, _ = make_provider(client)
    seen: list[str] = []

    response = provider.converse(request(TOOLS), on_text=seen.append)

    assert seen == ["Your order ", "#W123 ", "has shipped."]
    assert response.content == [{"text": "Your order #W123 has shipped."}]
    assert response.stop_reason == "end_turn"
    assert response.usage.as_dict() == {
        "inputTokens": 40,
        "outputTokens": 12,
        "cacheReadInputTokens": 2300,
        "cacheWriteInputTokens": 0,
    }
    assert response.model_id == MODEL_ID
    assert response.first_token_ms is not None and 0 <= response.first_token_ms <= response.latency_ms
    assert stream.closed  # the connection goes back to the pool


def test_tool_use_input_in_fragments_is_parsed_in_block_order(client, stubber):
    events = [
        start(),
        text(0, "Let me "),
        text(0, "look you up."),
        stop_block(0),
        tool_start(1, "tooluse_1", "find_user_id_by_email"),
        tool_input(1, '{"ema'),
        tool_input(1, 'il": "ana@exa'),
        tool_input(1, 'mple.com"}'),
        stop_block(1),
        tool_start(2, "tooluse_2", "end_conversation"),
        tool_input(2, ""),
        stop_block(2),
        {"messageStop": {"stopReason": "tool_use"}},
        {
            "metadata": {
                "usage": {
                    "inputTokens": 7,
                    "outputTokens": 30,
                    "totalTokens": 3037,
                    "cacheReadInputTokens": 1000,
                    "cacheWriteInputTokens": 2000,
                },
                "metrics": METRICS,
            }
        },
    ]
    stub_stream(stubber, events)
    provider, _ = make_provider(client)
    seen: list[str] = []

    response = provider.converse(request(TOOLS), on_text=seen.append)

    assert seen == ["Let me ", "look you up."]
    assert response.content == [
        {"text": "Let me look you up."},
        {"toolUse": {"toolUseId": "tooluse_1", "name": "find_user_id_by_email", "input": {"email": "ana@example.com"}}},
        {"toolUse": {"toolUseId": "tooluse_2", "name": "end_conversation", "input": {}}},
    ]
    assert response.stop_reason == "tool_use"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 30)
    assert (response.usage.cache_read_tokens, response.usage.cache_write_tokens) == (1000, 2000)


def test_tool_input_that_is_not_json_is_a_model_error(client, stubber):
    events = [start(), tool_start(0, "t1", "find_user_id_by_email"), tool_input(0, '{"email": "an'), stop_block(0)]
    stub_stream(stubber, [*events, *stop("max_tokens")])
    provider, sleeps = make_provider(client)

    with pytest.raises(ModelError) as raised:
        provider.converse(request(TOOLS))
    assert (raised.value.code, raised.value.retryable) == ("InvalidToolInput", False)
    assert sleeps == []


# -- retries ---------------------------------------------------------------------------------------


def test_throttling_is_retried_with_growing_jittered_backoff(client, stubber):
    draws: list[float] = []
    rng = random.Random(7)

    def rand() -> float:
        draws.append(rng.random())
        return draws[-1]

    for _ in range(3):
        stubber.add_client_error("converse_stream", "ThrottlingException", "Too many requests", 429)
    stub_stream(stubber, answer("Done."))
    provider, sleeps = make_provider(client, max_attempts=4, rand=rand)

    assert provider.converse(request(TOOLS)).text == "Done."
    stubber.assert_no_pending_responses()
    ceilings = [0.5, 1.0, 2.0]
    assert sleeps == pytest.approx([draw * ceiling for draw, ceiling in zip(draws, ceilings, strict=True)])
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(sleeps, ceilings, strict=True))


def test_the_backoff_ceiling_doubles_up_to_eight_seconds(client, stubber):
    for _ in range(6):
        stubber.add_client_error("converse_stream", "ServiceUnavailableException", "Try later", 503)
    stub_stream(stubber, answer("Done."))
    provider, sleeps = make_provider(client, max_attempts=7, rand=lambda: 1.0)

    assert provider.converse(request()).text == "Done."
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_after_the_last_attempt_the_error_is_retryable(client, stubber):
    for _ in range(3):
        stubber.add_client_error("converse_stream", "ThrottlingException", "Too many requests", 429)
    provider, sleeps = make_provider(client, max_attempts=3)

    with pytest.raises(ModelError) as raised:
        provider.converse(request(TOOLS))

    assert (raised.value.code, raised.value.retryable) == ("ThrottlingException", True)
    assert "3 attempts" in raised.value.message
    assert len(sleeps) == 2  # no sleep after the last attempt
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status"),
    [("ValidationException", 400), ("AccessDeniedException", 403), ("ResourceNotFoundException", 404)],
)
def test_a_request_error_is_raised_at_once(client, stubber, code, status):
    stubber.add_client_error("converse_stream", code, "The request is not valid", status)
    stub_stream(stubber, answer("Should not be reached."))
    provider, sleeps = make_provider(client)

    with pytest.raises(ModelError) as raised:
        provider.converse(request(TOOLS))

    assert (raised.value.code, raised.value.retryable) == (code, False)
    assert raised.value.message == "The request is not valid"
    assert sleeps == []
    with pytest.raises(AssertionError):  # the second response was never asked for
        stubber.assert_no_pending_responses()


def test_a_connection_failure_is_retried(client, stubber):
    class FlakyClient:
        """Fails to connect once, then behaves as the stubbed client."""

        def __init__(self) -> None:
            self.failed = False

        def converse_stream(self, **params: Any) -> Any:
            if not self.failed:
                self.failed = True
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://bedrock-runtime")
            return client.converse_stream(**params)

    stub_stream(stubber, answer("Back again."))
    provider, sleeps = make_provider(FlakyClient())

    assert provider.converse(request()).text == "Back again."
    assert len(sleeps) == 1


def test_a_throttling_event_before_any_text_is_retried(client, stubber):
    first = stub_stream(stubber, [start(), throttling_event()])
    stub_stream(stubber, answer("Second try."))
    provider, sleeps = make_provider(client)
    seen: list[str] = []

    response = provider.converse(request(TOOLS), on_text=seen.append)

    assert seen == ["Second try."]
    assert response.content == [{"text": "Second try."}]
    assert len(sleeps) == 1
    assert first.closed
    stubber.assert_no_pending_responses()


def test_a_throttling_event_after_text_was_streamed_is_raised(client, stubber):
    stub_stream(stubber, [start(), text(0, "Your order "), throttling_event()])
    stub_stream(stubber, answer("Your order has shipped."))
    provider, sleeps = make_provider(client)
    seen: list[str] = []

    with pytest.raises(ModelError) as raised:
        provider.converse(request(TOOLS), on_text=seen.append)

    assert raised.value.code == "ThrottlingException"
    assert seen == ["Your order "]  # never the same words twice
    assert sleeps == []
    with pytest.raises(AssertionError):
        stubber.assert_no_pending_responses()


def test_text_nobody_was_shown_does_not_prevent_a_retry(client, stubber):
    stub_stream(stubber, [start(), text(0, "Your order "), throttling_event()])
    stub_stream(stubber, answer("Your order has shipped."))
    provider, sleeps = make_provider(client)

    assert provider.converse(request(TOOLS)).text == "Your order has shipped."
    assert len(sleeps) == 1


def test_a_read_timeout_inside_the_stream_is_retried(client, stubber):
    timeout = urllib3.exceptions.ReadTimeoutError(None, "", "Read timed out.")
    stub_stream(stubber, [start()], fail=timeout)
    stub_stream(stubber, answer("Here it is."))
    provider, sleeps = make_provider(client)

    assert provider.converse(request()).text == "Here it is."
    assert len(sleeps) == 1


def test_a_stream_that_ends_without_a_stop_is_retried(client, stubber):
    stub_stream(stubber, [start()])
    stub_stream(stubber, answer("Complete."))
    provider, sleeps = make_provider(client)

    response = provider.converse(request())
    assert (response.text, response.stop_reason) == ("Complete.", "end_turn")
    assert len(sleeps) == 1


def test_an_error_from_on_text_is_the_callers_and_is_not_retried(client, stubber):
    stream = stub_stream(stubber, answer("Hello", " again."))
    stub_stream(stubber, answer("Should not be reached."))
    provider, sleeps = make_provider(client)
    gone = botocore.exceptions.ClientError(
        {"Error": {"Code": "GoneException", "Message": "closed"}}, "PostToConnection"
    )

    def on_text(_: str) -> None:
        raise gone

    with pytest.raises(botocore.exceptions.ClientError) as raised:
        provider.converse(request(), on_text=on_text)

    assert raised.value is gone
    assert sleeps == []
    assert stream.closed


def test_an_error_handed_over_as_an_event_is_read_like_one_raised():
    """botocore raises error events; a stream that yields them as dicts must not be taken for content."""

    class DictStreamClient:
        def converse_stream(self, **params: Any) -> Any:
            return {"stream": [start(), {"serviceUnavailableException": {"message": "Try later"}}, *stop()]}

    provider, sleeps = make_provider(DictStreamClient(), max_attempts=2)

    with pytest.raises(ModelError) as raised:
        provider.converse(request())
    assert (raised.value.code, raised.value.retryable) == ("ServiceUnavailableException", True)
    assert len(sleeps) == 1
