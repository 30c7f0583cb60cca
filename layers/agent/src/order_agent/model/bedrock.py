"""The `bedrock` provider: Claude on Amazon Bedrock through ConverseStream.

Text goes to `on_text` the moment it arrives, so the customer watches the answer being written.

Prompt caching: a `cachePoint` follows the system prompt and another the tool specs, the parts
that repeat on every call of a stage, so later calls read them from the cache instead of paying
for them again (Bedrock ignores a cache point below the model's minimum prompt length).

Retries: throttling and transient failures (as errors of the call, as error events inside the
stream, or as connection and read timeouts) are retried by `converse_with_retries`
(order_agent/model/streaming.py), up to `model_max_attempts` attempts in all. botocore's own
retries are off; its `retries={"max_attempts": n}` counts *retries*, not attempts (botocore adds
one), so `total_max_attempts=1` is what stops it multiplying with ours.

Every failure comes out as `ModelError`; no botocore exception escapes. Exceptions raised by
`on_text` itself are the caller's and pass through untouched (a `GoneException` from posting to
a closed WebSocket is not a model error, and must not be retried).

botocore raises an error event inside the stream as `EventStreamError` while iterating, with the
event's member name as the code (`throttlingException`); codes are normalised to the exception
names (`ThrottlingException`) so both kinds of failure read the same.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import urllib3.exceptions

from order_agent.model.base import ModelError, ModelRequest, ModelResponse, TextCallback, Usage
from order_agent.model.streaming import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    StreamedBlock,
    StreamingProvider,
    TextForwarder,
    assembled_content,
)

CACHE_POINT: dict[str, Any] = {"cachePoint": {"type": "default"}}

# Worth another attempt: the same request can succeed a moment later. ModelStreamErrorException
# is one too: the Bedrock API reference says "retry your request".
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "ModelStreamErrorException",
    }
)
# Connection failures and read timeouts, before the response (botocore) or while the stream is
# read (urllib3: botocore's EventStream reads the raw connection and does not wrap its errors).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    botocore.exceptions.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ...
    botocore.exceptions.HTTPClientError,  # ReadTimeoutError, ConnectionClosedError, ...
    urllib3.exceptions.ReadTimeoutError,
    urllib3.exceptions.ProtocolError,  # connection reset, incomplete read
)


def _normalise_code(code: str) -> str:
    """`throttlingException` (a stream event's member name) -> `ThrottlingException`."""
    return code[:1].upper() + code[1:]


def _model_error(exc: Exception) -> ModelError:
    if isinstance(exc, botocore.exceptions.ClientError):  # includes EventStreamError
        error = exc.response.get("Error", {})
        code = _normalise_code(error.get("Code") or "ClientError")
        return ModelError(code, error.get("Message") or str(exc), retryable=code in RETRYABLE_CODES)
    # No credentials, invalid parameters and other local failures cannot get better by waiting.
    return ModelError(type(exc).__name__, str(exc), retryable=isinstance(exc, TRANSIENT_ERRORS))


class BedrockProvider(StreamingProvider):
    name = "bedrock"

    @property
    def client(self) -> Any:
        """A `bedrock-runtime` client, created on first use (an import must not cost a client)."""
        if self._client is None:
            self._client = boto3.client(
                "bedrock-runtime",
                region_name=self.settings.bedrock_region,
                endpoint_url=self.settings.bedrock_endpoint_url,
                config=botocore.config.Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},  # the loop in `converse` retries
                    connect_timeout=CONNECT_TIMEOUT_S,
                    read_timeout=READ_TIMEOUT_S,
                ),
            )
        return self._client

    def request_params(self, request: ModelRequest) -> dict[str, Any]:
        """The ConverseStream arguments: cache points after the system prompt and after the tools."""
        params: dict[str, Any] = {
            "modelId": self.settings.bedrock_model_id,
            "system": [{"text": request.system}, CACHE_POINT],
            "messages": request.messages,
            "inferenceConfig": {
                "maxTokens": self.settings.model_max_tokens,
                "temperature": self.settings.model_temperature,
            },
        }
        if request.tools:  # Converse refuses an empty tool list
            params["toolConfig"] = {"tools": [*request.tools, CACHE_POINT]}
        return params

    def _events(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The stream's events; every botocore or connection failure comes out as `ModelError`.

        A generator, so that exceptions raised by the consumer (`on_text`) never pass through
        the `except` clauses here. Closing it closes the stream and frees the connection.
        """
        try:
            stream = self.client.converse_stream(**params)["stream"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, *TRANSIENT_ERRORS) as exc:
            raise _model_error(exc) from exc
        try:
            for event in stream:
                # Error events normally arrive as EventStreamError; a stream that hands them over
                # as events (a test server, a future botocore) is read the same way.
                for key, body in event.items():
                    if key.endswith("Exception"):
                        code = _normalise_code(key)
                        raise ModelError(code, body.get("message", code), retryable=code in RETRYABLE_CODES)
                yield event
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, *TRANSIENT_ERRORS) as exc:
            raise _model_error(exc) from exc
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _attempt(self, params: dict[str, Any], on_text: TextCallback, started: float) -> ModelResponse:
        blocks: dict[int, StreamedBlock] = {}  # by contentBlockIndex, in the order they start
        content: dict[int, dict[str, Any] | None] = {}  # finished blocks
        stop_reason: str | None = None
        usage = Usage()
        forward = TextForwarder(on_text, started)
        with contextlib.closing(self._events(params)) as events:
            for event in events:
                if "contentBlockStart" in event:
                    start = event["contentBlockStart"]
                    tool = start.get("start", {}).get("toolUse")
                    if tool is not None:
                        blocks[start["contentBlockIndex"]] = StreamedBlock(
                            tool_use={"toolUseId": tool["toolUseId"], "name": tool["name"]}
                        )
                elif "contentBlockDelta" in event:
                    index = event["contentBlockDelta"]["contentBlockIndex"]
                    delta = event["contentBlockDelta"]["delta"]
                    if "text" in delta:  # a text block has no start event: its first delta starts it
                        block = blocks.setdefault(index, StreamedBlock(text=[]))
                        if block.text is None:
                            raise ModelError("MalformedStream", f"Text inside tool block {index}.", retryable=True)
                        block.text.append(delta["text"])
                        forward(delta["text"])
                    elif "toolUse" in delta:
                        block = blocks.get(index)
                        if block is None or block.tool_use is None:
                            raise ModelError(
                                "MalformedStream", f"Tool input without a tool start in block {index}.", retryable=True
                            )
                        block.input_parts.append(delta["toolUse"].get("input", ""))
                    # Other deltas (reasoningContent, citations) are not asked for and not kept.
                elif "contentBlockStop" in event:
                    index = event["contentBlockStop"]["contentBlockIndex"]
                    if index in blocks:
                        content[index] = blocks[index].as_content()
                elif "messageStop" in event:
                    stop_reason = event["messageStop"]["stopReason"]
                elif "metadata" in event:
                    tokens = event["metadata"].get("usage", {})
                    usage = Usage(
                        input_tokens=tokens.get("inputTokens", 0),
                        output_tokens=tokens.get("outputTokens", 0),
                        cache_read_tokens=tokens.get("cacheReadInputTokens", 0),
                        cache_write_tokens=tokens.get("cacheWriteInputTokens", 0),
                    )
        return ModelResponse(
            content=assembled_content(blocks, content, stop_reason),
            stop_reason=stop_reason,
            usage=usage,
            model_id=self.settings.bedrock_model_id,
            latency_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=forward.first_token_ms,
        )
