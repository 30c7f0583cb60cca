"""Fault injection: real PostgreSQL, DynamoDB in the emulator, real WebSocket clients, a scripted
model. For each fault the customer gets a clear, honest message, the conversation can continue,
and nothing is written twice or lost.

Faults already covered elsewhere (not repeated here): a model outage after the confirmed write
(test_agent_conversations), a dropped connection resumed mid-stream and a client retrying a
messageId (test_edge), two messages at once (test_edge, test_agent_sessions), killed or
exhausted database connections and lock timeouts at the tool level (test_writes_concurrency).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import botocore.awsrequest
import botocore.config
import pytest
from langgraph_checkpoint_aws import DynamoDBSaver
from websockets.sync.client import connect

from order_agent.agent.service import Agent
from order_agent.db.dataset import load_dataset, read_dataset
from order_agent.db.migrate import apply_role_timeouts, migrate
from order_agent.db.pool import Database
from order_agent.edge import handlers
from order_agent.edge.handlers import _management_client
from order_agent.model import bedrock
from order_agent.model.base import ModelError
from order_agent.tools import ToolRunner
from order_agent_dev.local.postgres import EmbeddedPostgres
from order_agent_dev.providers.scripted import ScriptedProvider

from .support.clock import FakeClock
from .support.conversations import CANCEL_PROPOSAL, EMAIL, IDENTIFY, PENDING, REPORT, Chat, order_status, scalar
from .support.edge import reach_the_cancellation_proposal, resume, send, until, wait_idle

CANCELLED_REPORT = {"expect": {"stage": "resolution", "tool_result": "cancel_pending_order", "tool_status": "success"},
                    "text": "Order #W9300146 is cancelled and the refund is on its way."}  # fmt: skip
PROPOSE_AGAIN = CANCEL_PROPOSAL[1:]  # the model proposes the same cancellation again


def _refunds(db, order_id=PENDING):
    sql = "SELECT count(*) FROM order_payments WHERE order_id = %s AND transaction_type = 'refund'"
    return scalar(db, sql, order_id)


def _writes(db, session):
    return scalar(db, "SELECT count(*) FROM tool_writes WHERE session_id = %s", session)


def _last_tool_result(model):
    """The toolResult the model was last given (what it based its answer on)."""
    blocks = [b["toolResult"] for b in model.calls[-1].messages[-1]["content"] if "toolResult" in b]
    return blocks[-1]["status"], blocks[-1]["content"][0]["json"]


# -- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory, agent_settings):
    """A PostgreSQL server of this module's own, with the τ data: it is stopped mid-conversation,
    which the session's shared server must never be."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("faults-pg") / "data", delete=True)
    settings = agent_settings.model_copy(update={"database_url": server.url})
    db = Database(settings)
    migrate(db)
    load_dataset(db, read_dataset("tau-retail", settings))
    yield server, settings, db
    db.close()
    server.cleanup()


def test_postgres_stopped_mid_conversation(own_postgres):
    server, settings, db = own_postgres
    failed_report = {"expect": {"stage": "resolution", "tool_result": "cancel_pending_order", "tool_status": "error"},
                     "text": "I'm sorry, our order system is not reachable right now, so nothing was changed. "
                             "Please ask me again in a few minutes."}  # fmt: skip
    chat = Chat(settings, db, [*IDENTIFY, *CANCEL_PROPOSAL, failed_report, *PROPOSE_AGAIN, CANCELLED_REPORT])
    chat.say("cancel an order")
    chat.say(f"{EMAIL} {PENDING}")
    server._server.stop()  # between the proposal and the customer's yes
    try:
        failed = chat.say("yes")
    finally:
        server._server.start()
    # honest: the model was told the truth (a retryable outage), and said nothing was changed
    status, body = _last_tool_result(chat.model)
    assert (status, body["error"], body["retryable"]) == ("error", "unavailable", True)
    assert failed.final.text == failed_report["text"] and chat.state()["pending"] is None
    assert order_status(db, PENDING) == "pending" and _writes(db, chat.session) == 0
    # the conversation continues once the server is back, and the change happens once
    chat.say("Please try again now")
    done = chat.say("yes")
    assert done.final.text == CANCELLED_REPORT["text"]
    assert order_status(db, PENDING) == "cancelled" and _refunds(db) == 1 and _writes(db, chat.session) == 1
    chat.script_done()


def test_a_row_lock_held_elsewhere_times_out_the_write(agent_settings, tau_fresh):
    settings = agent_settings.model_copy(update={"db_lock_timeout_ms": 300})
    busy_report = {"expect": {"stage": "resolution", "tool_result": "cancel_pending_order", "tool_status": "error"},
                   "text": "The order system is busy, so the order was not cancelled yet. Shall I try again?"}  # fmt: skip
    database, holder = Database(settings), Database(settings)
    apply_role_timeouts(database)  # the role's lock_timeout, as migrate sets it: 300 ms from now on
    try:
        chat = Chat(settings, database, [*IDENTIFY, *CANCEL_PROPOSAL, busy_report, *PROPOSE_AGAIN, CANCELLED_REPORT])
        chat.say("cancel an order")
        chat.say(f"{EMAIL} {PENDING}")
        with holder.transaction() as cur:  # another transaction (a back-office job) holds the order's row
            cur.execute("SELECT 1 FROM orders WHERE order_id = %s FOR UPDATE", (PENDING,))
            busy = chat.say("yes")
        status, body = _last_tool_result(chat.model)
        assert (status, body["error"], body["retryable"]) == ("error", "busy", True)
        assert busy.final.text == busy_report["text"] and order_status(tau_fresh, PENDING) == "pending"
        chat.say("yes, try again")
        chat.say("yes")
        assert order_status(tau_fresh, PENDING) == "cancelled" and _refunds(tau_fresh) == 1
        assert _writes(tau_fresh, chat.session) == 1
        chat.script_done()
    finally:
        holder.close()
        database.close()
        apply_role_timeouts(tau_fresh)  # back to the session's settings


# -- DynamoDB ---------------------------------------------------------------------------------------


class _Throttle:
    """Answers `operation` with a throttling error (HTTP 400, as DynamoDB does) while `left` > 0,
    before the request leaves: botocore's retry logic sees a real throttling response."""

    def __init__(self, client, operation, *, left, code="ProvisionedThroughputExceededException", when=None):
        self.left, self.code, self.when, self.hits = left, code, when or (lambda body: True), 0
        client.meta.events.register(f"before-send.dynamodb.{operation}", self)

    def __call__(self, request, **kwargs):
        if self.left > 0 and self.when(json.loads(request.body or b"{}")):
            self.left -= 1
            self.hits += 1
            payload = json.dumps(
                {"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}", "message": "Rate exceeded"}
            )
            return botocore.awsrequest.AWSResponse(
                request.url, 400, {"x-amzn-ErrorType": self.code}, _Raw(payload.encode())
            )
        return None


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, *args, **kwargs):
        yield self.data


def _is_checkpoint(body):
    return body.get("Item", {}).get("PK", {}).get("S", "").startswith("CHECKPOINT_")


@pytest.fixture
def few_aws_retries(monkeypatch):
    # botocore's standard retry mode with 3 attempts: its backoff stays within seconds
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")


def test_dynamodb_throttling_is_retried_and_then_reported(agent_settings, tau_fresh, few_aws_retries):
    chat = Chat(agent_settings, tau_fresh, [*IDENTIFY, *CANCEL_PROPOSAL, CANCELLED_REPORT, CANCELLED_REPORT])
    # DynamoDBSaver's own client retries 6 times in adaptive mode (about 15 s of backoff); the
    # same saver with 3 attempts shows the same behaviour sooner.
    few = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 3})
    chat.agent.graph.checkpointer = DynamoDBSaver(
        table_name=agent_settings.checkpoint_table, region_name=agent_settings.aws_region,
        endpoint_url=agent_settings.aws_endpoint_url, boto_config=few,
        s3_offload_config={"bucket_name": agent_settings.checkpoint_bucket, "endpoint_url": agent_settings.aws_endpoint_url},
    )  # fmt: skip
    saver = chat.agent.graph.checkpointer.client
    chat.say("cancel an order")
    # throttled twice: botocore's retries absorb it and the customer notices nothing
    throttle = _Throttle(saver, "PutItem", left=2, when=_is_checkpoint)
    proposal = chat.say(f"{EMAIL} {PENDING}")
    assert throttle.hits == 2 and proposal.final.stage == "order_confirmation"
    # throttled beyond every retry on the checkpoint write, after the confirmed write has run
    throttle.left = 100
    failed = chat.say("yes")
    assert throttle.hits == 2 + 3
    assert (failed.error.code, failed.error.retryable) == ("unavailable", True)
    assert "send your message again" in failed.error.message
    assert order_status(tau_fresh, PENDING) == "cancelled" and _writes(tau_fresh, chat.session) == 1
    throttle.left = 0  # the throttling is over
    # the retry finds the write done (idempotency key) and reports it; nothing runs twice
    retried = chat.say("yes")
    assert retried.final.text == CANCELLED_REPORT["text"]
    assert _last_tool_result(chat.model)[0] == "success"
    assert _refunds(tau_fresh) == 1 and _writes(tau_fresh, chat.session) == 1
    chat.script_done()


def test_a_throttled_session_lock_is_a_clear_retryable_error(agent_settings, tau_fresh, few_aws_retries):
    chat = Chat(agent_settings, tau_fresh, [{"text": "Hello! How can I help?"}])
    throttle = _Throttle(chat.agent.lock.client, "UpdateItem", left=100, code="ThrottlingException")
    failed = chat.say("hi")
    assert (failed.error.code, failed.error.retryable) == ("unavailable", True) and chat.model.calls == []
    throttle.left = 0
    assert chat.say("hi").final.text == "Hello! How can I help?"
    chat.script_done()


def _reads_a_message_mark(body):
    return any(key["PK"]["S"].startswith("MSG_") for table in body["RequestItems"].values() for key in table["Keys"])


def test_a_throttled_edge_store_is_a_clear_retryable_error(few_aws_retries, edge, agent_settings, tau_fresh):
    gateway, model = edge([{"text": "Hello! How can I help?"}, {"text": "Your order is on its way."}])
    store_client = handlers._shared_edge.store.client
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        send(ws, session, "hi")
        until(ws)
        # The next message's claim takes the lock; reading its done mark (with the checkpoint) is throttled.
        throttle = _Throttle(store_client, "BatchGetItem", left=100, code="ThrottlingException",
                             when=_reads_a_message_mark)  # fmt: skip
        message_id = send(ws, session, "where is my order?")
        failed = until(ws)
        unanswered = model.remaining
        throttle.left = 0  # the throttling is over: the client's retry of the same message runs it
        send(ws, session, "where is my order?", message_id=message_id)
        retried = until(ws)
    assert throttle.hits == 3  # every attempt botocore made was throttled
    assert [(f["type"], f["code"], f["retryable"]) for f in failed] == [("error", "unavailable", True)]
    assert "send your message again" in failed[0]["message"] and unanswered == 1
    # the failed attempt's lock was released: the retry is not refused as busy
    assert [f["type"] for f in retried if f["type"] in {"ack", "message", "done"}] == ["ack", "message", "done"]
    assert retried[0]["duplicate"] is False and model.remaining == 0


# -- the model ----------------------------------------------------------------------------------------


class _BlackHole:
    """A loopback 'Bedrock endpoint' that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class _FirstCallTo:
    """The first model call goes to `first` (a failing model), the rest to the script."""

    name = "scripted"

    def __init__(self, first, then):
        self.first, self.then, self.used = first, then, False

    def converse(self, request, on_text=None):
        if not self.used:
            self.used = True
            return self.first(request, on_text)
        return self.then.converse(request, on_text)


@pytest.mark.parametrize("fault", ["timeout", "throttled"])
def test_model_timeout_or_throttling_is_a_retryable_error_and_the_retry_runs_once(
    agent_settings, tau_fresh, monkeypatch, fault
):
    from order_agent_dev.local.stack import start_gateway

    from .support.edge import LAMBDAS

    script = ScriptedProvider([{"text": "Hello again! How can I help?"}])
    hole = _BlackHole()
    if fault == "timeout":  # the real Bedrock client, against an endpoint that never answers
        monkeypatch.setattr(bedrock, "READ_TIMEOUT_S", 0.3)
        settings = agent_settings.model_copy(update={"bedrock_endpoint_url": hole.url, "model_max_attempts": 2})
        provider = bedrock.BedrockProvider(settings, sleep=lambda s: None)
        first = provider.converse
    else:

        def first(request, on_text=None):
            raise ModelError("ThrottlingException", "Too many requests (after 4 attempts)", retryable=True)

    agent = Agent(agent_settings, model=_FirstCallTo(first, script), runner=ToolRunner(tau_fresh, agent_settings))
    gateway, _ = start_gateway(agent_settings, LAMBDAS, agent=agent)
    session = f"ws-{uuid.uuid4()}"
    try:
        with connect(gateway.url) as ws:
            message_id = send(ws, session, "hello")
            failed = until(ws)
            send(ws, session, "hello", message_id=message_id)  # the client's retry of the same message
            retried = until(ws)
    finally:
        gateway.stop()
        hole.close()
    if fault == "timeout":
        assert len(hole.accepted) == 2  # both attempts reached the endpoint and timed out
    error = failed[-1]
    assert (error["type"], error["code"], error["retryable"]) == ("error", "model_unavailable", True)
    assert "send your message again" in error["message"]
    assert retried[0]["duplicate"] is False  # the failed attempt was not recorded as answered
    assert [f["text"] for f in retried if f["type"] == "message"] == ["Hello again! How can I help?"]
    assert script.remaining == 0


# -- the client and the Lambda runtime ------------------------------------------------------------------------------


def test_a_client_gone_mid_stream_stops_the_posting_not_the_turn(edge, agent_settings, tau_fresh):
    gateway, model = edge([*IDENTIFY, *CANCEL_PROPOSAL, REPORT], chunk_delay_s=0.05)
    gone = []

    def count_gone(http_response, **kwargs):
        if http_response.status_code == 410:
            gone.append(1)

    management = _management_client(gateway.management_url, agent_settings.aws_region)
    management.meta.events.register("after-call.apigatewaymanagementapi.PostToConnection", count_gone)
    session = f"ws-{uuid.uuid4()}"
    try:
        with connect(gateway.url) as ws:
            reach_the_cancellation_proposal(ws, session)
            send(ws, session, "yes")
            while json.loads(ws.recv(timeout=10))["type"] != "delta":
                pass
        deadline = time.monotonic() + 20
        while model.remaining and time.monotonic() < deadline:  # the turn goes on without the client
            time.sleep(0.05)
        wait_idle(
            gateway
        )  # ... and ends (its $disconnect after it): its last frames are recorded before they are posted
        with connect(gateway.url) as ws:
            resume(ws, session, 0)
            frames = until(ws, kinds=("session",))
    finally:
        management.meta.events.unregister("after-call.apigatewaymanagementapi.PostToConnection", count_gone)
    assert len(gone) == 1  # one post found the connection gone; the Poster stopped there
    assert [f["text"] for f in frames if f["type"] == "message"][-1] == REPORT["text"]
    assert frames[-1]["turnInProgress"] is False and order_status(tau_fresh, PENDING) == "cancelled"
    assert _refunds(tau_fresh) == 1


def test_the_same_lambda_event_delivered_twice_runs_once(edge, agent_settings, tau_fresh):
    gateway, model = edge([*IDENTIFY, *CANCEL_PROPOSAL, REPORT], first_token_delay_s=0.3)
    handler = gateway.config.routes["sendMessage"]
    events = []

    def recording(event, context):
        events.append(event)
        return handler(event, context)

    gateway.config.routes["sendMessage"] = recording
    session = f"ws-{uuid.uuid4()}"
    with connect(gateway.url) as ws:
        reach_the_cancellation_proposal(ws, session)
        send(ws, session, "yes")
        first = until(ws)
        # Lambda's at-least-once delivery: the very same event again, twice at once
        results = []
        threads = [threading.Thread(target=lambda: results.append(handler(events[-1], None))) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        repeats = [
            json.loads(ws.recv(timeout=10))
            for _ in range(2 * (1 + len([f for f in first if f["type"] in {"message", "done"}])))
        ]
    assert results == [{"statusCode": 200}] * 2
    acks = [f for f in repeats if f["type"] == "ack"]
    assert len(acks) == 2 and all(a["duplicate"] for a in acks)
    assert [f for f in repeats if f["type"] == "message"] == [f for f in first if f["type"] == "message"] * 2
    assert model.remaining == 0 and _refunds(tau_fresh) == 1 and order_status(tau_fresh, PENDING) == "cancelled"


CHILD = """
import os, sys
from order_agent.agent.service import Agent
from order_agent_dev.providers.scripted import ScriptedProvider
from order_agent.tools import runner

write = runner.ToolRunner._write

def write_then_die(self, *args, **kwargs):
    result = write(self, *args, **kwargs)  # committed
    os._exit(137)  # killed before the checkpoint is written: no cleanup, no lock release

runner.ToolRunner._write = write_then_die
Agent(model=ScriptedProvider([])).handle_message(sys.argv[1], "yes", lambda event: None)
"""


def test_a_process_killed_between_the_write_and_the_checkpoint_is_reconciled(agent_settings, tau_fresh):
    settings = agent_settings.model_copy(update={"session_lock_seconds": 1})
    setup = Chat(settings, tau_fresh, [*IDENTIFY, *CANCEL_PROPOSAL])
    setup.say("cancel an order")
    setup.say(f"{EMAIL} {PENDING}")
    env = {**os.environ, "DATABASE_URL": settings.database_url, "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
           "CHECKPOINT_TABLE": settings.checkpoint_table, "CHECKPOINT_BUCKET": settings.checkpoint_bucket,
           "SESSION_LOCK_SECONDS": "1"}  # fmt: skip
    child = subprocess.run([sys.executable, "-c", CHILD, setup.session], env=env, capture_output=True, timeout=120)
    assert child.returncode == 137, child.stderr.decode()
    assert order_status(tau_fresh, PENDING) == "cancelled"  # the write committed ...
    assert setup.state()["pending"] is not None  # ... and the checkpoint still waits for the yes

    # The next message, in another process; not a yes, so only the write's key can tell the truth.
    report = {"expect": {"stage": "resolution", "tool_result": "cancel_pending_order", "tool_status": "success",
                         "customer_text": "did it work"},
              "text": "Yes: order #W9300146 is cancelled and the refund is on its way."}  # fmt: skip
    chat = Chat(settings, tau_fresh, [report, {"text": "You're welcome!"}])
    chat.session = setup.session
    clock = chat.agent.lock.clock = FakeClock()
    busy = chat.say("Hello? Did it work?")  # the dead turn's lease has not expired yet
    if busy.error is not None:
        assert (busy.error.code, busy.error.retryable) == ("busy", True)
        clock.advance(2.1)
        busy = chat.say("Hello? Did it work?")
    assert busy.final.text == report["text"] and busy.final.stage == "resolution"
    assert chat.state()["pending"] is None
    assert _refunds(tau_fresh) == 1 and _writes(tau_fresh, setup.session) == 1  # once, never twice
    assert chat.say("thanks").final.text == "You're welcome!"  # and the conversation goes on
    chat.script_done()
