"""The frames of a turn are the agent's events as they are, camelCase, with where they belong added."""

from __future__ import annotations

import pytest

from order_agent.agent.confirmation import confirmation_replies, pending_confirmation
from order_agent.agent.events import Done, ErrorEvent, FinalMessage, SessionSnapshot, TextDelta
from order_agent.edge.protocol import (
    SERVER_FRAME,
    DeltaFrame,
    DoneFrame,
    ErrorFrame,
    MessageFrame,
    SessionFrame,
    turn_frame,
)

PROPOSAL_HASH = "ab" * 32


def test_a_final_message_is_sent_as_it_is_in_camel_case():
    event = FinalMessage(
        text="Shall I cancel it?",
        stage="order_confirmation",
        order={"order_id": "#W1"},
        quick_replies=confirmation_replies(PROPOSAL_HASH),
        model_provider="offline",
    )
    frame = turn_frame(event, "s1", "m1", 7)
    assert frame == {
        "type": "message", "sessionId": "s1", "turnId": "m1", "seq": 7, "text": "Shall I cancel it?",
        "stage": "order_confirmation", "order": {"order_id": "#W1"}, "modelProvider": "offline",
        "quickReplies": [
            {"label": "Yes", "text": "yes", "confirmHash": PROPOSAL_HASH, "action": "send"},
            {"label": "No", "text": "no", "confirmHash": None, "action": "send"},
        ],
    }  # fmt: skip
    assert SERVER_FRAME.validate_python(frame).model_dump() == frame


def test_done_leaves_the_turn_s_tool_counts_on_the_server():
    event = Done(model_calls=2, usage={"inputTokens": 3}, tool_rounds=1, tool_calls=2)
    frame = turn_frame(event, "s1", "m1", 8)
    assert frame == {"type": "done", "sessionId": "s1", "turnId": "m1", "seq": 8, "modelCalls": 2,
                     "usage": {"inputTokens": 3}}  # fmt: skip
    assert SERVER_FRAME.validate_python(frame).model_dump() == frame


def test_an_error_before_the_turn_started_has_no_seq():
    frame = turn_frame(ErrorEvent(code="busy", message="later", retryable=True), "s1", "m1", None)
    assert frame == {"type": "error", "code": "busy", "message": "later", "retryable": True, "sessionId": "s1",
                     "turnId": "m1", "seq": None}  # fmt: skip


EVENT_FRAMES = [(TextDelta, DeltaFrame), (FinalMessage, MessageFrame), (Done, DoneFrame), (ErrorEvent, ErrorFrame),
                (SessionSnapshot, SessionFrame)]  # fmt: skip


@pytest.mark.parametrize(("event", "frame"), EVENT_FRAMES)
def test_every_field_of_an_event_reaches_the_wire_schema(event, frame):
    sent = set(event.model_json_schema(mode="serialization")["properties"])
    assert sent <= set(frame.model_json_schema(mode="serialization")["properties"])


def test_a_pending_proposal_is_offered_with_the_quick_replies_it_was_proposed_with():
    proposal = {"tool_use_id": "t1", "tool": "cancel_pending_order", "arguments": {}, "hash": PROPOSAL_HASH,
                "text": "Shall I cancel it?", "preview": {"order_id": "#W1", "status": "cancelled"}}  # fmt: skip
    pending = pending_confirmation(proposal)
    assert pending.quick_replies == confirmation_replies(PROPOSAL_HASH)
    assert pending.order == proposal["preview"]
    profile = pending_confirmation({**proposal, "preview": {"user_id": "u1"}})
    assert profile.order is None  # a change to the profile shows no order card
