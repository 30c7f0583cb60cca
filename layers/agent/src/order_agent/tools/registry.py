"""Tool definitions derived from the functions themselves.

A tool is a function whose first parameter is the `ToolCall` (database cursor and conversation
context, never visible to the model) and whose other parameters are its arguments. The
argument model, the Bedrock Converse `toolSpec` and the description all come from the
signature and the Google-style docstring, so the contract is written once, beside the code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, get_type_hints

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, create_model


class ToolKind(StrEnum):
    READ = "read"  # reads the database, changes nothing
    WRITE = "write"  # changes the database: one transaction, row locks, idempotency key
    GENERIC = "generic"  # touches no customer data


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
    description: str
    arguments: type[BaseModel]

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


def is_write(name: str) -> bool:
    """Whether the tool named `name` changes data (so the customer confirms it first)."""
    definition = REGISTRY.get(name)
    return definition is not None and definition.kind is ToolKind.WRITE


def tool(kind: ToolKind, *, requires_auth: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a tool; its arguments and description are read from the function."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        definition = _define(function, kind, requires_auth)
        if definition.name in REGISTRY:
            raise ValueError(f"tool {definition.name} is defined twice")
        REGISTRY[definition.name] = definition
        return function

    return register


def _define(function: Callable[..., Any], kind: ToolKind, requires_auth: bool) -> ToolDefinition:
    doc = docstring_parser.parse(inspect.getdoc(function) or "")
    if not doc.short_description:
        raise ValueError(f"tool {function.__name__} needs a docstring: it is the model's description")
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
    description = "\n\n".join(_unwrap(paragraph) for paragraph in text.split("\n\n"))
    return ToolDefinition(function.__name__, kind, requires_auth, function, description, model)


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
