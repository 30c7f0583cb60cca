"""The SQL of the writes, in one place: each write reads once, checks its rules in Python, and makes
its whole change, with the idempotency record's result, in one statement.

A confirmed write is five round trips:

    BEGIN
    CLAIM_AND_LOCK      claim the idempotency key; once claimed, lock the order the write names
    ORDER_FOR_CHANGE    the order as get_order_details returns it, plus what the rules need (items,
                        payments, the new variants, the customer's payment methods, locked in id
                        order); a statement of its own, so its snapshot is taken after the lock and
                        sees any write of the order that committed while this one waited
    CHANGE_ORDER        every change and the result, stored under the idempotency key
    COMMIT

A change of the profile address reads `user_documents` and changes with CHANGE_USER_ADDRESS (also
five); a handoff has nothing to read or lock (RECORD_HANDOFF: four).

Its dry run is the read alone, unlocked and outside a transaction (one round trip), which is why a
write tool never runs a change itself: it stages it (`ToolCall.change`). The tool builds
the document the change produces from the read (`OrderToChange.change`), so the preview the customer
confirms is exactly what the write returns (tests compare both with what `order_documents` reads
after the commit). Every writer locks the order first, then payment methods in id order, and
`UPDATE` adds to a balance rather than setting it: no deadlocks, no lost updates.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from order_agent.tools.context import ToolCall
from order_agent.tools.models import Order
from order_agent.tools.registry import ToolError

CLAIM_AND_LOCK = """
WITH claim AS (
    INSERT INTO tool_writes (idempotency_key, session_id, customer_id, tool_name, request_hash)
    VALUES (%(idempotency_key)s, %(session_id)s, %(customer_id)s, %(tool_name)s, %(request_hash)s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING idempotency_key
), locked AS (
    -- the key first (a retry waits for the first call to end), then the order
    SELECT order_id FROM orders WHERE order_id = %(order_id)s AND EXISTS (SELECT FROM claim) FOR UPDATE
)
SELECT EXISTS (SELECT FROM claim) AS claimed, EXISTS (SELECT FROM locked) AS locked"""

EARLIER_WRITE = "SELECT request_hash, session_id, customer_id, result FROM tool_writes WHERE idempotency_key = %s"

# `{lock}` is FOR UPDATE in a confirmed write, empty in a dry run. Money stays exact: `facts` is
# read as text and parsed with Decimal; variant options stay text, stored back as they were.
ORDER_FOR_CHANGE = """
SELECT d.user_id, d.document, json_build_object(
    'items', (SELECT coalesce(json_agg(json_build_object('position', i.position, 'item_id', i.item_id,
                                                         'product_id', i.product_id, 'price', i.price)
                                       ORDER BY i.position), '[]')
              FROM order_items i WHERE i.order_id = d.order_id),
    'payments', (SELECT coalesce(json_agg(json_build_object('transaction_type', p.transaction_type,
                                                            'amount', p.amount,
                                                            'payment_method_id', p.payment_method_id)
                                          ORDER BY p.position), '[]')
                 FROM order_payments p WHERE p.order_id = d.order_id),
    'next_payment_position', (SELECT coalesce(max(p.position) + 1, 0) FROM order_payments p
                              WHERE p.order_id = d.order_id),
    'variants', (SELECT coalesce(json_object_agg(v.item_id, json_build_object(
                                     'product_id', v.product_id, 'price', v.price,
                                     'available', v.available, 'options', v.options::text)), '{{}}')
                 FROM variants v WHERE v.item_id = ANY(%(new_item_ids)s)),
    -- the customer's methods among those named and those the order was paid or refunded with
    'payment_methods', (SELECT coalesce(json_object_agg(m.payment_method_id, json_build_object(
                                            'source', m.source, 'balance', m.balance)), '{{}}')
                        FROM (SELECT payment_method_id, source, balance FROM payment_methods
                              WHERE user_id = %(customer_id)s
                                AND (payment_method_id = ANY(%(payment_method_ids)s)
                                     OR payment_method_id IN (SELECT payment_method_id FROM order_payments
                                                              WHERE order_id = d.order_id))
                              ORDER BY payment_method_id {lock}) m)
)::text AS facts
FROM order_documents d WHERE d.order_id = %(order_id)s"""

_RECORD_RESULT = "UPDATE tool_writes SET result = %(result)s WHERE idempotency_key = %(idempotency_key)s"

# Empty lists change nothing; a column the `order` patch leaves out (NULL) keeps its value.
CHANGE_ORDER = f"""
WITH payments AS (
    INSERT INTO order_payments (order_id, position, user_id, transaction_type, amount, payment_method_id)
    SELECT %(order_id)s, p.position, %(customer_id)s, p.transaction_type, p.amount, p.payment_method_id
    FROM json_to_recordset(%(payments)s) AS p(position integer, transaction_type text, amount numeric,
                                              payment_method_id text)
), gift_cards AS (
    UPDATE payment_methods m SET balance = m.balance + g.delta
    FROM json_to_recordset(%(gift_cards)s) AS g(payment_method_id text, delta numeric)
    WHERE m.payment_method_id = g.payment_method_id AND m.source = 'gift_card'
), items AS (
    UPDATE order_items i SET item_id = n.item_id, price = n.price, options = n.options::json
    FROM json_to_recordset(%(items)s) AS n(position integer, item_id text, price numeric, options text)
    WHERE i.order_id = %(order_id)s AND i.position = n.position
), order_row AS (
    UPDATE orders o SET
        status = coalesce(c.status, o.status), cancel_reason = coalesce(c.cancel_reason, o.cancel_reason),
        address1 = coalesce(c.address1, o.address1), address2 = coalesce(c.address2, o.address2),
        city = coalesce(c.city, o.city), state = coalesce(c.state, o.state),
        country = coalesce(c.country, o.country), zip = coalesce(c.zip, o.zip),
        exchange_items = coalesce(c.exchange_items, o.exchange_items),
        exchange_new_items = coalesce(c.exchange_new_items, o.exchange_new_items),
        exchange_payment_method_id = coalesce(c.exchange_payment_method_id, o.exchange_payment_method_id),
        exchange_price_difference = coalesce(c.exchange_price_difference, o.exchange_price_difference),
        return_items = coalesce(c.return_items, o.return_items),
        return_payment_method_id = coalesce(c.return_payment_method_id, o.return_payment_method_id)
    FROM json_populate_record(NULL::orders, %(order)s) AS c
    WHERE o.order_id = %(order_id)s AND %(order)s::jsonb <> '{{}}'
)
{_RECORD_RESULT}"""

CHANGE_USER_ADDRESS = f"""
WITH moved AS (
    UPDATE users SET address1 = %(address1)s, address2 = %(address2)s, city = %(city)s, state = %(state)s,
                     country = %(country)s, zip = %(zip)s
    WHERE user_id = %(user_id)s
)
{_RECORD_RESULT}"""

RECORD_HANDOFF = f"""
WITH handoff AS (
    INSERT INTO handoffs (session_id, customer_id, summary) VALUES (%(session_id)s, %(customer_id)s, %(summary)s)
)
{_RECORD_RESULT}"""

ADDRESS_FIELDS = ("address1", "address2", "city", "state", "country", "zip")


@dataclass(frozen=True)
class Change:
    """A write's whole change as one statement that ends by storing `%(result)s` under
    `%(idempotency_key)s`. The tool stages it (`ToolCall.change`); the runner runs it with those
    two, in a confirmed write only."""

    statement: str
    params: dict[str, Any]


def _json(value: Any) -> str:
    return json.dumps(value, default=str)  # Decimal as its exact digits


@dataclass
class OrderToChange:
    """One of the customer's orders as a write reads it (`read_order`), and the change it stages."""

    document: dict[str, Any]  # as get_order_details returns it
    items: list[dict[str, Any]]  # position, item_id, product_id, price (Decimal), in order
    payments: list[dict[str, Any]]  # transaction_type, amount (Decimal), payment_method_id, in order
    next_payment_position: int
    variants: dict[str, dict[str, Any]]  # the new items asked for: product_id, price, available, options (text)
    payment_methods: dict[str, dict[str, Any]]  # the customer's: source, balance (Decimal or None)

    @property
    def order_id(self) -> str:
        return self.document["order_id"]

    @property
    def status(self) -> str:
        return self.document["status"]

    def payment_method(self, payment_method_id: str) -> dict[str, Any]:
        method = self.payment_methods.get(payment_method_id)
        if method is None:
            raise ToolError("not_found", "Payment method not found")
        return method

    def is_gift_card(self, payment_method_id: str) -> bool:
        return self.payment_methods.get(payment_method_id, {}).get("source") == "gift_card"

    def paid_by_method(self) -> dict[str, Decimal]:
        """What each payment method still has paid in (payments minus refunds), in first-use order."""
        paid: dict[str, Decimal] = defaultdict(Decimal)
        for entry in self.payments:
            sign = 1 if entry["transaction_type"] == "payment" else -1
            paid[entry["payment_method_id"]] += sign * entry["amount"]
        return dict(paid)

    def change(
        self,
        call: ToolCall,
        columns: dict[str, Any] | None = None,
        *,
        payments: list[tuple[str, Decimal, str]] = (),
        gift_cards: list[tuple[str, Decimal]] = (),
        items: dict[int, str] | None = None,
    ) -> Order:
        """Stage the change on `call` and return the order as it will be after it.

        `columns`: columns of `orders` to set; `payments`: (transaction_type, amount, payment_method_id)
        entries appended to the history; `gift_cards`: (payment_method_id, amount added to the
        balance); `items`: index in `items` -> the new item id, a variant in `variants`."""
        columns, items = columns or {}, items or {}
        document = copy.deepcopy(self.document)
        for column, value in columns.items():
            if column in ADDRESS_FIELDS:
                document["address"][column] = value
            else:
                document[column] = value
        entries = [
            {"position": self.next_payment_position + offset, "transaction_type": kind, "amount": amount,
             "payment_method_id": payment_method_id}
            for offset, (kind, amount, payment_method_id) in enumerate(payments)
        ]  # fmt: skip
        document["payment_history"] += [{k: v for k, v in entry.items() if k != "position"} for entry in entries]
        replaced = []
        for index, new_item_id in items.items():
            variant = self.variants[new_item_id]
            document["items"][index].update(
                item_id=new_item_id, price=variant["price"], options=json.loads(variant["options"])
            )
            replaced.append(
                {"position": self.items[index]["position"], "item_id": new_item_id, "price": variant["price"],
                 "options": variant["options"]}
            )  # fmt: skip
        call.change = Change(
            CHANGE_ORDER,
            {
                "order_id": self.order_id,
                "customer_id": call.customer_id,
                "order": _json(columns),
                "payments": _json(entries),
                "gift_cards": _json([{"payment_method_id": pm, "delta": delta} for pm, delta in gift_cards]),
                "items": _json(replaced),
            },
        )
        return Order.model_validate(document)


def read_order(
    call: ToolCall, order_id: str, *, payment_method_ids: list[str] = (), new_item_ids: list[str] = ()
) -> OrderToChange:
    """The customer's order and what a change of it is checked against, in one statement. In a
    confirmed write the runner has locked the order already, and this locks the payment methods."""
    call.cur.execute(
        ORDER_FOR_CHANGE.format(lock="FOR UPDATE" if call.confirmed else ""),
        {
            "order_id": order_id,
            "customer_id": call.customer_id,
            "payment_method_ids": sorted(set(payment_method_ids)),
            "new_item_ids": sorted(set(new_item_ids)),
        },
    )
    row = call.cur.fetchone()
    if row is None:
        raise ToolError("not_found", "Order not found")
    if row["user_id"] != call.customer_id:
        raise ToolError("forbidden", f"Order {order_id} is not one of the verified customer's orders.")
    facts = json.loads(row["facts"], parse_float=Decimal)
    return OrderToChange(row["document"], **facts)
