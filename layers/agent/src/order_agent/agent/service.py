"""The one entry point every caller uses: handle one customer message of one session.

    agent = Agent(settings)
    agent.handle_message(session_id, text, emit, message_id=..., confirm_hash=...)

It takes the session's lock (a second message while one is being answered gets a `busy`
error), runs the graph from its DynamoDB checkpoint (resuming a pending confirmation when
there is one), and emits the turn's events: text deltas, then the final message and `done`,
or an `error`. The checkpoint is written once, when the turn ends (durability "exit"). A turn
that fails stops at the step that failed; the next message for the session (normally the
client's retry) finishes it from there, and writes are idempotent, so a repeated "yes" never
applies a change twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from langgraph.types import Command

from order_agent.agent.events import Done, Emit, ErrorEvent, FinalMessage
from order_agent.agent.graph import Turn, build_graph
from order_agent.agent.store import SessionLock, checkpointer, reads_reused
from order_agent.model import ModelError, ModelProvider, make_provider
from order_agent.settings import Settings, get_settings
from order_agent.tools import ToolRunner

logger = logging.getLogger(__name__)

# Failures of the conversation store (DynamoDB, S3 offload); the model and the tools raise none.
STORE_ERRORS = (ClientError, BotoCoreError)


@dataclass
class TurnOutcome:
    """What a turn produced, for callers that want more than the events (tests, benchmarks)."""

    final: FinalMessage | None
    done: Done | None
    error: ErrorEvent | None


class Agent:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        model: ModelProvider | None = None,
        runner: ToolRunner | None = None,
        saver: Any = None,
        lock: SessionLock | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.model = model or make_provider(self.settings)
        self.runner = runner or ToolRunner(settings=self.settings)
        self.graph = build_graph().compile(checkpointer=saver or checkpointer(self.settings))
        self.lock = lock or SessionLock(self.settings)

    def state(self, session_id: str) -> dict[str, Any]:
        """The session's durable state (transcript, context, status, pending proposal)."""
        return dict(self.graph.get_state({"configurable": {"thread_id": session_id}}).values)

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
                return self._run(session_id, text.strip(), emit, message_id, confirm_hash)
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
        self, session_id: str, text: str, emit: Emit, message_id: str | None, confirm_hash: str | None
    ) -> TurnOutcome:
        config = {"configurable": {"thread_id": session_id}}
        turn = Turn(
            session_id=session_id,
            text=text,
            model=self.model,
            runner=self.runner,
            settings=self.settings,
            emit=emit,
            message_id=message_id,
            confirm_hash=confirm_hash,
        )
        snapshot = self.graph.get_state(config)
        if snapshot.interrupts:  # a proposal is waiting for this answer
            run_input: Any = Command(resume={"text": text, "confirm_hash": confirm_hash})
        elif snapshot.next:
            # The previous turn failed part-way (e.g. the model was unavailable after the confirmed
            # write ran): this message — normally the client's retry of it — finishes that turn
            # from where it stopped, and the write's idempotency key keeps it from running twice.
            run_input = None
        else:
            run_input = {"messages": [{"role": "user", "content": [{"text": text}]}]}
        try:
            self.graph.invoke(run_input, config, context=turn, durability="exit")
        except ModelError as exc:
            logger.warning("model call failed in session %s: %s %s", session_id, exc.code, exc.message)
            return self._fail(
                emit,
                "model_unavailable",
                "Sorry, I can't answer right now. Please send your message again in a moment.",
                exc.retryable,
            )
        final = FinalMessage(
            text="\n\n".join(turn.texts),
            stage=turn.stage,
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
        return TurnOutcome(final, done, None)

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
