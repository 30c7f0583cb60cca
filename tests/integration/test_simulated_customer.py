"""The simulated-customer loop (`order-agent eval tau-sim`) with a scripted customer and a scripted
agent on τ retail tasks: a pass, a wrong final state, facts not told, τ's stop markers, a handoff,
the bound on customer messages, pass^k over trials, and the MLflow run."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from order_agent.db.dataset import restore_snapshot
from order_agent_dev.evals.scenarios import pass_hat
from order_agent_dev.evals.simulated_customer import (
    AGENT_GREETING,
    CUSTOMER_GUIDELINES,
    OUT_OF_SCOPE,
    STOP,
    TRANSFER,
    SimulatedCustomer,
    communicated,
    describe_model,
    load_tau_tasks,
    log_to_mlflow,
    model_settings,
    run_conversation,
    run_simulation,
    stop_marker,
)
from order_agent_dev.providers.scripted import ScriptedProvider

ADDRESS_TASK, QUESTION_TASK = "17", "24"  # an address change; a question whose answer must be told


def _change_address(suite: str) -> list[dict]:
    """The agent's side of task 17: verify, read the order, propose the new address, report it."""
    address = {"address1": "123 Elm Street", "address2": suite, "city": "Austin", "state": "TX", "country": "USA"}
    return [
        {"tool_use": {"name": "find_user_id_by_name_zip", "input": {"first_name": "Fatima", "last_name": "Johnson", "zip": "78712"}}},
        {"tool_use": {"name": "get_order_details", "input": {"order_id": "#W8665881"}}},
        {
            "text": f"I can send #W8665881 to 123 Elm Street, {suite}. Shall I go ahead?",
            "tool_use": {"name": "modify_pending_order_address", "input": {"order_id": "#W8665881", **address, "zip": "78712"}},
        },
        {"text": "Done: the order goes to the new address. Anything else?", "usage": {"inputTokens": 100, "outputTokens": 10}},
    ]  # fmt: skip


CUSTOMER_17 = [
    {"text": "Hi, I'm Fatima Johnson, zip 78712. Could order #W8665881 go to Suite 641?"},
    {"text": "Yes", "usage": {"inputTokens": 50, "outputTokens": 2}},
    {"text": f"That's all, thanks. {STOP}"},
]


@pytest.fixture(scope="module")
def tasks(agent_settings):
    return {task.id: task for task in load_tau_tasks(agent_settings, [ADDRESS_TASK, QUESTION_TASK])}


@pytest.fixture(scope="module")
def expected(agent_settings, tasks):
    from order_agent_dev.evals.simulated_customer import expected_states

    return expected_states(agent_settings, list(tasks.values()))


@pytest.fixture(scope="module")
def agent(agent_settings, tau_db):
    """One agent for the module (building one costs a second); each test gives it its script."""
    from order_agent.agent.service import Agent
    from order_agent.tools import ToolRunner

    yield Agent(
        agent_settings, model=ScriptedProvider([]), runner=ToolRunner(tau_db, agent_settings), record_traces=True
    )
    restore_snapshot(tau_db)  # a conversation leaves the database as it ends


def _run(agent, task, agent_steps, customer_steps, expected, **kwargs):
    agent.model = ScriptedProvider(agent_steps)
    customer = SimulatedCustomer(ScriptedProvider(customer_steps), task.instructions, agent.settings)
    return run_conversation(task, agent, customer, agent.runner.db, expected[task.id], **kwargs), customer


def test_a_conversation_that_reaches_the_gold_state_passes(agent, tasks, expected):
    run, customer = _run(agent, tasks[ADDRESS_TASK], _change_address("Suite 641"), CUSTOMER_17, expected)
    assert run.checks == {"ended_normally": True, "final_state": True, "communicated": True}, run.problems
    assert run.passed and run.ended_by == "stop" and run.customer_turns == 3
    # The customer model saw τ's greeting first, the proposal with its buttons, and the task's instructions.
    first, proposal = customer.model.calls[0], customer.model.calls[1]
    assert first.messages[0]["content"][0]["text"] == AGENT_GREETING
    assert "[Buttons: Yes | No]" in proposal.messages[-1]["content"][0]["text"]
    assert first.system.startswith(CUSTOMER_GUIDELINES) and "Reason for call:" in first.system
    assert first.tools == [] and proposal.messages[-2]["role"] == "assistant"  # its own lines are the assistant's
    # Both sides' transcripts and tokens are recorded.
    roles = [entry["role"] for entry in run.transcript]
    assert roles == ["agent", "customer", "agent", "customer", "agent", "customer"]
    assert [call["tool"] for call in run.transcript[2]["tool_calls"]][:2] == [
        "find_user_id_by_name_zip",
        "get_order_details",
    ]
    assert run.agent_usage.input_tokens == 100 and run.customer_usage.output_tokens == 2
    assert json.loads(json.dumps(run.as_json()))["customer"]["usage"]["inputTokens"] == 50


def test_a_wrong_final_state_fails(agent, tasks, expected):
    run, _ = _run(agent, tasks[ADDRESS_TASK], _change_address("Suite 614"), CUSTOMER_17, expected)
    assert run.ended_by == "stop" and not run.passed
    assert run.checks == {"ended_normally": True, "final_state": False, "communicated": True}


def test_facts_not_told_fail(agent, tasks, expected):
    """Task 24 asks which materials the t-shirts come in: "polyester" and "cotton" must both be said
    (a pass is in the trials test below)."""
    customer = [{"text": "What materials do your t-shirts come in?"}, {"text": STOP}]
    run, _ = _run(agent, tasks[QUESTION_TASK], [{"text": "Only cotton."}], customer, expected)
    assert run.checks == {"ended_normally": True, "final_state": True, "communicated": False}


def test_a_marker_ends_the_conversation_before_the_agent_reads_it(agent, tasks, expected):
    customer = [{"text": f"I'd rather talk to someone else. {TRANSFER}"}]
    run, _ = _run(agent, tasks[QUESTION_TASK], [], customer, expected)
    assert run.ended_by == "transfer" and run.checks["ended_normally"] and run.customer_turns == 1
    assert not run.passed  # the facts were never told


@pytest.mark.parametrize("marker, ending", [(STOP, "stop"), (TRANSFER, "transfer"), (OUT_OF_SCOPE, "out_of_scope")])
def test_taus_three_markers(marker, ending):
    assert stop_marker(marker) == ending and stop_marker(f"Thanks, bye! {marker}") == ending
    assert stop_marker("Thanks, bye!") is None


def test_a_handoff_ends_the_conversation(agent, tasks, expected):
    handoff = [{"tool_use": {"name": "transfer_to_human_agents", "input": {"summary": "wants a person"}}}]
    run, _ = _run(agent, tasks[QUESTION_TASK], handoff, [{"text": "A human, please."}], expected)
    assert run.ended_by == "handed_off" and run.checks["ended_normally"] and run.customer_turns == 1


def test_the_turn_bound_stops_and_fails_the_conversation(agent, tasks, expected):
    unclear = [{"text": "Could you say that again?"}] * 2
    customer = [{"text": "Hello?"}] * 2
    run, _ = _run(agent, tasks[QUESTION_TASK], unclear, customer, expected, max_turns=2)
    assert run.ended_by == "max_turns" and run.customer_turns == 2
    assert run.checks["ended_normally"] is False and not run.passed


def test_errors_end_the_conversation_and_fail_it(agent, tasks, expected):
    """Either side's model failing past its retries (here: a script that runs out) scores 0, as in τ."""
    customer = [{"text": "Which materials?"}, {"text": "And sizes?"}]
    run, _ = _run(agent, tasks[QUESTION_TASK], [{"text": "Polyester and cotton."}], customer, expected)
    assert run.ended_by == "agent_error" and run.checks["communicated"] and not run.passed
    assert run.problems[0].startswith("ScriptDivergence: model call 2")


def test_the_customer_gets_the_instructions_as_taus_simulator_does(tasks):
    """The layout of τ's StructuredUserInstructions.__str__ (checked against τ's own for all 114 tasks
    when this was written; importing τ here would cost seconds)."""
    assert tasks[ADDRESS_TASK].instructions == (
        "Domain: retail\nReason for call:\n\tYou want to change #W8665881 to be delivered to Suite 641 instead.\n"
        "Known info:\n\tYou are Fatima Johnson in zipcode 78712.\nUnknown info:\n\tYou do not remember your email"
        " address\nTask instructions:\n\tYou are a private person that does not want to reveal much about yourself."
    )


def test_communicate_check_ignores_case_and_commas_within_one_message():
    assert communicated("1093.34", ["The refund is $1,093.34."])
    assert communicated("Polyester", ["polyester and cotton"])
    assert not communicated("polyester cotton", ["polyester", "cotton"])


def test_pass_hat_k_is_taus_combinatorial_estimate():
    outcomes = [[True, True, False, True], [True, False, False, False], [True, True, True, True]]
    assert pass_hat(outcomes, 1) == pytest.approx((3 / 4 + 1 / 4 + 1) / 3)
    assert pass_hat(outcomes, 2) == pytest.approx((3 / 6 + 0 + 1) / 3)  # C(3,2)/C(4,2) for the first
    assert pass_hat(outcomes, 4) == pytest.approx(1 / 3)
    assert pass_hat([[True]], 2) == 0.0 and pass_hat([], 1) == 0.0


def test_models_are_named_provider_and_model_id(agent_settings):
    bedrock = model_settings(agent_settings, "bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert bedrock.bedrock_model_id == "anthropic.claude-sonnet-4-5-20250929-v1:0"  # split at the first colon
    assert describe_model(bedrock) == "bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert describe_model(model_settings(agent_settings, "scripted")) == "scripted"
    assert model_settings(agent_settings, None) is agent_settings
    with pytest.raises(ValueError, match="no model id setting"):
        model_settings(agent_settings, "scripted:some-model")


def test_the_command_refuses_a_model_or_task_it_cannot_use_before_starting_anything(capsys):
    from order_agent_dev.cli import main

    assert main(["eval", "tau-sim", "--customer-model", "scripted:some-model", "--task", QUESTION_TASK]) == 2
    assert main(["eval", "tau-sim", "--customer-model", "bedrock", "--task", "999"]) == 2
    errors = capsys.readouterr().err
    assert "no model id setting" in errors and "no τ retail task with id ['999']" in errors


def test_trials_are_scored_as_pass_hat_k_and_logged_to_mlflow(tasks, expected, agent_settings, tau_db, mlflow_server):
    """Task 17 passes in trial 1 and goes to the wrong suite in trial 2; task 24 passes both."""
    agent_steps = {
        (ADDRESS_TASK, 1): _change_address("Suite 641"),
        (ADDRESS_TASK, 2): _change_address("Suite 614"),
        (QUESTION_TASK, 1): [{"text": "Polyester and cotton."}],
        (QUESTION_TASK, 2): [{"text": "Cotton, or polyester."}],
    }
    customer_steps = {ADDRESS_TASK: CUSTOMER_17, QUESTION_TASK: [{"text": "Which materials?"}, {"text": STOP}]}
    report = run_simulation(
        list(tasks.values()),
        [tau_db],
        agent_settings,
        model_settings(agent_settings, "scripted"),
        trials=2,
        agent_model=lambda task, trial: ScriptedProvider(agent_steps[task.id, trial]),
        customer_model=lambda task, trial: ScriptedProvider(customer_steps[task.id]),
        expected=expected,
    )
    print("\n" + report.table())
    assert report.outcomes_per_task() == {ADDRESS_TASK: [True, False], QUESTION_TASK: [True, True]}
    assert report.pass_hat(1) == pytest.approx(0.75) and report.pass_hat(2) == pytest.approx(0.5)
    assert "scripted" in report.table() and "75.0" in report.table()
    assert report.failures() == ["task 17 (trial 2): ended by stop; failed ['final_state'] []"]

    run_id = log_to_mlflow(report, mlflow_server.url, "test-tau-sim", "scripted", max_turns=30)
    client = MlflowClient(tracking_uri=mlflow_server.url)
    logged = client.get_run(run_id).data
    assert logged.params["customer_model"] == "scripted" and logged.params["trials"] == "2"
    assert logged.metrics["pass_hat_2"] == pytest.approx(0.5) and logged.metrics["agent_input_tokens"] == 200
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"transcripts.json", "tau_sim_table.txt", "customer_guidelines.txt"} <= artifacts
