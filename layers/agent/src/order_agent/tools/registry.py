"""Tool definitions derived from the functions themselves.

A tool is a function whose first parameter is the `ToolCall` (database cursor and conversation
context, never visible to the model) and whose other parameters are its arguments. The
argument model, the Bedrock Converse `toolSpec` and the description all come from the
signature and the Google-style docstring, so the contract is written once, beside the code:
`Args:` describes each argument, `Returns:` the result (a pydantic model as the return type
puts its JSON schema in the description), `Raises:` the error codes the tool itself returns.

What a tool does to the conversation is declared where it is registered, never inferred from
its name: its `ToolKind` (the agent runs a read at once, asks the customer to confirm a write,
and stops answering after a handoff) and, apart from that, how the runner executes it
(`mutates_state`: one transaction with an idempotency key; `uses_database`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, get_type_hints

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, create_model


class ToolKind(StrEnum):
    """What a tool means for the conversation, which is what the agent acts on."""

    READ = "read"  # looks something up (or computes); changes nothing; runs as soon as the model asks
    WRITE = "write"  # changes an order or the profile: previewed, confirmed by the customer, then run
    HANDOFF = "handoff"  # hands the conversation to a human agent; runs at once and the agent stops answering
    CLOSE = "close"  # ends the conversation: the agent's own control tool (end_conversation), never registered


# The codes a tool result's `error` can carry. A tool's docstring lists under `Raises:` the ones
# its own rules return; the runner adds those that any call can meet (`ToolDefinition.errors`).
ERROR_CODES = {
    "unknown_tool": "no tool has this name",
    "invalid_arguments": "the arguments do not match the tool's input schema",
    "not_authenticated": "the customer is not verified yet",
    "too_many_attempts": "too many failed attempts to verify the customer",
    "not_found": "no such customer, order, product, item or payment method",
    "forbidden": "it belongs to another customer than the verified one",
    "invalid_request": "a business rule refuses it (the message says which)",
    "idempotency_conflict": "the idempotency key was used for a different action",
    "busy": "the database is busy; retryable",
    "unavailable": "the database is unreachable; retryable",
    "internal_error": "a bug; retryable",
}
_ANY_CALL = ("invalid_arguments", "busy", "unavailable", "internal_error")
_NO_DATABASE = ("invalid_arguments", "internal_error")
_STATE_CHANGE = ("invalid_request", "idempotency_conflict")  # a data rule of the schema; a reused key


class ToolError(Exception):
    """A failure the model can read and act on; never escapes the tool runner."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class ToolDefinition:
    name: str
    kind: ToolKind
    requires_auth: bool
    function: Callable[..., Any]
    description: str  # what the model reads: the docstring's text, returns (with a schema) and errors
    arguments: type[BaseModel]
    returns: Any = None  # the return annotation; a pydantic model for typed results
    raises: tuple[str, ...] = ()  # the error codes of the tool's own rules, from `Raises:`
    mutates_state: bool = False  # runs in one transaction with an idempotency key (writes, handoffs)
    uses_database: bool = True
    authenticates: bool = False  # verifies the customer (the look-ups by email or by name and zip)

    @property
    def errors(self) -> tuple[str, ...]:
        """Every error code a call of this tool can return, its own and the runner's."""
        codes = [*(_ANY_CALL if self.uses_database else _NO_DATABASE), *self.raises]
        if self.requires_auth:
            codes.append("not_authenticated")
        if self.mutates_state:
            codes.extend(_STATE_CHANGE)
        return tuple(sorted(set(codes)))

    def invoke(self, call: Any, **arguments: Any) -> Any:
        """Run the function. A typed result becomes the JSON the model reads and the write log
        keeps: only the fields it was built with (a field the database left out stays out)."""
        value = self.function(call, **arguments)
        return value.model_dump(mode="json", exclude_unset=True) if isinstance(value, BaseModel) else value

    def converse_spec(self) -> dict[str, Any]:
        """The Bedrock Converse `tools` entry for this tool."""
        return {
            "toolSpec": {
                "name": self.name,
                "description": self.description,
                "inputSchema": {"json": _clean_schema(self.arguments.model_json_schema())},
            }
        }


REGISTRY: dict[str, ToolDefinition] = {}


def kind_of(name: str) -> ToolKind | None:
    """The kind of the tool named `name`; None when there is no such tool."""
    definition = REGISTRY.get(name)
    return definition.kind if definition is not None else None


def tool(
    kind: ToolKind,
    *,
    requires_auth: bool = True,
    mutates_state: bool | None = None,
    uses_database: bool = True,
    authenticates: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a tool; its arguments and description are read from the function.

    `mutates_state` defaults to whether the kind changes something (a write, a handoff)."""
    mutates = kind is not ToolKind.READ if mutates_state is None else mutates_state

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        definition = _define(
            function,
            kind,
            requires_auth,
            mutates_state=mutates,
            uses_database=uses_database,
            authenticates=authenticates,
        )
        if definition.name in REGISTRY:
            raise ValueError(f"tool {definition.name} is defined twice")
        REGISTRY[definition.name] = definition
        return function

    return register


def _define(
    function: Callable[..., Any],
    kind: ToolKind,
    requires_auth: bool,
    *,
    mutates_state: bool = False,
    uses_database: bool = True,
    authenticates: bool = False,
) -> ToolDefinition:
    doc = docstring_parser.parse(inspect.getdoc(function) or "")
    if not doc.short_description:
        raise ValueError(f"tool {function.__name__} needs a docstring: it is the model's description")
    if kind is ToolKind.READ and mutates_state:
        raise ValueError(f"tool {function.__name__}: a read changes nothing")
    if not doc.returns or not doc.returns.description:
        raise ValueError(f"tool {function.__name__} needs a Returns: section: the model reads it")
    raises = tuple(item.type_name or "" for item in doc.raises)
    unknown = [code for code in raises if code not in ERROR_CODES]
    if unknown:
        raise ValueError(f"tool {function.__name__}: Raises: lists unknown error codes {unknown}")
    arg_docs = {param.arg_name: _unwrap(param.description or "") for param in doc.params}
    hints = get_type_hints(function)
    parameters = list(inspect.signature(function).parameters.values())[1:]  # [0] is the ToolCall
    fields: dict[str, Any] = {}
    for param in parameters:
        if param.name not in arg_docs:
            raise ValueError(f"tool {function.__name__}: argument {param.name} is not described in Args:")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=arg_docs[param.name]))
    # Strict: a number is not a string and a string is not a list; extra arguments are errors.
    model = create_model(
        f"{function.__name__}_arguments",
        __config__=ConfigDict(extra="forbid", strict=True),
        **fields,
    )
    text = doc.short_description
    if doc.long_description:  # a summary may run over two lines, with no blank line after it
        text += ("\n\n" if doc.blank_after_short_description else "\n") + doc.long_description
    paragraphs = [_unwrap(paragraph) for paragraph in text.split("\n\n")]
    returns = hints.get("return")
    paragraphs.append(f"Returns: {_unwrap(doc.returns.description)}")
    if kind is ToolKind.READ and isinstance(returns, type) and issubclass(returns, BaseModel):
        # The schema is written out once, by the read that returns the model; a write returning
        # the same document says so in its Returns: text, which saves every call many tokens.
        schema = json.dumps(_compact_schema(returns.model_json_schema()), separators=(",", ":"))
        paragraphs.append(f"Result JSON schema: {schema}")
    if raises:
        paragraphs.append(f"Errors: {', '.join(raises)}.")
    return ToolDefinition(
        function.__name__,
        kind,
        requires_auth,
        function,
        "\n\n".join(paragraphs),
        model,
        returns=returns,
        raises=raises,
        mutates_state=mutates_state,
        uses_database=uses_database,
        authenticates=authenticates,
    )


def _unwrap(text: str) -> str:
    """Docstring lines are wrapped for the source file, not for the model."""
    return " ".join(text.split())


def _clean_schema(schema: Any) -> Any:
    """Drop pydantic's generated titles: noise in every prompt that carries the tool list."""
    if isinstance(schema, dict):
        return {
            key: _clean_schema(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_clean_schema(item) for item in schema]
    return schema


def _compact_schema(schema: Any) -> Any:
    """A result schema as short as it can be and still say everything: no titles, no model
    docstrings, and a field that is absent when empty (`X | None = None`) typed as X, not
    required."""
    if isinstance(schema, dict):
        any_of = schema.get("anyOf")
        if schema.get("default", ...) is None and any_of and {"type": "null"} in any_of:
            rest = [option for option in any_of if option != {"type": "null"}]
            schema = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
            schema.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        return {
            key: _compact_schema(value)
            for key, value in schema.items()
            if not (key in ("title", "description") and isinstance(value, str) and "properties" in schema)
            and not (key == "title" and isinstance(value, str))
            and not (key == "additionalProperties" and value is False)  # every result model says it
        }
    if isinstance(schema, list):
        return [_compact_schema(item) for item in schema]
    return schema
