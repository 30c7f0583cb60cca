"""The agent's small parts: confirmation reading, transcript validity, the scripted provider, prompts."""

from __future__ import annotations

import json

import pytest

from order_agent.agent.confirmation import classify_confirmation
from order_agent.agent.graph import prompt, tool_specs
from order_agent.model.base import ModelRequest, converse_transcript_problems
from order_agent_dev.providers.scripted import ScriptDivergence, ScriptedProvider


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        ("yes", "yes"), ("Yes, please.", "yes"), ("ok go ahead", "yes"), ("Sí, por favor", "yes"), ("oui merci", "yes"),
        ("Yes, cancel it", "yes"), ("no", "no"), ("No thanks", "no"), ("nope, keep it", "no"), ("nein", "no"),
        ("yes, but ship it to my office instead", "other"), ("yes to #W1234567", "other"),
        ("Actually I ordered it by mistake", "other"), ("what will the refund be?", "other"),
        ("hmm", "unclear"), ("maybe", "unclear"), ("?", "unclear"), ("", "unclear"),
        ("yes don't", "no"),
    ],
)  # fmt: skip
def test_classify_confirmation(text, decision):
    assert classify_confirmation(text) == decision


def _user(*blocks):
    return {"role": "user", "content": list(blocks)}


def _assistant(*blocks):
    return {"role": "assistant", "content": list(blocks)}


USE = {"toolUse": {"toolUseId": "t1", "name": "get_order_details", "input": {}}}
RESULT = {"toolResult": {"toolUseId": "t1", "content": [{"text": "x"}], "status": "success"}}


def test_valid_transcripts_pass():
    assert converse_transcript_problems([_user({"text": "hi"})]) == []
    assert converse_transcript_problems([_user({"text": "hi"}), _assistant(USE), _user(RESULT)]) == []


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([_assistant({"text": "hi"})], "expected 'user'"),
        ([_user({"text": "a"}), _user({"text": "b"})], "expected 'assistant'"),
        ([_user({"text": "a"}), _assistant(USE), _user({"text": "no result"})], "open tool uses ['t1']"),
        ([_user(RESULT)], "answers ['t1']"),
        ([_user()], "no content"),
        ([_user({"text": "a"}), _assistant({"text": "b"})], "the last message"),
    ],
)
def test_invalid_transcripts_are_named(messages, problem):
    assert any(problem in p for p in converse_transcript_problems(messages))


def _request(text="hi", stage="entry_intent"):
    return ModelRequest(system="s", messages=[_user({"text": text})], tools=tool_specs(), stage=stage)


def test_scripted_replays_in_order_and_streams_text():
    model = ScriptedProvider([
        {"text": "Hello there, how can I help you today?", "usage": {"inputTokens": 10, "outputTokens": 5}},
        {"output": {"message": {"content": [{"toolUse": {"toolUseId": "x", "name": "calculate",
                                                         "input": {"expression": "1+1"}}}]}},
         "stopReason": "tool_use"},
    ])  # fmt: skip
    pieces = []
    first = model.converse(_request(), on_text=pieces.append)
    assert "".join(pieces) == first.text == "Hello there, how can I help you today?"
    assert len(pieces) > 1 and first.usage.input_tokens == 10 and first.stop_reason == "end_turn"
    second = model.converse(_request())
    assert second.tool_uses == [{"toolUseId": "x", "name": "calculate", "input": {"expression": "1+1"}}]
    assert model.remaining == 0
    with pytest.raises(ScriptDivergence, match="only 2 responses"):
        model.converse(_request())


def test_scripted_refuses_tools_that_were_not_offered_and_bad_transcripts():
    with pytest.raises(ScriptDivergence, match="not offered"):
        ScriptedProvider([{"tool_use": {"name": "drop_tables"}}]).converse(_request())
    bad = ModelRequest(system="s", messages=[_assistant({"text": "x"})], tools=[], stage="entry_intent")
    with pytest.raises(ScriptDivergence, match="not valid Converse"):
        ScriptedProvider([{"text": "x"}]).converse(bad)


def test_scripted_checks_expectations():
    with pytest.raises(ScriptDivergence, match="stage 'resolution'"):
        ScriptedProvider([{"expect": {"stage": "resolution"}, "text": "x"}]).converse(_request())


def test_scripts_load_from_yaml_and_json(tmp_path):
    (tmp_path / "s.yaml").write_text("- text: hi\n- tool_use: {name: calculate, input: {expression: '2*3'}}\n")
    (tmp_path / "s.json").write_text(json.dumps([{"text": "hi"}]))
    assert ScriptedProvider.from_file(tmp_path / "s.yaml").steps[1]["tool_use"]["name"] == "calculate"
    assert ScriptedProvider.from_file(tmp_path / "s.json").steps == [{"text": "hi"}]


@pytest.mark.parametrize("stage", ["entry_intent", "order_confirmation", "resolution"])
def test_each_stage_prompt_is_the_common_part_the_policy_and_the_stage(stage):
    text = prompt(stage)
    assert "identify the customer" in text and "Stage:" in text
    # the policy is most of it (about 650 words); a bound keeps every call's prompt from creeping
    assert len(text.split()) < 1200


def test_the_model_sees_every_order_tool_and_the_end_control():
    names = {spec["toolSpec"]["name"] for spec in tool_specs()}
    assert {"end_conversation", "cancel_pending_order", "find_user_id_by_email"} <= names


def test_the_transcript_stays_valid_after_a_failed_turn():
    from order_agent.agent.graph import UNANSWERED_TEXT, add_messages

    hello = _user({"text": "hello"})
    assert add_messages([], [hello]) == [hello]
    after_failure = add_messages([hello], [_user({"text": "hello again"})])
    assert after_failure[1] == _assistant({"text": UNANSWERED_TEXT})
    assert converse_transcript_problems(after_failure) == []
    # a failed tool round: the results are there, the answer is not
    round_left = [hello, _assistant(USE), _user(RESULT)]
    assert converse_transcript_problems(add_messages(round_left, [_user({"text": "and?"})])) == []
    # the normal case is a plain append
    assert add_messages([hello, _assistant({"text": "hi"})], [_user({"text": "x"})])[-1] == _user({"text": "x"})


def _calls(*names):
    return {"messages": [_assistant(*({"toolUse": {"toolUseId": n, "name": n, "input": {}}} for n in names))]}


@pytest.mark.parametrize(
    ("names", "node"),
    [
        ((), "__end__"), (("get_order_details", "get_user_details"), "run_reads"),
        (("cancel_pending_order",), "propose_write"), (("transfer_to_human_agents",), "hand_off"),
        (("get_order_details", "cancel_pending_order"), "run_reads"),  # which refuses the write: not alone
        (("end_conversation", "get_order_details"), "close"), (("no_such_tool",), "run_reads"),
    ],
)  # fmt: skip
def test_the_model_output_is_routed_on_the_kinds_of_its_tool_calls(names, node):
    from order_agent.agent.graph import route_model_output

    assert route_model_output(_calls(*names)) == node


def test_after_tools_the_route_is_the_proposal_the_handoff_the_round_limit_or_the_model():
    from types import SimpleNamespace

    from order_agent.agent.graph import Turn, route_after_tools

    runtime = SimpleNamespace(context=SimpleNamespace(settings=SimpleNamespace(max_tool_rounds=2)))
    turn = Turn(tool_rounds=1)
    assert route_after_tools({"turn": turn, "pending": {"hash": "h"}}, runtime) == "order_confirmation"
    assert route_after_tools({"turn": turn, "status": "handed_off"}, runtime) == "__end__"
    assert route_after_tools({"turn": turn}, runtime) == "call_model"
    assert route_after_tools({"turn": Turn(tool_rounds=2)}, runtime) == "tool_limit"
