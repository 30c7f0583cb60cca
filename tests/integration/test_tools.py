"""Tool semantics on the demo data: what each write changes, and what bad input changes (nothing). The
tools run as in AWS, connected as the application role (through the pooler): so every tool's reads and
writes are also a check that the role has the privileges it needs; the checks read as the master."""

from __future__ import annotations

import json

import pytest

from order_agent.db.dataset import export_dataset
from order_agent.tools.models import Order, User
from order_agent.tools.registry import REGISTRY

ANA, BEN, CHEN = "ana_lima_1001", "ben_okafor_1002", "chen_wei_1003"


@pytest.fixture
def runner(app_runner):
    return app_runner


def _balance(db, payment_method_id):
    with db.transaction() as cur:
        cur.execute("SELECT balance FROM payment_methods WHERE payment_method_id = %s", (payment_method_id,))
        return float(cur.fetchone()["balance"])


def test_reads_return_the_tau_shapes(runner, new_ctx):
    ctx = new_ctx()
    assert runner.run(ctx, "find_user_id_by_email", {"email": "ana.lima@example.com"}).content == ANA
    user = runner.run(ctx, "get_user_details", {"user_id": ANA}).content
    assert user["orders"] == ["#W1000001", "#W1000002", "#W1000003"]
    assert user["payment_methods"]["gift_card_1001002"] == {"source": "gift_card", "id": "gift_card_1001002",
                                                            "balance": 80.0}  # fmt: skip
    order = runner.run(ctx, "get_order_details", {"order_id": "#W1000002"}).content
    assert order["status"] == "delivered"
    assert order["fulfillments"] == [{"tracking_id": ["710000000201"], "item_ids": ["8300000031"]}]
    assert "cancel_reason" not in order  # absent optional fields are omitted, as in τ


def test_cancel_refunds_a_gift_card_immediately(runner, demo_db, new_ctx):
    before = _balance(demo_db, "gift_card_1002002")
    result = runner.run(new_ctx(BEN), "cancel_pending_order", {"order_id": "#W1000004", "reason": "ordered by mistake"})
    assert result.ok, result.error_message
    order = result.content
    assert (order["status"], order["cancel_reason"]) == ("cancelled", "ordered by mistake")
    assert order["payment_history"][-1] == {"transaction_type": "refund", "amount": 36.8,
                                            "payment_method_id": "gift_card_1002002"}  # fmt: skip
    assert _balance(demo_db, "gift_card_1002002") == pytest.approx(before + 36.8)


def test_cancel_after_a_payment_change_refunds_only_what_is_still_paid(runner, demo_db, new_ctx):
    ctx = new_ctx(ANA)
    changed = runner.run(ctx, "modify_pending_order_payment", {"order_id": "#W1000001",
                                                                "payment_method_id": "gift_card_1001002"})  # fmt: skip
    assert changed.ok, changed.error_message
    assert _balance(demo_db, "gift_card_1001002") == pytest.approx(80 - 74.98)
    cancelled = runner.run(ctx, "cancel_pending_order", {"order_id": "#W1000001", "reason": "no longer needed"})
    history = cancelled.content["payment_history"]
    assert history[-1] == {"transaction_type": "refund", "amount": 74.98, "payment_method_id": "gift_card_1001002"}
    assert len(history) == 4  # payment, payment, refund (the switch), one refund of the cancellation
    assert _balance(demo_db, "gift_card_1001002") == pytest.approx(80.0)


def test_modify_items_prices_each_item_from_its_own_variant(runner, demo_db, new_ctx):
    result = runner.run(new_ctx(ANA), "modify_pending_order_items", {
        "order_id": "#W1000001", "item_ids": ["8100000011", "8200000021"],
        "new_item_ids": ["8100000012", "8200000022"], "payment_method_id": "gift_card_1001002"})  # fmt: skip
    assert result.ok, result.error_message
    items = result.content["items"]
    assert [(i["item_id"], i["price"]) for i in items] == [("8100000012", 59.5), ("8200000022", 31.25)]
    assert items[1]["options"] == {"capacity": "1000ml", "material": "glass", "color": "green"}
    # 59.50 - 49.99 + 31.25 - 24.99 = 15.77 charged to the gift card
    assert result.content["payment_history"][-1] == {"transaction_type": "payment", "amount": 15.77,
                                                     "payment_method_id": "gift_card_1001002"}  # fmt: skip
    assert _balance(demo_db, "gift_card_1001002") == pytest.approx(80 - 15.77)


def test_modify_items_handles_duplicates_and_cheaper_items(runner, demo_db, new_ctx):
    # Ben has two identical bottles at 18.40 paid by gift card; swap both for the 500 ml one at 24.99
    # (he has 10.00 on the card: 13.18 is too much), then one only (6.59 is fine).
    ctx = new_ctx(BEN)
    args = {"order_id": "#W1000004", "item_ids": ["8200000023", "8200000023"],
            "new_item_ids": ["8200000021", "8200000021"], "payment_method_id": "gift_card_1002002"}  # fmt: skip
    too_much = runner.run(ctx, "modify_pending_order_items", args)
    assert too_much.error_message == "Insufficient gift card balance to pay for the new item"
    one = runner.run(ctx, "modify_pending_order_items", {**args, "item_ids": ["8200000023"],
                                                          "new_item_ids": ["8200000021"]})  # fmt: skip
    assert one.ok
    assert [i["item_id"] for i in one.content["items"]] == ["8200000021", "8200000023"]
    assert _balance(demo_db, "gift_card_1002002") == pytest.approx(10 - 6.59)


def test_modify_items_validations(runner, new_ctx):
    ctx = new_ctx(ANA)
    base = {"order_id": "#W1000001", "payment_method_id": "credit_card_1001001"}
    cases = [
        ({"item_ids": ["8100000011", "8100000011"], "new_item_ids": ["8100000012", "8100000012"]},
         "8100000011 not found"),
        ({"item_ids": ["8100000011"], "new_item_ids": []}, "The number of items to be exchanged should match"),
        ({"item_ids": ["8100000011"], "new_item_ids": ["8100000011"]},
         "The new item id should be different from the old item id"),
        ({"item_ids": ["8100000011"], "new_item_ids": ["8200000022"]}, "Variant not found"),  # another product
        ({"item_ids": ["8100000011"], "new_item_ids": ["8100000013"]}, "New item 8100000013 not found or available"),
        ({"item_ids": ["8100000011"], "new_item_ids": ["8100000012"], "payment_method_id": "paypal_0"},
         "Payment method not found"),
    ]  # fmt: skip
    for arguments, message in cases:
        result = runner.run(ctx, "modify_pending_order_items", {**base, **arguments})
        assert result.error_message == message


def test_return_and_exchange_record_the_request(runner, new_ctx):
    ret = runner.run(new_ctx(CHEN), "return_delivered_order_items", {
        "order_id": "#W1000006", "item_ids": ["8300000032", "8100000012"],
        "payment_method_id": "credit_card_1003001"})  # fmt: skip
    assert ret.ok, ret.error_message
    assert ret.content["status"] == "return requested"
    assert ret.content["return_items"] == ["8100000012", "8300000032"]  # sorted, as τ does
    again = runner.run(new_ctx(CHEN), "exchange_delivered_order_items", {
        "order_id": "#W1000006", "item_ids": ["8300000032"], "new_item_ids": ["8300000031"],
        "payment_method_id": "credit_card_1003001"})  # fmt: skip
    assert again.error_message == "Non-delivered order cannot be exchanged"  # one return or exchange per order

    exchange = runner.run(new_ctx(ANA), "exchange_delivered_order_items", {
        "order_id": "#W1000002", "item_ids": ["8300000031"], "new_item_ids": ["8300000032"],
        "payment_method_id": "gift_card_1001002"})  # fmt: skip
    assert exchange.ok, exchange.error_message
    assert exchange.content["exchange_price_difference"] == 20.0
    assert exchange.content["exchange_new_items"] == ["8300000032"]


def test_user_address_change(runner, new_ctx):
    result = runner.run(new_ctx(ANA), "modify_user_address", {
        "user_id": ANA, "address1": "9 Elm St", "address2": "", "city": "Berkeley", "state": "CA",
        "country": "USA", "zip": "94704"})  # fmt: skip
    assert result.ok and result.content["address"]["zip"] == "94704"


def test_transfer_records_a_handoff(runner, demo_db, new_ctx):
    ctx = new_ctx(ANA)
    result = runner.run(ctx, "transfer_to_human_agents", {"summary": "Wants a refund to a closed card."})
    assert result.content == "Transfer successful"
    with demo_db.transaction() as cur:
        cur.execute("SELECT session_id, customer_id, summary FROM handoffs")
        assert cur.fetchall() == [{"session_id": ctx.session_id, "customer_id": ANA,
                                   "summary": "Wants a refund to a closed card."}]  # fmt: skip


@pytest.mark.parametrize(
    ("customer", "name", "arguments", "message"),
    [
        (ANA, "get_order_details", {"order_id": "#W9999999"}, "Order not found"),
        (ANA, "cancel_pending_order", {"order_id": "W1000001", "reason": "no longer needed"}, "Order not found"),
        (None, "get_product_details", {"product_id": "0000000000"}, "Product not found"),
        (None, "get_item_details", {"item_id": "0000000000"}, "Item not found"),
        (None, "find_user_id_by_email", {"email": "nobody@example.com"}, "User not found"),
        (ANA, "return_delivered_order_items", {"order_id": "#W1000002", "item_ids": ["8300000031"],
                                               "payment_method_id": "gift_card_9"}, "Payment method not found"),
    ],
)  # fmt: skip
def test_unknown_ids_are_not_found(runner, new_ctx, customer, name, arguments, message):
    result = runner.run(new_ctx(customer), name, arguments)
    assert (result.ok, result.error_code, result.error_message) == (False, "not_found", message)


INJECTIONS = [
    "'; DROP TABLE orders; --",
    "' OR '1'='1",
    "#W1000001' OR user_id <> 'x",
    "\\'; UPDATE payment_methods SET balance = 1000000; --",
    "%s%s%(x)s",
    "\x00",
]

# Valid arguments of every tool, for Ana; each string argument is replaced in turn.
VALID = {
    "calculate": {"expression": "1 + 1"},
    "find_user_id_by_email": {"email": "ana.lima@example.com"},
    "find_user_id_by_name_zip": {"first_name": "Ana", "last_name": "Lima", "zip": "94105"},
    "get_user_details": {"user_id": ANA},
    "get_order_details": {"order_id": "#W1000001"},
    "get_product_details": {"product_id": "8000000001"},
    "get_item_details": {"item_id": "8100000011"},
    "list_all_product_types": {},
    "cancel_pending_order": {"order_id": "#W1000001", "reason": "no longer needed"},
    "modify_pending_order_address": {"order_id": "#W1000001", "address1": "a", "address2": "b", "city": "c",
                                     "state": "d", "country": "e", "zip": "f"},
    "modify_pending_order_items": {"order_id": "#W1000001", "item_ids": ["8100000011"],
                                   "new_item_ids": ["8100000012"], "payment_method_id": "credit_card_1001001"},
    "modify_pending_order_payment": {"order_id": "#W1000001", "payment_method_id": "gift_card_1001002"},
    "modify_user_address": {"user_id": ANA, "address1": "a", "address2": "b", "city": "c", "state": "d",
                            "country": "e", "zip": "f"},
    "return_delivered_order_items": {"order_id": "#W1000002", "item_ids": ["8300000031"],
                                     "payment_method_id": "gift_card_1001002"},
    "exchange_delivered_order_items": {"order_id": "#W1000002", "item_ids": ["8300000031"],
                                       "new_item_ids": ["8300000032"], "payment_method_id": "gift_card_1001002"},
    "transfer_to_human_agents": {"summary": "help"},
}  # fmt: skip

# Free-text arguments are stored as given (safely); every other string is an identifier.
FREE_TEXT = {"address1", "address2", "city", "state", "country", "zip", "summary"}


def test_every_tool_has_valid_arguments_for_the_injection_test():
    assert set(VALID) == set(REGISTRY)


def _injected_cases():
    for name, arguments in VALID.items():
        for key, value in arguments.items():
            if key in FREE_TEXT or key == "reason":
                continue
            for attack in INJECTIONS:
                injected = [attack] if isinstance(value, list) else attack
                yield pytest.param(name, {**arguments, key: injected}, id=f"{name}.{key}.{INJECTIONS.index(attack)}")


@pytest.mark.parametrize(("name", "arguments"), list(_injected_cases()))
def test_sql_injection_in_any_identifier_changes_nothing(runner, demo_db, new_ctx, name, arguments):
    before = export_dataset(demo_db)
    result = runner.run(new_ctx(ANA), name, arguments)
    assert not result.ok  # an identifier that is an attack never matches anything
    assert result.error_code in {"not_found", "invalid_request", "forbidden", "invalid_arguments"}
    assert export_dataset(demo_db) == before


@pytest.mark.parametrize("attack", INJECTIONS[:4])
def test_sql_injection_in_free_text_is_stored_verbatim(runner, demo_db, new_ctx, attack):
    result = runner.run(new_ctx(ANA), "modify_pending_order_address", {**VALID["modify_pending_order_address"],
                                                                        "address1": attack})  # fmt: skip
    assert result.ok and result.content["address"]["address1"] == attack
    with demo_db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM orders")
        assert cur.fetchone()["n"] == 7


def test_a_dry_run_checks_every_rule_and_changes_nothing(runner, demo_db, new_ctx):
    before = export_dataset(demo_db)
    ctx = new_ctx(BEN)
    preview = runner.run(ctx, "cancel_pending_order", {"order_id": "#W1000004", "reason": "no longer needed"},
                         dry_run=True)  # fmt: skip
    assert preview.ok and preview.content["status"] == "cancelled"
    refused = runner.run(ctx, "cancel_pending_order", {"order_id": "#W1000005", "reason": "no longer needed"},
                         dry_run=True)  # fmt: skip
    assert refused.error_message == "Non-pending order cannot be cancelled"
    assert export_dataset(demo_db) == before
    assert ctx.write_count == 0


@pytest.mark.parametrize("dataset", ["demo_db", "tau_db"])
def test_every_order_and_user_document_is_its_typed_model_unchanged(dataset, request):
    """The typed reads return exactly what the database views build: every field, no other, in the
    same order (so the model reads the same JSON as before they were typed)."""
    db = request.getfixturevalue(dataset)
    with db.transaction() as cur:
        for view, model in (("order_documents", Order), ("user_documents", User)):
            cur.execute(f"SELECT document FROM {view}")  # a constant of the loop
            documents = [row["document"] for row in cur.fetchall()]
            assert documents
            for document in documents:
                typed = model.model_validate(document).model_dump(mode="json", exclude_unset=True)
                assert json.dumps(typed) == json.dumps(document)
