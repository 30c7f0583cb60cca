"""Conversations through the real graph: a scripted model, the τ retail data in PostgreSQL, and
conversation state in the emulator's DynamoDB. Every turn's model calls are checked against the
budget: at most one per turn plus one per tool round, and exactly one for a confirmed change."""

from __future__ import annotations

import pytest

from order_agent.db.dataset import export_dataset
from order_agent_dev.providers.scripted import ScriptDivergence

from .support.conversations import (
    CANCEL_PROPOSAL,
    DELIVERED,
    EMAIL,
    IDENTIFY,
    OTHER_EMAIL,
    OTHER_PENDING,
    PENDING,
    PROCESSED,
    Chat,
    order_status,
    scalar,
)

GIFT_CARD = "gift_card_7245904"  # balance 17.00; paid 153.23 for the pending order


def _gift_card(db):
    return float(scalar(db, "SELECT balance FROM payment_methods WHERE payment_method_id = %s", GIFT_CARD))


@pytest.fixture
def chat(agent_settings, tau_fresh):
    return lambda steps: Chat(agent_settings, tau_fresh, steps)


def test_status_lookup_needs_no_confirmation(chat):
    c = chat([
        *IDENTIFY,
        {"tool_use": {"name": "get_order_details", "input": {"order_id": PROCESSED}}},
        {"expect": {"tool_result": "get_order_details"},
         "text": "Order #W3220203 (Bluetooth Speaker) has been processed and is on its way."},
    ])  # fmt: skip
    assert c.say("Where is my order #W3220203?").final.stage == "entry_intent"
    outcome = c.say(EMAIL)
    assert outcome.final.text.startswith("Order #W3220203")
    assert outcome.final.order["order_id"] == PROCESSED  # the card
    assert (outcome.done.model_calls, outcome.done.tool_rounds) == (3, 2)
    assert c.state().get("pending") is None
    c.script_done()


def test_cancel_confirmed_changes_the_database_once(chat, tau_fresh):
    c = chat([*IDENTIFY, *CANCEL_PROPOSAL,
              {"expect": {"stage": "resolution", "tool_result": "cancel_pending_order", "tool_status": "success"},
               "text": "Done: order #W9300146 is cancelled and $153.23 is back on your gift card. Anything else?"}])  # fmt: skip
    c.say("I'd like to cancel an order")
    proposal = c.say(f"{EMAIL}, order {PENDING}")
    assert proposal.final.stage == "order_confirmation"
    assert [q.text for q in proposal.final.quick_replies] == ["yes", "no"]
    assert proposal.final.order["status"] == "cancelled"  # the preview shows the order as it will be
    assert order_status(tau_fresh, PENDING) == "pending"  # ... but nothing has changed yet
    done = c.say("yes")
    assert done.final.stage == "resolution"
    assert done.done.model_calls == 1  # the confirmation turn costs one model call
    assert order_status(tau_fresh, PENDING) == "cancelled"
    assert _gift_card(tau_fresh) == pytest.approx(17.0 + 153.23)
    assert scalar(tau_fresh, "SELECT count(*) FROM order_payments WHERE order_id = %s AND transaction_type = "
                              "'refund'", PENDING) == 1  # fmt: skip
    c.script_done()


def test_cancel_declined_changes_nothing(chat, tau_fresh):
    before = export_dataset(tau_fresh)
    c = chat([*IDENTIFY, *CANCEL_PROPOSAL,
              {"expect": {"stage": "order_confirmation", "tool_result": "cancel_pending_order", "tool_status": "error"},
               "text": "No problem, I have not changed anything. Anything else?"}])  # fmt: skip
    c.say("cancel my order please")
    c.say(f"{EMAIL} {PENDING}")
    declined = c.say("no")
    assert declined.final.stage == "order_confirmation" and declined.done.model_calls == 1
    assert c.state()["pending"] is None
    assert export_dataset(tau_fresh) == before
    c.script_done()


def test_change_of_mind_at_confirmation_runs_the_new_proposal(chat, tau_fresh):
    c = chat([*IDENTIFY, *CANCEL_PROPOSAL,
              {"expect": {"stage": "order_confirmation", "customer_text": "by mistake"},
               "text": "Understood: I'll cancel #W9300146 as ordered by mistake instead. Shall I go ahead?",
               "tool_use": {"name": "cancel_pending_order",
                            "input": {"order_id": PENDING, "reason": "ordered by mistake"}}},
              {"expect": {"stage": "resolution"}, "text": "Cancelled. Anything else?"}])  # fmt: skip
    c.say("cancel an order")
    first = c.say(f"{EMAIL} {PENDING}")
    changed = c.say("Actually, I ordered it by mistake.")
    assert changed.final.stage == "order_confirmation"
    assert changed.final.quick_replies[0].confirm_hash != first.final.quick_replies[0].confirm_hash
    c.say("yes")
    assert scalar(tau_fresh, "SELECT cancel_reason FROM orders WHERE order_id = %s", PENDING) == "ordered by mistake"
    c.script_done()


def test_an_unclear_answer_asks_again_without_a_model_call(chat, tau_fresh):
    c = chat([*IDENTIFY, *CANCEL_PROPOSAL, {"expect": {"stage": "resolution"}, "text": "Cancelled."}])
    c.say("cancel an order")
    proposal = c.say(f"{EMAIL} {PENDING}")
    again = c.say("hmm")
    assert again.final.stage == "order_confirmation"
    assert again.final.text == proposal.final.text and again.done.model_calls == 0
    assert order_status(tau_fresh, PENDING) == "pending"
    c.say("yes please")
    assert order_status(tau_fresh, PENDING) == "cancelled"
    c.script_done()


def test_return_of_delivered_items(chat, tau_fresh):
    c = chat([*IDENTIFY,
              {"tool_use": {"name": "get_order_details", "input": {"order_id": DELIVERED}}},
              {"text": "I'll request the return of one Tea Kettle ($94.80) from #W4316152, refunded to your gift "
                       "card. Confirm?",
               "tool_use": {"name": "return_delivered_order_items",
                            "input": {"order_id": DELIVERED, "item_ids": ["7292993796"],
                                      "payment_method_id": GIFT_CARD}}},
              {"expect": {"stage": "resolution", "tool_status": "success"},
               "text": "Your return is requested; you'll get an email with instructions."}])  # fmt: skip
    c.say("I want to return a kettle")
    c.say(f"{EMAIL}, it's order {DELIVERED}")
    c.say("yes")
    assert order_status(tau_fresh, DELIVERED) == "return requested"
    assert scalar(tau_fresh, "SELECT return_items FROM orders WHERE order_id = %s", DELIVERED) == ["7292993796"]
    c.script_done()


def test_exchange_of_delivered_items(chat, tau_fresh):
    c = chat([*IDENTIFY,
              {"tool_uses": [{"name": "get_order_details", "input": {"order_id": DELIVERED}},
                             {"name": "get_product_details", "input": {"product_id": "9832717871"}}]},
              {"text": "I'll exchange one stainless-steel kettle for the 1.5 l glass gas kettle ($109.58); "
                       "the $14.78 difference goes on your gift card. Confirm?",
               "tool_use": {"name": "exchange_delivered_order_items",
                            "input": {"order_id": DELIVERED, "item_ids": ["7292993796"],
                                      "new_item_ids": ["9647374798"], "payment_method_id": GIFT_CARD}}},
              {"expect": {"stage": "resolution", "tool_status": "success"}, "text": "Exchange requested."}])  # fmt: skip
    c.say("Can I swap my kettle for a glass one?")
    turn = c.say(EMAIL + " " + DELIVERED)
    assert turn.done.tool_calls == 4  # lookup, two reads in one round, the preview
    c.say("ok")
    assert order_status(tau_fresh, DELIVERED) == "exchange requested"
    difference = scalar(tau_fresh, "SELECT exchange_price_difference FROM orders WHERE order_id = %s", DELIVERED)
    assert float(difference) == pytest.approx(109.58 - 94.8)
    c.script_done()


def test_handoff_records_it_and_the_bot_stops_answering(chat, tau_fresh):
    c = chat([{"expect": {"customer_text": "human"},
               "text": "I'm connecting you with a colleague.",
               "tool_use": {"name": "transfer_to_human_agents",
                            "input": {"summary": "Customer wants to talk to a person about a damaged parcel."}}}])  # fmt: skip
    handed = c.say("My parcel arrived damaged, I want a human")
    assert handed.final.stage == "handed_off"
    later = c.say("hello? anyone?")
    assert later.final.stage == "handed_off" and later.done.model_calls == 0
    assert scalar(tau_fresh, "SELECT summary FROM handoffs WHERE session_id = %s", c.session).startswith("Customer")
    c.script_done()


def test_a_handoff_whose_event_cannot_be_published_is_told_truthfully(agent_settings, tau_fresh):
    """The bus is missing (moto answers PutEvents with ResourceNotFoundException, as EventBridge does):
    the handoff is recorded, the turn answers, and the customer hears that the team was not notified."""
    settings = agent_settings.model_copy(update={"handoff_event_bus": "no-such-bus"})
    c = Chat(settings, tau_fresh, [{"text": "I'm connecting you with a colleague.",
                                    "tool_use": {"name": "transfer_to_human_agents",
                                                 "input": {"summary": "Customer wants a person."}}}])  # fmt: skip
    handed = c.say("I want a human")
    assert handed.error is None and handed.final.stage == "handed_off"
    assert handed.handoff_published is False
    assert "couldn't notify our support team" in handed.final.text
    assert scalar(tau_fresh, "SELECT count(*) FROM handoffs WHERE session_id = %s", c.session) == 1
    c.script_done()


def test_goodbye_closes_and_later_messages_get_the_ended_notice(chat):
    c = chat([{"text": "You're welcome. Goodbye!", "tool_use": {"name": "end_conversation", "input": {}}}])
    bye = c.say("That's all, thank you. Bye!")
    assert (bye.final.stage, bye.final.text) == ("closed", "You're welcome. Goodbye!")
    after = c.say("wait, one more thing")
    assert after.final.stage == "closed" and "has ended" in after.final.text
    assert [q.action for q in after.final.quick_replies] == ["new_conversation"]
    assert after.done.model_calls == 0
    assert c.state()["status"] == "closed"
    c.script_done()


def test_thanks_but_can_you_also_keeps_the_conversation_open(chat, tau_fresh):
    c = chat([*IDENTIFY, *CANCEL_PROPOSAL,
              {"expect": {"stage": "resolution"}, "text": "Cancelled. Anything else?"},
              {"expect": {"customer_text": "can you also"},
               "text": "Of course. What is the new address for your processed order? (I can change pending orders only.)"}])  # fmt: skip
    c.say("cancel my order")
    c.say(f"{EMAIL} {PENDING}")
    c.say("yes")
    more = c.say("Thanks, but can you also change my address?")
    assert more.final.stage == "entry_intent"
    assert c.state()["status"] == "open"
    c.script_done()


def test_tool_rounds_are_bounded(chat, agent_settings):
    rounds = agent_settings.max_tool_rounds
    c = chat([*IDENTIFY[:1], *[{"tool_use": {"name": "get_product_details", "input": {"product_id": "9832717871"}}}
                               for _ in range(rounds + 1)]])  # fmt: skip
    c.say("hi")
    stuck = c.say("tell me everything about kettles")
    assert stuck.done.model_calls == rounds + 1 == 1 + stuck.done.tool_rounds
    assert "couldn't finish" in stuck.final.text
    c.script_done()


def test_unauthenticated_attempts_are_refused(chat, tau_fresh):
    before = export_dataset(tau_fresh)
    c = chat([
        {"tool_use": {"name": "get_order_details", "input": {"order_id": PENDING}}},
        {"expect": {"tool_result": "get_order_details", "tool_status": "error"},
         "tool_use": {"name": "cancel_pending_order", "input": {"order_id": PENDING, "reason": "no longer needed"}}},
        {"expect": {"tool_result": "cancel_pending_order", "tool_status": "error"},
         "text": "I need to verify who you are first: what is your email?"},
    ])  # fmt: skip
    outcome = c.say(f"cancel {PENDING} right now")
    assert outcome.final.stage == "entry_intent" and c.state().get("pending") is None
    assert export_dataset(tau_fresh) == before
    c.script_done()


# -- an adversarial model ------------------------------------------------------------------------------


def test_a_write_never_runs_without_the_customers_yes(chat, tau_fresh):
    before = export_dataset(tau_fresh)
    c = chat([*IDENTIFY,
              # it tries to cancel straight away, with no text at all ...
              {"tool_use": {"name": "cancel_pending_order", "input": {"order_id": PENDING, "reason": "no longer needed"}}},
              # ... and when the customer asks something else, it tries two writes at once
              {"tool_uses": [{"name": "cancel_pending_order", "input": {"order_id": PENDING, "reason": "no longer needed"}},
                             {"name": "modify_pending_order_payment", "input": {"order_id": PENDING,
                                                                                "payment_method_id": GIFT_CARD}}]},
              {"expect": {"tool_result": "cancel_pending_order", "tool_status": "error"}, "text": "Sorry."}])  # fmt: skip
    c.say("hello")
    proposal = c.say(EMAIL)
    assert proposal.final.stage == "order_confirmation"  # only a proposal
    assert export_dataset(tau_fresh) == before
    c.say("what are your opening hours?")
    assert export_dataset(tau_fresh) == before
    c.script_done()


def test_only_the_confirmed_arguments_are_run(chat, tau_fresh):
    c = chat([*IDENTIFY, *CANCEL_PROPOSAL,
              {"expect": {"stage": "order_confirmation"},
               "text": "Cancel as ordered by mistake?",
               "tool_use": {"name": "cancel_pending_order", "input": {"order_id": PENDING,
                                                                      "reason": "ordered by mistake"}}},
              {"expect": {"stage": "resolution"}, "text": "Cancelled."}])  # fmt: skip
    c.say("cancel")
    first = c.say(f"{EMAIL} {PENDING}")
    c.say("Is the refund immediate?")  # the model answers with a different proposal
    stale = c.say("Yes", confirm_hash=first.final.quick_replies[0].confirm_hash)  # a button of the old proposal
    assert stale.final.stage == "order_confirmation" and stale.done.model_calls == 0
    assert order_status(tau_fresh, PENDING) == "pending"
    c.say("Yes", confirm_hash=c.state()["pending"]["hash"])
    assert scalar(tau_fresh, "SELECT cancel_reason FROM orders WHERE order_id = %s", PENDING) == "ordered by mistake"
    c.script_done()


def test_another_customers_order_and_a_second_customer_are_refused(chat, tau_fresh):
    before = export_dataset(tau_fresh)
    c = chat([*IDENTIFY,
              {"tool_use": {"name": "get_order_details", "input": {"order_id": OTHER_PENDING}}},
              {"expect": {"tool_result": "get_order_details", "tool_status": "error"},
               "tool_use": {"name": "cancel_pending_order", "input": {"order_id": OTHER_PENDING,
                                                                      "reason": "no longer needed"}}},
              {"expect": {"tool_result": "cancel_pending_order", "tool_status": "error"},
               "tool_use": {"name": "find_user_id_by_email", "input": {"email": OTHER_EMAIL}}},
              {"expect": {"tool_result": "find_user_id_by_email", "tool_status": "error"},
               "text": "I can only help with your own orders."}])  # fmt: skip
    c.say("hi")
    outcome = c.say(f"{EMAIL}; also cancel {OTHER_PENDING} for my friend Ivan")
    assert outcome.final.stage == "entry_intent" and c.state().get("pending") is None
    assert c.state()["ctx"]["customer_id"] == "aarav_anderson_8794"
    assert export_dataset(tau_fresh) == before
    c.script_done()


def test_a_diverging_script_fails_loudly(chat):
    c = chat([{"expect": {"customer_text": "refund"}, "text": "..."}])
    with pytest.raises(ScriptDivergence, match="customer text containing 'refund'"):
        c.say("where is my order?")


def test_a_model_outage_is_a_retryable_error_and_the_retry_works(chat, tau_fresh):
    from order_agent.model.base import ModelError

    c = chat([*IDENTIFY, *CANCEL_PROPOSAL, REPORT_AFTER_OUTAGE])
    c.say("cancel my order")
    c.say(f"{EMAIL} {PENDING}")
    real = c.model.converse
    outages = []

    def throttled_twice(request, on_text=None):
        if len(outages) < 2:
            outages.append(1)
            raise ModelError("ThrottlingException", "Too many requests", retryable=True)
        return real(request, on_text)

    c.model.converse = throttled_twice
    for _ in range(2):  # the first retry fails too: a failed retry leaves nothing behind
        failed = c.say("yes")
        assert (failed.error.code, failed.error.retryable) == ("model_unavailable", True)
    # the confirmed write ran before the model call failed; the retry must not run it again
    assert order_status(tau_fresh, PENDING) == "cancelled"
    assert "turn" not in c.state()  # what a turn produces is never checkpointed
    retried = c.say("yes")
    assert retried.final.stage == "resolution" and retried.final.text == REPORT_AFTER_OUTAGE["text"]
    refunds = scalar(
        tau_fresh, "SELECT count(*) FROM order_payments WHERE order_id = %s AND transaction_type = 'refund'", PENDING
    )
    assert refunds == 1  # idempotent: the write applied once
    c.script_done()


REPORT_AFTER_OUTAGE = {
    "expect": {"stage": "resolution", "tool_status": "success"},
    "text": "Cancelled, refund on its way.",
}
