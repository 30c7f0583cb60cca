"""The Converse-shaped transcript converted at each provider's edge: text, toolUse, toolResult (with
error status), system prompt and cache points, to the Anthropic Messages API and to chat completions."""

from __future__ import annotations

from order_agent.model.anthropic_api import messages_params, tools_params
from order_agent.model.base import END_CONVERSATION_SPEC
from order_agent.model.openai_compatible import _usage, chat_messages, chat_tools
from order_agent.settings import Settings

TRANSCRIPT = [
    {"role": "user", "content": [{"text": "cancel #W1"}, {"cachePoint": {"type": "default"}}]},
    {"role": "assistant", "content": [
        {"text": ""},  # Converse keeps no blank text; a provider must not send one either
        {"toolUse": {"toolUseId": "a", "name": "get_order_details", "input": {"order_id": "#W1"}}},
        {"toolUse": {"toolUseId": "b", "name": "find_user_id_by_email", "input": {"email": "x@example.com"}}},
    ]},
    {"role": "user", "content": [
        {"toolResult": {"toolUseId": "a", "content": [{"json": {"status": "pending"}}], "status": "success"}},
        {"toolResult": {"toolUseId": "b", "content": [{"text": "no such customer"}], "status": "error"}},
        {"text": "yes please"},
    ]},
]  # fmt: skip
TOOL = {"toolSpec": {"name": "get_order_details", "description": "Details.",
                     "inputSchema": {"json": {"type": "object", "properties": {}}}}}  # fmt: skip


def test_anthropic_messages():
    user, assistant, results = messages_params(TRANSCRIPT)
    assert user == {"role": "user", "content": [{"type": "text", "text": "cancel #W1",
                                                 "cache_control": {"type": "ephemeral"}}]}  # fmt: skip
    assert assistant["content"] == [
        {"type": "tool_use", "id": "a", "name": "get_order_details", "input": {"order_id": "#W1"}},
        {"type": "tool_use", "id": "b", "name": "find_user_id_by_email", "input": {"email": "x@example.com"}},
    ]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "a", "content": [{"type": "text", "text": '{"status": "pending"}'}]},
        {"type": "tool_result", "tool_use_id": "b", "is_error": True,
         "content": [{"type": "text", "text": "no such customer"}]},
        {"type": "text", "text": "yes please"},
    ]  # fmt: skip


def test_anthropic_tool_results_come_first_in_their_message():
    [message] = messages_params([{"role": "user", "content": [
        {"text": "and also"},
        {"toolResult": {"toolUseId": "a", "content": [{"json": {}}]}},
    ]}])  # fmt: skip
    assert [block["type"] for block in message["content"]] == ["tool_result", "text"]


def test_anthropic_tools_carry_a_cache_breakpoint_on_the_last():
    tools = tools_params([TOOL, END_CONVERSATION_SPEC, {"cachePoint": {"type": "default"}}])
    assert [t["name"] for t in tools] == ["get_order_details", "end_conversation"]
    assert tools[0] == {"name": "get_order_details", "description": "Details.",
                        "input_schema": {"type": "object", "properties": {}}}  # fmt: skip
    assert tools[1]["cache_control"] == {"type": "ephemeral"}
    assert tools_params([]) == []


def test_chat_completion_messages():
    system, user, assistant, result_a, result_b, customer = chat_messages("Be brief.", TRANSCRIPT)
    assert system == {"role": "system", "content": "Be brief."}
    assert user == {"role": "user", "content": "cancel #W1"}  # the cache point is dropped
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "a", "type": "function",
             "function": {"name": "get_order_details", "arguments": '{"order_id": "#W1"}'}},
            {"id": "b", "type": "function",
             "function": {"name": "find_user_id_by_email", "arguments": '{"email": "x@example.com"}'}},
        ],
    }  # fmt: skip
    assert result_a == {"role": "tool", "tool_call_id": "a", "content": '{"status": "pending"}'}
    assert result_b == {"role": "tool", "tool_call_id": "b", "content": "Error: no such customer"}
    assert customer == {"role": "user", "content": "yes please"}


def test_chat_completion_text_only_assistant_and_tools():
    [_, assistant] = chat_messages("s", [{"role": "assistant", "content": [{"text": "Hello"}]}])
    assert assistant == {"role": "assistant", "content": "Hello"}
    assert chat_tools([TOOL, {"cachePoint": {"type": "default"}}]) == [
        {"type": "function", "function": {"name": "get_order_details", "description": "Details.",
                                          "parameters": {"type": "object", "properties": {}}}},
    ]  # fmt: skip


def test_chat_completion_usage_counts_cached_prompt_tokens_apart():
    usage = _usage({"prompt_tokens": 1000, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 800}})
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (200, 20, 800)
    assert _usage({"prompt_tokens": 5, "completion_tokens": 1}).input_tokens == 5


def test_an_anthropic_api_model_id_costs_what_the_same_model_costs_on_bedrock():
    settings = Settings()
    assert settings.price_of("claude-sonnet-4-6") == settings.price_of("us.anthropic.claude-sonnet-4-6") is not None
    assert settings.price_of("qwen3:8b") is None  # a local model: no price, no cost reported
