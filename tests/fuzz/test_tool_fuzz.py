"""Fuzzing the 16 τ retail tools on the τ data in PostgreSQL: any JSON as arguments gets a valid
result or a structured error (never `internal_error`, the code of an unexpected exception), and
after any sequence of calls the data keeps its invariants: gift-card balances never negative,
refunds never above payments, item counts and statuses consistent, each write recorded once.

Arguments mix any JSON with values that reach deep into the tools: the ids of the verified
customer's own orders, items, variants and payment methods, and another customer's.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from order_agent.tools import ConversationContext, ToolRunner
from order_agent.tools.registry import REGISTRY

from .strategies import json_values

CUSTOMER, OTHER = "yusuf_garcia_3055", "aarav_anderson_8794"
TOOLS = sorted(REGISTRY)
STRUCTURED_ERRORS = {
    "unknown_tool", "invalid_arguments", "invalid_request", "not_found", "not_authenticated", "forbidden",
    "too_many_attempts", "idempotency_conflict", "busy", "unavailable",
}  # fmt: skip
# Status changes a tool may make (τ retail's rules).
TRANSITIONS = {
    ("pending", "cancelled"), ("pending", "pending (item modified)"),
    ("delivered", "return requested"), ("delivered", "exchange requested"),
}  # fmt: skip


def _rows(db, sql, *params):
    with db.transaction() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.fixture(scope="module")
def ids(tau_db):
    """Real identifiers, to draw arguments from."""

    def column(sql, *params):
        return sorted({next(iter(row.values())) for row in _rows(tau_db, sql, *params)})

    users = (CUSTOMER, OTHER)
    order_items, variants = {}, {}
    for row in _rows(tau_db, "SELECT order_id, item_id, product_id FROM order_items JOIN orders USING (order_id) "
                             "WHERE user_id = %s", CUSTOMER):  # fmt: skip
        order_items.setdefault(row["order_id"], []).append(row["item_id"])
        variants[row["item_id"]] = column("SELECT item_id FROM variants WHERE product_id = %s", row["product_id"])
    return {
        "order_items": order_items,
        "variants": variants,
        "order_id": column("SELECT order_id FROM orders WHERE user_id = ANY(%s)", list(users)),
        "item_id": column(
            "SELECT v.item_id FROM variants v JOIN order_items i USING (product_id) "
            "JOIN orders o USING (order_id) WHERE o.user_id = %s",
            CUSTOMER,
        ),
        "product_id": column(
            "SELECT product_id FROM order_items JOIN orders USING (order_id) WHERE user_id = %s", CUSTOMER
        ),
        "payment_method_id": column(
            "SELECT payment_method_id FROM payment_methods WHERE user_id = ANY(%s)", list(users)
        ),
        "user_id": list(users),
        "email": column("SELECT email FROM users WHERE user_id = ANY(%s)", list(users)),
        "first_name": column("SELECT first_name FROM users WHERE user_id = ANY(%s)", list(users)),
        "last_name": column("SELECT last_name FROM users WHERE user_id = ANY(%s)", list(users)),
        "zip": column("SELECT zip FROM users WHERE user_id = ANY(%s)", list(users)),
        "reason": ["no longer needed", "ordered by mistake"],
        "expression": ["(129.99 - 20) * 2", "1/0", "9" * 150 + "*" + "9" * 40, "(" * 100 + "1" + ")" * 100],
    }


@st.composite
def tool_calls(draw, ids, *, wild: bool = True):
    """(tool name, arguments): each argument a real id of the right kind, else any JSON."""
    name = draw(st.sampled_from(TOOLS))
    if wild and draw(st.integers(0, 9)) == 0:
        return name, draw(json_values)  # not even an object, or any object
    arguments = {}
    for field in REGISTRY[name].arguments.model_fields:
        plausible = ids.get(field) or ids.get(field.removeprefix("new_").removesuffix("s"))
        if field == "order_id" and draw(st.integers(0, 2)):
            value = draw(st.sampled_from(sorted(ids["order_items"])))  # the customer's own
        elif plausible is None:  # free text: addresses, summaries
            value = draw(
                st.sampled_from(["1 Main St", "Apt 2", "Springfield", "IL", "USA", "62701"]) | st.text(max_size=20)
            )
        elif field == "item_ids" and arguments.get("order_id") in ids["order_items"] and draw(st.integers(0, 3)):
            # items of the order itself, and (below) variants of the same products: the writes succeed
            value = draw(st.lists(st.sampled_from(ids["order_items"][arguments["order_id"]]), min_size=1, max_size=2))
        elif field == "new_item_ids" and isinstance(arguments.get("item_ids"), list) and draw(st.integers(0, 3)):
            value = [draw(st.sampled_from(ids["variants"].get(item, [item]))) for item in arguments["item_ids"]]
        elif field.endswith("item_ids"):
            value = draw(st.lists(st.sampled_from(plausible), min_size=0, max_size=3))
        else:
            value = draw(st.sampled_from(plausible))
        if wild and draw(st.integers(0, 5)) == 0:
            value = draw(json_values)
        if not wild or draw(st.integers(0, 12)):  # sometimes a field is missing
            arguments[field] = value
    if wild and draw(st.integers(0, 8)) == 0:
        arguments[draw(st.text(max_size=8))] = draw(json_values)
    return name, arguments


def _check_result(result):
    event(f"{result.tool_name}: {'ok' if result.ok else result.error_code}")  # statistics
    if result.ok:
        json.dumps(result.content)  # goes back to the model as JSON
        return
    assert result.error_code in STRUCTURED_ERRORS, (result.error_code, result.error_message)
    assert isinstance(result.error_message, str) and result.error_message


def _snapshot(db):
    return {
        "items": {
            r["order_id"]: r["n"] for r in _rows(db, "SELECT order_id, count(*) AS n FROM order_items GROUP BY 1")
        },
        "status": {r["order_id"]: r["status"] for r in _rows(db, "SELECT order_id, status FROM orders")},
    }


def _check_invariants(db, baseline):
    assert _rows(db, "SELECT payment_method_id FROM payment_methods WHERE balance < 0") == []
    assert (
        _rows(
            db,
            """SELECT order_id FROM order_payments GROUP BY order_id
               HAVING coalesce(sum(amount) FILTER (WHERE transaction_type = 'refund'), 0)
                    > coalesce(sum(amount) FILTER (WHERE transaction_type = 'payment'), 0)""",
        )
        == []
    )
    now = _snapshot(db)
    assert now["items"] == baseline["items"]  # items are replaced one for one, never added or lost
    for order_id, status in now["status"].items():
        before = baseline["status"][order_id]
        assert status == before or (before, status) in TRANSITIONS, (order_id, before, status)
    for row in _rows(
        db,
        """SELECT o.order_id, o.return_items, o.exchange_items, o.exchange_new_items,
                  array_agg(i.item_id) AS items
           FROM orders o JOIN order_items i USING (order_id)
           WHERE o.return_items IS NOT NULL OR o.exchange_items IS NOT NULL GROUP BY o.order_id""",
    ):
        for requested in (row["return_items"], row["exchange_items"]):
            assert not Counter(requested or []) - Counter(row["items"]), row  # only items of the order


def _session():
    return f"fuzz-{uuid.uuid4()}"


@given(data=st.data())
def test_any_arguments_get_a_result_or_a_structured_error(tau_fresh, tau_settings, ids, data):
    baseline = _snapshot(tau_fresh)
    runner = ToolRunner(tau_fresh, tau_settings)
    name, arguments = data.draw(tool_calls(ids))
    verified = data.draw(st.sampled_from([CUSTOMER, None]))
    ctx = ConversationContext(session_id=_session(), customer_id=verified)
    if REGISTRY[name].mutates_state:
        _check_result(runner.run(ctx, name, arguments, dry_run=True))
    result = runner.run(ctx, name, arguments)
    _check_result(result)
    if verified is None and REGISTRY[name].requires_auth:
        assert not result.ok
    _check_invariants(tau_fresh, baseline)


@given(data=st.data())
def test_invariants_hold_after_any_sequence_of_tool_calls(tau_fresh, tau_settings, ids, data):
    baseline = _snapshot(tau_fresh)
    runner = ToolRunner(tau_fresh, tau_settings)
    ctx = ConversationContext(session_id=_session(), customer_id=CUSTOMER)
    calls = data.draw(st.lists(tool_calls(ids, wild=False), min_size=1, max_size=8))
    applied = 0
    for name, arguments in calls:
        result = runner.run(ctx, name, arguments)
        _check_result(result)
        applied += result.ok and REGISTRY[name].mutates_state
        if result.ok and REGISTRY[name].mutates_state and data.draw(st.booleans()):
            # a retry of the same call from the state before it (a lost answer): nothing runs twice
            ctx.write_count -= 1
            again = runner.run(ctx, name, arguments)
            assert again.ok and again.replayed and again.content == result.content
    _check_invariants(tau_fresh, baseline)
    recorded = _rows(tau_fresh, "SELECT count(*) AS n FROM tool_writes WHERE session_id = %s", ctx.session_id)
    assert recorded[0]["n"] == applied  # every write recorded exactly once
