"""The one entry point every caller uses: handle one customer message of one session.

    agent = Agent(settings)
    agent.handle_message(session_id, text, emit, message_id=..., confirm_hash=...)
    agent.snapshot(session_id)  # where the session stands, for a client that comes back

It takes the session's lock (a second message while one is being answered gets a `busy`
error), runs the graph from its DynamoDB checkpoint (resuming a pending confirmation when
there is one), and emits the turn's events: text deltas, then the final message and `done`,
or an `error`. The checkpoint is written once, when the turn ends (durability "exit"). A turn
that fails stops at the step that failed; the next message for the session (normally the
client's retry) finishes it from there, and writes are idempotent, so a repeated "yes" never
applies a change twice.

Each turn is traced (order_agent.tracing) when TRACE_QUEUE_URL is set: recorded while it runs,
handed off to the trace queue (one SQS message) after the reply was emitted and the session lock
released; the trace forwarder takes it to MLflow, so no turn waits for MLflow.
`TurnOutcome.handoff` says how long the hand-off took.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from langgraph.types import Command

from order_agent.agent.confirmation import pending_confirmation
from order_agent.agent.events import Done, Emit, ErrorEvent, FinalMessage, SessionSnapshot
from order_agent.agent.graph import ENTRY_STAGE, Dependencies, Turn, graph_builder, new_message
from order_agent.conversations import STORE_ERRORS, SessionLock, checkpointer, reads_reused
from order_agent.logs import service_name
from order_agent.model import ModelError, ModelProvider, make_provider
from order_agent.settings import Settings, get_settings
from order_agent.tools import ToolRunner
from order_agent.tracing import HandoffResult, TraceHandoff, TurnTrace

logger = Logger(service=service_name(), child=True)


@dataclass
class TurnOutcome:
    """What a turn produced, for callers that want more than the events (tests, benchmarks)."""

    final: FinalMessage | None
    done: Done | None
    error: ErrorEvent | None
    cost_usd: float | None = None  # this turn's model cost (None: a model without a price)
    conversation_cost_usd: float | None = None  # the conversation's, this turn included
    trace: TurnTrace | None = None  # the recorded spans (tracing on, or record_traces)
    handoff: HandoffResult | None = None  # the trace's hand-off to the trace queue: message id, duration, error
    handoff_published: bool | None = None  # whether a handoff in this turn reached the event bus (None: none)


class Agent:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        model: ModelProvider | None = None,
        runner: ToolRunner | None = None,
        saver: Any = None,
        lock: SessionLock | None = None,
        record_traces: bool = False,
    ) -> None:
        """`record_traces`: record every turn's spans in `TurnOutcome.trace` even with tracing off
        (the evaluation harness checks them)."""
        self.settings = settings or get_settings()
        self.model = model or make_provider(self.settings)
        self.runner = runner or ToolRunner(settings=self.settings)
        self.graph = graph_builder().compile(checkpointer=saver or checkpointer(self.settings))
        self.lock = lock or SessionLock(self.settings)
        self.traces = TraceHandoff(self.settings)
        self.record_traces = record_traces

    def state(self, session_id: str) -> dict[str, Any]:
        """The session's durable state (transcript, context, status, pending proposal)."""
        return dict(self.graph.get_state({"configurable": {"thread_id": session_id}}).values)

    def snapshot(self, session_id: str) -> SessionSnapshot:
        """Where the session stands, for a client that comes back to it: its status, whether a turn
        is running, and the proposal waiting for the customer's answer, put as the graph put it."""
        state = self.state(session_id)
        running = self.lock.held(session_id)
        # While a turn runs, the saved state is the one before it: a pending proposal there is
        # probably being answered right now, so it is not offered again.
        pending = None if running else state.get("pending")
        return SessionSnapshot(
            status=state.get("status", "open") if state else "new",
            turn_in_progress=running,
            pending=pending_confirmation(pending) if pending else None,
        )

    def handle_message(
        self,
        session_id: str,
        text: str,
        emit: Emit,
        *,
        message_id: str | None = None,
        confirm_hash: str | None = None,
    ) -> TurnOutcome:
        if not session_id or not text.strip():
            return self._fail(emit, "invalid_message", "A message needs a session id and some text.", False)
        text = text.strip()
        trace = (
            TurnTrace(self.settings, session_id, text, message_id)
            if self.traces.enabled or self.record_traces
            else None
        )
        outcome: TurnOutcome | None = None
        try:
            with trace.recording() if trace else nullcontext():
                outcome = self._locked_turn(session_id, text, emit, confirm_hash, trace)
                if trace is not None and outcome.error is not None:
                    trace.root.outputs = outcome.error.model_dump()
                    trace.root.error = f"{outcome.error.code}: {outcome.error.message}"
        finally:
            # After the reply (and even after a crash, whose trace matters most): hand off now, in
            # this invocation, so a Lambda frozen after returning loses nothing.
            handoff = self.traces.send(trace) if trace is not None and self.traces.enabled else None
        outcome.trace, outcome.handoff = trace, handoff
        return outcome

    def _locked_turn(
        self,
        session_id: str,
        text: str,
        emit: Emit,
        confirm_hash: str | None,
        trace: TurnTrace | None,
    ) -> TurnOutcome:
        try:
            token = self.lock.acquire(session_id)
        except STORE_ERRORS as exc:
            return self._store_failed(emit, session_id, exc)
        if token is None:
            return self._fail(
                emit, "busy", "I'm still answering your previous message; please send this one again in a moment.", True
            )
        try:
            with reads_reused():  # the graph starts from the checkpoint _run reads: one read per turn
                return self._run(session_id, text, emit, confirm_hash, trace)
        except STORE_ERRORS as exc:
            # The checkpoint could not be read or saved (throttled beyond botocore's retries, an
            # outage). The saved state is the one before this turn; a write the turn made is
            # recognised by its idempotency key when the customer sends the message again.
            return self._store_failed(emit, session_id, exc)
        finally:
            try:
                self.lock.release(session_id, token)
            except STORE_ERRORS:  # the lease expires on its own
                logger.warning("could not release the lock of session %s", session_id, exc_info=True)

    def _run(
        self,
        session_id: str,
        text: str,
        emit: Emit,
        confirm_hash: str | None,
        trace: TurnTrace | None,
    ) -> TurnOutcome:
        config = {"configurable": {"thread_id": session_id}}
        deps = Dependencies(session_id, self.model, self.runner, self.settings, emit)
        snapshot = self.graph.get_state(config)
        spent_before = float((snapshot.values.get("spend") or {}).get("cost_usd", 0.0))
        # The input never writes the untracked `turn` key: LangGraph stores a Command's update with
        # a failed run's checkpoint, and applies it again, beside the next one, on the retry.
        if snapshot.interrupts:  # a proposal is waiting for this answer
            run_input: Any = Command(resume={"text": text, "confirm_hash": confirm_hash})
        elif snapshot.next:
            # The previous turn failed part-way (e.g. the model was unavailable after the confirmed
            # write ran): this message — normally the client's retry of it — finishes that turn
            # from where it stopped, and the write's idempotency key keeps it from running twice.
            run_input = None
        else:
            run_input = new_message(text)
        state = snapshot.values
        try:
            # The state after each step: the last is the run's result (or, when a step fails, what
            # the turn had done before it).
            for state in self.graph.stream(  # noqa: B007 (the loop keeps the last state)
                run_input, config, context=deps, stream_mode="values", durability="exit"
            ):
                pass
        except ModelError as exc:
            logger.warning("model call failed in session %s: %s %s", session_id, exc.code, exc.message)
            if trace is not None:
                trace.customer_id = _customer_id(state)
            return self._fail(
                emit,
                "model_unavailable",
                "Sorry, I can't answer right now. Please send your message again in a moment.",
                exc.retryable,
            )
        turn: Turn = state.get("turn") or Turn()  # a run that ran no node produced nothing
        final = FinalMessage(
            text="\n\n".join(turn.replies),
            stage=state.get("stage", ENTRY_STAGE),
            order=turn.order,
            quick_replies=turn.quick_replies,
            model_provider=self.model.name,
        )
        done = Done(
            model_calls=turn.model_calls,
            tool_rounds=turn.tool_rounds,
            tool_calls=turn.tool_calls,
            usage=turn.usage.as_dict(),
        )
        emit(final)
        emit(done)
        cost = turn.cost_usd if turn.cost_known else None
        conversation_cost = spent_before + turn.cost_usd if turn.cost_known else None
        if trace is not None:
            trace.customer_id = _customer_id(state)
            self._describe(trace, final, done, cost, conversation_cost)
        return TurnOutcome(final, done, None, cost, conversation_cost, handoff_published=turn.handoff_published)

    @staticmethod
    def _describe(
        trace: TurnTrace,
        final: FinalMessage,
        done: Done,
        cost: float | None,
        conversation_cost: float | None,
    ) -> None:
        """What the turn's trace says about it as a whole (its root span and tags)."""
        trace.root.outputs = {"text": final.text, "stage": final.stage, "order_id": (final.order or {}).get("order_id")}
        trace.root.attributes.update(
            model_calls=done.model_calls, tool_rounds=done.tool_rounds, tool_calls=done.tool_calls, usage=done.usage
        )
        trace.tags["stage"] = final.stage
        if cost is not None:
            trace.tags["turn_cost_usd"] = f"{cost:.6f}"
            trace.tags["conversation_cost_usd"] = f"{conversation_cost:.6f}"

    def _store_failed(self, emit: Emit, session_id: str, exc: Exception) -> TurnOutcome:
        logger.warning("conversation store failed in session %s: %s", session_id, exc)
        return self._fail(
            emit,
            "unavailable",
            "Sorry, something went wrong on our side before I could finish answering. "
            "Please send your message again in a moment.",
            True,
        )

    @staticmethod
    def _fail(emit: Emit, code: str, message: str, retryable: bool) -> TurnOutcome:
        error = ErrorEvent(code=code, message=message, retryable=retryable)
        emit(error)
        return TurnOutcome(None, None, error)


def _customer_id(state: dict[str, Any]) -> str | None:
    """The verified customer, once known."""
    return (state.get("ctx") or {}).get("customer_id")
