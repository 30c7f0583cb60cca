"""What the order and customer reads return: typed, so that their JSON schema reaches the tool spec.

The documents are built by the database views `order_documents` and `user_documents` (see the
migrations); these models validate them on the way out and describe them to the model. Fields
are in the views' order. A field the view leaves out when it is empty (`json_strip_nulls`) is
optional here, and a tool result never contains a field the view did not produce.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OrderStatus = Literal[
    "pending",
    "processed",
    "delivered",
    "cancelled",
    "pending (item modified)",
    "return requested",
    "exchange requested",
]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a view that grows a field must grow the model too


class Address(_Document):
    address1: str
    address2: str = Field(description="'' when there is none")
    city: str
    country: str
    state: str
    zip: str


class OrderItem(_Document):
    name: str = Field(description="the product's name")
    product_id: str
    item_id: str
    price: float
    options: dict[str, object]


class Fulfillment(_Document):
    tracking_id: list[str]
    item_ids: list[str]


class Payment(_Document):
    transaction_type: Literal["payment", "refund"]
    amount: float
    payment_method_id: str


class Order(_Document):
    """An order of the verified customer."""

    order_id: str
    user_id: str
    address: Address = Field(description="the shipping address")
    items: list[OrderItem]
    status: OrderStatus
    fulfillments: list[Fulfillment]
    payment_history: list[Payment]
    cancel_reason: str | None = Field(None, description="once cancelled")
    exchange_items: list[str] | None = Field(None, description="once an exchange is requested")
    exchange_new_items: list[str] | None = None
    exchange_payment_method_id: str | None = None
    exchange_price_difference: float | None = None
    return_items: list[str] | None = Field(None, description="once a return is requested")
    return_payment_method_id: str | None = None


class Name(_Document):
    first_name: str
    last_name: str


class PaymentMethod(_Document):
    source: Literal["credit_card", "paypal", "gift_card"]
    id: str
    brand: str | None = Field(None, description="credit cards")
    last_four: str | None = Field(None, description="credit cards")
    balance: float | None = Field(None, description="gift cards")


class User(_Document):
    """The verified customer's profile."""

    user_id: str
    name: Name
    address: Address = Field(description="the default address")
    email: str
    payment_methods: dict[str, PaymentMethod] = Field(description="by payment method id")
    orders: list[str] = Field(description="order ids")
