"""The handoff event (order_agent/handoff.py): its detail, the summary's redaction, the publish call,
and what the customer is told when publishing works and when it does not."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hcl2
import pytest
from botocore.exceptions import ClientError

from order_agent import handoff
from order_agent.handoff import (
    DETAIL_TYPE,
    EVENT_SOURCE,
    HandoffDetail,
    HandoffNotPublished,
    announce_handoff,
    handoff_detail,
    publish,
)
from order_agent.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SESSION = "session-7c1e"
# The conversation so far: the look-up revealed the customer's profile (name, address, payment ids).
TRANSCRIPT = [
    {"role": "user", "content": [{"text": "Hi, I'm Yusuf Rossi, my card was charged twice"}]},
    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_user_details",
                                                   "input": {"user_id": "yusuf_rossi_9620"}}}]},
    {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {
        "user_id": "yusuf_rossi_9620", "name": {"first_name": "Yusuf", "last_name": "Rossi"},
        "address": {"address1": "763 Broadway", "city": "Philadelphia", "zip": "19122"},
        "email": "yusuf.rossi7301@example.com",
        "payment_methods": {"credit_card_9513926": {"source": "credit_card", "last_four": "2478"}}}}]}}]},
]  # fmt: skip
SUMMARY = (
    "Yusuf Rossi (yusuf.rossi7301@example.com, 763 Broadway, Philadelphia 19122) says credit_card_9513926 "
    "was charged twice for order #W2378156; wants a person."
)


def _settings(**overrides) -> Settings:
    values = {"handoff_event_bus": "order-agent-handoffs", "checkpoint_table": "conversations", **overrides}
    return Settings(**values)


def test_the_summary_is_redacted_as_traces_are():
    detail = handoff_detail(_settings(), SESSION, "yusuf_rossi_9620", SUMMARY, TRANSCRIPT)
    for personal in ("Yusuf", "Rossi", "yusuf.rossi7301@example.com", "763 Broadway", "Philadelphia", "19122",
                     "credit_card_9513926"):  # fmt: skip
        assert personal not in detail.summary
    assert "#W2378156" in detail.summary and "charged twice" in detail.summary  # what the helpdesk needs stays
    assert detail.customer_id == "yusuf_rossi_9620"  # the helpdesk looks the customer up by it


def test_a_long_summary_is_cut():
    detail = handoff_detail(_settings(), SESSION, None, "x" * 10_000, [])
    assert len(detail.summary) == handoff.SUMMARY_MAX_CHARS and detail.summary.endswith("…")


def test_the_detail_names_the_transcript_and_a_stable_de_duplication_key():
    settings = _settings(
        checkpoint_bucket="offload", mlflow_tracking_uri="http://127.0.0.1:5000", mlflow_experiment_id="7"
    )
    detail = handoff_detail(settings, SESSION, None, "wants a person", [])
    again = handoff_detail(settings, SESSION, None, "a retried turn's other summary", [])
    other = handoff_detail(settings, "another-session", None, "wants a person", [])
    assert detail.handoff_id == again.handoff_id != other.handoff_id  # one conversation, one handoff id
    assert detail.reference.startswith("H-") and len(detail.reference) == 10
    assert detail.reference[2:].lower() == detail.handoff_id.replace("-", "")[:8]
    body = json.loads(detail.model_dump_json())
    assert body["customer_id"] is None
    assert body["transcript"] == {
        "dynamodb_table": "conversations",
        "partition_key": f"CHECKPOINT_{SESSION}",
        "thread_id": SESSION,
        "s3_bucket": "offload",
        "mlflow": {
            "tracking_uri": "http://127.0.0.1:5000",
            "experiment": "7",
            "session_filter": f"metadata.`mlflow.trace.session` = '{SESSION}'",
        },
    }
    assert body["version"] == 1 and body["handed_off_at"].endswith("Z")
    assert HandoffDetail.model_validate_json(detail.model_dump_json()) == detail


class FakeEvents:
    def __init__(self, answer=None, error=None):
        self.answer = answer or {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}
        self.error = error
        self.calls = []

    def put_events(self, Entries):  # boto3's argument name
        self.calls.append(Entries)
        if self.error:
            raise self.error
        return self.answer


def test_publish_puts_one_entry_on_the_bus():
    client = FakeEvents()
    detail = handoff_detail(_settings(), SESSION, None, "wants a person", [])
    publish(_settings(), detail, client)
    [[entry]] = client.calls
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "order-agent",
        "Conversation handed off",
        "order-agent-handoffs",
    )
    assert json.loads(entry["Detail"])["handoff_id"] == detail.handoff_id


@pytest.mark.parametrize(
    "client",
    [
        FakeEvents(answer={"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}),
        FakeEvents(error=ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "PutEvents")),
    ],
    ids=["entry refused", "bus missing"],
)
def test_a_refused_or_failed_publish_raises_handoff_not_published(client):
    with pytest.raises(HandoffNotPublished):
        publish(_settings(), handoff_detail(_settings(), SESSION, None, "s", []), client)


def test_without_a_bus_nothing_is_published():
    with pytest.raises(HandoffNotPublished, match="HANDOFF_EVENT_BUS"):
        publish(Settings(), handoff_detail(Settings(), SESSION, None, "s", []), FakeEvents())


def test_the_customer_is_told_what_happens_next(monkeypatch):
    monkeypatch.setattr(handoff, "publish", lambda settings, detail: None)
    verified, published = announce_handoff(_settings(), SESSION, "yusuf_rossi_9620", SUMMARY, TRANSCRIPT)
    assert published is True
    assert "support team" in verified and handoff.reference(SESSION) in verified
    assert "reply here" not in verified and "continue this conversation" not in verified
    unverified, _ = announce_handoff(_settings(), SESSION, None, "wants a person", [])
    assert "no way to contact you" in unverified and handoff.reference(SESSION) in unverified


def test_a_failed_publish_is_logged_counted_and_said(monkeypatch, caplog):
    def fail(settings, detail):
        raise HandoffNotPublished("ResourceNotFoundException: bus missing")

    monkeypatch.setattr(handoff, "publish", fail)
    with caplog.at_level(logging.ERROR):
        text, published = announce_handoff(_settings(), SESSION, "yusuf_rossi_9620", SUMMARY, TRANSCRIPT)
    assert published is False
    assert text == _settings().handoff_failed_text.format(reference=handoff.reference(SESSION))
    assert "couldn't notify" in text
    [record] = [r for r in caplog.records if r.getMessage() == "handoff not published"]
    assert record.session_id == SESSION and "bus missing" in record.error


def test_the_texts_are_settings_with_a_reference_placeholder():
    for name in ("handoff_reply_text", "handoff_unverified_reply_text", "handoff_failed_text"):
        assert "{reference}" in Settings.model_fields[name].default


def test_terraform_matches_what_is_published():
    """The handoff module's rule matches the source and detail-type this module publishes."""
    with (ROOT / "terraform" / "modules" / "handoff" / "main.tf").open(encoding="utf-8") as handle:
        options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
        parsed = hcl2.load(handle, serialization_options=options)
    locals_ = {k: v for block in parsed["locals"] for k, v in block.items()}
    assert (locals_["event_source"], locals_["detail_type"]) == (EVENT_SOURCE, DETAIL_TYPE)
