"""The bedrock provider against the emulator's bedrock-runtime: a real ConverseStream over HTTP, its
answer framed as Bedrock frames it (binary event stream), decoded by botocore as in Lambda. ministack
answers every call with a fixed text and no tool use, so this checks the wire, not a model."""

from __future__ import annotations

from order_agent.model.base import ModelRequest
from order_agent.model.bedrock import BedrockProvider
from order_agent.settings import Settings


def test_converse_stream_over_the_real_wire_format(emulator, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    settings = Settings(bedrock_endpoint_url=emulator.url, bedrock_region="us-east-1", model_max_attempts=1)
    provider = BedrockProvider(settings)
    request = ModelRequest(
        system="You help customers with their orders.",
        messages=[{"role": "user", "content": [{"text": "Where is my order #W3220203?"}]}],
        tools=[],
        stage="entry_intent",
    )
    pieces: list[str] = []
    response = provider.converse(request, on_text=pieces.append)
    assert response.stop_reason == "end_turn"
    assert response.text and "".join(pieces) == response.text  # streamed, then assembled, the same text
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0  # from the metadata event
    assert response.first_token_ms is not None
