"""A turn's DynamoDB writes and the lock's release go in one transaction (conversations/turn.py),
with the same guarantees as separate writes: a turn whose lease was lost writes nothing, and a turn
too big for one transaction still saves everything. (test_edge.py counts a turn's requests.)"""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from order_agent.agent.service import Agent
from order_agent.conversations import EdgeStore, SessionLock, turn
from order_agent.conversations.table import LockLost
from order_agent.edge.handlers import TurnStream
from order_agent.tools import ToolRunner
from order_agent_dev.providers.scripted import ScriptedProvider

from .support.clock import FakeClock
from .support.conversations import CANCEL_PROPOSAL, EMAIL, IDENTIFY, PENDING, REPORT, order_status


class _Poster:
    """The edge's poster without a gateway: the frames a client would get."""

    gone = False

    def __init__(self) -> None:
        self.frames: list[dict] = []

    def post(self, frame):
        self.frames.append(frame)
        return True

    post_soon = post  # in order, at once: no sender thread here

    def drain(self) -> None:
        pass

    def reconnected(self) -> bool:
        return False


def _say(agent, store, session, text, **options):
    """One turn as the edge runs it: frames numbered from the session's seq and kept with the checkpoint."""
    poster = _Poster()
    turn_id = str(uuid.uuid4())
    stream = TurnStream(poster, store, session, turn_id, coalesce_ms=0)
    outcome = agent.handle_message(session, text, stream, message_id=turn_id, **options)
    return outcome, poster.frames


def test_a_turn_too_big_for_one_transaction_writes_its_checkpoint_first(agent_settings, tau_fresh, monkeypatch):
    monkeypatch.setattr(turn, "MAX_TRANSACTION_ITEMS", 2)
    agent = Agent(agent_settings, model=ScriptedProvider([*IDENTIFY, *CANCEL_PROPOSAL, REPORT]),
                  runner=ToolRunner(tau_fresh, agent_settings))  # fmt: skip
    store = EdgeStore(agent_settings)
    direct: list[str] = []
    agent.lock.client.meta.events.register(
        "before-parameter-build.dynamodb", lambda model, params, **_: direct.append(params["Item"]["PK"]["S"])
        if model.name == "PutItem" else None,
    )  # fmt: skip
    session = f"big-{uuid.uuid4()}"
    _say(agent, store, session, "I want to cancel an order")
    outcome, frames = _say(agent, store, session, f"{EMAIL} {PENDING}")
    assert outcome.final.stage == "order_confirmation"
    assert any(pk.startswith("CHECKPOINT_") for pk in direct)  # written directly, not in the transaction
    confirm = frames[-2]["quickReplies"][0]["confirmHash"]
    outcome, frames = _say(agent, store, session, "yes", confirm_hash=confirm)
    assert outcome.final.text == REPORT["text"] and order_status(tau_fresh, PENDING) == "cancelled"
    kept = [f["seq"] for f in store.frames_after(session, 0)]  # each turn's message and done, for resume
    assert len(kept) == 6 and kept == sorted(kept) and kept[-1] == store.last_seq(session)
    assert agent.state(session)["pending"] is None and not agent.lock.held(session)


class _TakenOver:
    """A model that answers after another turn has taken the session over (this turn's lease expired)."""

    name = "scripted"

    def __init__(self, settings, clock, session) -> None:
        self.settings, self.clock, self.session = settings, clock, session
        self.other: list[str | None] = []

    def converse(self, request, on_text=None):
        from order_agent.model.base import ModelResponse

        self.clock.advance(self.settings.session_lock_seconds + 1)
        # another process: a thread of its own, so its turn is not this context's
        thief = threading.Thread(target=lambda: self.other.append(SessionLock(self.settings, clock=self.clock)
                                                                  .acquire(self.session)))  # fmt: skip
        thief.start()
        thief.join()
        return ModelResponse(content=[{"text": "too late"}], stop_reason="end_turn")


def test_a_turn_that_lost_its_lock_writes_nothing(agent_settings, tau_db):
    settings = agent_settings.model_copy(update={"session_lock_seconds": 5})
    clock = FakeClock()
    session = f"lost-{uuid.uuid4()}"
    agent = Agent(settings, model=ScriptedProvider([{"text": "hello"}]), runner=ToolRunner(tau_db, settings),
                  lock=SessionLock(settings, clock=clock))  # fmt: skip
    store = EdgeStore(settings)
    _say(agent, store, session, "hi")
    before = (agent.state(session), store.frames_after(session, 0), store.last_seq(session))
    agent.model = _TakenOver(settings, clock, session)
    with pytest.raises(LockLost):
        _say(agent, store, session, "are you there?")
    assert agent.model.other and agent.model.other[0]  # the other turn holds the session
    assert (agent.state(session), store.frames_after(session, 0), store.last_seq(session)) == before
    assert agent.lock.held(session)
    assert json.dumps(before[0]["messages"]).count("too late") == 0
