"""A handoff reaches the support team: on the emulator (ministack: EventBridge, SQS, DynamoDB), a
scripted conversation hands off, and exactly one event with the documented fields arrives on the
queue the handoff bus delivers to, after the handoff row was committed. (A missing bus is tested on
moto, in test_agent_conversations.py: ministack accepts PutEvents for a bus that does not exist, where
EventBridge and moto answer ResourceNotFoundException.)"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest

from order_agent.handoff import DETAIL_TYPE, EVENT_SOURCE, reference
from order_agent_dev.local.aws import create_conversation_store, create_handoff_inbox

from .support.conversations import EMAIL, IDENTIFY, Chat, scalar

pytestmark = pytest.mark.timeout(300)  # the first test's setup may make the emulator's virtualenv

HANDOFF = {
    "expect": {"tool_result": "find_user_id_by_email", "tool_status": "success"},
    "text": "I'm sorry about the double charge. Let me hand this to a colleague.",
    "tool_use": {
        "name": "transfer_to_human_agents",
        "input": {"summary": f"Customer ({EMAIL}) was charged twice for order #W3220203 and wants a person."},
    },
}


@pytest.fixture(scope="module")
def emulator_settings(emulator, tau_settings, monkeypatch_module):
    monkeypatch_module.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch_module.setenv("AWS_SECRET_ACCESS_KEY", "local")
    settings = tau_settings.model_copy(
        update={"aws_endpoint_url": emulator.url, "checkpoint_table": "handoff-conversations",
                "checkpoint_bucket": None, "model_provider": "scripted", "handoff_event_bus": "test-handoffs",
                "max_messages_per_connection": 0, "max_messages_per_principal": 0,
                "max_turns_per_conversation": 0, "max_tokens_per_conversation": 0}
    )  # fmt: skip
    create_conversation_store(settings)
    return settings


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def inbox(emulator_settings):
    url = create_handoff_inbox(emulator_settings, "test-handoff-inbox")
    sqs = boto3.client("sqs", region_name=emulator_settings.aws_region, endpoint_url=emulator_settings.aws_endpoint_url)
    return lambda wait_s: _drain(sqs, url, wait_s)


def _drain(sqs, url: str, wait_s: float) -> list[dict]:
    """Every event that arrives within wait_s (the first may take a moment: delivery is asynchronous)."""
    events, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return events


def test_a_handoff_publishes_exactly_one_event(emulator_settings, inbox, tau_fresh):
    inbox(1)  # nothing left over
    c = Chat(emulator_settings, tau_fresh, [*IDENTIFY, HANDOFF])
    c.say("I was charged twice, I want to talk to someone")
    handed = c.say(EMAIL)
    assert handed.final.stage == "handed_off"
    assert handed.handoff_published is True
    assert "support team" in handed.final.text and reference(c.session) in handed.final.text
    assert "reply here" not in handed.final.text
    # After the handoff: a fixed answer, no model call, and no second event.
    later = c.say("hello? anyone?")
    assert later.final.stage == "handed_off" and later.done.model_calls == 0 and later.handoff_published is None
    c.script_done()

    events = inbox(5)
    assert len(events) == 1, events
    [event] = events
    assert (event["source"], event["detail-type"]) == (EVENT_SOURCE, DETAIL_TYPE)
    detail = event["detail"]
    customer = c.state()["ctx"]["customer_id"]
    assert detail["session_id"] == c.session and detail["customer_id"] == customer
    assert detail["reference"] == reference(c.session) and uuid.UUID(detail["handoff_id"])
    assert "charged twice" in detail["summary"] and EMAIL not in detail["summary"]
    assert detail["transcript"]["dynamodb_table"] == "handoff-conversations"
    assert detail["transcript"]["partition_key"] == f"CHECKPOINT_{c.session}"
    assert detail["handed_off_at"]
    # The event followed the committed row.
    row = scalar(tau_fresh, "SELECT customer_id FROM handoffs WHERE session_id = %s", c.session)
    assert row == customer
