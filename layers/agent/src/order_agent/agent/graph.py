"""The conversation graph: entry_intent → order_confirmation → resolution.

    START ─route_new_message─┬─> entry_intent ──route_after_model──┬─> END (answer, goodbye, handoff)
                             │      ^      │ (tool round)           │
                             │      └──────┘                        └─> order_confirmation (proposal)
                             ├─> conversation_closed ─> END                 │ interrupt(): waits for the customer
                             └─> handed_off ─> END           yes ───────────┤ no / other: the model answers
                                                              v              └─> route_after_model
                                                          resolution (runs exactly the confirmed write)
                                                              └─ route_after_model

The durable state is small: the Converse transcript, the conversation context (who the
customer is), the status, and the pending proposal. Everything about the current turn
(counters, text so far, the order card) lives in the `Turn` passed as the run's context.

Model calls: one per node visit that converses, and one more per tool round; a "yes" costs one
(the report), a proposal costs none beyond the call that made it (its preview is a dry run of
the write, so every rule is checked before the customer is asked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal, TypedDict

from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from order_agent.agent.confirmation import classify_confirmation
from order_agent.agent.events import Emit, QuickReply, TextDelta
from order_agent.handoff import announce_handoff, handed_off_text
from order_agent.model.base import (
    END_CONVERSATION,
    END_CONVERSATION_SPEC,
    ModelProvider,
    ModelRequest,
    ModelResponse,
    Usage,
)
from order_agent.settings import Settings
from order_agent.tools import ConversationContext, ToolResult, ToolRunner, request_hash
from order_agent.tools.policy import policy_prompt
from order_agent.tools.registry import ToolKind, kind_of
from order_agent.tracing import AGENT, CHAT_MODEL, COST_KEY, MODEL_KEY, PROVIDER_KEY, USAGE_KEY, span

TOOL_LIMIT_TEXT = (
    "I'm sorry, I couldn't finish looking that up. Could you tell me once more what you need, "
    "or shall I connect you with a human agent?"
)
FAREWELL_TEXT = "Thank you for contacting us. Goodbye!"
CLOSED_TEXT = "This conversation has ended. Start a new conversation if there is anything else we can help with."
NEW_CONVERSATION = QuickReply(label="Start a new conversation", text="", action="new_conversation")


class Proposal(TypedDict):
    tool_use_id: str  # the model's write call, answered once the customer has replied
    tool: str
    arguments: dict[str, Any]
    hash: str  # of the tool and its exact arguments: what a "yes" confirms
    text: str  # how it was put to the customer
    preview: dict[str, Any] | None  # the order (or profile) as it will be, from a dry run


UNANSWERED_TEXT = "(The previous message could not be answered.)"


def add_messages(existing: list[dict[str, Any]] | None, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append to the transcript, keeping it valid Converse after a failed turn.

    A turn that fails (a model outage, a bug) may leave its customer message, or a finished tool
    round, at the end of the saved transcript with no reply. The next customer message would then
    follow a user message, which Bedrock refuses; a short assistant note in between keeps the
    roles alternating and tells the model what happened."""
    existing = existing or []
    if existing and new and existing[-1]["role"] == "user" and new[0]["role"] == "user":
        return [*existing, {"role": "assistant", "content": [{"text": UNANSWERED_TEXT}]}, *new]
    return [*existing, *new]


def add_spend(existing: dict[str, float] | None, new: dict[str, float]) -> dict[str, float]:
    """The conversation's tokens and cost so far: every model call adds its own."""
    total = dict(existing or {})
    for key, value in new.items():
        total[key] = total.get(key, 0) + value
    return total


class AgentState(TypedDict, total=False):
    messages: Annotated[list[dict[str, Any]], add_messages]  # the Converse transcript
    ctx: dict[str, Any]  # ConversationContext
    status: Literal["open", "closed", "handed_off"]
    pending: Proposal | None
    route: str  # the decision of the node that ran last
    spend: Annotated[dict[str, float], add_spend]  # tokens and cost_usd of the whole conversation


@dataclass
class Turn:
    """One customer message being handled: its inputs, its dependencies, what it has produced."""

    session_id: str
    text: str
    model: ModelProvider
    runner: ToolRunner
    settings: Settings
    emit: Emit
    message_id: str | None = None
    confirm_hash: str | None = None
    model_calls: int = 0
    tool_calls: int = 0
    tool_rounds: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cost_known: bool = True  # False when a model id has no price in the settings
    customer_id: str | None = None  # the verified customer, once known
    texts: list[str] = field(default_factory=list)
    stage: str = "entry_intent"
    order: dict[str, Any] | None = None
    quick_replies: list[QuickReply] = field(default_factory=list)
    handoff_published: bool | None = None  # None: no handoff in this turn


@cache
def prompt(stage: str) -> str:
    folder = resources.files("order_agent.agent") / "prompts"
    common = (folder / "common.md").read_text(encoding="utf-8")
    return "\n".join((common, policy_prompt(), (folder / f"{stage}.md").read_text("utf-8")))


@cache
def tool_specs() -> list[dict[str, Any]]:
    return [*ToolRunner.converse_tools(), END_CONVERSATION_SPEC]


def _context(state: AgentState, turn: Turn) -> ConversationContext:
    return ConversationContext(**state["ctx"]) if state.get("ctx") else ConversationContext(session_id=turn.session_id)


def _note_order(turn: Turn, result: ToolResult) -> None:
    """The latest order the turn touched becomes the reply's order card."""
    if result.ok and isinstance(result.content, dict) and "order_id" in result.content:
        turn.order = result.content


def _error_result(tool_use_id: str, code: str, message: str) -> dict[str, Any]:
    body = {"error": code, "message": message, "retryable": False}
    return {"toolResult": {"toolUseId": tool_use_id, "content": [{"json": body}], "status": "error"}}


def _converse(
    state: AgentState, turn: Turn, stage: str, ctx: ConversationContext, prefix: list[dict[str, Any]]
) -> dict[str, Any]:
    """One model call on the transcript (plus `prefix`, the messages this node adds first),
    then act on what the model did. Returns the node's state update."""
    messages = state.get("messages", []) + prefix
    request = ModelRequest(
        system=prompt(stage),
        messages=messages,
        tools=tool_specs(),
        stage=stage,
        context={"customer_id": ctx.customer_id},
    )
    with span("converse", CHAT_MODEL, {"stage": stage, "messages": messages}) as record:
        response = turn.model.converse(request, on_text=lambda text: turn.emit(TextDelta(text=text)))
        cost = _cost(turn, response)
        record.outputs = {"content": response.content, "stop_reason": response.stop_reason}
        record.attributes.update(_model_attributes(turn, response, cost))
    turn.model_calls += 1
    turn.usage = turn.usage + response.usage
    turn.stage = stage
    content = response.content or [{"text": "…"}]  # Converse refuses an empty assistant message
    added = [*prefix, {"role": "assistant", "content": content}]
    # The customer-facing text of the turn is the latest call's: text written alongside read
    # tools is narration that the reply supersedes.
    turn.texts = [response.text] if response.text else []
    update: dict[str, Any] = {
        "messages": added,
        "ctx": ctx.model_dump(),
        "status": "open",
        "route": END,
        "spend": {**response.usage.as_dict(), "cost_usd": sum(cost) if cost else 0.0},
    }
    uses = response.tool_uses
    if not uses:
        return update
    names = [use["name"] for use in uses]
    kinds = [kind_of(name) for name in names]  # what each call means; never its name

    if END_CONVERSATION in names:
        turn.stage = "closed"
        turn.quick_replies = [NEW_CONVERSATION]
        if not response.text:
            turn.texts.append(FAREWELL_TEXT)
        return {**update, "status": "closed"}

    if kinds == [ToolKind.HANDOFF]:
        result = turn.runner.run(ctx, names[0], uses[0]["input"])
        turn.tool_calls += 1
        if result.ok:  # committed: now the support team is told, and the customer what happens next
            turn.stage = "handed_off"
            turn.texts.append(announce_handoff(turn, ctx.customer_id, result.arguments["summary"], messages))
            answered = {"role": "user", "content": [result.to_converse(uses[0]["toolUseId"])]}
            return {**update, "messages": [*added, answered], "ctx": ctx.model_dump(), "status": "handed_off"}
        results = [result.to_converse(uses[0]["toolUseId"])]
    elif kinds == [ToolKind.WRITE]:
        use = uses[0]
        preview = turn.runner.run(ctx, use["name"], use["input"], dry_run=True)
        turn.tool_calls += 1
        if preview.ok:
            return {**update, **_propose(turn, ctx, use, preview, response.text)}
        results = [preview.to_converse(use["toolUseId"])]
    else:
        results = []
        for use, kind in zip(uses, kinds, strict=True):
            if kind in (ToolKind.WRITE, ToolKind.HANDOFF) or use["name"] == END_CONVERSATION:
                results.append(
                    _error_result(
                        use["toolUseId"], "one_write_at_a_time", "Call a write tool alone, after the reads it needs."
                    )
                )
                continue
            result = turn.runner.run(ctx, use["name"], use["input"])
            turn.tool_calls += 1
            _note_order(turn, result)
            results.append(result.to_converse(use["toolUseId"]))

    answered = {"role": "user", "content": results}
    if turn.tool_rounds >= turn.settings.max_tool_rounds:
        # The bound is reached: answer without another model call.
        turn.texts.append(TOOL_LIMIT_TEXT)
        limit = {"role": "assistant", "content": [{"text": TOOL_LIMIT_TEXT}]}
        return {**update, "messages": [*added, answered, limit], "ctx": ctx.model_dump()}
    turn.tool_rounds += 1
    return {**update, "messages": [*added, answered], "ctx": ctx.model_dump(), "route": "entry_intent"}


def _cost(turn: Turn, response: ModelResponse) -> tuple[float, float] | None:
    """(input, output) cost of one call in USD, added to the turn's; None for a model without a price."""
    price = turn.settings.price_of(response.model_id or turn.model.name)
    if price is None:
        turn.cost_known = False
        return None
    cost = response.usage.cost_usd(price)
    turn.cost_usd += sum(cost)
    return cost


def _model_attributes(turn: Turn, response: ModelResponse, cost: tuple[float, float] | None) -> dict[str, Any]:
    usage = response.usage
    attributes: dict[str, Any] = {
        USAGE_KEY: {
            "input_tokens": usage.input_tokens,  # uncached input, as Converse counts it
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
        },
        MODEL_KEY: response.model_id,
        PROVIDER_KEY: turn.model.name,
        "stop_reason": response.stop_reason,
        "latency_ms": round(response.latency_ms, 1),
        "time_to_first_token_ms": None if response.first_token_ms is None else round(response.first_token_ms, 1),
    }
    if cost is not None:
        attributes[COST_KEY] = {"input_cost": cost[0], "output_cost": cost[1], "total_cost": sum(cost)}
    return attributes


def _propose(turn: Turn, ctx: ConversationContext, use: dict[str, Any], preview: ToolResult, text: str) -> dict:
    arguments = preview.arguments  # validated and normalised: exactly what will run
    digest = request_hash(use["name"], arguments)
    presented = text or f"I'm ready to run {use['name']} with {arguments}. Shall I go ahead? Please answer yes or no."
    if not text:
        turn.texts.append(presented)
    _note_order(turn, preview)
    turn.stage = "order_confirmation"
    turn.quick_replies = [QuickReply(label="Yes", text="yes", confirm_hash=digest), QuickReply(label="No", text="no")]
    proposal = Proposal(
        tool_use_id=use["toolUseId"],
        tool=use["name"],
        arguments=arguments,
        hash=digest,
        text=presented,
        preview=preview.content if isinstance(preview.content, dict) else None,
    )
    return {"pending": proposal, "ctx": ctx.model_dump(), "route": "order_confirmation"}


def _ask_again(turn: Turn, pending: Proposal) -> dict[str, Any]:
    """Put the same proposal to the customer again; nothing enters the model's transcript."""
    turn.texts.append(pending["text"])
    turn.stage = "order_confirmation"
    turn.order = pending["preview"] if pending["preview"] and "order_id" in pending["preview"] else turn.order
    turn.quick_replies = [
        QuickReply(label="Yes", text="yes", confirm_hash=pending["hash"]),
        QuickReply(label="No", text="no"),
    ]
    return {"route": "order_confirmation"}


# -- nodes ------------------------------------------------------------------------------------------


def entry_intent(state: AgentState, runtime: Runtime[Turn]) -> dict[str, Any]:
    turn = runtime.context
    return _converse(state, turn, "entry_intent", _context(state, turn), [])


def _write_key(turn: Turn, pending: Proposal) -> str:
    """The confirmed write's idempotency key: the same in every turn and every process."""
    return f"{turn.session_id}:{pending['tool_use_id']}:{pending['hash']}"


def order_confirmation(state: AgentState, runtime: Runtime[Turn]) -> dict[str, Any]:
    pending = state["pending"]
    answer = interrupt({"proposal_hash": pending["hash"], "tool": pending["tool"]})
    turn = runtime.context
    if turn.runner.applied(_write_key(turn, pending)):
        # The customer said yes before, the write committed, and the process died before the
        # checkpoint was saved: whatever this message says, the change is made. Resolution
        # replays its stored result, so the customer is told the truth and nothing runs twice.
        return {"route": "resolution"}
    if answer.get("confirm_hash") and answer["confirm_hash"] != pending["hash"]:
        return _ask_again(turn, pending)  # a button of an earlier proposal
    decision = "yes" if answer.get("confirm_hash") else classify_confirmation(answer["text"])
    if decision == "unclear":
        return _ask_again(turn, pending)
    if decision == "yes":
        return {"route": "resolution"}
    reason = (
        "The customer declined; nothing was changed."
        if decision == "no"
        else "Not carried out: the customer replied without confirming; their reply follows."
    )
    reply = {
        "role": "user",
        "content": [_error_result(pending["tool_use_id"], "not_confirmed", reason), {"text": answer["text"]}],
    }
    # The proposal is answered; the model may make a new one (its update then sets `pending`).
    return {"pending": None, **_converse(state, turn, "order_confirmation", _context(state, turn), [reply])}


def resolution(state: AgentState, runtime: Runtime[Turn]) -> dict[str, Any]:
    turn, pending = runtime.context, state["pending"]
    ctx = _context(state, turn)
    if request_hash(pending["tool"], pending["arguments"]) != pending["hash"]:
        return _ask_again(turn, pending)  # never run anything but what was confirmed
    result = turn.runner.run(
        ctx,
        pending["tool"],
        pending["arguments"],
        idempotency_key=_write_key(turn, pending),
    )
    turn.tool_calls += 1
    _note_order(turn, result)
    if result.ok and not turn.order and pending["preview"] and "order_id" in pending["preview"]:
        turn.order = pending["preview"]
    reply = {"role": "user", "content": [result.to_converse(pending["tool_use_id"]), {"text": turn.text}]}
    update = _converse(state, turn, "resolution", ctx, [reply])
    return {"pending": None, **update}


def conversation_closed(state: AgentState, runtime: Runtime[Turn]) -> dict[str, Any]:
    runtime.context.quick_replies = [NEW_CONVERSATION]
    return _fixed_reply(runtime.context, "closed", CLOSED_TEXT)


def handed_off(state: AgentState, runtime: Runtime[Turn]) -> dict[str, Any]:
    return _fixed_reply(runtime.context, "handed_off", handed_off_text(runtime.context.session_id))


def _fixed_reply(turn: Turn, stage: str, text: str) -> dict[str, Any]:
    turn.stage = stage
    turn.texts.append(text)
    return {"messages": [{"role": "assistant", "content": [{"text": text}]}], "route": END}


# -- routing ------------------------------------------------------------------------------------------


def route_new_message(state: AgentState) -> str:
    status = state.get("status", "open")
    return {"closed": "conversation_closed", "handed_off": "handed_off"}.get(status, "entry_intent")


def route_after_model(state: AgentState) -> str:
    return state.get("route", END)


Node = Callable[[AgentState, Runtime[Turn]], dict[str, Any]]


def traced(name: str, node: Node) -> Node:
    """The node as an AGENT span of the turn's trace. The interrupt with which order_confirmation
    waits for the customer is how that node pauses, not a failure."""

    def run(state: AgentState, runtime: Runtime[Turn]) -> dict[str, Any]:
        pending = state.get("pending")
        inputs = {"status": state.get("status", "open"), "pending": pending["tool"] if pending else None}
        with span(name, AGENT, inputs, expected=(GraphBubbleUp,)) as record:
            update = node(state, runtime)
            record.outputs = {key: update[key] for key in ("route", "status") if key in update}
        customer_id = (update.get("ctx") or {}).get("customer_id")
        if customer_id:
            runtime.context.customer_id = customer_id
        return update

    run.__name__ = name
    return run


def build_graph() -> StateGraph:
    graph = StateGraph(AgentState, context_schema=Turn)
    graph.add_node("entry_intent", traced("entry_intent", entry_intent))
    graph.add_node("order_confirmation", traced("order_confirmation", order_confirmation))
    graph.add_node("resolution", traced("resolution", resolution))
    graph.add_node("conversation_closed", traced("conversation_closed", conversation_closed))
    graph.add_node("handed_off", traced("handed_off", handed_off))
    graph.add_conditional_edges(START, route_new_message, ["entry_intent", "conversation_closed", "handed_off"])
    targets = ["entry_intent", "order_confirmation", "resolution", END]
    for node in ("entry_intent", "order_confirmation", "resolution"):
        graph.add_conditional_edges(node, route_after_model, targets)
    graph.add_edge("conversation_closed", END)
    graph.add_edge("handed_off", END)
    return graph
