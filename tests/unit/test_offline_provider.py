"""The offline model provider: deterministic replies derived from the Converse transcript alone.

Conversations are played against the demo data set: read tools are answered from demo.json in
the exact shape the real tools return (`ToolResult.to_converse`), and the outcome of a write is
given by the test, as the agent gives it after the customer's reply to the confirmation.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import order_agent
from order_agent.model.base import END_CONVERSATION, END_CONVERSATION_SPEC, ModelRequest, ModelResponse, Usage
from order_agent.tools import ToolResult, ToolRunner
from order_agent.tools.registry import REGISTRY, ToolKind
from order_agent_dev.providers.offline import (
    ANYTHING_ELSE,
    ANYTHING_ELSES,
    HANDOFF_OFFER,
    OfflineProvider,
    address_in,
    intent_of,
    ordinal_in,
)

DEMO = json.loads((Path(order_agent.__file__).parent / "data" / "demo.json").read_text())
ALL_TOOLS = [*ToolRunner.converse_tools(), END_CONVERSATION_SPEC]
READS = {name for name, d in REGISTRY.items() if d.kind is ToolKind.READ}
PROVIDER = OfflineProvider()


def order(order_id: str) -> dict[str, Any]:
    return copy.deepcopy(DEMO["orders"][order_id])


def user_doc(user_id: str) -> dict[str, Any]:
    return copy.deepcopy(DEMO["users"][user_id])


def ok(name: str, content: Any, tool_use_id: str) -> dict[str, Any]:
    return ToolResult(name, True, content).to_converse(tool_use_id)


def error(name: str, code: str, message: str, tool_use_id: str, *, retryable: bool = False) -> dict[str, Any]:
    return ToolResult(name, False, None, code, message, retryable).to_converse(tool_use_id)


def not_confirmed(tool_use_id: str) -> dict[str, Any]:
    body = {"error": "not_confirmed", "message": "The customer did not confirm this action.", "retryable": False}
    return {"toolResult": {"toolUseId": tool_use_id, "content": [{"json": body}], "status": "error"}}


class DemoTools:
    """The read tools over demo.json, with the real tools' results and error messages."""

    def __init__(self) -> None:
        self.customer_id: str | None = None
        self.orders = copy.deepcopy(DEMO["orders"])  # a test may change an order's state

    def run(self, name: str, args: dict[str, Any], tool_use_id: str) -> dict[str, Any]:
        users = DEMO["users"]
        if name in ("find_user_id_by_email", "find_user_id_by_name_zip"):
            if name == "find_user_id_by_email":
                found = [u for u in users.values() if u["email"].lower() == args["email"].lower()]
            else:
                found = [
                    u
                    for u in users.values()
                    if (u["name"]["first_name"].lower(), u["name"]["last_name"].lower(), u["address"]["zip"])
                    == (args["first_name"].lower(), args["last_name"].lower(), args["zip"])
                ]
            if not found:
                return error(name, "not_found", "User not found", tool_use_id)
            self.customer_id = found[0]["user_id"]
            return ok(name, self.customer_id, tool_use_id)
        if self.customer_id is None:
            message = "The customer is not verified yet: find them by email, or by first name, last name and zip."
            return error(name, "not_authenticated", message, tool_use_id)
        if name == "get_user_details":
            return ok(name, user_doc(args["user_id"]), tool_use_id)
        if name == "get_order_details":
            document = self.orders.get(args["order_id"])
            if document is None:
                return error(name, "not_found", "Order not found", tool_use_id)
            if document["user_id"] != self.customer_id:
                message = f"Order {args['order_id']} is not one of the verified customer's orders."
                return error(name, "forbidden", message, tool_use_id)
            return ok(name, copy.deepcopy(document), tool_use_id)
        raise AssertionError(f"the test backend does not answer {name}")


class Chat:
    """Plays a conversation the way the agent does: reads are answered at once, writes wait for the customer."""

    def __init__(self, customer_id: str | None = None, tools: list[dict[str, Any]] | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.backend = DemoTools()
        self.backend.customer_id = customer_id
        self.tools = ALL_TOOLS if tools is None else tools
        self.tool_use_ids: set[str] = set()
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every toolUse of the conversation

    def say(self, text: str, write_result: dict[str, Any] | None = None) -> ModelResponse:
        """One customer turn; `write_result` answers the write proposed in the previous reply."""
        self.messages.append({"role": "user", "content": [*([write_result] if write_result else []), {"text": text}]})
        for _ in range(4):  # at most 4 tool rounds per turn (MAX_TOOL_ROUNDS)
            response = self.call()
            uses = response.tool_uses
            if not uses or uses[0]["name"] not in READS:
                return response
            results = [self.backend.run(use["name"], use["input"], use["toolUseId"]) for use in uses]
            self.messages.append({"role": "user", "content": results})
        raise AssertionError("more than 4 tool rounds in one turn")

    def call(self) -> ModelResponse:
        context = {"customer_id": self.backend.customer_id, "pending": None}
        request = ModelRequest("system", copy.deepcopy(self.messages), self.tools, "entry_intent", context)
        chunks: list[str] = []
        response = PROVIDER.converse(request, on_text=chunks.append)
        check_response(response, chunks, self.tools)
        for use in response.tool_uses:
            assert use["toolUseId"] not in self.tool_use_ids
            self.tool_use_ids.add(use["toolUseId"])
            self.calls.append((use["name"], use["input"]))
        self.messages.append({"role": "assistant", "content": response.content})
        return response

    @property
    def pending_id(self) -> str:
        return self.messages[-1]["content"][-1]["toolUse"]["toolUseId"]


def check_response(response: ModelResponse, chunks: list[str], tools: list[dict[str, Any]]) -> None:
    """What every offline reply must be: labelled, one optional text, at most one valid toolUse (or
    several reads of orders at once, to offer a choice between them)."""
    assert response.model_id == "offline"
    assert response.usage == Usage()
    assert "".join(chunks) == response.text
    assert len(chunks) >= min(2, len(response.text.split()) // 4)
    uses = response.tool_uses
    assert len(uses) <= 1 or {use["name"] for use in uses} == {"get_order_details"}
    assert len([b for b in response.content if "text" in b]) <= 1
    assert len(response.content) == len([b for b in response.content if "text" in b]) + len(uses)
    assert response.stop_reason == ("tool_use" if uses else "end_turn")
    offered = {spec["toolSpec"]["name"] for spec in tools}
    for use in uses:
        assert use["name"] in offered
        if use["name"] != END_CONVERSATION:
            REGISTRY[use["name"]].arguments.model_validate(use["input"])  # the real tools' strict schema
        else:
            assert use["input"] == {}


def only_tool(response: ModelResponse) -> tuple[str, dict[str, Any]]:
    (use,) = response.tool_uses
    return use["name"], use["input"]


def converse(messages: list[dict[str, Any]], customer_id: str | None = None) -> ModelResponse:
    """One call on a hand-built transcript."""
    chunks: list[str] = []
    request = ModelRequest("system", messages, ALL_TOOLS, "resolution", {"customer_id": customer_id, "pending": None})
    response = PROVIDER.converse(request, on_text=chunks.append)
    check_response(response, chunks, ALL_TOOLS)
    return response


def user(text: str, *results: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": [*results, *([{"text": text}] if text else [])]}


def assistant(text: str = "", tool: str | None = None, arguments: dict[str, Any] | None = None, tid: str = "t1"):
    content: list[dict[str, Any]] = [{"text": text}] if text else []
    if tool:
        content.append({"toolUse": {"toolUseId": tid, "name": tool, "input": arguments or {}}})
    return {"role": "assistant", "content": content}


# -- the provider ---------------------------------------------------------------------------------


def test_it_is_labelled_offline_and_streams_its_text_in_chunks():
    chunks: list[str] = []
    request = ModelRequest("system", [user("Hello")], ALL_TOOLS, "entry_intent", {"customer_id": None})
    response = PROVIDER.converse(request, on_text=chunks.append)
    assert PROVIDER.name == "offline" and response.model_id == "offline"
    assert len(chunks) > 2 and "".join(chunks) == response.text
    assert response.content == [{"text": response.text}]
    assert response.stop_reason == "end_turn" and response.usage == Usage()
    assert "email" in response.text


def test_it_is_deterministic_and_keeps_no_state():
    chat = Chat()
    chat.say("Where is my order #W1000002? I'm ana.lima@example.com")
    transcript = copy.deepcopy(chat.messages[:-1])
    request = ModelRequest("s", transcript, ALL_TOOLS, "entry_intent", {"customer_id": "ana_lima_1001"})
    first = OfflineProvider().converse(request)
    assert OfflineProvider(settings=None).converse(request).content == first.content == chat.messages[-1]["content"]


# -- identification ---------------------------------------------------------------------------------


def test_asks_for_identification_before_any_order_request():
    chat = Chat()
    response = chat.say("Where is my order #W1000001?")
    assert response.tool_uses == []
    assert "email" in response.text and "zip" in response.text
    assert chat.calls == []


def test_email_look_up_then_goes_on_with_the_remembered_request():
    chat = Chat()
    chat.say("I want to know where my order #W1000002 is")
    response = chat.say("Sure, it's Ana.Lima@Example.com.")
    assert chat.calls[:2] == [
        ("find_user_id_by_email", {"email": "Ana.Lima@Example.com"}),
        ("get_order_details", {"order_id": "#W1000002"}),
    ]
    assert "delivered" in response.text


@pytest.mark.parametrize(
    "text", ["I'm Ana Lima, zip 94105", "ana lima 94105", "My name is Ana Lima and my zip code is 94105."]
)
def test_name_and_zip_look_up(text):
    chat = Chat()
    chat.say(text)
    assert chat.calls[0] == ("find_user_id_by_name_zip", {"first_name": "Ana", "last_name": "Lima", "zip": "94105"})
    assert chat.backend.customer_id == "ana_lima_1001"
    assert "found your account" in chat.messages[-1]["content"][0]["text"]


def test_a_failed_look_up_is_said_and_asked_again_never_repeated():
    chat = Chat()
    response = chat.say("hi, I need to cancel an order, my email is nobody@example.com")
    assert chat.calls == [("find_user_id_by_email", {"email": "nobody@example.com"})]
    assert response.tool_uses == [] and "couldn't find" in response.text and "nobody@example.com" in response.text
    response = chat.say("why not?")
    assert len(chat.calls) == 1 and "still couldn't find" in response.text
    chat.say("Oh sorry: ben.okafor@example.com")
    assert chat.calls[1] == ("find_user_id_by_email", {"email": "ben.okafor@example.com"})
    assert chat.calls[2] == ("get_user_details", {"user_id": "ben_okafor_1002"})  # which order to cancel?


# -- order status ---------------------------------------------------------------------------------


def test_status_with_an_order_id():
    chat = Chat("ana_lima_1001")
    response = chat.say("Can you track w1000002 for me")
    assert chat.calls == [("get_order_details", {"order_id": "#W1000002"})]
    for fact in ("#W1000002", "delivered", "Running Shoes", "710000000201", "San Francisco", ANYTHING_ELSE):
        assert fact in response.text


def test_status_without_an_order_id_lists_the_orders_and_asks_which():
    chat = Chat("ana_lima_1001")
    response = chat.say("What's the status of my order?")
    orders = ("#W1000001", "#W1000002", "#W1000003")
    assert chat.calls == [
        ("get_user_details", {"user_id": "ana_lima_1001"}),
        *[("get_order_details", {"order_id": order_id}) for order_id in orders],  # read together, to list them
    ]
    assert all(order_id in response.text for order_id in orders) and "Running Shoes; delivered" in response.text
    assert response.text.startswith("Which order")
    assert [reply.text for reply in response.suggested_replies] == list(orders)
    response = chat.say("The third one, #W1000003")
    assert chat.calls[-1] == ("get_order_details", {"order_id": "#W1000003"})
    assert "processed" in response.text and "710000000301" in response.text and "Water Bottle" in response.text


def test_status_of_a_customer_with_one_order_goes_straight_to_it():
    chat = Chat()
    response = chat.say("Hi, this is Chen Wei, zip 60601. Where's my package?")
    assert [name for name, _ in chat.calls] == ["find_user_id_by_name_zip", "get_user_details", "get_order_details"]
    assert chat.calls[-1][1] == {"order_id": "#W1000006"}
    assert "Desk Lamp, Running Shoes" in response.text and "Chicago" in response.text


def test_an_unknown_order_id_is_said():
    chat = Chat("ana_lima_1001")
    response = chat.say("where is #W9999999")
    assert "couldn't find order #W9999999" in response.text and response.tool_uses == []


# -- cancel ---------------------------------------------------------------------------------------


def test_cancel_proposal_carries_the_exact_arguments_and_says_what_will_happen():
    chat = Chat()
    response = chat.say("I'm ana.lima@example.com. Please cancel order #W1000001, I don't need it anymore")
    assert only_tool(response) == ("cancel_pending_order", {"order_id": "#W1000001", "reason": "no longer needed"})
    for fact in ("#W1000001", "Desk Lamp", "Water Bottle", "no longer needed", "$74.98", "credit_card_1001001"):
        assert fact in response.text
    assert "yes or no" in response.text


def test_cancel_asks_the_reason_when_missing_and_then_proposes():
    chat = Chat("ana_lima_1001")
    response = chat.say("cancel #W1000001")
    assert response.tool_uses == [] and "no longer needed" in response.text and "mistake" in response.text
    response = chat.say("I ordered it by mistake")
    assert only_tool(response) == ("cancel_pending_order", {"order_id": "#W1000001", "reason": "ordered by mistake"})
    assert [name for name, _ in chat.calls].count("get_order_details") == 1  # the order was already read


def test_cancel_of_an_order_that_is_not_pending_is_explained():
    chat = Chat("ana_lima_1001")
    response = chat.say("Please cancel #W1000003, I don't need it")
    assert response.tool_uses == []
    assert "#W1000003 is processed" in response.text and "only pending orders can be cancelled" in response.text


def test_cancel_it_refers_to_the_order_just_discussed():
    chat = Chat("ana_lima_1001")
    chat.say("where is order #W1000001?")
    response = chat.say("ok, then cancel it please, ordered by mistake")
    assert only_tool(response) == ("cancel_pending_order", {"order_id": "#W1000001", "reason": "ordered by mistake"})


# -- change the shipping address --------------------------------------------------------------------


def test_address_change_is_parsed_and_proposed():
    chat = Chat("ana_lima_1001")
    response = chat.say("Please change the shipping address of W1000001 to 12 Oak Street, Apt 3, Boston, ma 02110")
    expected = {"order_id": "#W1000001", "address1": "12 Oak Street", "address2": "Apt 3", "city": "Boston"}
    expected |= {"state": "MA", "country": "USA", "zip": "02110"}
    assert only_tool(response) == ("modify_pending_order_address", expected)
    assert "410 Mission Street" in response.text and "12 Oak Street, Apt 3, Boston, MA 02110, USA" in response.text


def test_address_is_asked_for_when_missing():
    chat = Chat("dana_ross_1004")
    response = chat.say("I need to update the address on my order")
    assert chat.calls == [
        ("get_user_details", {"user_id": "dana_ross_1004"}),
        ("get_order_details", {"order_id": "#W1000007"}),
    ]
    assert response.tool_uses == [] and "new shipping address" in response.text
    response = chat.say("500 Pine St, Seattle, WA 98101, USA")
    assert only_tool(response)[1] == {
        "order_id": "#W1000007", "address1": "500 Pine St", "address2": "", "city": "Seattle",
        "state": "WA", "country": "USA", "zip": "98101",
    }  # fmt: skip


def test_address_change_of_a_delivered_order_is_explained():
    chat = Chat("ana_lima_1001")
    response = chat.say("change the address of #W1000002 to 1 Main St, Austin, TX 73301")
    assert response.tool_uses == [] and "#W1000002 is delivered" in response.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 Oak St, Boston, MA 02110", ("12 Oak St", "", "Boston", "MA", "USA", "02110")),
        ("ship it to 9 Elm Road, Suite 200, New York, ny 10013, United States.",
         ("9 Elm Road", "Suite 200", "New York", "NY", "USA", "10013")),
        ("#W1000001 -> 77 Lake Ave, Chicago, IL 60601-1234, thanks",
         ("77 Lake Ave", "", "Chicago", "IL", "USA", "60601")),
        ("Moving! 5 Rue Cler, Paris, 75007", None),
        ("my zip is 94105", None),
    ],
)  # fmt: skip
def test_address_parsing(text, expected):
    found = address_in(text)
    keys = ("address1", "address2", "city", "state", "country", "zip")
    assert (tuple(found[k] for k in keys) if found else None) == expected


# -- return ---------------------------------------------------------------------------------------


def test_return_of_named_items_refunds_the_original_payment_method():
    chat = Chat("chen_wei_1003")
    response = chat.say("I'd like to return the running shoes from order #W1000006")
    arguments = {"order_id": "#W1000006", "item_ids": ["8300000032"], "payment_method_id": "credit_card_1003001"}
    assert only_tool(response) == ("return_delivered_order_items", arguments)
    assert "Running Shoes" in response.text and "Desk Lamp" not in response.text and "$149.00" in response.text


def test_return_of_everything_to_the_gift_card_reads_the_profile():
    chat = Chat("ana_lima_1001")
    response = chat.say("I want to return everything in #W1000002, refund it to my gift card please")
    assert chat.calls[-2] == ("get_user_details", {"user_id": "ana_lima_1001"})
    arguments = {"order_id": "#W1000002", "item_ids": ["8300000031"], "payment_method_id": "gift_card_1001002"}
    assert only_tool(response) == ("return_delivered_order_items", arguments)


def test_return_to_a_gift_card_instead_of_the_card_paid_with():
    chat = Chat("dana_ross_1004")
    chat.backend.orders["#W1000007"]["status"] = "delivered"
    response = chat.say("please return the shoes of #W1000007 and put the money on my gift card")
    arguments = {"order_id": "#W1000007", "item_ids": ["8300000031"], "payment_method_id": "gift_card_1004002"}
    assert only_tool(response) == ("return_delivered_order_items", arguments)
    assert "gift_card_1004002" in response.text and "$129.00" in response.text


def test_return_asks_which_items_and_refuses_orders_not_delivered():
    chat = Chat("chen_wei_1003")
    response = chat.say("I want to return something from #W1000006")
    assert response.tool_uses == [] and "Desk Lamp, Running Shoes" in response.text
    response = chat.say("the lamp")
    assert only_tool(response)[1]["item_ids"] == ["8100000012"]
    chat = Chat("ana_lima_1001")
    response = chat.say("return #W1000001 please")
    assert response.tool_uses == [] and "only delivered orders can be returned" in response.text


# -- after a write --------------------------------------------------------------------------------


def proposed_cancel() -> Chat:
    chat = Chat("ana_lima_1001")
    chat.say("cancel #W1000001, no longer needed")
    assert chat.calls[-1][0] == "cancel_pending_order"
    return chat


def test_after_a_confirmed_cancellation_says_what_was_done():
    chat = proposed_cancel()
    done = order("#W1000001")
    done["status"] = "cancelled"
    done["cancel_reason"] = "no longer needed"
    done["payment_history"].append(
        {"transaction_type": "refund", "amount": 74.98, "payment_method_id": "credit_card_1001001"}
    )
    response = chat.say("yes", ok("cancel_pending_order", done, chat.pending_id))
    assert response.tool_uses == []
    assert "#W1000001 is cancelled" in response.text and "$74.98" in response.text and ANYTHING_ELSE in response.text


@pytest.mark.parametrize(
    "text", ["No, leave it.", "nope, don't cancel it", "no", "thanks", "No, I don't want to cancel it after all"]
)
def test_after_a_no_nothing_changed(text):
    chat = proposed_cancel()
    response = chat.say(text, not_confirmed(chat.pending_id))
    assert response.tool_uses == []
    assert response.text == f"OK, I have not changed anything. {ANYTHING_ELSE}"
    response = chat.say("no thanks")  # to "anything else?"
    assert only_tool(response) == (END_CONVERSATION, {})


def test_after_not_confirmed_other_text_is_a_new_request():
    chat = proposed_cancel()
    response = chat.say("no wait, the reason is that I ordered it by mistake", not_confirmed(chat.pending_id))
    assert only_tool(response) == ("cancel_pending_order", {"order_id": "#W1000001", "reason": "ordered by mistake"})
    response = chat.say("Actually, where is my order #W1000003 instead?", not_confirmed(chat.pending_id))
    assert chat.calls[-1] == ("get_order_details", {"order_id": "#W1000003"})
    assert "processed" in response.text
    chat = proposed_cancel()
    response = chat.say("No, cancel #W1000003 instead", not_confirmed(chat.pending_id))
    assert chat.calls[-1] == ("get_order_details", {"order_id": "#W1000003"})
    assert "only pending orders can be cancelled" in response.text


def test_a_failed_write_is_explained():
    chat = proposed_cancel()
    result = error("cancel_pending_order", "invalid_request", "Non-pending order cannot be cancelled", chat.pending_id)
    response = chat.say("yes", result)
    assert response.tool_uses == [] and "Non-pending order cannot be cancelled" in response.text
    chat = proposed_cancel()
    message = "The order database is busy; try again in a moment."
    response = chat.say("yes", error("cancel_pending_order", "busy", message, chat.pending_id, retryable=True))
    assert message in response.text and "Nothing was changed" in response.text


def test_a_write_refused_before_any_confirmation_is_explained():
    """The agent checks a proposed write first; a refusal comes back at once, with no customer text."""
    arguments = {"order_id": "#W1000002", "item_ids": ["8300000031"], "payment_method_id": "credit_card_1001001"}
    message = "Payment method should be the original payment method"
    messages = [
        user("return the shoes of #W1000002 to my card"),
        assistant("To confirm: ...", "return_delivered_order_items", arguments),
        user("", error("return_delivered_order_items", "invalid_request", message, "t1")),
    ]
    response = converse(messages, "ana_lima_1001")
    assert response.tool_uses == [] and f"{message}." in response.text
    assert "Nothing was changed" in response.text


def test_a_read_error_is_reported_honestly():
    messages = [user("where is #W1000004"), assistant(tool="get_order_details", arguments={"order_id": "#W1000004"})]
    message = "Order #W1000004 is not one of the verified customer's orders."
    response = converse([*messages, user("", error("get_order_details", "forbidden", message, "t1"))], "ana_lima_1001")
    assert response.tool_uses == [] and message in response.text
    busy = error(
        "get_order_details", "unavailable", "The order database is not reachable right now.", "t1", retryable=True
    )
    response = converse([*messages, user("", busy)], "ana_lima_1001")
    assert "not reachable" in response.text and response.tool_uses == []
    message = "The customer is not verified yet: find them by email, or by first name, last name and zip."
    response = converse([*messages, user("", error("get_order_details", "not_authenticated", message, "t1"))])
    assert message in response.text and "email address" in response.text and response.tool_uses == []


# -- what it cannot do, human agents, goodbye ------------------------------------------------------------


def test_unsupported_request_offers_a_human_and_transfers_on_yes():
    chat = Chat("chen_wei_1003")
    response = chat.say("Can I exchange the running shoes for a bigger size?")
    assert response.tool_uses == [] and "offline mode" in response.text and HANDOFF_OFFER in response.text
    response = chat.say("yes please")
    name, arguments = only_tool(response)
    assert name == "transfer_to_human_agents"
    assert "exchange the running shoes" in arguments["summary"] and "chen_wei_1003" in arguments["summary"]


def test_declined_handoff_and_explicit_request_for_a_human():
    chat = Chat("chen_wei_1003")
    chat.say("I want to change my payment method")
    response = chat.say("no")
    assert response.tool_uses == [] and ANYTHING_ELSE in response.text
    chat = Chat()
    response = chat.say("Let me talk to a real person please")
    assert only_tool(response)[0] == "transfer_to_human_agents"


@pytest.mark.parametrize("text", ["bye", "Goodbye!", "that's all, thanks", "Thanks, that is all. Have a nice day"])
def test_goodbye_ends_the_conversation(text):
    chat = Chat("ana_lima_1001")
    chat.say("where is #W1000002")
    response = chat.say(text)
    assert only_tool(response) == (END_CONVERSATION, {}) and "Goodbye" in response.text


@pytest.mark.parametrize(
    "text", ["thanks, but can you also tell me your opening hours?", "that's all... what about my refund?"]
)
def test_a_goodbye_with_a_question_does_not_end_the_conversation(text):
    chat = Chat("ana_lima_1001")
    chat.say("where is #W1000002")
    response = chat.say(text)
    assert response.tool_uses == [] and HANDOFF_OFFER in response.text


def test_thanks_but_another_question_is_not_a_goodbye():
    chat = Chat("ana_lima_1001")
    chat.say("where is #W1000002")
    response = chat.say("thanks, but can you also check #W1000003?")
    assert chat.calls[-1] == ("get_order_details", {"order_id": "#W1000003"})
    assert END_CONVERSATION not in [name for name, _ in chat.calls] and "processed" in response.text


def test_only_offered_tools_are_used():
    tools = [spec for spec in ALL_TOOLS if spec["toolSpec"]["name"] not in ("cancel_pending_order", END_CONVERSATION)]
    chat = Chat("ana_lima_1001", tools=tools)
    response = chat.say("cancel #W1000001, no longer needed")
    assert response.tool_uses == [] and "can't" in response.text
    response = chat.say("bye")
    assert response.tool_uses == [] and "Goodbye" in response.text


def test_tool_use_ids_are_unique_over_a_long_conversation():
    chat = Chat()
    chat.say("hello")
    chat.say("I'm Ana Lima, 94105")
    chat.say("where is my order")
    chat.say("#W1000001")
    chat.say("cancel it, I don't need it")
    chat.say("yes", not_confirmed(chat.pending_id))
    chat.say("bye")
    assert len(chat.tool_use_ids) == len(chat.calls) >= 5
    assert chat.calls[-1] == (END_CONVERSATION, {})


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Where's my stuff?", "status"),
        ("I want to cancel", "cancel"),
        ("is my order cancelled?", "general"),
        ("I'd like to send them back", "return"),
        ("please ship it to 1 Main St, Austin, TX 73301", "address"),
        ("change my default address", "unsupported"),
        ("do you sell laptops?", "unsupported"),
        ("what is your return policy?", "unsupported"),
        ("#W1000001", None),
        ("no longer needed", None),
        ("yes", None),
        ("bye!", "goodbye"),
        ("thanks!", None),
        ("everything, please", None),
        ("bye, but where is my refund?", "status"),
    ],
)
def test_intents(text, intent):
    assert intent_of(text) == intent


# -- closed questions -------------------------------------------------------------------------------


def labels(response: ModelResponse) -> list[str]:
    return [reply.label for reply in response.suggested_replies]


def test_a_closed_question_offers_its_answers_as_quick_replies():
    chat = Chat("ana_lima_1001")
    response = chat.say("cancel #W1000001")
    assert labels(response) == ["No longer needed", "Ordered by mistake"]
    assert [reply.text for reply in response.suggested_replies] == ["No longer needed", "Ordered by mistake"]
    response = chat.say("Ordered by mistake")  # what the button sends
    assert only_tool(response) == ("cancel_pending_order", {"order_id": "#W1000001", "reason": "ordered by mistake"})
    assert response.suggested_replies == []  # the agent offers Yes and No with the proposal's hash
    response = Chat("chen_wei_1003").say("I want to exchange my shoes")
    assert labels(response) == ["Yes, transfer me", "No"]
    response = Chat("chen_wei_1003").say("I want to return something from #W1000006")
    assert labels(response) == ["Desk Lamp", "Running Shoes", "Everything"]


def test_an_unusable_answer_gets_new_words_then_choices_then_a_human():
    chat = Chat("ana_lima_1001")
    texts = [chat.say("cancel #W1000001").text]
    for _ in range(2):
        response = chat.say("Yes, please cancel it.")
        assert response.tool_uses == [] and labels(response)[:2] == ["No longer needed", "Ordered by mistake"]
        texts.append(response.text)
    assert len(set(texts)) == 3 and all("#W1000001" in text for text in texts)
    assert labels(response)[-1] == "Talk to a human agent"
    response = chat.say("Yes, please cancel it.")
    name, arguments = only_tool(response)
    assert name == "transfer_to_human_agents" and "the reason for cancelling order #W1000001" in arguments["summary"]


def test_the_same_question_is_not_repeated_in_a_later_request_either():
    chat = Chat("ana_lima_1001")
    first = chat.say("cancel #W1000001")
    chat.say("no")  # leaves the request
    second = chat.say("cancel #W1000001 please")
    assert second.text != first.text and "#W1000001" in second.text


@pytest.mark.parametrize(
    ("text", "position"),
    [("the first one", 1), ("The 2nd one please", 2), ("3", 3), ("number 2", 2), ("option #1", 1),
     ("the last one", -1), ("the lamp one", None), ("#W1000002", None)],
)  # fmt: skip
def test_ordinals(text, position):
    assert ordinal_in(text) == position


def test_which_order_by_place_or_by_item_narrowed_when_several_match():
    chat = Chat("ana_lima_1001")
    chat.say("where is my order?")
    assert "delivered" in chat.say("the second one").text
    chat = Chat("ana_lima_1001")
    chat.say("where is my order?")
    assert "Desk Lamp, Water Bottle" in chat.say("the lamp one").text and chat.calls[-1][0] == "get_order_details"
    chat = Chat("ana_lima_1001")
    chat.say("where is my order?")
    narrowed = chat.say("the water bottle one")
    assert labels(narrowed) == ["#W1000001: Desk Lamp, Water Bottle", "#W1000003: Water Bottle"]
    assert "#W1000002" not in narrowed.text
    assert "processed" in chat.say("the second one").text  # of the narrowed list


def test_a_request_that_fits_one_order_only_takes_it():
    chat = Chat("ana_lima_1001")
    response = chat.say("I want to return something")  # #W1000002 is the only delivered order (one item)
    assert only_tool(response)[0] == "return_delivered_order_items"
    response = Chat("ana_lima_1001").say("please cancel my order, I ordered it by mistake")  # one pending
    assert only_tool(response)[1] == {"order_id": "#W1000001", "reason": "ordered by mistake"}


def test_no_to_the_question_of_a_request_leaves_it():
    chat = Chat("ana_lima_1001")
    chat.say("where is my order?")
    response = chat.say("no")
    assert response.tool_uses == [] and "nothing was changed" in response.text and ANYTHING_ELSE in response.text


def test_identification_is_asked_anew_then_a_human():
    chat = Chat()
    texts = [chat.say("I want to cancel an order").text, chat.say("yes").text, chat.say("ok").text]
    assert len(set(texts)) == 3 and chat.calls == []
    assert only_tool(chat.say("sure"))[0] == "transfer_to_human_agents"


def test_an_unanswered_offer_of_a_human_is_asked_anew():
    chat = Chat("chen_wei_1003")
    texts = [chat.say("Can I exchange the shoes?").text, chat.say("maybe").text]
    response = chat.say("hmm")
    assert len({*texts, response.text}) == 3 and labels(response) == ["Yes, transfer me", "No"]
    assert chat.say("no").text.startswith("OK, I won't transfer you")


def test_a_proposal_put_again_is_worded_anew():
    chat = proposed_cancel()
    first = chat.messages[-1]["content"][0]["text"]
    response = chat.say("just cancel it", not_confirmed(chat.pending_id))
    assert only_tool(response)[0] == "cancel_pending_order" and response.text != first


def test_the_closing_question_is_worded_anew():
    chat = Chat("ana_lima_1001")
    first = chat.say("where is #W1000002").text
    second = chat.say("and where is #W1000003?").text
    assert first.endswith(ANYTHING_ELSES[0]) and second.endswith(ANYTHING_ELSES[1])
    response = chat.say("thanks")
    assert response.text.endswith(ANYTHING_ELSES[2]) and "No, that's all" in labels(response)
