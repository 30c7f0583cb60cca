"""The scenario evaluation harness (`order-agent eval scenarios`, `make eval`), scored like τ-bench.

A scenario (YAML, in `evals/scenarios/` at the repository root, not in the Lambda layer) is a
scripted customer — what it says, in order, and how it answers every confirmation — plus what
must come out of the conversation:
- the final database state: the initial data with the scenario's expected actions replayed
  through the tools (for τ tasks, the gold actions), compared in full as τ-bench does;
- facts the agent must communicate (substrings of its replies, case-insensitive);
- trace checks on the turn's recorded spans: no tool that needs a verified customer called
  before verification, no write outside a turn that answered a confirmation, and at most
  1 + tool rounds model calls per turn.

Which model plays the agent: `bedrock` (Claude; MODEL_PROVIDER=bedrock), or in CI the `offline`
model where a scenario is within its rules, else the `scripted` provider replaying the
scenario's model transcript — for τ tasks the *gold* transcript, generated from the gold actions
(the model makes exactly the gold calls). Scripted runs test the harness, the graph, the policy
and the tools; only Bedrock runs measure the model.

With `--trials k` every scenario runs k times; pass^k is τ-bench's: the chance that k
independent trials all pass, estimated per scenario as C(c, k) / C(n, k) from c passes in n
trials and averaged over scenarios.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from order_agent.agent.service import Agent, TurnOutcome
from order_agent.db.dataset import export_dataset, restore_snapshot
from order_agent.db.pool import Database
from order_agent.model import ModelProvider, make_provider
from order_agent.model.base import Usage
from order_agent.settings import Settings
from order_agent.tools import ConversationContext, ToolRunner
from order_agent.tools.registry import REGISTRY, ToolKind, kind_of
from order_agent.trace_forwarder import set_tracking_uri
from order_agent_dev.evals.tau_replay import _customer_of, _same_state, authenticates

SCENARIO_DIR = Path("evals/scenarios")  # relative to the repository root, where `make eval` runs
CONFIRMATION_STAGE = "order_confirmation"
ENDED_STAGES = {"closed", "handed_off"}


class Action(BaseModel):
    name: str
    arguments: dict[str, Any] = {}


class Customer(BaseModel):
    says: list[str] = Field(min_length=1)  # in order, one per turn (confirmations are answered apart)
    confirms: str = "yes"  # its answer whenever the agent asks to confirm an action (in its language)
    then_says: str | None = None  # after its lines, while the agent still asks something (Bedrock runs)
    facts: dict[str, str] = {}  # what it knows (for a reader; τ's known_info)
    max_turns: int = Field(default=12, ge=1, le=40)


class Expected(BaseModel):
    actions: list[Action] = []  # replayed from the initial state: the expected final state
    facts: list[str] = []  # must appear in the agent's replies
    final_stage: str | None = None


class Scenario(BaseModel):
    id: str
    source: Literal["tau-retail", "hand-written"]
    about: str = ""
    ci: bool = False  # part of the suite `make test` runs
    offline: bool = False  # within the offline model's rules
    customer: Customer
    expected: Expected
    # The scripted model's transcript: scripted-provider steps, or "gold" (generated from the
    # expected actions), or none (the scenario needs a real model or the offline one).
    script: list[dict[str, Any]] | Literal["gold"] | None = None


def load_scenarios(paths: list[Path] | None = None) -> list[Scenario]:
    """Scenarios from YAML files, or from every *.yaml of directories (default: SCENARIO_DIR)."""
    import yaml  # a development dependency: the harness runs in development and CI only

    files: list[Path] = []
    for path in map(Path, paths or [SCENARIO_DIR]):
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"no scenario files in {[str(p) for p in paths or [SCENARIO_DIR]]}")
    scenarios: list[Scenario] = []
    for path in files:
        for raw in yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []:
            try:
                scenarios.append(Scenario.model_validate(raw))
            except ValueError as exc:
                raise ValueError(f"{path}: scenario {raw.get('id', '?')}: {exc}") from exc
    ids = [s.id for s in scenarios]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate scenario ids: {sorted(duplicates)}")
    return scenarios


def provider_for(scenario: Scenario, requested: str) -> str | None:
    """Which provider plays the scenario: `auto` is offline where it can, else the script."""
    if requested == "bedrock":
        return "bedrock"
    if requested in ("auto", "offline") and scenario.offline:
        return "offline"
    if requested in ("auto", "scripted") and scenario.script is not None:
        return "scripted"
    return None


# -- expected state and the gold transcript ------------------------------------------------------------


def changes_orders(name: str) -> bool:
    """A write the customer confirms (a handoff is not one: it runs at once)."""
    return kind_of(name) is ToolKind.WRITE


def replay_expected(db: Database, settings: Settings, actions: list[Action]) -> tuple[dict[str, Any], list[bool]]:
    """The final state after the expected actions, from the initial state; and which of them succeed."""
    restore_snapshot(db)
    data = export_dataset(db)
    ctx = ConversationContext(session_id=f"expected-{uuid.uuid4()}")
    raw = [action.model_dump() for action in actions]
    if raw and not authenticates(raw[0]["name"]):
        ctx.customer_id = _customer_of(raw, data)
    runner = ToolRunner(db, settings)
    oks = [runner.run(ctx, action.name, action.arguments).ok for action in actions]
    return export_dataset(db), oks


def gold_script(
    actions: list[Action], oks: list[bool], email: str | None, max_tool_rounds: int, facts: list[str] = ()
) -> tuple[list[dict[str, Any]], int]:
    """A scripted-model transcript making exactly the gold calls, in the graph's rhythm: reads
    as tool rounds (at most `max_tool_rounds` a turn), each successful write as a proposal that
    the customer confirms. Returns the steps and how many "please continue" turns it needs."""
    calls = list(zip(actions, oks, strict=True))
    if calls and not authenticates(calls[0][0].name) and email:
        calls.insert(0, (Action(name="find_user_id_by_email", arguments={"email": email}), True))
    steps: list[dict[str, Any]] = []
    continues, rounds = 0, 0
    for action, ok in calls:
        use = {"name": action.name, "input": action.arguments}
        if rounds >= max_tool_rounds:
            steps.append({"text": "I'm still working on it; let me continue."})
            continues += 1
            rounds = 0
        if changes_orders(action.name) and ok:
            steps.append({"text": f"I will run {action.name} as discussed. Shall I go ahead?", "tool_use": use})
            rounds = 0  # the turn ends with the proposal; the confirmation starts a new one
        else:
            steps.append({"tool_use": use})
            rounds += 1
            if kind_of(action.name) is ToolKind.HANDOFF:
                return steps, continues  # the conversation is handed over: no more model calls
    told = " ".join(f"{fact}." for fact in facts)
    steps.append({"text": f"Everything is done. {told} Is there anything else I can help you with?"})
    return steps, continues


# -- running and scoring --------------------------------------------------------------------------------


@dataclass
class ScenarioRun:
    scenario: str
    provider: str
    trial: int
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    turns: int = 0
    model_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    replies: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(self.checks.values()) and not self.problems

    def as_outputs(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": self.checks,
            "problems": self.problems,
            "turns": self.turns,
            "model_calls": self.model_calls,
            "usage": self.usage.as_dict(),
            "cost_usd": self.cost_usd,
            "replies": self.replies,
        }


def trace_checks(outcomes: list[TurnOutcome], stages_before: list[str | None]) -> dict[str, bool]:
    """The process checks, on each turn's recorded spans."""
    auth_first, confirmed, budget = True, True, True
    for outcome, stage_before in zip(outcomes, stages_before, strict=True):
        spans = list(outcome.trace.root.walk()) if outcome.trace else []
        nodes = [s for s in outcome.trace.root.children] if outcome.trace else []
        answering = stage_before == CONFIRMATION_STAGE and bool(nodes) and nodes[0].name == CONFIRMATION_STAGE
        for span in spans:
            if span.span_type != "TOOL":
                continue
            definition = REGISTRY.get(span.name)
            if definition is not None and definition.requires_auth and not span.attributes.get("authenticated_before"):
                auth_first = False
            if changes_orders(span.name) and not span.attributes.get("dry_run") and not answering:
                confirmed = False
        if outcome.done is not None and outcome.done.model_calls > 1 + outcome.done.tool_rounds:
            budget = False
    return {"auth_before_customer_data": auth_first, "writes_confirmed": confirmed, "model_call_budget": budget}


def turn_usage(outcome: TurnOutcome) -> Usage:
    """A finished turn's token counts (its `done` event carries them in Converse's names)."""
    usage = outcome.done.usage
    return Usage(
        usage["inputTokens"], usage["outputTokens"], usage["cacheReadInputTokens"], usage["cacheWriteInputTokens"]
    )


def run_scenario(
    scenario: Scenario,
    provider: str,
    db: Database,
    settings: Settings,
    trial: int = 1,
    model: ModelProvider | None = None,
    expected: tuple[dict[str, Any], list[bool]] | None = None,
) -> ScenarioRun:
    """One conversation, scored. `expected`: the state and action outcomes of `replay_expected`,
    when computed beforehand (else here, with the same tools as the conversation)."""
    run = ScenarioRun(scenario.id, provider, trial)
    expected_state, oks = expected or replay_expected(db, settings, scenario.expected.actions)
    says = list(scenario.customer.says)
    if provider == "scripted" and model is None:
        from order_agent_dev.providers.scripted import ScriptedProvider

        if scenario.script == "gold":
            email = email_of(scenario, db)
            steps, continues = gold_script(
                scenario.expected.actions, oks, email, settings.max_tool_rounds, scenario.expected.facts
            )
            says += ["Please continue."] * continues
        else:
            steps = list(scenario.script or [])
        model = ScriptedProvider(steps)
    elif model is None:
        model = make_provider(settings.model_copy(update={"model_provider": provider}))
    restore_snapshot(db)  # the conversation starts from the initial state
    agent = Agent(settings, model=model, runner=ToolRunner(db, settings), record_traces=True)
    session = f"eval-{scenario.id}-{trial}-{uuid.uuid4().hex[:8]}"
    outcomes: list[TurnOutcome] = []
    stages_before: list[str | None] = []
    stage: str | None = None
    lines = iter(says)
    text: str | None = next(lines)
    try:
        while text is not None and run.turns < scenario.customer.max_turns:
            outcome = agent.handle_message(session, text, lambda event: None)
            outcomes.append(outcome)
            stages_before.append(stage)
            run.turns += 1
            if outcome.done is None:
                run.problems.append(f"turn {run.turns}: {outcome.error.code}: {outcome.error.message}")
                break
            run.model_calls += outcome.done.model_calls
            run.usage = run.usage + turn_usage(outcome)
            run.cost_usd += outcome.cost_usd or 0.0
            run.replies.append(outcome.final.text)
            stage = outcome.final.stage
            if stage in ENDED_STAGES or (provider == "scripted" and model.remaining <= 0):
                break  # handed off or closed; or the scripted model's side of the conversation is over
            if any(reply.confirm_hash for reply in outcome.final.quick_replies):  # a proposal awaits the answer
                text = scenario.customer.confirms
                continue
            text = next(lines, None)
            if text is None and scenario.customer.then_says and "?" in outcome.final.text:
                text = scenario.customer.then_says
    except Exception as exc:  # a script that diverged, a bug: the scenario fails, the suite goes on
        run.problems.append(f"turn {run.turns + 1}: {type(exc).__name__}: {exc}")
    remaining = getattr(model, "remaining", 0)
    if provider == "scripted" and remaining > 0:
        run.problems.append(f"the conversation ended with {remaining} scripted model responses unused")
    replies = "\n".join(run.replies).lower()
    run.checks = {
        "final_state": _same_state(export_dataset(db), expected_state),
        "facts": all(fact.lower() in replies for fact in scenario.expected.facts),
        **trace_checks(outcomes, stages_before),
    }
    if scenario.expected.final_stage is not None:
        run.checks["final_stage"] = stage == scenario.expected.final_stage
    restore_snapshot(db)
    return run


def email_of(scenario: Scenario, db: Database) -> str | None:
    """The customer's email, for a gold transcript that must verify them first."""
    raw = [action.model_dump() for action in scenario.expected.actions]
    customer = _customer_of(raw, export_dataset(db)) if raw else None
    if customer is None:
        return None
    with db.transaction() as cur:
        cur.execute("SELECT email FROM users WHERE user_id = %s", (customer,))
        row = cur.fetchone()
    return row["email"] if row else None


# -- the suite --------------------------------------------------------------------------------------------


def pass_hat(outcomes_per_task: Iterable[list[bool]], k: int) -> float:
    """τ-bench's pass^k: the chance that k independent trials of a task all pass, estimated from c
    passes in n trials as C(c, k) / C(n, k), averaged over the tasks (0 for a task with n < k)."""
    scores = []
    for outcomes in outcomes_per_task:
        n, c = len(outcomes), sum(outcomes)
        scores.append(math.comb(c, k) / math.comb(n, k) if n >= k else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


@dataclass
class SuiteReport:
    runs: list[ScenarioRun]
    trials: int

    def by_scenario(self) -> dict[str, list[ScenarioRun]]:
        grouped: dict[str, list[ScenarioRun]] = {}
        for run in self.runs:
            grouped.setdefault(run.scenario, []).append(run)
        return grouped

    def pass_hat(self, k: int) -> float:
        """τ-bench's pass^k over the scenarios."""
        return pass_hat(([run.passed for run in runs] for runs in self.by_scenario().values()), k)

    @property
    def pass_rate(self) -> float:
        return sum(run.passed for run in self.runs) / len(self.runs) if self.runs else 0.0

    def table(self) -> str:
        names = ["final_state", "facts", "auth_before_customer_data", "writes_confirmed", "model_call_budget"]
        short = ["state", "facts", "auth", "confirm", "budget"]
        header = f"{'scenario':<34} {'model':<9} {'pass':>5} " + " ".join(f"{s:>7}" for s in short)
        header += f" {'turns':>5} {'calls':>5} {'tokens':>8} {'cost $':>8}"
        lines = [header, "-" * len(header)]
        for scenario, runs in self.by_scenario().items():
            passed = sum(run.passed for run in runs)
            marks = " ".join(f"{sum(r.checks.get(n, False) for r in runs):>{7 - 2}}/{len(runs)}" for n in names)
            tokens = sum(r.usage.input_tokens + r.usage.output_tokens + r.usage.cache_read_tokens for r in runs)
            lines.append(
                f"{scenario[:34]:<34} {runs[0].provider:<9} {passed:>3}/{len(runs)} {marks}"
                f" {sum(r.turns for r in runs) / len(runs):>5.1f} {sum(r.model_calls for r in runs) / len(runs):>5.1f}"
                f" {tokens // len(runs):>8} {sum(r.cost_usd for r in runs) / len(runs):>8.4f}"
            )
        lines.append("-" * len(header))
        hats = "  ".join(f"pass^{k} {self.pass_hat(k):.3f}" for k in range(1, self.trials + 1))
        usage = sum((r.usage for r in self.runs), Usage())
        lines.append(
            f"{len(self.by_scenario())} scenarios x {self.trials} trials: {hats}  |  tokens in {usage.input_tokens}"
            f" out {usage.output_tokens} cache read {usage.cache_read_tokens} write {usage.cache_write_tokens}"
            f"  |  cost ${sum(r.cost_usd for r in self.runs):.4f}"
        )
        return "\n".join(lines)

    def failures(self) -> list[str]:
        lines = []
        for run in self.runs:
            if not run.passed:
                failed = [name for name, ok in run.checks.items() if not ok]
                lines.append(f"{run.scenario} (trial {run.trial}, {run.provider}): {failed} {run.problems}")
        return lines


def run_suite(
    scenarios: list[Scenario],
    db: Database,
    settings: Settings,
    *,
    provider: str = "auto",
    trials: int = 1,
    progress: Callable[[ScenarioRun], None] | None = None,
) -> SuiteReport:
    runs = []
    for scenario in scenarios:
        chosen = provider_for(scenario, provider)
        if chosen is None:
            continue
        for trial in range(1, trials + 1):
            run = run_scenario(scenario, chosen, db, settings, trial)
            runs.append(run)
            if progress is not None:
                progress(run)
    return SuiteReport(runs, trials)


# -- MLflow ------------------------------------------------------------------------------------------------

CHECKS = ("final_state", "facts", "auth_before_customer_data", "writes_confirmed", "model_call_budget")


def _check_scorer(check: str):
    from mlflow.genai.scorers import scorer

    def score(outputs: dict[str, Any]) -> bool:
        return bool(outputs["checks"].get(check, False))

    score.__name__ = check
    return scorer(score)


def log_to_mlflow(report: SuiteReport, tracking_uri: str, experiment: str, run_name: str) -> str:
    """The runs as an `mlflow.genai.evaluate` evaluation (deterministic scorers, no LLM judge)."""
    import mlflow
    from mlflow.genai.scorers import scorer

    @scorer
    def passed(outputs: dict[str, Any]) -> bool:
        return bool(outputs["passed"])

    set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    data = [
        {"inputs": {"scenario": r.scenario, "provider": r.provider, "trial": r.trial}, "outputs": r.as_outputs()}
        for r in report.runs
    ]
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params({"trials": report.trials, "scenarios": len(report.by_scenario())})
        mlflow.genai.evaluate(data=data, scorers=[passed, *(_check_scorer(c) for c in CHECKS)])
        metrics = {f"pass_hat_{k}": report.pass_hat(k) for k in range(1, report.trials + 1)}
        metrics["cost_usd"] = sum(r.cost_usd for r in report.runs)
        mlflow.log_metrics(metrics)
        mlflow.log_text(report.table(), "scenario_table.txt")
        return run.info.run_id


def scenario_json(report: SuiteReport) -> str:
    return json.dumps([{"scenario": r.scenario, "trial": r.trial, **r.as_outputs()} for r in report.runs], indent=1)


# -- scenarios from the τ retail tasks ----------------------------------------------------------------------

_SECOND_TO_FIRST = [(r"\byou'd\b", "I'd"), (r"\byou're\b", "I'm"), (r"\byou've\b", "I've"), (r"\byou'll\b", "I'll"),
                    (r"\bYou are\b", "I am"), (r"\byou are\b", "I am"), (r"\bYou\b", "I"), (r"\byou\b", "me"),
                    (r"\bYour\b", "My"), (r"\byour\b", "my"), (r"\byourself\b", "myself")]  # fmt: skip


def first_person(text: str) -> str:
    """τ's instructions to its simulated user, as the customer's own words (roughly)."""
    import re

    for pattern, replacement in _SECOND_TO_FIRST:
        text = re.sub(pattern, replacement, text)
    return text


def tau_scenarios(settings: Settings, ci_tasks: set[str]) -> list[dict[str, Any]]:
    """One scenario per τ retail task: the customer opens with the task's reason for calling and
    what it knows, confirms every proposal; the expected actions are the gold ones."""
    from order_agent.db.dataset import TAU_RETAIL_TASKS, read_wheel_member

    scenarios = []
    for task in json.loads(read_wheel_member(TAU_RETAIL_TASKS, settings)):
        instructions = (task.get("user_scenario") or {}).get("instructions") or {}
        criteria = task.get("evaluation_criteria") or {}
        opening = " ".join(
            first_person(instructions.get(key) or "").strip() for key in ("known_info", "reason_for_call")
        ).strip()
        scenarios.append(
            {
                "id": f"tau-{task['id']}",
                "source": "tau-retail",
                "about": first_person(instructions.get("reason_for_call") or "")[:200],
                "ci": task["id"] in ci_tasks,
                "customer": {
                    "says": [opening or "I need help with an order."],
                    "then_says": "That is everything I know; please go ahead as I asked.",
                    "facts": {k: instructions[k] for k in ("known_info", "unknown_info") if instructions.get(k)},
                },
                "expected": {
                    "actions": [
                        {"name": a["name"], "arguments": a["arguments"]} for a in criteria.get("actions") or []
                    ],
                    "facts": [str(info) for info in criteria.get("communicate_info") or []],
                },
                "script": "gold",
            }
        )
    return scenarios
