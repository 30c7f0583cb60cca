"""The WebSocket edge end to end: real WebSocket clients on loopback, the local gateway running the
handler files in lambdas/, the agent, PostgreSQL with the τ data and DynamoDB in the emulator."""

from __future__ import annotations

import contextvars
import json
import threading
import time
import uuid

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from order_agent.agent.service import Agent
from order_agent.conversations import SessionLock
from order_agent.edge import handlers
from order_agent.edge.auth import authorize
from order_agent.tools import ToolRunner
from order_agent_dev.local.stack import start_gateway
from order_agent_dev.providers.scripted import ScriptedProvider

from .support.conversations import CANCEL_PROPOSAL, EMAIL, IDENTIFY, PENDING, REPORT, order_status
from .support.edge import LAMBDAS, reach_the_cancellation_proposal, resume, send, until, wait_idle


def test_a_full_cancellation_streams_frames_in_order(edge, tau_fresh):
    long_text = CANCEL_PROPOSAL[1]["text"]
    gateway, model = edge([*IDENTIFY, *CANCEL_PROPOSAL, REPORT], chunk_delay_s=0.02)
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        send(ws, session, "I want to cancel an order")
        until(ws)
        turn = send(ws, session, f"{EMAIL} {PENDING}")
        frames = until(ws)
        kinds = [f["type"] for f in frames]
        assert kinds[:2] == ["ack", "typing"] and kinds[-2:] == ["message", "done"]
        deltas = [f for f in frames if f["type"] == "delta"]
        assert 1 < len(deltas) < len(long_text) / 16  # streamed, and coalesced
        assert "".join(d["text"] for d in deltas) == long_text == frames[-2]["text"]
        seqs = [f["seq"] for f in frames if "seq" in f]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert all(f.get("turnId") == turn for f in frames if f["type"] != "ack")
        proposal = frames[-2]
        assert proposal["stage"] == "order_confirmation" and proposal["order"]["order_id"] == PENDING
        send(ws, session, "Yes", confirmHash=proposal["quickReplies"][0]["confirmHash"])
        report = until(ws)
    assert report[-2]["text"] == REPORT["text"]
    assert order_status(tau_fresh, PENDING) == "cancelled"
    assert model.remaining == 0


def test_resume_after_the_connection_drops_mid_stream(edge, tau_fresh):
    gateway, _ = edge([*IDENTIFY, *CANCEL_PROPOSAL, REPORT], chunk_delay_s=0.05)
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        reach_the_cancellation_proposal(ws, session)
        send(ws, session, "yes")
        seen = []
        while not any(f["type"] == "delta" for f in seen):
            seen.append(json.loads(ws.recv(timeout=10)))
    last_seq = max(f["seq"] for f in seen if "seq" in f)  # the client dropped here, mid-stream
    with connect(gateway.url) as ws:
        resume(ws, session, last_seq)
        frames = []  # the turn may still be running: its rest comes here, before or after the session frame
        while not {"done", "session"} <= {f["type"] for f in frames}:
            frames.append(json.loads(ws.recv(timeout=10)))
    message = next(f for f in frames if f["type"] == "message")
    assert message["text"] == REPORT["text"] and message["seq"] > last_seq
    session_frame = next(f for f in frames if f["type"] == "session")
    assert session_frame["pending"] is None and session_frame["status"] == "open"  # answered, or being answered
    assert order_status(tau_fresh, PENDING) == "cancelled"  # the turn completed without its client


class _PausingModel:
    """The last scripted answer streams its first piece, waits until the client has dropped, streams
    the rest (to a closed connection: the poster stops), then waits until the client has resumed."""

    def __init__(self, inner, pause_call):
        self.inner, self.pause_call, self.name = inner, pause_call, inner.name
        self.dropped, self.posted, self.resumed = threading.Event(), threading.Event(), threading.Event()

    def converse(self, request, on_text=None):
        if len(self.inner.calls) != self.pause_call:
            return self.inner.converse(request, on_text)
        pieces = []

        def text(piece):
            pieces.append(piece)
            if len(pieces) == 2:
                assert self.dropped.wait(10)
                time.sleep(0.2)  # past the delta coalescing window: this piece is posted, and fails
            on_text(piece)
            if len(pieces) == 2:
                self.posted.set()

        response = self.inner.converse(request, text)
        assert self.resumed.wait(10)
        return response


def test_a_resume_before_the_turn_ends_still_gets_its_answer(edge, agent_settings, tau_fresh):
    # The client drops mid-stream; the next post fails before it reconnects, so the poster stops.
    # Its `resume` reads the outbox while the turn still runs (nothing of it kept yet). The turn's
    # message and done must still reach the new connection.
    steps = [*IDENTIFY, *CANCEL_PROPOSAL, REPORT]
    model = _PausingModel(ScriptedProvider(steps), pause_call=len(steps) - 1)
    agent = Agent(agent_settings, model=model, runner=ToolRunner(tau_fresh, agent_settings))
    gateway, _ = start_gateway(agent_settings, LAMBDAS, agent=agent)
    try:
        session = f"ws-{uuid.uuid4()}"
        with connect(gateway.url) as ws:
            reach_the_cancellation_proposal(ws, session)
            yes = send(ws, session, "yes")
            seen = []
            while not any(f["type"] == "delta" for f in seen):
                seen.append(json.loads(ws.recv(timeout=10)))
        model.dropped.set()
        assert model.posted.wait(10)  # the poster has stopped: no connection of the session left
        last_seq = max(f["seq"] for f in seen if "seq" in f)
        with connect(gateway.url) as ws:
            resume(ws, session, last_seq)
            frames = [json.loads(ws.recv(timeout=10))]
            while frames[-1]["type"] != "session":
                frames.append(json.loads(ws.recv(timeout=10)))
            assert frames[-1]["turnInProgress"] and not any(f.get("turnId") == yes for f in frames)
            model.resumed.set()
            frames += until(ws)
        mine = [f["type"] for f in frames if f.get("turnId") == yes and f["type"] != "delta"]
        assert mine == ["message", "done"]
        assert next(f for f in frames if f["type"] == "message")["text"] == REPORT["text"]
        assert order_status(tau_fresh, PENDING) == "cancelled"
    finally:
        gateway.stop()


def test_resume_shows_a_pending_confirmation(edge):
    gateway, _ = edge([*IDENTIFY, *CANCEL_PROPOSAL])
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        send(ws, session, "cancel")
        until(ws)
        send(ws, session, f"{EMAIL} {PENDING}")
        proposal = until(ws)[-2]
    with connect(gateway.url) as ws:
        resume(ws, session, 0)
        frames = []
        while not frames or frames[-1]["type"] != "session":
            frames.append(json.loads(ws.recv(timeout=10)))
    assert [f["text"] for f in frames if f["type"] == "message"][-1] == proposal["text"]
    pending = frames[-1]["pending"]
    assert pending["hash"] == proposal["quickReplies"][0]["confirmHash"] and pending["order"]["order_id"] == PENDING
    # The agent offers it again as the graph first put it: the same text, card and quick replies.
    assert (pending["text"], pending["order"], pending["quickReplies"]) == (
        proposal["text"],
        proposal["order"],
        proposal["quickReplies"],
    )


def test_a_retried_message_id_runs_once(edge, tau_fresh):
    gateway, model = edge([*IDENTIFY, *CANCEL_PROPOSAL, REPORT])
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        send(ws, session, "cancel")
        until(ws)
        send(ws, session, f"{EMAIL} {PENDING}")
        until(ws)
        yes = send(ws, session, "yes")
        first = until(ws)
        again = send(ws, session, "yes", message_id=yes)
        repeat = until(ws)
    assert again == yes
    assert repeat[0] == {"type": "ack", "sessionId": session, "messageId": yes, "duplicate": True, "sessionToken": None}
    assert [f for f in repeat if f["type"] == "message"] == [f for f in first if f["type"] == "message"]
    assert model.remaining == 0  # the model answered once
    assert order_status(tau_fresh, PENDING) == "cancelled"


def test_two_messages_at_once_on_one_session(edge, agent_settings):
    gateway, model = edge([{"text": "The first answer, slowly written out for the test."}], first_token_delay_s=0.5)
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as first, connect(gateway.url) as second:
        send(first, session, "first")
        ack = json.loads(first.recv(timeout=10))
        assert ack["type"] == "ack" and ack["sessionToken"]  # this connection started the session
        lock, deadline = SessionLock(agent_settings), time.monotonic() + 10
        while not lock.held(session) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock.held(session)  # the first turn holds the session now
        send(second, session, "second", sessionToken=ack["sessionToken"])
        busy = until(second)
        done = until(first)
    assert busy[-1]["type"] == "error" and busy[-1]["code"] == "busy" and busy[-1]["retryable"] is True
    assert busy[-1]["seq"] is None  # not part of the session's numbered history
    assert [f["seq"] for f in done if f["type"] == "message"] == [
        1 + max(f["seq"] for f in done if f["type"] == "delta")
    ]
    assert done[-1]["type"] == "done" and model.remaining == 0


def _wait_until_held(settings, session):
    lock, deadline = SessionLock(settings), time.monotonic() + 10
    while not lock.held(session) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lock.held(session)


def test_a_retry_while_its_turn_runs_is_acknowledged_and_runs_nothing(edge, agent_settings):
    # The lock of a message's turn names the message: its retry is known without a record of its own.
    gateway, model = edge([{"text": "One answer, slowly."}], first_token_delay_s=0.5)
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as first, connect(gateway.url) as again:
        message_id = send(first, session, "hello")
        ack = json.loads(first.recv(timeout=10))
        assert ack["duplicate"] is False
        _wait_until_held(agent_settings, session)
        # the client reconnected and sends the unanswered message again
        send(again, session, "hello", message_id=message_id, sessionToken=ack["sessionToken"])
        retried = json.loads(again.recv(timeout=10))
        answered = until(first)
    assert retried == {"type": "ack", "sessionId": session, "messageId": message_id, "duplicate": True,
                       "sessionToken": None}  # fmt: skip
    assert [f["text"] for f in answered if f["type"] == "message"] == ["One answer, slowly."]
    assert model.remaining == 0


def test_a_retry_of_an_answered_message_while_another_runs_gets_its_answer(edge, agent_settings):
    gateway, model = edge([{"text": "The first answer."}, {"text": "The second answer, slowly."}])
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        first = send(ws, session, "first")
        answered = until(ws)
        model.first_token_delay_s = 0.5
        second = send(ws, session, "second")
        _wait_until_held(agent_settings, session)
        send(ws, session, "first", message_id=first)  # found busy with "second": read from its done mark
        frames = until(ws, kinds=("done",))
        frames += until(ws, kinds=("done",))
    repeat = [f for f in frames if f.get("turnId") == first or f.get("messageId") == first]
    assert repeat[0]["type"] == "ack" and repeat[0]["duplicate"] is True
    assert [f for f in repeat if f["type"] == "message"] == [f for f in answered if f["type"] == "message"]
    assert [f["text"] for f in frames if f["type"] == "message" and f["turnId"] == second] == [
        "The second answer, slowly."
    ]
    assert model.remaining == 0  # each message answered once


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("this is not json", "invalid_json"),
        (json.dumps(["sendMessage"]), "unknown_action"),
        (json.dumps({"action": "deleteEverything"}), "unknown_action"),
        (json.dumps({"text": "no action"}), "unknown_action"),
        (json.dumps({"action": "sendMessage", "sessionId": "s1", "messageId": "m1"}), "invalid_message"),
        (json.dumps({"action": "sendMessage", "sessionId": "s1", "messageId": "m1", "text": 42}), "invalid_message"),
        (json.dumps({"action": "sendMessage", "sessionId": "../x", "messageId": "m1", "text": "hi"}), "invalid_message"),
        (json.dumps({"action": "resume", "sessionId": "s1", "lastSeq": -1}), "invalid_message"),
        (json.dumps({"action": "sendMessage", "sessionId": "s1", "messageId": "m1", "text": "x" * 4001}), "text_too_long"),
        (json.dumps({"action": "sendMessage", "sessionId": "s1", "messageId": "m1", "text": "é" * 20000}), "frame_too_large"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_error_and_changes_nothing(edge, agent_settings, payload, code):
    gateway, model = edge([])
    with connect(gateway.url, max_size=None) as ws:
        ws.send(payload)
        frame = json.loads(ws.recv(timeout=10))
        assert (frame["type"], frame["code"], frame["retryable"]) == ("error", code, False)
        assert frame["message"]
        if code == "text_too_long":  # names the refused message, so a client marks exactly that one
            assert (frame["sessionId"], frame["turnId"], frame["seq"]) == ("s1", "m1", None)
        ws.send(json.dumps({"action": "ping"}))  # and the connection is still usable
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
    assert model.calls == []
    agent = Agent(agent_settings, model=model)
    assert agent.state("s1") == {}


def test_too_large_and_binary_frames_close_the_connection(edge):
    gateway, _ = edge([])
    with connect(gateway.url, max_size=None) as ws:
        ws.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1009
    with connect(gateway.url) as ws:
        ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1003


def test_posting_to_a_closed_connection_raises_gone(edge, agent_settings):
    gateway, _ = edge([])
    dynamodb = boto3.client("dynamodb", endpoint_url=agent_settings.aws_endpoint_url, region_name="us-east-1")
    client = boto3.client("apigatewaymanagementapi", endpoint_url=gateway.management_url, region_name="us-east-1")
    with connect(gateway.url) as ws:
        ws.send(json.dumps({"action": "ping"}))
        ws.recv(timeout=10)
        # the $connect handler recorded the connection: that is where its id comes from
        items = dynamodb.scan(TableName=agent_settings.checkpoint_table, FilterExpression="begins_with(PK, :p)",
                              ExpressionAttributeValues={":p": {"S": "CONN_"}})["Items"]  # fmt: skip
        (connection_id,) = [item["PK"]["S"].removeprefix("CONN_") for item in items]
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "pong"}')
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
    wait_idle(gateway)  # $disconnect runs after the close
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=connection_id, Data=b"{}")


# -- the authorizer on $connect -----------------------------------------------------------------------------


def test_connect_is_rejected_without_a_valid_token(edge, agent_settings, jwt_issuer):
    settings = agent_settings.model_copy(update={"auth_mode": "jwt", "jwt_jwks_url": jwt_issuer["url"],
                                                 "jwt_issuer": jwt_issuer["issuer"], "jwt_audience": "chat-client"})  # fmt: skip
    gateway, _ = edge([{"text": "hello"}], authorizer=lambda event, context: authorize(event, settings))
    for query in ("", "?token=garbage", "?token=" + jwt_issuer["token"](exp=int(time.time()) - 60),
                  "?token=" + jwt_issuer["token"](aud="someone-else")):  # fmt: skip
        with pytest.raises(InvalidStatus) as rejected:
            connect(gateway.url + query).close()
        assert rejected.value.response.status_code == 401
    with connect(gateway.url + "?token=" + jwt_issuer["token"]()) as ws:
        send(ws, f"ws-{uuid.uuid4()}", "hi")
        assert until(ws)[-1]["type"] == "done"


def test_the_terminal_chat_streams_and_resumes_after_a_drop(edge, tau_fresh):
    import io

    from order_agent_dev.local.ws_chat import WebSocketChat

    gateway, _ = edge([*IDENTIFY, *CANCEL_PROPOSAL, REPORT], chunk_delay_s=0.05)
    out = io.StringIO()
    chat = WebSocketChat(gateway.url, out=out)
    chat.open()
    try:
        chat.send("cancel an order")
        chat.send(f"{EMAIL} {PENDING}")
        dropped = []

        def drop_once(frame):
            if frame["type"] == "delta" and not dropped:
                dropped.append(frame["seq"])
                chat.ws.close()  # the network goes away mid-stream

        frames = chat.send("yes", on_frame=drop_once)
    finally:
        chat.close()
    assert dropped and "[connection lost - reconnecting]" in out.getvalue()
    assert frames[-1]["type"] == "done"
    assert REPORT["text"] in out.getvalue()
    assert order_status(tau_fresh, PENDING) == "cancelled"


def test_a_turn_that_crashes_can_be_retried_with_the_same_message_id(edge):
    gateway, model = edge([{"text": "The answer after the crash."}])
    real = model.converse
    crashes = []

    def crash_once(request, on_text=None):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("a bug")
        return real(request, on_text)

    model.converse = crash_once
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        message_id = send(ws, session, "hello")
        frames = [json.loads(ws.recv(timeout=10))]
        while "type" in frames[-1]:  # until the gateway's own frame for a handler that raised
            frames.append(json.loads(ws.recv(timeout=10)))
        assert frames[-1]["message"] == "Internal server error" and frames[-1]["connectionId"]
        send(ws, session, "hello", message_id=message_id)
        retry = [json.loads(ws.recv(timeout=10))]
        while retry[-1].get("type") not in {"done", "error"}:
            assert "type" in retry[-1], retry
            retry.append(json.loads(ws.recv(timeout=10)))
    assert retry[0]["duplicate"] is False  # the crashed attempt did not count as processed
    assert [f["text"] for f in retry if f["type"] == "message"] == ["The answer after the crash."]


_TURN: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("counted_turn", default=None)


def _count(client):
    """Each request of this client, in the list of the invocation that made it."""

    def record(model, **_):  # returns None: anything else would stand in for the response
        calls = _TURN.get()
        if calls is not None:
            calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", record)


def test_a_turn_makes_at_most_four_dynamodb_requests(edge, tau_fresh):
    # A cancellation through the edge: the first turn (no checkpoint yet), the proposal (an
    # interrupt: the checkpoint has pending writes) and the confirmed write resumed from it.
    gateway, _ = edge([*IDENTIFY, *CANCEL_PROPOSAL, REPORT])
    shared = handlers._edge()
    # as deployed: each message counted against the rate limits (the tests' settings turn them off)
    shared.settings = shared.settings.model_copy(update={"max_messages_per_connection": 1000})
    turns: list[list[str]] = []
    for client in {id(c): c for c in (shared.store.client, shared.agent.lock.client,
                                      shared.agent.graph.checkpointer.client.real)}.values():  # fmt: skip
        _count(client)
    original = shared.message

    def counted(event):
        calls: list[str] = []
        turns.append(calls)
        _TURN.set(calls)  # the invocation's context; LangGraph's workers run in copies of it
        return original(event)

    shared.message = counted
    session = f"requests-{uuid.uuid4()}"
    try:
        with connect(gateway.url) as ws:
            send(ws, session, "I want to cancel an order")
            until(ws)
            send(ws, session, f"{EMAIL} {PENDING}")
            proposal = until(ws)[-2]
            send(ws, session, "Yes", confirmHash=proposal["quickReplies"][0]["confirmHash"])
            assert until(ws)[-2]["text"] == REPORT["text"]
        wait_idle(gateway)
    finally:
        shared.message = original
    assert order_status(tau_fresh, PENDING) == "cancelled"
    assert len(turns) == 3
    # the rate count, the claim with the lock (and the seq and checkpoint pointer), the checkpoint's
    # items with the message's done mark if it has one, and one write of everything the turn leaves;
    # a new session has neither a checkpoint nor earlier messages to read
    assert turns[0] == ["UpdateItem", "UpdateItem", "TransactWriteItems"], turns
    assert turns[1] == turns[2] == ["UpdateItem", "UpdateItem", "BatchGetItem", "TransactWriteItems"], turns
