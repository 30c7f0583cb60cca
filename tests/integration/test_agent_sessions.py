"""Sessions: state survives a new process, and messages of one session never interleave."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid

from order_agent.agent.service import Agent
from order_agent.conversations import SessionLock
from order_agent.model.base import ModelResponse
from order_agent.tools import ToolRunner

from .support.clock import FakeClock
from .support.conversations import CANCEL_PROPOSAL, EMAIL, IDENTIFY, PENDING, order_status


def _chat_process(settings, session, script, tmp_path, *messages):
    path = tmp_path / f"script-{uuid.uuid4()}.json"
    path.write_text(json.dumps(script))
    env = {**os.environ, "DATABASE_URL": settings.database_url, "AWS_ENDPOINT_URL": settings.aws_endpoint_url,
           "CHECKPOINT_TABLE": settings.checkpoint_table, "CHECKPOINT_BUCKET": settings.checkpoint_bucket,
           "MODEL_PROVIDER": "scripted", "MODEL_SCRIPT_PATH": str(path)}  # fmt: skip
    args = [sys.executable, "-m", "order_agent_dev.cli", "chat", "--quiet", "--session", session]
    for message in messages:
        args += ["--message", message]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_new_process_resumes_a_pending_confirmation(agent_settings, tau_fresh, tmp_path):
    session = f"restart-{uuid.uuid4()}"
    first = _chat_process(agent_settings, session, [*IDENTIFY, *CANCEL_PROPOSAL], tmp_path,
                          "I want to cancel an order", f"{EMAIL} {PENDING}")  # fmt: skip
    assert "Shall I go ahead?" in first and "[yes / no]" in first
    assert order_status(tau_fresh, PENDING) == "pending"
    report = [{"expect": {"stage": "resolution", "tool_result": "cancel_pending_order", "tool_status": "success"},
               "text": "Order #W9300146 is cancelled."}]  # fmt: skip
    second = _chat_process(agent_settings, session, report, tmp_path, "yes")
    assert "Order #W9300146 is cancelled." in second
    assert order_status(tau_fresh, PENDING) == "cancelled"


class _SlowModel:
    """Answers after the test lets it: holds a turn open while a second message arrives."""

    name = "scripted"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def converse(self, request, on_text=None):
        self.calls += 1
        self.entered.set()
        self.release.wait(timeout=30)
        return ModelResponse(content=[{"text": f"answer {self.calls}"}], stop_reason="end_turn")


def test_a_second_message_while_a_turn_runs_is_told_the_session_is_busy(agent_settings, tau_db):
    model = _SlowModel()
    agent = Agent(agent_settings, model=model, runner=ToolRunner(tau_db, agent_settings))
    session = f"busy-{uuid.uuid4()}"
    first_events: list = []
    first = threading.Thread(target=agent.handle_message, args=(session, "first", first_events.append))
    first.start()
    assert model.entered.wait(timeout=30)
    second_events: list = []
    agent.handle_message(session, "second", second_events.append)
    model.release.set()
    first.join(timeout=30)
    assert [e.type for e in second_events] == ["error"]
    assert (second_events[0].code, second_events[0].retryable) == ("busy", True)
    assert [e.type for e in first_events] == ["message", "done"]
    texts = [b["text"] for m in agent.state(session)["messages"] for b in m["content"] if "text" in b]
    assert texts == ["first", "answer 1"]  # the second message left no trace
    # and once the first turn is over, the session takes messages again
    events: list = []
    agent.handle_message(session, "third", events.append)
    assert events[-1].type == "done"


def test_an_expired_lock_can_be_taken_over(agent_settings):
    clock = FakeClock()
    lock = SessionLock(agent_settings.model_copy(update={"session_lock_seconds": 1}), clock=clock)
    session = f"lease-{uuid.uuid4()}"
    stale = lock.acquire(session)
    assert stale and lock.acquire(session) is None
    clock.advance(2.1)
    fresh = lock.acquire(session)
    assert fresh and fresh != stale
    lock.release(session, stale)  # the old holder's release must not free the new holder's lease
    assert lock.acquire(session) is None
    lock.release(session, fresh)
    assert lock.acquire(session)


def test_a_turn_fetches_its_checkpoint_once(agent_settings, tau_fresh, monkeypatch):
    # Agent reads the state to choose the run input and the graph then starts from the same
    # checkpoint: one fetch from DynamoDB, not two (each is 2-3 requests). The confirmation turn
    # resumes the interrupt from that one read and runs the write once.
    from langgraph_checkpoint_aws import DynamoDBSaver

    from order_agent_dev.providers.scripted import ScriptedProvider

    fetches = []
    original = DynamoDBSaver.get_tuple
    monkeypatch.setattr(DynamoDBSaver, "get_tuple", lambda self, config: fetches.append(1) or original(self, config))
    report = {"expect": {"stage": "resolution", "tool_status": "success"}, "text": "Order #W9300146 is cancelled."}
    agent = Agent(agent_settings, model=ScriptedProvider([*IDENTIFY, *CANCEL_PROPOSAL, report]),
                  runner=ToolRunner(tau_fresh, agent_settings))  # fmt: skip
    session = f"reads-{uuid.uuid4()}"
    per_turn = []
    for text in ("I want to cancel an order", f"{EMAIL} {PENDING}", "yes"):
        fetches.clear()
        outcome = agent.handle_message(session, text, lambda event: None)
        assert outcome.error is None
        per_turn.append(len(fetches))
    assert per_turn == [1, 1, 1]
    assert outcome.final.text == report["text"] and order_status(tau_fresh, PENDING) == "cancelled"
    assert agent.state(session)["pending"] is None  # the next turn starts from what this one saved


def test_only_a_session_nothing_was_written_for_is_new_to_its_first_claim(agent_settings):
    # The claim that creates the session item tells its turn that no checkpoint exists, and the
    # turn reads none; a checkpoint written outside any turn (a tool, a migration) makes the item.
    from langgraph.checkpoint.base import empty_checkpoint

    from order_agent.conversations import EdgeStore, checkpointer

    store, saver = EdgeStore(agent_settings), checkpointer(agent_settings)
    fresh, written = f"new-{uuid.uuid4()}", f"outside-{uuid.uuid4()}"
    saver.put({"configurable": {"thread_id": written, "checkpoint_ns": ""}}, empty_checkpoint(), {}, {})
    reads = []
    saver.client.real.meta.events.register("before-call.dynamodb", lambda model, **_: reads.append(model.name))
    for session, new in ((fresh, True), (written, False)):
        claim = store.claim_session(session, "connection", "anonymous", message_id=f"m-{uuid.uuid4()}")
        reads.clear()
        found = saver.get_tuple({"configurable": {"thread_id": session, "checkpoint_ns": ""}})
        assert (claim.new_session, found is None) == (new, new)
        assert bool(reads) is not new  # a new session's turn asks DynamoDB nothing
        store.end_turn(session)


def test_a_checkpointer_leaves_the_offload_buckets_lifecycle_alone_and_still_expires_what_it_writes(agent_settings):
    # The bucket's lifecycle is Terraform's; the library, given a TTL, would add a rule of its own
    # each time a saver is made (and in AWS be refused it). Items and offloaded objects keep their TTL.
    import boto3
    from botocore.exceptions import ClientError
    from langgraph.checkpoint.base import empty_checkpoint

    from order_agent.conversations import checkpointer

    bucket = f"lifecycle-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", region_name=agent_settings.aws_region, endpoint_url=agent_settings.aws_endpoint_url)
    s3.create_bucket(Bucket=bucket)
    saver = checkpointer(agent_settings.model_copy(update={"checkpoint_bucket": bucket}))
    try:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        raise AssertionError("the checkpointer gave the bucket a lifecycle configuration")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    session = f"ttl-{uuid.uuid4()}"
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"notes": os.urandom(400_000).hex()}  # over the 350 KB an item may hold
    saver.put({"configurable": {"thread_id": session, "checkpoint_ns": ""}}, checkpoint, {}, {"notes": 1})
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    assert tags == [{"Key": "ttl-days", "Value": str(-(-agent_settings.checkpoint_ttl_seconds // 86400))}]
    items = saver.client.real.query(
        TableName=agent_settings.checkpoint_table, KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CHECKPOINT_{session}"}},
    )["Items"]  # fmt: skip
    assert items and all("ttl" in item for item in items)
    assert (
        saver.get_tuple({"configurable": {"thread_id": session, "checkpoint_ns": ""}}).checkpoint["id"]
        == checkpoint["id"]
    )
