"""Fuzzing the WebSocket protocol: any frame body gets a valid answer, never an unhandled exception.

The parser (`Edge._read`) on its own, with bodies a WebSocket client cannot even send (lone
surrogates); then the whole path — a real WebSocket client, the local gateway, the message
Lambda handler, the agent with a scripted model, DynamoDB in the emulator — with every body a
client can send. Each answer is either exactly one error frame, or a valid turn / pong / resume.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from websockets.sync.client import connect

from order_agent.agent.service import Agent
from order_agent.edge.handlers import Edge
from order_agent.edge.protocol import SERVER_FRAME, ErrorFrame, Ping, Resume, SendMessage
from order_agent.settings import Settings
from order_agent.tools import ToolRunner
from order_agent_dev.local.stack import start_gateway
from order_agent_dev.providers.scripted import ScriptedProvider

from .strategies import bodies

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
PARSER_ERRORS = {"frame_too_large", "invalid_json", "unknown_action", "invalid_message", "text_too_long"}


@given(body=bodies())
def test_the_parser_turns_any_body_into_a_message_or_one_error_frame(body):
    parsed = Edge(Settings())._read(body)
    if isinstance(parsed, ErrorFrame):
        frame = parsed.model_dump()
        assert SERVER_FRAME.validate_python(frame) == parsed
        assert parsed.code in PARSER_ERRORS and parsed.message and parsed.retryable is False
        json.dumps(frame).encode()  # postable as it is
    else:
        assert isinstance(parsed, SendMessage | Ping | Resume)
        if isinstance(parsed, SendMessage):  # what reaches the agent is text it can store
            parsed.text.encode()


@pytest.fixture(scope="module")
def gateway(agent_settings, tau_db):
    # The model answers whatever it is asked (the fuzz targets the edge, not the conversation).
    model = ScriptedProvider([{"text": "Thanks, noted."}] * 5000)
    agent = Agent(agent_settings, model=model, runner=ToolRunner(tau_db, agent_settings))
    # One signed-in principal: its sessions continue on any of its connections (an anonymous one's
    # would need the session token, which random bodies never carry).
    gateway, _ = start_gateway(agent_settings, LAMBDAS, agent=agent, authorizer=_signed_in)
    yield gateway
    gateway.stop()


def _signed_in(event, context):
    allow = {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
                                                    "Resource": event["methodArn"]}]}  # fmt: skip
    return {"principalId": "fuzzer", "policyDocument": allow, "context": {"sub": "fuzzer"}}


def _answer(ws, timeout=30):
    """The frames answering one body: everything before the pong of the ping sent after it."""
    ws.send(json.dumps({"action": "ping"}))
    frames, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if frame == {"type": "pong"}:
            return frames
        frames.append(frame)
    raise AssertionError(f"no pong within {timeout}s after {frames}")


def _check_answer(frames):
    for frame in frames:
        try:
            SERVER_FRAME.validate_python(frame)
        except ValidationError as exc:  # e.g. the gateway's {"message": "Internal server error", ...}
            raise AssertionError(f"not a protocol frame: {frame}") from exc
    kinds = [frame["type"] for frame in frames]
    event(f"answer: {kinds[0] if kinds else 'pong'} {frames[0].get('code', '') if frames else ''}")  # statistics
    if kinds in ([], ["pong"]):
        return  # a ping (its own pong is the sentinel)
    if kinds[0] == "error":
        assert len(frames) == 1 and frames[0]["message"], frames  # a refused body: one clear error
    elif kinds[0] == "ack" and frames[0]["duplicate"]:
        pass  # a repeated messageId: the recorded frames again, nothing runs
    elif kinds[0] == "ack":
        assert kinds[1] == "typing", kinds
        tail = [k for k in kinds[2:] if k != "delta"]
        assert tail in (["message", "done"], ["error"]), kinds
    else:
        assert kinds[-1] == "session" and set(kinds[:-1]) <= {"message", "done", "error"}, kinds  # a resume


@given(body=bodies(valid_unicode=True))
def test_any_frame_through_the_gateway_gets_one_error_or_a_valid_turn(gateway, body):
    with connect(gateway.url, max_size=None) as ws:
        ws.send(body)
        _check_answer(_answer(ws))


@settings(max_examples=max(10, settings().max_examples // 3))  # each example is several turns
@given(bodies=st.lists(bodies(valid_unicode=True), min_size=2, max_size=5))
def test_a_connection_survives_any_sequence_of_frames(gateway, bodies):
    with connect(gateway.url, max_size=None) as ws:
        for body in bodies:
            ws.send(body)
            _check_answer(_answer(ws))
