"""Tool contracts come from the functions: names, schemas and descriptions, and argument validation."""

from __future__ import annotations

import inspect

import pytest

from order_agent.settings import Settings
from order_agent.tools import ConversationContext, ToolRunner
from order_agent.tools.registry import REGISTRY, ToolKind, _define

TAU_RETAIL_TOOLS = {
    "calculate", "cancel_pending_order", "exchange_delivered_order_items", "find_user_id_by_email",
    "find_user_id_by_name_zip", "get_item_details", "get_order_details", "get_product_details",
    "get_user_details", "list_all_product_types", "modify_pending_order_address", "modify_pending_order_items",
    "modify_pending_order_payment", "modify_user_address", "return_delivered_order_items",
    "transfer_to_human_agents",
}  # fmt: skip

# Validation happens before any database access, so these tests need no server.
OFFLINE = ToolRunner(db=None, settings=Settings(database_url="postgresql://nobody@127.0.0.1:9/none"))


def test_the_tool_set_is_the_one_design_names():
    assert {d.name for d in ToolRunner.definitions()} == TAU_RETAIL_TOOLS


@pytest.mark.parametrize("name", sorted(TAU_RETAIL_TOOLS))
def test_converse_spec_matches_the_function_signature(name):
    definition = REGISTRY[name]
    spec = definition.converse_spec()["toolSpec"]
    schema = spec["inputSchema"]["json"]
    parameters = list(inspect.signature(definition.function).parameters)[1:]
    assert spec["name"] == name
    assert len(spec["description"]) > 20
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert list(schema.get("properties", {})) == parameters
    assert sorted(schema.get("required", [])) == sorted(parameters)
    assert all(prop["description"] for prop in schema.get("properties", {}).values())
    assert "title" not in str(schema)


def test_cancel_reason_is_an_enum_and_item_lists_are_string_arrays():
    cancel = REGISTRY["cancel_pending_order"].converse_spec()["toolSpec"]["inputSchema"]["json"]
    assert cancel["properties"]["reason"]["enum"] == ["no longer needed", "ordered by mistake"]
    items = REGISTRY["modify_pending_order_items"].converse_spec()["toolSpec"]["inputSchema"]["json"]
    assert items["properties"]["item_ids"] == {
        "description": items["properties"]["item_ids"]["description"],
        "items": {"type": "string"},
        "type": "array",
    }


def test_write_tools_are_marked_as_writes():
    writes = {d.name for d in ToolRunner.definitions() if d.kind is ToolKind.WRITE}
    assert writes == {
        "cancel_pending_order", "exchange_delivered_order_items", "modify_pending_order_address",
        "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
        "return_delivered_order_items", "transfer_to_human_agents",
    }  # fmt: skip


def test_an_undocumented_argument_is_refused_at_definition():
    def lookup(call, order_id: str, note: str) -> str:
        """Look something up.

        Args:
            order_id: The order.
        """

    with pytest.raises(ValueError, match="note is not described"):
        _define(lookup, ToolKind.READ, True)


def _error(name, arguments):
    result = OFFLINE.run(ConversationContext(session_id="s", customer_id="someone"), name, arguments)
    assert not result.ok and result.content is None
    return result


def test_unknown_tool_is_a_structured_error():
    result = _error("delete_all_orders", {})
    assert result.error_code == "unknown_tool"


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("get_order_details", {}, "order_id: Field required"),
        ("get_order_details", {"order_id": "#W1", "verbose": True}, "verbose: Extra inputs are not permitted"),
        ("get_order_details", {"order_id": 1000001}, "order_id: Input should be a valid string"),
        ("cancel_pending_order", {"order_id": "#W1", "reason": "changed my mind"}, "reason: Input should be"),
        ("modify_pending_order_items", {"order_id": "#W1", "item_ids": "123", "new_item_ids": ["1"],
                                        "payment_method_id": "x"}, "item_ids: Input should be a valid list"),
        ("return_delivered_order_items", {"order_id": "#W1", "item_ids": [1], "payment_method_id": "x"},
         "item_ids.0: Input should be a valid string"),
    ],
)  # fmt: skip
def test_bad_arguments_are_structured_errors(name, arguments, expected):
    result = _error(name, arguments)
    assert result.error_code == "invalid_arguments"
    assert expected in result.error_message
    converse = result.to_converse("tool-1")["toolResult"]
    assert converse["status"] == "error"
    assert converse["content"][0]["json"]["error"] == "invalid_arguments"


@pytest.mark.parametrize("arguments", [None, [], "order_id=#W1", 42])
def test_arguments_that_are_not_an_object_are_refused(arguments):
    assert _error("get_order_details", arguments).error_code == "invalid_arguments"


def test_oversized_arguments_are_refused():
    result = _error("transfer_to_human_agents", {"summary": "x" * 20_000})
    assert result.error_code == "invalid_arguments"
    assert "larger than" in result.error_message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("2 + 2", "4.0"), ("(129.99 - 20) * 2", "219.98"), ("10 / 3", "3.33"), ("-5 + 1.005", "-4.0"),
     ("0.1 + 0.2", "0.3")],
)  # fmt: skip
def test_calculate(expression, expected):
    result = OFFLINE.run(ConversationContext(session_id="s"), "calculate", {"expression": expression})
    assert result.ok, result.error_message
    assert result.content == expected


@pytest.mark.parametrize("expression", ["2 ** 99999999", "__import__('os')", "1 / 0", "(", "9" * 300, "2 +* 3"])
def test_calculate_refuses_what_is_not_plain_arithmetic(expression):
    result = OFFLINE.run(ConversationContext(session_id="s"), "calculate", {"expression": expression})
    assert not result.ok
    assert result.error_code == "invalid_request"
