"""The customer-service tools over PostgreSQL, with τ-bench retail names, arguments and semantics.

Each function's docstring is the contract the model reads; its signature is the argument
schema. Validation messages follow the τ-bench reference so that a model tuned on it reads
familiar errors. Where this module deliberately differs from the reference, the function says
so in a comment (see docs/agent.md, "Differences from the τ-bench reference").

Each tool declares its kind where it is registered (`@tool(ToolKind...)`): the agent acts on
that, never on a tool's name. Writes and the order and profile reads return typed documents
(`order_agent.tools.models`).
"""

from __future__ import annotations

import ast
import operator
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from order_agent.tools.changes import CHANGE_USER_ADDRESS, RECORD_HANDOFF, Change, OrderToChange, read_order
from order_agent.tools.context import ToolCall
from order_agent.tools.models import Address, Order, User
from order_agent.tools.registry import ToolError, ToolKind, tool

CancelReason = Literal["no longer needed", "ordered by mistake"]


def _invalid(message: str) -> ToolError:
    return ToolError("invalid_request", message)


# -- identification ------------------------------------------------------------------------------


@tool(ToolKind.READ, requires_auth=False, authenticates=True)
def find_user_id_by_email(call: ToolCall, email: str) -> str:
    """Find a customer's user id by their email address, and verify the customer with it.

    Use this first. Every other customer or order tool works only after the customer has
    been found by this tool or by find_user_id_by_name_zip.

    Args:
        email: The customer's email address, such as 'jane.doe@example.com'.

    Returns:
        The verified customer's user id.

    Raises:
        not_found: No customer matches; each miss counts as a failed attempt.
        too_many_attempts: Too many failed attempts in this conversation; offer a human agent.
        forbidden: The conversation is already verified for another customer.
    """
    call.check_auth_attempts_left()
    call.cur.execute("SELECT user_id FROM users WHERE lower(email) = lower(%s)", (email,))
    row = call.cur.fetchone()
    return call.authenticate(row["user_id"] if row else None)


@tool(ToolKind.READ, requires_auth=False, authenticates=True)
def find_user_id_by_name_zip(call: ToolCall, first_name: str, last_name: str, zip: str) -> str:
    """Find a customer's user id by first name, last name and zip code, and verify the customer with it.

    Use this only when the customer cannot give an email address or the email is not found.

    Args:
        first_name: The customer's first name, such as 'Jane'.
        last_name: The customer's last name, such as 'Doe'.
        zip: The zip code of the customer's address, such as '10001'.

    Returns:
        The verified customer's user id.

    Raises:
        not_found: No customer matches; each miss counts as a failed attempt.
        too_many_attempts: Too many failed attempts in this conversation; offer a human agent.
        forbidden: The conversation is already verified for another customer.
    """
    call.check_auth_attempts_left()
    call.cur.execute(
        """SELECT user_id FROM users
           WHERE lower(first_name) = lower(%s) AND lower(last_name) = lower(%s) AND zip = %s
           ORDER BY seq LIMIT 1""",
        (first_name, last_name, zip),
    )
    row = call.cur.fetchone()
    return call.authenticate(row["user_id"] if row else None)


# -- reads ---------------------------------------------------------------------------------------------


@tool(ToolKind.READ)
def get_user_details(call: ToolCall, user_id: str) -> User:
    """Get the verified customer's profile: name, email, default address, payment methods
    (gift cards with their balance) and the ids of their orders.

    Args:
        user_id: The verified customer's user id, such as 'jane_doe_1234'.

    Returns:
        The customer's profile.

    Raises:
        forbidden: The user id is not the verified customer's.
    """
    call.require_own_user(user_id)
    return call.user_document(user_id)


@tool(ToolKind.READ)
def get_order_details(call: ToolCall, order_id: str) -> Order:
    """Get the status and details of one of the verified customer's orders: items, shipping
    address, fulfillments with tracking ids, and payment history.

    Args:
        order_id: The order id, such as '#W0000000'; it starts with a '#'.

    Returns:
        The order.

    Raises:
        not_found: There is no such order.
        forbidden: The order is another customer's.
    """
    call.cur.execute("SELECT user_id, document FROM order_documents WHERE order_id = %s", (order_id,))
    row = call.cur.fetchone()
    if row is None:
        raise ToolError("not_found", "Order not found")
    if row["user_id"] != call.customer_id:
        raise ToolError("forbidden", f"Order {order_id} is not one of the verified customer's orders.")
    return Order.model_validate(row["document"])


@tool(ToolKind.READ, requires_auth=False)
def get_product_details(call: ToolCall, product_id: str) -> dict[str, Any]:
    """Get a product type and all its variants (items) with their options, price and availability.

    Args:
        product_id: The product id, such as '6086499569'. A product id is not an item id.

    Returns:
        The product: name, product_id, and variants by item id (item_id, options, available, price).

    Raises:
        not_found: There is no such product.
    """
    call.cur.execute("SELECT document FROM product_documents WHERE product_id = %s", (product_id,))
    row = call.cur.fetchone()
    if row is None:
        raise ToolError("not_found", "Product not found")
    return row["document"]


@tool(ToolKind.READ, requires_auth=False)
def get_item_details(call: ToolCall, item_id: str) -> dict[str, Any]:
    """Get one item (a variant of a product): its product, options, price and availability.

    Args:
        item_id: The item id, such as '1008292230'.

    Returns:
        The item: item_id, product_id, name, options, available, price.

    Raises:
        not_found: There is no such item.
    """
    call.cur.execute(
        """SELECT json_build_object('item_id', v.item_id, 'product_id', v.product_id, 'name', p.name,
                                    'options', v.options, 'available', v.available, 'price', v.price) AS item
           FROM variants v JOIN products p USING (product_id) WHERE v.item_id = %s""",
        (item_id,),
    )
    row = call.cur.fetchone()
    if row is None:
        raise ToolError("not_found", "Item not found")
    return row["item"]


@tool(ToolKind.READ, requires_auth=False)
def list_all_product_types(call: ToolCall) -> dict[str, str]:
    """List every product type in the store: product name to product id, sorted by name.

    Each product type has several items (variants) with their own item ids and options.

    Returns:
        Product names mapped to product ids.
    """
    call.cur.execute("SELECT coalesce(json_object_agg(name, product_id ORDER BY name), '{}') AS types FROM products")
    return call.cur.fetchone()["types"]


# -- writes ------------------------------------------------------------------------------------------


@tool(ToolKind.WRITE)
def cancel_pending_order(call: ToolCall, order_id: str, reason: CancelReason) -> Order:
    """Cancel a pending order and refund its payments.

    Only an order in status 'pending' can be cancelled. Explain the cancellation and get an
    explicit yes from the customer first. Refunds to gift cards are credited immediately;
    other refunds take 5-7 business days.

    Args:
        order_id: The order id, such as '#W0000000'; it starts with a '#'.
        reason: Why the customer cancels: 'no longer needed' or 'ordered by mistake'.

    Returns:
        The order after the cancellation, in the shape get_order_details returns.

    Raises:
        not_found: There is no such order.
        forbidden: The order is another customer's.
        invalid_request: A rule refuses the change; the message says which.
    """
    order = read_order(call, order_id)
    if order.status != "pending":
        raise _invalid("Non-pending order cannot be cancelled")
    # Refund what each payment method still has paid in. The reference refunds every history
    # entry, refunds included, which would refund twice after a payment-method change.
    refunds = [(pm, paid) for pm, paid in order.paid_by_method().items() if paid > 0]
    return order.change(
        call,
        {"status": "cancelled", "cancel_reason": reason},
        payments=[("refund", amount, pm) for pm, amount in refunds],
        gift_cards=[(pm, amount) for pm, amount in refunds if order.is_gift_card(pm)],
    )


@tool(ToolKind.WRITE)
def modify_pending_order_address(
    call: ToolCall, order_id: str, address1: str, address2: str, city: str, state: str, country: str, zip: str
) -> Order:
    """Change the shipping address of a pending order.

    Works for orders in status 'pending' or 'pending (item modified)'. Explain the change and
    get an explicit yes from the customer first.

    Args:
        order_id: The order id, such as '#W0000000'; it starts with a '#'.
        address1: First address line, such as '123 Main St'.
        address2: Second address line, such as 'Apt 1', or '' when there is none.
        city: City, such as 'San Francisco'.
        state: State, such as 'CA'.
        country: Country, such as 'USA'.
        zip: Zip code, such as '94105'.

    Returns:
        The order after the change, in the shape get_order_details returns.

    Raises:
        not_found: There is no such order.
        forbidden: The order is another customer's.
        invalid_request: A rule refuses the change; the message says which.
    """
    order = read_order(call, order_id)
    if "pending" not in order.status:
        raise _invalid("Non-pending order cannot be modified")
    address = Address(address1=address1, address2=address2, city=city, state=state, country=country, zip=zip)
    return order.change(call, address.model_dump())


def _check_items_present(items: list[dict[str, Any]], item_ids: list[str], message: str) -> None:
    """Every requested item id (duplicates counted) must be in the order that many times."""
    have = Counter(item["item_id"] for item in items)
    for item_id, wanted in Counter(item_ids).items():
        if wanted > have[item_id]:
            raise _invalid(message.format(item_id=item_id))


@dataclass(frozen=True)
class _ReplacementRules:
    """How one kind of item replacement is checked, with the reference's wording for each failure."""

    status: str
    wrong_status: str
    missing_item: str
    count_mismatch: str
    same_item_allowed: bool
    insufficient_gift_card: str


_MODIFY_ITEMS = _ReplacementRules(
    "pending", "Non-pending order cannot be modified", "{item_id} not found",
    "The number of items to be exchanged should match", False,
    "Insufficient gift card balance to pay for the new item",
)  # fmt: skip
_EXCHANGE_ITEMS = _ReplacementRules(
    "delivered", "Non-delivered order cannot be exchanged", "Number of {item_id} not found.",
    "The number of items to be exchanged should match.", True,
    "Insufficient gift card balance to pay for the price difference",
)  # fmt: skip


def _check_replacement(
    call: ToolCall,
    rules: _ReplacementRules,
    order_id: str,
    item_ids: list[str],
    new_item_ids: list[str],
    payment_method_id: str,
) -> tuple[OrderToChange, Decimal]:
    """Read the order and validate replacing `item_ids` by `new_item_ids`, position by position;
    the order and the price difference (total new price minus old price)."""
    order = read_order(call, order_id, payment_method_ids=[payment_method_id], new_item_ids=new_item_ids)
    if order.status != rules.status:
        raise _invalid(rules.wrong_status)
    _check_items_present(order.items, item_ids, rules.missing_item)
    if len(item_ids) != len(new_item_ids):
        raise _invalid(rules.count_mismatch)
    first_by_id = {}
    for item in order.items:
        first_by_id.setdefault(item["item_id"], item)
    difference = Decimal("0")
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        if not rules.same_item_allowed and item_id == new_item_id:
            raise _invalid("The new item id should be different from the old item id")
        item = first_by_id[item_id]
        variant = order.variants.get(new_item_id)
        if variant is None or variant["product_id"] != item["product_id"]:
            raise ToolError("not_found", "Variant not found")
        if not variant["available"]:
            raise _invalid(f"New item {new_item_id} not found or available")
        difference += variant["price"] - item["price"]
    method = order.payment_method(payment_method_id)
    if method["source"] == "gift_card" and method["balance"] < difference:
        raise _invalid(rules.insufficient_gift_card)
    return order, difference


@tool(ToolKind.WRITE)
def modify_pending_order_items(
    call: ToolCall, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> Order:
    """Swap items of a pending order for other available items of the same product type.

    Possible once per order, only in status 'pending'; the order then becomes
    'pending (item modified)' and cannot be modified or cancelled again, so collect every item
    to change first. Explain the change and get an explicit yes from the customer first. The
    price difference is charged to, or refunded to, the given payment method; a gift card must
    cover a charge.

    Args:
        order_id: The order id, such as '#W0000000'; it starts with a '#'.
        item_ids: The item ids to replace, such as ['1008292230']; list an id twice to replace two of it.
        new_item_ids: The replacement item ids, position by position; each must be a different item of the same product.
        payment_method_id: The customer's payment method for the price difference,
            such as 'gift_card_0000000' or 'credit_card_0000000'.

    Returns:
        The order after the change, in the shape get_order_details returns.

    Raises:
        not_found: There is no such order, new item (variant) or payment method.
        forbidden: The order is another customer's.
        invalid_request: A rule refuses the change; the message says which.
    """
    order, difference = _check_replacement(call, _MODIFY_ITEMS, order_id, item_ids, new_item_ids, payment_method_id)
    # Each replaced item takes its own new variant's price and options. (The reference gives
    # every replaced item the last variant's: tau2-bench issues #317/#318.)
    current = [item["item_id"] for item in order.items]
    replacements = {}
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        index = current.index(item_id)
        current[index] = replacements[index] = new_item_id
    return order.change(
        call,
        {"status": "pending (item modified)"},
        payments=[("payment" if difference > 0 else "refund", abs(difference), payment_method_id)],
        gift_cards=[(payment_method_id, -difference)] if order.is_gift_card(payment_method_id) else [],
        items=replacements,
    )


@tool(ToolKind.WRITE)
def modify_pending_order_payment(call: ToolCall, order_id: str, payment_method_id: str) -> Order:
    """Pay a pending order with a different payment method of the customer.

    Works for orders in status 'pending' or 'pending (item modified)' that have exactly one
    payment. The new method is charged and the old one refunded; a gift card must cover the
    whole amount. Explain the change and get an explicit yes from the customer first.

    Args:
        order_id: The order id, such as '#W0000000'; it starts with a '#'.
        payment_method_id: The new payment method, such as 'gift_card_0000000' or 'credit_card_0000000'.

    Returns:
        The order after the change, in the shape get_order_details returns.

    Raises:
        not_found: There is no such order or payment method.
        forbidden: The order is another customer's.
        invalid_request: A rule refuses the change; the message says which.
    """
    order = read_order(call, order_id, payment_method_ids=[payment_method_id])
    if "pending" not in order.status:
        raise _invalid("Non-pending order cannot be modified")
    history = order.payments
    new_method = order.payment_method(payment_method_id)
    if len(history) != 1 or history[0]["transaction_type"] != "payment":
        raise _invalid("There should be exactly one payment for a pending order")
    old_method_id = history[0]["payment_method_id"]
    if old_method_id == payment_method_id:
        raise _invalid("The new payment method should be different from the current one")
    amount = history[0]["amount"]
    if new_method["source"] == "gift_card" and new_method["balance"] < amount:
        raise _invalid("Insufficient gift card balance to pay for the order")
    gift_cards = [(payment_method_id, -amount)] if order.is_gift_card(payment_method_id) else []
    if order.is_gift_card(old_method_id):
        gift_cards.append((old_method_id, amount))
    payments = [("payment", amount, payment_method_id), ("refund", amount, old_method_id)]
    return order.change(call, payments=payments, gift_cards=gift_cards)


@tool(ToolKind.WRITE)
def modify_user_address(
    call: ToolCall, user_id: str, address1: str, address2: str, city: str, state: str, country: str, zip: str
) -> User:
    """Change the verified customer's default address (existing orders keep theirs).

    Explain the change and get an explicit yes from the customer first.

    Args:
        user_id: The verified customer's user id, such as 'jane_doe_1234'.
        address1: First address line, such as '123 Main St'.
        address2: Second address line, such as 'Apt 1', or '' when there is none.
        city: City, such as 'San Francisco'.
        state: State, such as 'CA'.
        country: Country, such as 'USA'.
        zip: Zip code, such as '94105'.

    Returns:
        The customer's profile after the change, in the shape get_user_details returns.

    Raises:
        forbidden: The user id is not the verified customer's.
    """
    call.require_own_user(user_id)
    address = Address(address1=address1, address2=address2, city=city, state=state, country=country, zip=zip)
    call.change = Change(CHANGE_USER_ADDRESS, {"user_id": user_id, **address.model_dump()})
    return call.user_document(user_id).model_copy(update={"address": address})


@tool(ToolKind.WRITE)
def return_delivered_order_items(call: ToolCall, order_id: str, item_ids: list[str], payment_method_id: str) -> Order:
    """Request the return of items of a delivered order.

    Only for orders in status 'delivered', and only once per order (a return or an exchange),
    so collect every item first. The order becomes 'return requested' and the customer gets an
    email on how to send the items back. The refund goes to the original payment method or to
    one of the customer's gift cards. Explain the return and get an explicit yes from the
    customer first.

    Args:
        order_id: The order id, such as '#W0000000'; it starts with a '#'.
        item_ids: The item ids to return, such as ['1008292230']; list an id twice to return two of it.
        payment_method_id: Where the refund goes: the order's original payment method or a gift card,
            such as 'gift_card_0000000'.

    Returns:
        The order after the request, in the shape get_order_details returns.

    Raises:
        not_found: There is no such order or payment method.
        forbidden: The order is another customer's.
        invalid_request: A rule refuses the change; the message says which.
    """
    order = read_order(call, order_id, payment_method_ids=[payment_method_id])
    if order.status != "delivered":
        raise _invalid("Non-delivered order cannot be returned")
    method = order.payment_method(payment_method_id)
    first_payment = order.payments[0] if order.payments else None
    if method["source"] != "gift_card" and (
        first_payment is None or first_payment["payment_method_id"] != payment_method_id
    ):
        raise _invalid("Payment method should be the original payment method")
    _check_items_present(order.items, item_ids, "Some item not found")
    return order.change(
        call,
        {"status": "return requested", "return_items": sorted(item_ids), "return_payment_method_id": payment_method_id},
    )


@tool(ToolKind.WRITE)
def exchange_delivered_order_items(
    call: ToolCall, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
) -> Order:
    """Request the exchange of items of a delivered order for other available items of the same product type.

    Only for orders in status 'delivered', and only once per order (a return or an exchange),
    so collect every item first. The order becomes 'exchange requested'; the price difference
    is settled with the given payment method, and a gift card must cover a charge. Explain the
    exchange and get an explicit yes from the customer first.

    Args:
        order_id: The order id, such as '#W0000000'; it starts with a '#'.
        item_ids: The item ids to exchange, such as ['1008292230']; list an id twice to exchange two of it.
        new_item_ids: The new item ids, position by position; each must be an item of the same product.
        payment_method_id: The customer's payment method for the price difference,
            such as 'gift_card_0000000' or 'credit_card_0000000'.

    Returns:
        The order after the request, in the shape get_order_details returns.

    Raises:
        not_found: There is no such order, new item (variant) or payment method.
        forbidden: The order is another customer's.
        invalid_request: A rule refuses the change; the message says which.
    """
    order, difference = _check_replacement(call, _EXCHANGE_ITEMS, order_id, item_ids, new_item_ids, payment_method_id)
    return order.change(
        call,
        {"status": "exchange requested", "exchange_items": sorted(item_ids), "exchange_new_items": sorted(new_item_ids),
         "exchange_payment_method_id": payment_method_id, "exchange_price_difference": difference},
    )  # fmt: skip


# -- other ----------------------------------------------------------------------------------------------


@tool(ToolKind.HANDOFF, requires_auth=False)
def transfer_to_human_agents(call: ToolCall, summary: str) -> str:
    """Hand the conversation to a human agent, with a summary of the customer's issue.

    Only when the customer explicitly asks for a human, or when the request cannot be solved
    with these tools within the policy.

    Args:
        summary: A short summary of the customer's issue for the human agent.

    Returns:
        'Transfer successful'. The support team is sent the summary and follows up; this
        assistant stops answering (the agent tells the customer what happens next).
    """
    call.change = Change(
        RECORD_HANDOFF, {"session_id": call.ctx.session_id, "customer_id": call.ctx.customer_id, "summary": summary}
    )
    return "Transfer successful"


_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_MAX_EXPRESSION = 200


def _evaluate(node: ast.AST) -> Decimal:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Decimal(str(node.value))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise _invalid("Only numbers, + - * / and parentheses are allowed")


@tool(ToolKind.READ, requires_auth=False, uses_database=False)
def calculate(call: ToolCall, expression: str) -> str:
    """Calculate an arithmetic expression, rounded to 2 decimals.

    Args:
        expression: The expression, such as '(129.99 - 20) * 2'. Numbers, + - * /, parentheses and spaces only.

    Returns:
        The result as a string, such as '219.98'.

    Raises:
        invalid_request: The expression is not plain arithmetic, or cannot be calculated.
    """
    # Parsed, never eval()'d: no names, no calls, and no ** that could take minutes.
    if len(expression) > _MAX_EXPRESSION or not all(ch in "0123456789+-*/(). " for ch in expression):
        raise _invalid("Invalid characters in expression")
    try:
        value = _evaluate(ast.parse(expression, mode="eval"))
    except SyntaxError as exc:
        raise _invalid("Invalid expression") from exc
    except ArithmeticError as exc:  # division by zero, overflow
        raise _invalid(f"Cannot calculate: {exc.__class__.__name__}") from exc
    return str(round(float(value), 2))
