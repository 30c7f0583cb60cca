"""Every rule of the policy the model reads (tools/policy.md), mapped to the check that enforces it.

A rule is either enforced (a check below breaks it on the demo data and sees the tools refuse, or
sees the effect the rule promises) or prompt-only (the model alone keeps it; the reason says why).
A new rule in the policy file fails `test_every_rule_is_mapped` until it is mapped here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from order_agent.agent.graph import prompt
from order_agent.db.dataset import export_dataset, restore_snapshot
from order_agent.tools.policy import policy_prompt, rule_names
from order_agent.tools.registry import REGISTRY, ToolKind

from .support.demo_calls import SUCCESSFUL_CALLS

ANA, BEN, CHEN, DANA = "ana_lima_1001", "ben_okafor_1002", "chen_wei_1003", "dana_ross_1004"
ADDRESS = {"address1": "1 New Road", "address2": "", "city": "Oakland", "state": "CA", "country": "USA",
           "zip": "94607"}  # fmt: skip


@dataclass
class Store:
    """The tools over the demo data, as one customer's conversation sees them."""

    runner: Any
    db: Any
    new_ctx: Callable[..., Any]

    def run(self, customer: str | None, tool: str, arguments: dict[str, Any], ctx: Any = None) -> Any:
        return self.runner.run(ctx or self.new_ctx(customer), tool, arguments)

    def refused(self, customer: str | None, tool: str, arguments: dict[str, Any], code: str, message: str = "") -> None:
        """The call fails with `code` (and `message`, when given) and changes nothing."""
        before = export_dataset(self.db)
        result = self.run(customer, tool, arguments)
        assert (result.ok, result.error_code) == (False, code), result.error_message
        if message:
            assert result.error_message == message
        assert export_dataset(self.db) == before

    def done(self, customer: str | None, tool: str, arguments: dict[str, Any], ctx: Any = None) -> Any:
        result = self.run(customer, tool, arguments, ctx)
        assert result.ok, result.error_message
        return result.content


def identify_first(s: Store) -> None:
    s.refused(None, "get_order_details", {"order_id": "#W1000001"}, "not_authenticated")
    s.refused(None, "get_user_details", {"user_id": ANA}, "not_authenticated")  # knowing the id is not enough


def one_customer(s: Store) -> None:
    ctx = s.new_ctx()
    s.done(None, "find_user_id_by_email", {"email": "ana.lima@example.com"}, ctx)
    assert s.run(None, "find_user_id_by_email", {"email": "ben.okafor@example.com"}, ctx).error_code == "forbidden"
    s.refused(ANA, "get_order_details", {"order_id": "#W1000004"}, "forbidden")


def own_payment_methods(s: Store) -> None:
    s.refused(ANA, "modify_pending_order_payment", {"order_id": "#W1000001", "payment_method_id": "gift_card_1002002"},
              "not_found", "Payment method not found")  # fmt: skip


def confirm_writes(s: Store) -> None:
    # The graph runs a WRITE only after the customer's yes (tests/integration/test_agent_conversations.py);
    # this checks the other half: every tool that changes data is declared as one that needs it.
    assert set(SUCCESSFUL_CALLS) == set(REGISTRY)
    for name, arguments in SUCCESSFUL_CALLS.items():
        restore_snapshot(s.db)
        before = export_dataset(s.db)
        s.done(ANA, name, arguments)
        after = export_dataset(s.db)
        changes_orders_or_profile = (after["users"], after["orders"]) != (before["users"], before["orders"])
        assert changes_orders_or_profile == (REGISTRY[name].kind is ToolKind.WRITE), name


def actionable_statuses(s: Store) -> None:
    s.refused(ANA, "cancel_pending_order", {"order_id": "#W1000003", "reason": "no longer needed"},
              "invalid_request", "Non-pending order cannot be cancelled")  # processed  # fmt: skip
    s.refused(BEN, "return_delivered_order_items", {"order_id": "#W1000005", "item_ids": ["8100000012"],
              "payment_method_id": "paypal_1002001"}, "invalid_request", "Non-delivered order cannot be returned")  # fmt: skip


def default_address(s: Store) -> None:
    assert s.done(ANA, "modify_user_address", {"user_id": ANA, **ADDRESS})["address"]["city"] == "Oakland"
    s.refused(ANA, "modify_user_address", {"user_id": BEN, **ADDRESS}, "forbidden")


def cancel_pending_only(s: Store) -> None:
    s.refused(ANA, "cancel_pending_order", {"order_id": "#W1000002", "reason": "ordered by mistake"},
              "invalid_request", "Non-pending order cannot be cancelled")  # fmt: skip


def cancel_reason(s: Store) -> None:
    s.refused(ANA, "cancel_pending_order", {"order_id": "#W1000001", "reason": "found it cheaper"}, "invalid_arguments")


def cancel_refund(s: Store) -> None:
    order = s.done(BEN, "cancel_pending_order", {"order_id": "#W1000004", "reason": "no longer needed"})
    assert order["status"] == "cancelled"
    assert order["payment_history"][-1] == {"transaction_type": "refund", "amount": 36.8,
                                            "payment_method_id": "gift_card_1002002"}  # fmt: skip
    gift_card = s.done(BEN, "get_user_details", {"user_id": BEN})["payment_methods"]["gift_card_1002002"]
    assert gift_card["balance"] == 46.8  # 10.00 before: a gift card is refunded at once


def modify_scope(s: Store) -> None:
    s.refused(ANA, "modify_pending_order_address", {"order_id": "#W1000003", **ADDRESS},
              "invalid_request", "Non-pending order cannot be modified")  # fmt: skip
    # The writes are exactly these; of the pending-order ones, each changes only what it takes.
    writes = {name: set(d.arguments.model_fields) for name, d in REGISTRY.items() if d.kind is ToolKind.WRITE}
    assert writes == {
        "cancel_pending_order": {"order_id", "reason"},
        "modify_pending_order_address": {"order_id", "address1", "address2", "city", "state", "country", "zip"},
        "modify_pending_order_payment": {"order_id", "payment_method_id"},
        "modify_pending_order_items": {"order_id", "item_ids", "new_item_ids", "payment_method_id"},
        "return_delivered_order_items": {"order_id", "item_ids", "payment_method_id"},
        "exchange_delivered_order_items": {"order_id", "item_ids", "new_item_ids", "payment_method_id"},
        "modify_user_address": {"user_id", "address1", "address2", "city", "state", "country", "zip"},
    }


def modify_payment(s: Store) -> None:
    s.refused(ANA, "modify_pending_order_payment", {"order_id": "#W1000001", "payment_method_id": "credit_card_1001001"},
              "invalid_request", "The new payment method should be different from the current one")  # fmt: skip
    s.refused(DANA, "modify_pending_order_payment", {"order_id": "#W1000007", "payment_method_id": "gift_card_1004002"},
              "invalid_request", "Insufficient gift card balance to pay for the order")  # fmt: skip
    order = s.done(
        ANA, "modify_pending_order_payment", {"order_id": "#W1000001", "payment_method_id": "gift_card_1001002"}
    )
    assert order["status"] == "pending"


def modify_items_once(s: Store) -> None:
    args = {"order_id": "#W1000001", "item_ids": ["8100000011"], "new_item_ids": ["8100000012"],
            "payment_method_id": "credit_card_1001001"}  # fmt: skip
    assert s.done(ANA, "modify_pending_order_items", args)["status"] == "pending (item modified)"
    s.refused(ANA, "modify_pending_order_items", {**args, "item_ids": ["8200000021"], "new_item_ids": ["8200000022"]},
              "invalid_request", "Non-pending order cannot be modified")  # fmt: skip
    s.refused(ANA, "cancel_pending_order", {"order_id": "#W1000001", "reason": "no longer needed"},
              "invalid_request", "Non-pending order cannot be cancelled")  # fmt: skip


def same_product_other_option(s: Store) -> None:
    args = {"order_id": "#W1000001", "item_ids": ["8100000011"], "payment_method_id": "credit_card_1001001"}
    s.refused(
        ANA, "modify_pending_order_items", {**args, "new_item_ids": ["8200000022"]}, "not_found", "Variant not found"
    )
    s.refused(ANA, "modify_pending_order_items", {**args, "new_item_ids": ["8100000013"]},
              "invalid_request", "New item 8100000013 not found or available")  # fmt: skip
    s.refused(ANA, "modify_pending_order_items", {**args, "new_item_ids": ["8100000011"]},
              "invalid_request", "The new item id should be different from the old item id")  # fmt: skip


def price_difference_payment(s: Store) -> None:
    # 18.40 -> 31.25: the 12.85 difference is more than the gift card's 10.00
    s.refused(BEN, "modify_pending_order_items", {"order_id": "#W1000004", "item_ids": ["8200000023"],
              "new_item_ids": ["8200000022"], "payment_method_id": "gift_card_1002002"},
              "invalid_request", "Insufficient gift card balance to pay for the new item")  # fmt: skip


def return_delivered_only(s: Store) -> None:
    s.refused(ANA, "return_delivered_order_items", {"order_id": "#W1000001", "item_ids": ["8100000011"],
              "payment_method_id": "credit_card_1001001"}, "invalid_request", "Non-delivered order cannot be returned")  # fmt: skip


def return_items_in_order(s: Store) -> None:
    s.refused(ANA, "return_delivered_order_items", {"order_id": "#W1000002", "item_ids": ["8100000011"],
              "payment_method_id": "gift_card_1001002"}, "invalid_request", "Some item not found")  # fmt: skip


def return_refund_destination(s: Store) -> None:
    s.refused(ANA, "return_delivered_order_items", {"order_id": "#W1000002", "item_ids": ["8300000031"],
              "payment_method_id": "credit_card_1001001"}, "invalid_request",
              "Payment method should be the original payment method")  # fmt: skip
    order = s.done(CHEN, "return_delivered_order_items", {"order_id": "#W1000006", "item_ids": ["8100000012"],
                   "payment_method_id": "credit_card_1003001"})  # fmt: skip
    assert order["status"] == "return requested"


def exchange_delivered_once(s: Store) -> None:
    s.refused(ANA, "exchange_delivered_order_items", {"order_id": "#W1000003", "item_ids": ["8200000022"],
              "new_item_ids": ["8200000021"], "payment_method_id": "credit_card_1001001"},
              "invalid_request", "Non-delivered order cannot be exchanged")  # fmt: skip
    args = {"order_id": "#W1000006", "item_ids": ["8100000012"], "new_item_ids": ["8100000011"],
            "payment_method_id": "credit_card_1003001"}  # fmt: skip
    assert s.done(CHEN, "exchange_delivered_order_items", args)["status"] == "exchange requested"
    s.refused(CHEN, "exchange_delivered_order_items", {**args, "item_ids": ["8300000032"], "new_item_ids": ["8300000031"]},
              "invalid_request", "Non-delivered order cannot be exchanged")  # fmt: skip


def exchange_same_product(s: Store) -> None:
    args = {"order_id": "#W1000006", "item_ids": ["8100000012"], "payment_method_id": "credit_card_1003001"}
    s.refused(CHEN, "exchange_delivered_order_items", {**args, "new_item_ids": ["8300000031"]},
              "not_found", "Variant not found")  # fmt: skip
    s.refused(CHEN, "exchange_delivered_order_items", {**args, "new_item_ids": ["8100000013"]},
              "invalid_request", "New item 8100000013 not found or available")  # fmt: skip


ENFORCED: dict[str, Callable[[Store], None]] = {
    "identify-first": identify_first,
    "one-customer": one_customer,
    "own-payment-methods": own_payment_methods,
    "confirm-writes": confirm_writes,
    "actionable-statuses": actionable_statuses,
    "default-address": default_address,
    "cancel-pending-only": cancel_pending_only,
    "cancel-reason": cancel_reason,
    "cancel-refund": cancel_refund,
    "modify-scope": modify_scope,
    "modify-payment": modify_payment,
    "modify-items-once": modify_items_once,
    "same-product-other-option": same_product_other_option,
    "price-difference-payment": price_difference_payment,
    "return-delivered-only": return_delivered_only,
    "return-items-in-order": return_items_in_order,
    "return-refund-destination": return_refund_destination,
    "exchange-delivered-once": exchange_delivered_once,
    "exchange-same-product": exchange_same_product,
}

PROMPT_ONLY = {
    "no-invention": "what the model says is not a tool call; the scenario suite checks the facts it communicates",
    "refuse-out-of-policy": "a refusal is a reply; the tools refuse the changes themselves (the rules above)",
    "handoff-scope": "when a request is out of scope is the model's judgement; the handoff tool itself always works",
    "times-eastern": "a fact for reading tool results; nothing to enforce",
    "product-and-item-ids": "a fact about the catalogue; a wrong id is refused as not found",
}


def test_every_rule_is_mapped_once():
    names = rule_names()
    assert len(names) == len(set(names)), "a rule name is used twice in tools/policy.md"
    assert set(names) == set(ENFORCED) | set(PROMPT_ONLY)
    assert not set(ENFORCED) & set(PROMPT_ONLY)


def test_the_model_reads_the_policy_without_rule_names():
    text = policy_prompt()
    assert "<!--" not in text and "rule:" not in text
    for stage in ("entry_intent", "order_confirmation", "resolution"):
        assert text in prompt(stage)


@pytest.mark.parametrize("rule", sorted(ENFORCED))
def test_the_tools_enforce_the_rule(rule, runner, demo_db, new_ctx):
    ENFORCED[rule](Store(runner, demo_db, new_ctx))
