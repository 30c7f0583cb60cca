"""The conversation graph: small nodes, and routing functions that read what the model asked for.

    START ─route_new_message─┬─> call_model ─route_model_output─┬─> END (the reply: no tool call)
                             │    ^                             ├─> close ─> END (a goodbye)
                             │    │                             ├─> run_reads ─────┐
                             │    │                             ├─> propose_write ─┼─route_after_tools─┐
                             │    │                             └─> hand_off ──────┘                   │
                             │    ├─ a tool round <────────────────────────────────────────────────────┤
                             │    │                  at the round limit: tool_limit ─> END <───────────┤
                             │    │                  handed off: END <─────────────────────────────────┤
                             │    │                  a proposal: order_confirmation <──────────────────┘
                             │    │                     │ interrupt(): waits for the customer's answer
                             │    ├─ no, or another ────┤ unclear: order_confirmation (asks again)
                             │    │  request            │ yes
                             │    └─route_after_write─ resolution (runs exactly the confirmed write)
                             ├─> conversation_closed ─> END
                             └─> handed_off ─> END

Routing reads the tool calls of the model's last message and acts on each tool's declared kind
(`ToolKind`: read, write, handoff, close), never on its name. Every node is a function of the
state and the run's `Dependencies` that returns a state update.

The durable state (checkpointed) is small: the Converse transcript, the conversation context
(who the customer is), the status, the stage, the pending proposal and the conversation's spend.
What the current customer message has produced (reply text, order card, quick replies, model
and tool calls, usage, cost) is the `turn` key: never checkpointed, so every run starts without
one; nodes return it updated and the caller reads it from the run's result.

Model calls: one per visit of call_model, which follows the customer's message, a tool round,
the confirmed write, or a declined proposal; a "yes" costs one (the report), a proposal costs none
beyond the call that made it (its preview is a dry run of the write, so every rule is checked
before the customer is asked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langgraph.channels import UntrackedValue
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from order_agent.agent.confirmation import classify_confirmation, confirmation_replies, order_card
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
UNANSWERED_TEXT = "(The previous message could not be answered.)"

# The stages: each model call's system prompt (prompts/<stage>.md), and what the reply reports.
Stage = Literal["entry_intent", "order_confirmation", "resolution", "closed", "handed_off"]
ENTRY_STAGE: Stage = "entry_intent"

# The agent's own control tool, offered beside the registered tools, with its kind.
CONTROL_TOOLS = {END_CONVERSATION: ToolKind.CLOSE}


class Proposal(TypedDict):
    tool_use_id: str  # the model's write call, answered once the customer has replied
    tool: str
    arguments: dict[str, Any]
    hash: str  # of the tool and its exact arguments: what a "yes" confirms
    text: str  # how it was put to the customer
    preview: dict[str, Any] | None  # the order (or profile) as it will be, from a dry run
    answer: NotRequired[str]  # the customer's yes: the model reads it after the write's result


@dataclass(frozen=True)
class Turn:
    """What handling one customer message has produced so far. Nodes return an updated copy; the
    caller reads it from the run's result."""

    replies: list[str] = field(default_factory=list)  # the reply's paragraphs
    order: dict[str, Any] | None = None  # the latest order the turn touched: the reply's order card
    quick_replies: list[QuickReply] = field(default_factory=list)
    model_calls: int = 0
    tool_rounds: int = 0  # model calls that answer a tool round: every call of the turn but its first
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cost_known: bool = True  # False when a model id has no price in the settings
    handoff_published: bool | None = None  # whether this turn's handoff reached the event bus (None: none)


@dataclass(frozen=True)
class Dependencies:
    """What the nodes work with (the run's LangGraph context); they never change it."""

    session_id: str  # the session the run answers: a default context, the confirmed write's key
    model: ModelProvider
    runner: ToolRunner
    settings: Settings
    emit: Emit  # where streamed text goes


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
    stage: Stage  # the next model call's prompt; at the end of a turn, the reply's stage
    pending: Proposal | None
    spend: Annotated[dict[str, float], add_spend]  # tokens and cost_usd of the whole conversation
    turn: Annotated[Turn, UntrackedValue(Turn)]  # this message's output so far; never checkpointed


def new_message(text: str) -> AgentState:
    """The run input for a customer message that answers no proposal."""
    return {"messages": [{"role": "user", "content": [{"text": text}]}], "stage": ENTRY_STAGE}


@cache
def prompt(stage: str) -> str:
    folder = resources.files("order_agent.agent") / "prompts"
    common = (folder / "common.md").read_text(encoding="utf-8")
    return "\n".join((common, policy_prompt(), (folder / f"{stage}.md").read_text("utf-8")))


@cache
def tool_specs() -> list[dict[str, Any]]:
    return [*ToolRunner.converse_tools(), END_CONVERSATION_SPEC]


def call_kind(name: str) -> ToolKind | None:
    """What a tool call means for the conversation; None for a tool that does not exist."""
    return CONTROL_TOOLS.get(name) or kind_of(name)


def last_tool_calls(state: AgentState) -> list[dict[str, Any]]:
    """The tool calls of the model's last message (none when the transcript ends otherwise)."""
    last = state["messages"][-1]
    return [block["toolUse"] for block in last["content"] if "toolUse" in block] if last["role"] == "assistant" else []


def _turn(state: AgentState) -> Turn:
    """The turn so far; a run starts with none (it is never checkpointed)."""
    return state.get("turn") or Turn()


def _conversation(state: AgentState, deps: Dependencies) -> ConversationContext:
    return ConversationContext(**state["ctx"]) if state.get("ctx") else ConversationContext(session_id=deps.session_id)


def _order_of(result: ToolResult) -> dict[str, Any] | None:
    return result.content if result.ok and isinstance(result.content, dict) and "order_id" in result.content else None


def _error_result(tool_use_id: str, code: str, message: str) -> dict[str, Any]:
    body = {"error": code, "message": message, "retryable": False}
    return {"toolResult": {"toolUseId": tool_use_id, "content": [{"json": body}], "status": "error"}}


def _with_default_reply(turn: Turn, text: str) -> list[str]:
    """The reply is the model's text; `text` only when the model wrote none."""
    return turn.replies or [text]


# -- nodes ------------------------------------------------------------------------------------------


def call_model(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """One model call on the transcript, in the current stage's prompt, streaming its text."""
    deps, turn = runtime.context, _turn(state)
    stage = state.get("stage", ENTRY_STAGE)
    ctx = _conversation(state, deps)
    request = ModelRequest(
        system=prompt(stage),
        messages=state["messages"],
        tools=tool_specs(),
        stage=stage,
        context={"customer_id": ctx.customer_id},
    )
    with span("converse", CHAT_MODEL, {"stage": stage, "messages": request.messages}) as record:
        response = deps.model.converse(request, on_text=lambda text: deps.emit(TextDelta(text=text)))
        cost = _cost(deps, response)
        record.outputs = {"content": response.content, "stop_reason": response.stop_reason}
        record.attributes.update(_model_attributes(deps, response, cost))
    return {
        "messages": [{"role": "assistant", "content": response.content or [{"text": "…"}]}],  # never empty
        "ctx": ctx.model_dump(),
        "status": "open",
        "spend": {**response.usage.as_dict(), "cost_usd": sum(cost) if cost else 0.0},
        "turn": replace(
            turn,
            # The reply is the latest call's text: text written alongside read tools is narration
            # that the answer supersedes.
            replies=[response.text] if response.text else [],
            model_calls=turn.model_calls + 1,
            tool_rounds=turn.tool_rounds + (1 if turn.model_calls else 0),
            usage=turn.usage + response.usage,
            cost_usd=turn.cost_usd + (sum(cost) if cost else 0.0),
            cost_known=turn.cost_known and cost is not None,
            # answers the model suggests for a closed question (a proposal's Yes/No replaces them)
            quick_replies=[QuickReply(label=r.label, text=r.text) for r in response.suggested_replies],
        ),
    }


def _cost(deps: Dependencies, response: ModelResponse) -> tuple[float, float] | None:
    """(input, output) cost of one call in USD; None for a model without a price."""
    price = deps.settings.price_of(response.model_id or deps.model.name)
    return None if price is None else response.usage.cost_usd(price)


def _model_attributes(deps: Dependencies, response: ModelResponse, cost: tuple[float, float] | None) -> dict[str, Any]:
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
        PROVIDER_KEY: deps.model.name,
        "stop_reason": response.stop_reason,
        "latency_ms": round(response.latency_ms, 1),
        "time_to_first_token_ms": None if response.first_token_ms is None else round(response.first_token_ms, 1),
    }
    if cost is not None:
        attributes[COST_KEY] = {"input_cost": cost[0], "output_cost": cost[1], "total_cost": sum(cost)}
    return attributes


def run_reads(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """Run the read tools the model called and answer every call. A write or a handoff among
    other calls is refused: it has to come alone, after the reads it needs."""
    deps, turn = runtime.context, _turn(state)
    ctx = _conversation(state, deps)
    results, orders, ran = [], [], 0
    for use in last_tool_calls(state):
        if call_kind(use["name"]) in (ToolKind.WRITE, ToolKind.HANDOFF):
            message = "Call a write tool alone, after the reads it needs."
            results.append(_error_result(use["toolUseId"], "one_write_at_a_time", message))
            continue
        result = deps.runner.run(ctx, use["name"], use["input"])  # an unknown tool gets its error here
        ran += 1
        if order := _order_of(result):
            orders.append(order)
        results.append(result.to_converse(use["toolUseId"]))
    # Several orders read at once (to offer a choice) are no single order to show as the card.
    order = orders[0] if len(orders) == 1 else turn.order
    return {
        "messages": [{"role": "user", "content": results}],
        "ctx": ctx.model_dump(),
        "stage": ENTRY_STAGE,
        "turn": replace(turn, tool_calls=turn.tool_calls + ran, order=order),
    }


def propose_write(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """Preview the write the model called (a dry run: every rule is checked) and put it to the
    customer. A preview that fails goes back to the model as the call's result."""
    deps, turn = runtime.context, _turn(state)
    ctx = _conversation(state, deps)
    (use,) = last_tool_calls(state)
    preview = deps.runner.run(ctx, use["name"], use["input"], dry_run=True)
    turn = replace(turn, tool_calls=turn.tool_calls + 1)
    if not preview.ok:
        answered = {"role": "user", "content": [preview.to_converse(use["toolUseId"])]}
        return {"messages": [answered], "ctx": ctx.model_dump(), "stage": ENTRY_STAGE, "turn": turn}
    arguments = preview.arguments  # validated and normalised: exactly what will run
    digest = request_hash(use["name"], arguments)
    default = f"I'm ready to run {use['name']} with {arguments}. Shall I go ahead? Please answer yes or no."
    replies = _with_default_reply(turn, default)
    proposal = Proposal(
        tool_use_id=use["toolUseId"],
        tool=use["name"],
        arguments=arguments,
        hash=digest,
        text=replies[0],
        preview=preview.content if isinstance(preview.content, dict) else None,
    )
    return {
        "pending": proposal,
        "ctx": ctx.model_dump(),
        "stage": "order_confirmation",
        "turn": replace(
            turn, replies=replies, order=_order_of(preview) or turn.order, quick_replies=confirmation_replies(digest)
        ),
    }


def hand_off(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """Run the handoff the model called. Once it succeeds the assistant no longer answers."""
    deps, turn = runtime.context, _turn(state)
    ctx = _conversation(state, deps)
    (use,) = last_tool_calls(state)
    result = deps.runner.run(ctx, use["name"], use["input"])
    turn = replace(turn, tool_calls=turn.tool_calls + 1)
    update = {
        "messages": [{"role": "user", "content": [result.to_converse(use["toolUseId"])]}],
        "ctx": ctx.model_dump(),
    }
    if not result.ok:  # back to the model, as a tool round
        return {**update, "stage": ENTRY_STAGE, "turn": turn}
    # Committed: now the support team is told, and the customer what truly happens next.
    text, published = announce_handoff(
        deps.settings, deps.session_id, ctx.customer_id, result.arguments["summary"], state["messages"]
    )
    turn = replace(turn, replies=[*turn.replies, text], handoff_published=published)
    return {**update, "status": "handed_off", "stage": "handed_off", "turn": turn}


def close(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """The model called end_conversation: the customer said goodbye."""
    turn = _turn(state)
    replies = _with_default_reply(turn, FAREWELL_TEXT)
    return {
        "status": "closed",
        "stage": "closed",
        "turn": replace(turn, replies=replies, quick_replies=[NEW_CONVERSATION]),
    }


def tool_limit(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """The turn has used its tool rounds: answer without another model call."""
    turn = _turn(state)
    return {
        "messages": [{"role": "assistant", "content": [{"text": TOOL_LIMIT_TEXT}]}],
        "turn": replace(turn, replies=[*turn.replies, TOOL_LIMIT_TEXT]),
    }


def _write_key(deps: Dependencies, pending: Proposal) -> str:
    """The confirmed write's idempotency key: the same in every turn and every process."""
    return f"{deps.session_id}:{pending['tool_use_id']}:{pending['hash']}"


def _ask_again(state: AgentState) -> dict[str, Any]:
    """Put the same proposal to the customer again; nothing enters the model's transcript."""
    turn, pending = _turn(state), state["pending"]
    order = order_card(pending["preview"]) or turn.order
    replies = [*turn.replies, pending["text"]]
    asked = replace(turn, replies=replies, order=order, quick_replies=confirmation_replies(pending["hash"]))
    return {"stage": "order_confirmation", "turn": asked}


def order_confirmation(
    state: AgentState, runtime: Runtime[Dependencies]
) -> Command[Literal["resolution", "order_confirmation", "call_model"]]:
    """Wait for the customer's answer to the proposal (the turn ends here until it comes), then
    run the write on a yes, ask again when the answer is unclear, or let the model answer."""
    pending = state["pending"]
    answer = interrupt({"proposal_hash": pending["hash"], "tool": pending["tool"]})
    confirmed = Command(goto="resolution", update={"pending": {**pending, "answer": answer["text"]}})
    if runtime.context.runner.applied(_write_key(runtime.context, pending)):
        # The customer said yes before, the write committed, and the process died before the
        # checkpoint was saved: whatever this message says, the change is made. Resolution
        # replays its stored result, so the customer is told the truth and nothing runs twice.
        return confirmed
    if answer.get("confirm_hash") and answer["confirm_hash"] != pending["hash"]:
        return Command(goto="order_confirmation", update=_ask_again(state))  # a button of an earlier proposal
    decision = "yes" if answer.get("confirm_hash") else classify_confirmation(answer["text"])
    if decision == "unclear":
        return Command(goto="order_confirmation", update=_ask_again(state))
    if decision == "yes":
        return confirmed
    reason = (
        "The customer declined; nothing was changed."
        if decision == "no"
        else "Not carried out: the customer replied without confirming; their reply follows."
    )
    reply = {
        "role": "user",
        "content": [_error_result(pending["tool_use_id"], "not_confirmed", reason), {"text": answer["text"]}],
    }
    # The proposal is answered; the model may make a new one.
    return Command(goto="call_model", update={"messages": [reply], "pending": None, "stage": "order_confirmation"})


def resolution(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """Run exactly the confirmed write, once (its idempotency key), for the model to report."""
    deps, turn, pending = runtime.context, _turn(state), state["pending"]
    if request_hash(pending["tool"], pending["arguments"]) != pending["hash"]:
        return _ask_again(state)  # never run anything but what was confirmed
    ctx = _conversation(state, deps)
    result = deps.runner.run(ctx, pending["tool"], pending["arguments"], idempotency_key=_write_key(deps, pending))
    order = _order_of(result) or turn.order
    if result.ok and not order and pending["preview"] and "order_id" in pending["preview"]:
        order = pending["preview"]
    # A proposal saved by an earlier version has no answer: the result alone is valid Converse too.
    answer = [{"text": pending["answer"]}] if pending.get("answer") else []
    reply = {"role": "user", "content": [result.to_converse(pending["tool_use_id"]), *answer]}
    return {
        "messages": [reply],
        "ctx": ctx.model_dump(),
        "pending": None,
        "stage": "resolution",
        "turn": replace(turn, tool_calls=turn.tool_calls + 1, order=order),
    }


def conversation_closed(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """A message after the goodbye: the conversation is over."""
    update = _fixed_reply(state, "closed", CLOSED_TEXT)
    return {**update, "turn": replace(update["turn"], quick_replies=[NEW_CONVERSATION])}


def handed_off(state: AgentState, runtime: Runtime[Dependencies]) -> dict[str, Any]:
    """A message after the handoff: a human agent answers it."""
    return _fixed_reply(state, "handed_off", handed_off_text(runtime.context.session_id))


def _fixed_reply(state: AgentState, stage: Stage, text: str) -> dict[str, Any]:
    turn = _turn(state)
    return {
        "messages": [{"role": "assistant", "content": [{"text": text}]}],
        "stage": stage,
        "turn": replace(turn, replies=[*turn.replies, text]),
    }


# -- routing ------------------------------------------------------------------------------------------


def route_new_message(state: AgentState) -> Literal["call_model", "conversation_closed", "handed_off"]:
    status = state.get("status", "open")
    return {"closed": "conversation_closed", "handed_off": "handed_off"}.get(status, "call_model")


def route_model_output(state: AgentState) -> Literal["close", "hand_off", "propose_write", "run_reads", "__end__"]:
    """What the model's tool calls ask for: a goodbye ends the conversation; a write alone is put to
    the customer, a handoff alone is made; anything else is a round of reads (which refuses a
    write or a handoff that does not come alone); no tool call is the reply."""
    kinds = [call_kind(use["name"]) for use in last_tool_calls(state)]
    if not kinds:
        return END
    if ToolKind.CLOSE in kinds:
        return "close"
    if kinds == [ToolKind.WRITE]:
        return "propose_write"
    if kinds == [ToolKind.HANDOFF]:
        return "hand_off"
    return "run_reads"


def route_after_tools(
    state: AgentState, runtime: Runtime[Dependencies]
) -> Literal["order_confirmation", "tool_limit", "call_model", "__end__"]:
    """After tools ran: a proposal waits for the customer, a handoff ends the turn; otherwise the
    results go back to the model, unless the turn has used its tool rounds."""
    if state.get("pending"):
        return "order_confirmation"
    if state.get("status") == "handed_off":
        return END
    if _turn(state).tool_rounds >= runtime.context.settings.max_tool_rounds:
        return "tool_limit"
    return "call_model"


def route_after_write(state: AgentState) -> Literal["call_model", "order_confirmation"]:
    """The model reports the write's result; a proposal that no longer matches its hash is asked again."""
    return "order_confirmation" if state.get("pending") else "call_model"


# -- the graph -----------------------------------------------------------------------------------------


Node = Callable[[AgentState, Runtime[Dependencies]], Any]


def traced(name: str, node: Node) -> Node:
    """The node as an AGENT span of the turn's trace. The interrupt with which order_confirmation
    waits for the customer is how that node pauses, not a failure."""

    def run(state: AgentState, runtime: Runtime[Dependencies]) -> Any:
        pending = state.get("pending")
        inputs = {"status": state.get("status", "open"), "pending": pending["tool"] if pending else None}
        with span(name, AGENT, inputs, expected=(GraphBubbleUp,)) as record:
            update = node(state, runtime)
            record.outputs = _summary(update)
        return update

    run.__name__ = name
    run.__annotations__ = node.__annotations__  # a Command's destinations, for the graph's edges
    return run


def _summary(update: dict[str, Any] | Command) -> dict[str, Any]:
    """What a span shows of a node's update."""
    if isinstance(update, Command):
        return {"goto": update.goto, **_summary(update.update or {})}
    return {key: update[key] for key in ("stage", "status") if key in update}


NODES: dict[str, Node] = {
    node.__name__: node
    for node in (
        call_model,
        run_reads,
        propose_write,
        hand_off,
        close,
        tool_limit,
        order_confirmation,
        resolution,
        conversation_closed,
        handed_off,
    )
}


def build_graph() -> StateGraph:
    graph = StateGraph(AgentState, context_schema=Dependencies)
    for name, node in NODES.items():
        graph.add_node(name, traced(name, node))
    graph.add_conditional_edges(START, route_new_message)
    graph.add_conditional_edges("call_model", route_model_output)
    for node in ("run_reads", "propose_write", "hand_off"):
        graph.add_conditional_edges(node, route_after_tools)
    graph.add_conditional_edges("resolution", route_after_write)
    for node in ("close", "tool_limit", "conversation_closed", "handed_off"):
        graph.add_edge(node, END)
    return graph


@cache
def graph_builder() -> StateGraph:
    """The graph, built once per process (building evaluates every routing function's type hints,
    most of the cost); each Agent compiles it with its own checkpointer."""
    return build_graph()
