"""Policy in code: authentication first, one customer per conversation, own data only, status rules."""

from __future__ import annotations

import pytest

from order_agent.db.dataset import export_dataset
from order_agent.tools.registry import REGISTRY

ANA, BEN = "ana_lima_1001", "ben_okafor_1002"
ADDRESS = {"address1": "1 New Road", "address2": "", "city": "Oakland", "state": "CA", "country": "USA",
           "zip": "94607"}  # fmt: skip

# For each tool that touches customer data: arguments aimed at Ben's data (as seen from Ana).
BENS_DATA = {
    "get_user_details": {"user_id": BEN},
    "modify_user_address": {"user_id": BEN, **ADDRESS},
    "get_order_details": {"order_id": "#W1000004"},
    "cancel_pending_order": {"order_id": "#W1000004", "reason": "no longer needed"},
    "modify_pending_order_address": {"order_id": "#W1000004", **ADDRESS},
    "modify_pending_order_items": {"order_id": "#W1000004", "item_ids": ["8200000023"],
                                   "new_item_ids": ["8200000021"], "payment_method_id": "gift_card_1002002"},
    "modify_pending_order_payment": {"order_id": "#W1000004", "payment_method_id": "paypal_1002001"},
    "return_delivered_order_items": {"order_id": "#W1000005", "item_ids": ["8100000012"],
                                     "payment_method_id": "paypal_1002001"},
    "exchange_delivered_order_items": {"order_id": "#W1000005", "item_ids": ["8100000012"],
                                       "new_item_ids": ["8100000011"], "payment_method_id": "paypal_1002001"},
}  # fmt: skip


def test_every_customer_data_tool_is_covered():
    assert {name for name, d in REGISTRY.items() if d.requires_auth} == set(BENS_DATA)


@pytest.mark.parametrize("name", sorted(BENS_DATA))
def test_nothing_is_read_or_written_before_authentication(runner, demo_db, new_ctx, name):
    before = export_dataset(demo_db)
    result = runner.run(new_ctx(), name, BENS_DATA[name])
    assert not result.ok and result.content is None
    assert result.error_code == "not_authenticated"
    assert export_dataset(demo_db) == before


@pytest.mark.parametrize("name", sorted(BENS_DATA))
def test_another_customers_data_is_refused_for_every_tool(runner, demo_db, new_ctx, name):
    ctx = new_ctx()
    assert runner.run(ctx, "find_user_id_by_email", {"email": "ana.lima@example.com"}).content == ANA
    before = export_dataset(demo_db)
    result = runner.run(ctx, name, BENS_DATA[name])
    assert not result.ok and result.content is None
    assert result.error_code == "forbidden", result.error_message
    assert BEN not in result.error_message
    assert export_dataset(demo_db) == before


def test_authentication_by_email_is_case_insensitive(runner, new_ctx):
    ctx = new_ctx()
    result = runner.run(ctx, "find_user_id_by_email", {"email": "dana.ross@EXAMPLE.com"})
    assert result.ok and result.content == "dana_ross_1004"
    assert ctx.customer_id == "dana_ross_1004"


def test_authentication_by_name_and_zip(runner, new_ctx):
    ctx = new_ctx()
    wrong_zip = runner.run(ctx, "find_user_id_by_name_zip", {"first_name": "ana", "last_name": "LIMA", "zip": "94106"})
    assert wrong_zip.error_code == "not_found" and ctx.customer_id is None
    result = runner.run(ctx, "find_user_id_by_name_zip", {"first_name": "ana", "last_name": "LIMA", "zip": "94105"})
    assert result.content == ANA and ctx.customer_id == ANA
    # the same zip, another person: names must match too
    other = runner.run(
        new_ctx(), "find_user_id_by_name_zip", {"first_name": "Dana", "last_name": "Lima", "zip": "94105"}
    )
    assert other.error_code == "not_found"


def test_one_customer_per_conversation(runner, new_ctx):
    ctx = new_ctx()
    runner.run(ctx, "find_user_id_by_email", {"email": "ana.lima@example.com"})
    second = runner.run(ctx, "find_user_id_by_email", {"email": "ben.okafor@example.com"})
    assert second.error_code == "forbidden"
    assert second.content is None and BEN not in second.error_message
    assert ctx.customer_id == ANA
    # finding the same customer again is fine
    again = runner.run(ctx, "find_user_id_by_name_zip", {"first_name": "Ana", "last_name": "Lima", "zip": "94105"})
    assert again.ok and ctx.customer_id == ANA


def test_failed_lookups_are_limited_per_conversation(runner, new_ctx, demo_settings):
    ctx = new_ctx()
    for i in range(demo_settings.auth_max_failed_attempts):
        assert runner.run(ctx, "find_user_id_by_email", {"email": f"guess{i}@example.com"}).error_code == "not_found"
    blocked = runner.run(ctx, "find_user_id_by_email", {"email": "ana.lima@example.com"})
    assert blocked.error_code == "too_many_attempts"
    assert ctx.customer_id is None


def test_catalog_reads_need_no_authentication(runner, new_ctx):
    ctx = new_ctx()
    assert runner.run(ctx, "get_product_details", {"product_id": "8000000001"}).ok
    assert runner.run(ctx, "get_item_details", {"item_id": "8100000011"}).content["name"] == "Desk Lamp"
    assert list(runner.run(ctx, "list_all_product_types", {}).content) == ["Desk Lamp", "Running Shoes", "Water Bottle"]


def test_payment_methods_of_another_customer_cannot_be_used(runner, demo_db, new_ctx):
    before = export_dataset(demo_db)
    result = runner.run(new_ctx(ANA), "modify_pending_order_payment",
                        {"order_id": "#W1000001", "payment_method_id": "gift_card_1002002"})  # fmt: skip
    assert result.error_code == "not_found" and result.error_message == "Payment method not found"
    assert export_dataset(demo_db) == before


# -- status rules ------------------------------------------------------------------------------------

STATUS_RULES = [
    # (customer, tool, arguments, expected error or None when allowed)
    (ANA, "cancel_pending_order", {"order_id": "#W1000003", "reason": "ordered by mistake"},
     "Non-pending order cannot be cancelled"),
    (ANA, "cancel_pending_order", {"order_id": "#W1000002", "reason": "ordered by mistake"},
     "Non-pending order cannot be cancelled"),
    (BEN, "cancel_pending_order", {"order_id": "#W1000005", "reason": "ordered by mistake"},
     "Non-pending order cannot be cancelled"),
    (ANA, "modify_pending_order_address", {"order_id": "#W1000003", **ADDRESS}, "Non-pending order cannot be modified"),
    (ANA, "modify_pending_order_items", {"order_id": "#W1000003", "item_ids": ["8200000022"],
     "new_item_ids": ["8200000021"], "payment_method_id": "credit_card_1001001"},
     "Non-pending order cannot be modified"),
    (ANA, "modify_pending_order_payment", {"order_id": "#W1000002", "payment_method_id": "credit_card_1001001"},
     "Non-pending order cannot be modified"),
    (ANA, "return_delivered_order_items", {"order_id": "#W1000001", "item_ids": ["8100000011"],
     "payment_method_id": "credit_card_1001001"}, "Non-delivered order cannot be returned"),
    (ANA, "exchange_delivered_order_items", {"order_id": "#W1000003", "item_ids": ["8200000022"],
     "new_item_ids": ["8200000021"], "payment_method_id": "credit_card_1001001"},
     "Non-delivered order cannot be exchanged"),
    (ANA, "return_delivered_order_items", {"order_id": "#W1000002", "item_ids": ["8300000031"],
     "payment_method_id": "credit_card_1001001"}, "Payment method should be the original payment method"),
    (ANA, "return_delivered_order_items", {"order_id": "#W1000002", "item_ids": ["8300000031"],
     "payment_method_id": "gift_card_1001002"}, None),
    (ANA, "exchange_delivered_order_items", {"order_id": "#W1000002", "item_ids": ["8300000031"],
     "new_item_ids": ["8300000032"], "payment_method_id": "credit_card_1001001"}, None),
]  # fmt: skip


@pytest.mark.parametrize(("customer", "name", "arguments", "expected"), STATUS_RULES)
def test_status_rules(runner, demo_db, new_ctx, customer, name, arguments, expected):
    before = export_dataset(demo_db)
    result = runner.run(new_ctx(customer), name, arguments)
    if expected is None:
        assert result.ok, result.error_message
    else:
        assert (result.ok, result.error_code, result.error_message) == (False, "invalid_request", expected)
        assert export_dataset(demo_db) == before


def test_items_can_be_modified_once_then_only_address_and_payment(runner, new_ctx):
    ctx = new_ctx(ANA)
    args = {"order_id": "#W1000001", "item_ids": ["8100000011"], "new_item_ids": ["8100000012"],
            "payment_method_id": "credit_card_1001001"}  # fmt: skip
    assert runner.run(ctx, "modify_pending_order_items", args).content["status"] == "pending (item modified)"
    again = runner.run(ctx, "modify_pending_order_items", {**args, "item_ids": ["8100000012"],
                                                            "new_item_ids": ["8100000011"]})  # fmt: skip
    assert again.error_message == "Non-pending order cannot be modified"
    cancel = runner.run(ctx, "cancel_pending_order", {"order_id": "#W1000001", "reason": "no longer needed"})
    assert cancel.error_message == "Non-pending order cannot be cancelled"
    address = runner.run(ctx, "modify_pending_order_address", {"order_id": "#W1000001", **ADDRESS})
    assert address.ok and address.content["address"]["city"] == "Oakland"
    payment = runner.run(ctx, "modify_pending_order_payment", {"order_id": "#W1000001",
                                                                "payment_method_id": "gift_card_1001002"})  # fmt: skip
    assert payment.error_message == "There should be exactly one payment for a pending order"
