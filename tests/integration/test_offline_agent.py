"""The offline model through the real graph, on the τ retail data: the conversations `make dev`
must handle with no cloud access, each within the model-call budget."""

from __future__ import annotations

import uuid

import pytest

from order_agent.agent.service import Agent
from order_agent.tools import ToolRunner
from order_agent_dev.providers.offline import OfflineProvider

from .support.conversations import DELIVERED, EMAIL, PENDING, PROCESSED, order_status, scalar


@pytest.fixture
def offline_chat(agent_settings, tau_fresh):
    agent = Agent(agent_settings, model=OfflineProvider(agent_settings), runner=ToolRunner(tau_fresh, agent_settings))
    session = f"offline-{uuid.uuid4()}"

    def say(text):
        events = []
        outcome = agent.handle_message(session, text, events.append)
        assert outcome.final is not None, events
        assert outcome.final.model_provider == "offline"
        assert outcome.done.model_calls <= 1 + outcome.done.tool_rounds
        return outcome.final

    return say


def test_offline_status_and_cancel(offline_chat, tau_fresh):
    assert "email" in offline_chat("Hi, where is my order #W3220203?").text
    status = offline_chat(EMAIL)
    assert "processed" in status.text and status.order["order_id"] == PROCESSED
    proposal = offline_chat(f"Please cancel {PENDING}, I no longer need it")
    assert proposal.stage == "order_confirmation" and "$153.23" in proposal.text
    assert order_status(tau_fresh, PENDING) == "pending"
    done = offline_chat("yes")
    assert done.stage == "resolution" and "cancelled" in done.text
    assert order_status(tau_fresh, PENDING) == "cancelled"
    assert offline_chat("that's all, thanks").stage == "closed"


def test_offline_name_zip_and_return(offline_chat, tau_fresh):
    offline_chat("I'm Aarav Anderson, zip 19031")
    proposal = offline_chat(f"I'd like to return everything in {DELIVERED}")
    assert proposal.stage == "order_confirmation"
    offline_chat("yes")
    assert order_status(tau_fresh, DELIVERED) == "return requested"
    assert scalar(tau_fresh, "SELECT return_items FROM orders WHERE order_id = %s", DELIVERED) == [
        "7292993796", "7292993796"]  # fmt: skip


def test_offline_address_change_declined_then_handoff(offline_chat, tau_fresh):
    offline_chat(EMAIL)
    proposal = offline_chat(f"change the shipping address of {PENDING} to 12 Oak Street, Apt 3, Boston, MA 02110")
    assert proposal.stage == "order_confirmation" and "Boston" in proposal.text
    assert "not changed anything" in offline_chat("no").text
    assert scalar(tau_fresh, "SELECT city FROM orders WHERE order_id = %s", PENDING) != "Boston"
    unsupported = offline_chat("Can I exchange the desk lamp for another colour?")
    assert "offline" in unsupported.text.lower()
    assert offline_chat("yes").stage == "handed_off"
