"""Tool contracts come from the functions: names, schemas and descriptions, and argument validation."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

import order_agent
import order_agent_dev
from order_agent.settings import Settings
from order_agent.tools import ConversationContext, ToolRunner
from order_agent.tools.models import Order, User
from order_agent.tools.registry import ERROR_CODES, REGISTRY, ToolKind, _compact_schema, _define

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


def test_every_tool_declares_its_kind():
    kinds = {d.name: d.kind for d in ToolRunner.definitions()}
    assert {name for name, kind in kinds.items() if kind is ToolKind.WRITE} == {
        "cancel_pending_order", "exchange_delivered_order_items", "modify_pending_order_address",
        "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
        "return_delivered_order_items",
    }  # fmt: skip
    assert {name for name, kind in kinds.items() if kind is ToolKind.HANDOFF} == {"transfer_to_human_agents"}
    assert {name for name, kind in kinds.items() if kind is ToolKind.READ} == TAU_RETAIL_TOOLS - {
        name for name, kind in kinds.items() if kind is not ToolKind.READ
    }


def test_how_a_tool_runs_is_declared_apart_from_its_kind():
    """A handoff is no write for the customer to confirm, but it records a row as a write does."""
    by_name = {d.name: d for d in ToolRunner.definitions()}
    assert {d.name for d in by_name.values() if d.mutates_state} == {
        d.name for d in by_name.values() if d.kind is not ToolKind.READ
    }
    assert {d.name for d in by_name.values() if not d.uses_database} == {"calculate"}
    assert {d.name for d in by_name.values() if d.authenticates} == {
        "find_user_id_by_email",
        "find_user_id_by_name_zip",
    }


def test_every_tool_documents_its_result_and_its_errors():
    for definition in ToolRunner.definitions():
        assert "\nReturns: " in definition.description, definition.name
        assert set(definition.raises) <= set(ERROR_CODES), definition.name
        assert set(definition.errors) <= set(ERROR_CODES), definition.name
        if definition.raises:
            assert f"Errors: {', '.join(definition.raises)}." in definition.description
        assert ("not_authenticated" in definition.errors) == definition.requires_auth
        assert ("idempotency_conflict" in definition.errors) == definition.mutates_state
    assert REGISTRY["get_order_details"].raises == ("not_found", "forbidden")
    assert "too_many_attempts" in REGISTRY["find_user_id_by_email"].raises


@pytest.mark.parametrize(("name", "model"), [("get_order_details", Order), ("get_user_details", User)])
def test_typed_reads_put_their_result_schema_in_the_spec(name, model):
    definition = REGISTRY[name]
    assert definition.returns is model
    match = re.search(r"Result JSON schema: (\{.*\})$", definition.converse_spec()["toolSpec"]["description"], re.M)
    assert match, definition.description
    schema = json.loads(match.group(1))
    assert schema == _compact_schema(model.model_json_schema())
    assert set(schema["properties"]) == set(model.model_fields)
    assert "title" not in match.group(1)
    # A field the database leaves out when empty is typed as itself, not as "X or null", and not required.
    if model is Order:
        assert schema["properties"]["cancel_reason"] == {"description": "once cancelled", "type": "string"}
        assert "cancel_reason" not in schema["required"]


def test_writes_returning_a_document_are_typed_and_point_to_the_read_with_its_schema():
    for definition in ToolRunner.definitions():
        if definition.kind is ToolKind.WRITE:
            assert definition.returns in (Order, User), definition.name
            read = "get_order_details" if definition.returns is Order else "get_user_details"
            assert f"in the shape {read} returns" in definition.description
            assert "Result JSON schema" not in definition.description  # written once, by the read


def test_the_tool_list_is_what_bedrock_converse_accepts():
    """ToolSpecification has name (1-64 of [a-zA-Z0-9_-]), description (1+ chars), inputSchema.json
    and an optional strict flag; there is no output schema, so a result's schema is described."""
    for entry in ToolRunner.converse_tools():
        assert set(entry) == {"toolSpec"}
        spec = entry["toolSpec"]
        assert set(spec) == {"name", "description", "inputSchema"}
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", spec["name"])
        assert isinstance(spec["description"], str) and spec["description"]
        assert set(spec["inputSchema"]) == {"json"}
        assert spec["inputSchema"]["json"]["type"] == "object"
        json.dumps(spec)  # plain JSON, as the document type requires


def test_no_tool_is_special_cased_by_name_in_the_agent_or_the_evaluation():
    """The graph and the scenario scoring act on a tool's declared kind, never on its name."""
    agent, development = Path(order_agent.__file__).parent, Path(order_agent_dev.__file__).parent
    for module in (agent / "agent/graph.py", agent / "agent/service.py", development / "evals/scenarios.py"):
        source = module.read_text(encoding="utf-8")
        named = [name for name in TAU_RETAIL_TOOLS if re.search(rf"[\"']{name}[\"']", source)]
        # The gold transcript starts with a look-up the scenario does not list: it names the call it makes.
        assert set(named) <= ({"find_user_id_by_email"} if module.parent.name == "evals" else set()), module


ARGS = "Args:\n    order_id: The order.\n"
RETURNS = "Returns:\n    What was found.\n"


@pytest.mark.parametrize(
    ("sections", "options", "expected"),
    [
        (ARGS.replace("order_id", "note") + f"\n{RETURNS}", {}, "order_id is not described"),
        (ARGS, {}, "needs a Returns: section"),
        (f"{ARGS}\n{RETURNS}\nRaises:\n    gone: It went away.\n", {}, "unknown error codes"),
        (f"{ARGS}\n{RETURNS}", {"mutates_state": True}, "a read changes nothing"),
    ],
)
def test_an_incomplete_contract_is_refused_at_definition(sections, options, expected):
    def lookup(call, order_id: str) -> str: ...

    lookup.__doc__ = f"Look something up.\n\n{sections}"
    with pytest.raises(ValueError, match=expected):
        _define(lookup, ToolKind.READ, True, **options)


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
