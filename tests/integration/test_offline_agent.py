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


# -- closed questions: quick replies, new words each time, a human after two unusable answers --------

OMAR = "omar.muller4197@example.com"  # pending #W7044833 (Jigsaw Puzzle, Notebook), #W9474165, #W8642391
MIA = "mia.jackson5798@example.com"  # four pending orders; #W7807323 has the Desk Lamp


def labels(reply):
    return [q.label for q in reply.quick_replies]


def test_seven_unusable_answers_never_get_the_same_question_twice(offline_chat, tau_fresh):
    """The loop a new user met: asked the reason for a cancellation, they kept answering
    "Yes, please cancel it." and got the same question seven times."""
    offline_chat("I want to cancel an order")
    which = offline_chat(OMAR)
    assert "Which order" in which.text and which.order is None  # three orders read at once: no card
    assert [label.split(":")[0] for label in labels(which)] == ["#W7044833", "#W9474165", "#W8642391"]
    reason = offline_chat("#W7044833")
    assert "no longer needed" in reason.text and labels(reason) == ["No longer needed", "Ordered by mistake"]
    replies = [reason] + [offline_chat("Yes, please cancel it.") for _ in range(7)]
    questions = [r.text for r in replies if "?" in r.text or r.quick_replies]
    assert len(questions) == len(set(questions)) == 3, questions  # asked, rephrased, offered as choices
    assert labels(replies[2]) == ["No longer needed", "Ordered by mistake", "Talk to a human agent"]
    assert replies[3].stage == "handed_off" and "human agent" in replies[3].text
    assert all(r.stage == "handed_off" for r in replies[3:])
    assert order_status(tau_fresh, "#W7044833") == "pending"


def test_varied_answers_finish_a_cancellation(offline_chat, tau_fresh):
    offline_chat("I'd like to cancel one of my orders")
    which = offline_chat(MIA)
    assert len(which.quick_replies) == 4
    reason = offline_chat("the lamp one")
    assert "#W7807323" in reason.text and "Desk Lamp" in reason.text
    again = offline_chat("just cancel it")
    assert again.text != reason.text and labels(again) == ["No longer needed", "Ordered by mistake"]
    proposal = offline_chat("no longer need it")
    assert proposal.stage == "order_confirmation" and [q.text for q in proposal.quick_replies] == ["yes", "no"]
    done = offline_chat("yes")
    assert done.stage == "resolution" and order_status(tau_fresh, "#W7807323") == "cancelled"
    assert "No, that's all" in labels(done)
    assert scalar(tau_fresh, "SELECT cancel_reason FROM orders WHERE order_id = %s", "#W7807323") == "no longer needed"


def test_a_restated_request_at_the_confirmation_is_put_again_in_other_words(offline_chat, tau_fresh):
    offline_chat(f"cancel my order please, my email is {OMAR}")
    offline_chat("the first one")
    proposal = offline_chat("mistake")
    assert proposal.stage == "order_confirmation" and "ordered by mistake" in proposal.text
    again = offline_chat("just cancel it")
    assert again.stage == "order_confirmation" and again.text != proposal.text
    offline_chat("yes")
    assert order_status(tau_fresh, "#W7044833") == "cancelled"


def test_varied_answers_finish_an_address_change(offline_chat, tau_fresh):
    offline_chat("I need to change the shipping address of an order")
    offline_chat(OMAR)
    asked = offline_chat("the second one")
    assert "new shipping address for order #W9474165" in asked.text
    again = offline_chat("to my new place")
    assert "#W9474165" in again.text and again.text != asked.text
    proposal = offline_chat("12 Oak Street, Boston, MA 02110")
    assert proposal.stage == "order_confirmation"
    offline_chat("yes")
    assert scalar(tau_fresh, "SELECT city FROM orders WHERE order_id = %s", "#W9474165") == "Boston"


def test_varied_answers_finish_a_return(offline_chat, tau_fresh):
    offline_chat("I want to return something")
    which = offline_chat(EMAIL)  # Aarav: three delivered orders, two with a tea kettle
    assert len(which.quick_replies) == 3
    narrowed = offline_chat("the kettle one")
    assert [label.split(":")[0] for label in labels(narrowed)] == [DELIVERED, "#W9311069"]
    items = offline_chat("the second one")
    assert "Which items of order #W9311069" in items.text and "Everything" in labels(items)
    proposal = offline_chat("the espresso machine")
    assert proposal.stage == "order_confirmation" and "Espresso Machine" in proposal.text
    offline_chat("yes")
    assert order_status(tau_fresh, "#W9311069") == "return requested"
