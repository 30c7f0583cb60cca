"""Abuse and cost limits, and anonymous sessions bound to a server-issued token, end to end: real
WebSocket clients, the local gateway running the handler files in lambdas/, the agent with a
scripted model, the counters in the emulator's DynamoDB (the shared test table)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from types import SimpleNamespace

import boto3
import pytest
from websockets.sync.client import connect

from order_agent.agent.service import Agent
from order_agent.conversations import sessions
from order_agent.edge import handlers
from order_agent.edge.protocol import LIMIT_ERRORS, SERVER_FRAME
from order_agent.tools import ToolRunner
from order_agent_dev.local.stack import start_gateway
from order_agent_dev.providers.scripted import ScriptedProvider

from .support.edge import LAMBDAS, send, until

NO_LIMITS = {"max_messages_per_connection": 0, "max_messages_per_principal": 0,
             "max_turns_per_conversation": 0, "max_tokens_per_conversation": 0}  # fmt: skip


def _signed_in_as(principal):
    """A stand-in REQUEST authorizer: every connection is `principal` (as after a verified JWT)."""

    def authorize(event, context):
        allow = {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
                                                        "Resource": event["methodArn"]}]}  # fmt: skip
        return {"principalId": principal, "policyDocument": allow, "context": {"sub": principal}}

    return authorize


@pytest.fixture
def chat(agent_settings, tau_db):
    """`chat(steps, principal=None, **limits)` → (gateway, model, settings): a gateway whose edge runs
    with these limits (the rest off); `principal` signs every connection in, None = anonymous."""
    started = []

    def start(steps, principal=None, **limits):
        settings = agent_settings.model_copy(update={**NO_LIMITS, **limits})
        model = ScriptedProvider(steps)
        agent = Agent(settings, model=model, runner=ToolRunner(tau_db, settings))
        authorizer = _signed_in_as(principal) if principal else None
        gateway, edge_settings = start_gateway(settings, LAMBDAS, agent=agent, authorizer=authorizer)
        started.append(gateway)
        return gateway, model, edge_settings

    yield start
    for gateway in started:
        gateway.stop()


def _until(ws, kinds=("done", "error"), timeout=30):
    return until(ws, kinds, timeout, check=SERVER_FRAME.validate_python)  # every answer is a protocol frame


def _resume(ws, session, token=None, last_seq=0):
    ws.send(json.dumps({"action": "resume", "sessionId": session, "lastSeq": last_seq,
                        **({"sessionToken": token} if token else {})}))  # fmt: skip
    return _until(ws, kinds=("session", "error"))


def _item(settings, pk, sk):
    client = boto3.client("dynamodb", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region,
                          aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    return client.get_item(TableName=settings.checkpoint_table, Key={"PK": {"S": pk}, "SK": {"S": sk}},
                           ConsistentRead=True).get("Item", {})  # fmt: skip


# -- anonymous chat: a session id alone does not open a conversation ---------------------------------


def test_an_anonymous_session_continues_only_with_the_token_it_was_given(chat):
    gateway, model, settings = chat([{"text": "Hello! How can I help?"}, {"text": "Noted."}])
    session = f"anon-{uuid.uuid4()}"
    with connect(gateway.url) as owner:
        send(owner, session, "hi")
        first = _until(owner)
        token = first[0]["sessionToken"]
        assert first[0]["type"] == "ack" and isinstance(token, str) and len(token) == 43
        # The same connection goes on without it: it proved nothing new is needed.
        send(owner, session, "and another thing")
        second = _until(owner)
        assert second[0]["type"] == "ack" and second[0]["sessionToken"] is None and second[-1]["type"] == "done"

    # The server keeps only a hash of the token, with the session.
    stored = _item(settings, f"SESSION_{session}", "META")
    assert stored["token_hash"]["S"] == hashlib.sha256(token.encode()).hexdigest() and token not in json.dumps(stored)

    with connect(gateway.url) as stranger:  # knows the session id, not the token
        for attempt in (None, "x" * 43):
            refused = _resume(stranger, session, attempt)
            assert [f["type"] for f in refused] == ["error"] and refused[0]["code"] == "forbidden"
        send(stranger, session, "show me everything", sessionToken="y" * 43)
        refused = _until(stranger)
        assert [f["type"] for f in refused] == ["error"] and refused[0]["code"] == "forbidden"
    assert model.remaining == 0  # nothing ran for the stranger

    with connect(gateway.url) as owner_again:  # a reload: the same tab, with its token
        frames = _resume(owner_again, session, token)
        assert [f["text"] for f in frames if f["type"] == "message"] == ["Hello! How can I help?", "Noted."]
        assert frames[-1]["type"] == "session" and frames[-1]["sessionToken"] is None


def test_a_resume_that_starts_a_session_issues_its_token(chat):
    gateway, _, _ = chat([{"text": "Hello!"}])
    session = f"anon-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        frames = _resume(ws, session)
        assert frames[-1]["type"] == "session" and frames[-1]["status"] == "new"
        token = frames[-1]["sessionToken"]
        assert isinstance(token, str) and len(token) == 43
    with connect(gateway.url) as ws:
        assert _resume(ws, session)[-1]["code"] == "forbidden"
        send(ws, session, "hi", sessionToken=token)
        assert _until(ws)[-1]["type"] == "done"


def test_a_signed_in_user_needs_no_session_token(chat):
    gateway, _, _ = chat([{"text": "Hello!"}], principal=f"user-{uuid.uuid4()}")
    session = f"jwt-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        send(ws, session, "hi")
        frames = _until(ws)
        assert frames[0]["sessionToken"] is None  # the session belongs to the token's subject instead
    with connect(gateway.url) as ws:
        assert _resume(ws, session)[-1]["type"] == "session"


# -- message rate -----------------------------------------------------------------------------------


@pytest.fixture
def one_rate_window(monkeypatch):
    """The store's clock stands still, so every message of the test falls in one fixed rate window: a
    window boundary mid-test would start a fresh count and let a message through (seen in CI)."""
    frozen = time.time()
    monkeypatch.setattr(sessions, "time", SimpleNamespace(time=lambda: frozen))


def test_a_connection_over_its_message_rate_is_told_to_wait(chat, one_rate_window):
    gateway, model, _ = chat([{"text": "one"}, {"text": "two"}, {"text": "three"}],
                             principal=f"user-{uuid.uuid4()}", max_messages_per_connection=2)  # fmt: skip
    session = f"rate-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        for _ in range(2):
            send(ws, session, "hello")
            assert _until(ws)[-1]["type"] == "done"
        third = send(ws, session, "hello again")
        refused = _until(ws)
        assert [f["type"] for f in refused] == ["error"]
        assert refused[0]["code"] == "rate_limited" and refused[0]["retryable"] is True
        assert refused[0]["turnId"] == third and "wait up to 60 seconds" in refused[0]["message"]
        # pings and resumes are not customer messages
        ws.send(json.dumps({"action": "ping"}))
        assert _until(ws, kinds=("pong",))[-1] == {"type": "pong"}
        assert _resume(ws, session)[-1]["type"] == "session"
    assert model.remaining == 1  # the third message never reached the model
    with connect(gateway.url) as fresh:  # another connection of the same user has its own count
        send(fresh, session, "hello again", message_id=third)
        assert _until(fresh)[-1]["type"] == "done"


def test_a_principal_over_its_message_rate_is_limited_on_every_connection(chat, one_rate_window):
    gateway, model, settings = chat([{"text": "one"}, {"text": "two"}, {"text": "three"}],
                                    principal=(user := f"user-{uuid.uuid4()}"), max_messages_per_principal=2)  # fmt: skip
    with connect(gateway.url) as a, connect(gateway.url) as b:
        send(a, f"rate-{uuid.uuid4()}", "hello")
        assert _until(a)[-1]["type"] == "done"
        send(b, f"rate-{uuid.uuid4()}", "hello")
        assert _until(b)[-1]["type"] == "done"
        send(a, f"rate-{uuid.uuid4()}", "hello")
        assert _until(a)[-1]["code"] == "rate_limited"
    assert model.remaining == 1
    # One item per principal and window, gone with the table's TTL after the next window.
    now = int(time.time())
    window = _item(settings, f"RATE_sub:{user}", f"{now - now % 60:012d}") or _item(
        settings, f"RATE_sub:{user}", f"{now - now % 60 - 60:012d}"
    )
    assert window["total"]["N"] == "2" and int(window["ttl"]["N"]) <= now + 120


def test_anonymous_visitors_are_counted_by_source_address(chat):
    gateway, _, settings = chat([{"text": "one"}], max_messages_per_principal=1000)
    with connect(gateway.url) as ws:
        send(ws, f"anon-{uuid.uuid4()}", "hello")
        assert _until(ws)[-1]["type"] == "done"
    now = int(time.time())
    window = _item(settings, "RATE_ip:127.0.0.1", f"{now - now % 60:012d}") or _item(
        settings, "RATE_ip:127.0.0.1", f"{now - now % 60 - 60:012d}"
    )
    assert int(window["total"]["N"]) >= 1


# -- per conversation: turns and model tokens ---------------------------------------------------------


def test_a_conversation_stops_at_its_turn_limit_and_keeps_everything(chat):
    gateway, model, _ = chat([{"text": "one"}, {"text": "two"}, {"text": "three"}],
                             principal=f"user-{uuid.uuid4()}", max_turns_per_conversation=2)  # fmt: skip
    session = f"turns-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        send(ws, session, "first")
        _until(ws)
        second = send(ws, session, "second")
        answered = _until(ws)
        third = send(ws, session, "third")
        refused = _until(ws)
        assert [f["type"] for f in refused] == ["error"] and refused[0]["turnId"] == third
        assert refused[0]["code"] == "turn_limit_reached" and refused[0]["retryable"] is False
        assert "start a new conversation" in refused[0]["message"]
        # A retry of an answered message still gets its answer; the refused one stays refused.
        send(ws, session, "second", message_id=second)
        repeat = _until(ws)
        assert repeat[0]["duplicate"] is True
        assert [f for f in repeat if f["type"] == "message"] == [f for f in answered if f["type"] == "message"]
        send(ws, session, "third", message_id=third)
        assert _until(ws)[-1]["code"] == "turn_limit_reached"
        resumed = _resume(ws, session)
    assert [f["text"] for f in resumed if f["type"] == "message"] == ["one", "two"]
    assert model.remaining == 1


def test_a_conversation_over_its_token_budget_gets_a_clear_error_and_loses_nothing(chat):
    usage = {"inputTokens": 700, "outputTokens": 200, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 50}
    steps = [{"text": "A long answer.", "usage": usage}, {"text": "Another one.", "usage": usage}, {"text": "never"}]
    gateway, model, settings = chat(steps, principal=f"user-{uuid.uuid4()}", max_tokens_per_conversation=2000)
    session = f"tokens-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        for _ in range(2):  # 1,050 tokens, then 2,100: the turn that crosses the budget completes
            send(ws, session, "tell me more")
            frames = _until(ws)
            assert frames[-1]["type"] == "done" and sum(frames[-1]["usage"].values()) == 1050
        over = send(ws, session, "and more")
        refused = _until(ws)
        assert [f["type"] for f in refused] == ["error"] and refused[0]["turnId"] == over
        assert refused[0]["code"] == "token_budget_exceeded" and refused[0]["retryable"] is False
        resumed = _resume(ws, session)
    assert [f["text"] for f in resumed if f["type"] == "message"] == ["A long answer.", "Another one."]
    meta = _item(settings, f"SESSION_{session}", "META")
    assert (meta["turns"]["N"], meta["tokens"]["N"]) == ("2", "2100")
    assert model.remaining == 1


def test_the_limit_codes_are_the_documented_ones():
    assert LIMIT_ERRORS == {"rate_limited": True, "turn_limit_reached": False, "token_budget_exceeded": False}


# -- what the limits cost: one DynamoDB request per customer message ----------------------------------


def _requests_of_one_turn(gateway, session, ws):
    store = handlers._shared_edge.store
    calls = []

    def count(model, params, **kwargs):
        calls.append(model.name)

    store.client.meta.events.register("before-call.dynamodb", count)
    try:
        send(ws, session, "hello")
        assert _until(ws)[-1]["type"] == "done"
    finally:
        store.client.meta.events.unregister("before-call.dynamodb", count)
    return calls


def test_the_limits_add_one_dynamodb_request_per_message(chat):
    per_turn = {}
    for name, limits in (("off", {}), ("on", {"max_messages_per_connection": 20, "max_messages_per_principal": 60,
                                              "max_turns_per_conversation": 50,
                                              "max_tokens_per_conversation": 500_000})):  # fmt: skip
        gateway, _, _ = chat([{"text": "one"}, {"text": "two"}], principal=f"user-{uuid.uuid4()}", **limits)
        session = f"count-{uuid.uuid4()}"
        with connect(gateway.url) as ws:
            _requests_of_one_turn(gateway, session, ws)  # the session's first turn creates it
            per_turn[name] = _requests_of_one_turn(gateway, session, ws)
    assert len(per_turn["on"]) == len(per_turn["off"]) + 1, per_turn
    assert sorted(per_turn["on"]) == sorted([*per_turn["off"], "UpdateItem"])
