"""A chat client of the WebSocket edge (the handler files in lambdas/ behind a gateway), as the
chat site speaks to it: send a message, read frames until a turn's end, resume a session."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conversations import EMAIL, PENDING

LAMBDAS = Path(__file__).resolve().parents[3] / "lambdas"

# The session tokens the server issued (anonymous chat): a client keeps its own, and sends it when it
# continues the session on another connection.
SESSION_TOKENS: dict[str, str] = {}


def send(ws, session, text, message_id=None, **extra):
    message_id = message_id or str(uuid.uuid4())
    ws.send(json.dumps({"action": "sendMessage", "sessionId": session, "messageId": message_id, "text": text, **extra}))
    return message_id


def until(ws, kinds=("done", "error"), timeout=30, check: Callable[[dict[str, Any]], Any] | None = None):
    """The frames up to the first of one of these kinds; `check` runs on every frame."""
    frames = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=deadline - time.monotonic()))
        if check is not None:
            check(frame)
        if frame.get("sessionToken"):
            SESSION_TOKENS[frame["sessionId"]] = frame["sessionToken"]
        frames.append(frame)
        if frame["type"] in kinds:
            return frames
    raise AssertionError(f"no {kinds} frame within {timeout}s: {frames}")


def resume(ws, session, last_seq):
    ws.send(json.dumps({"action": "resume", "sessionId": session, "lastSeq": last_seq,
                        "sessionToken": SESSION_TOKENS[session]}))  # fmt: skip


def reach_the_cancellation_proposal(ws, session):
    """The first two turns of a cancellation: the request, then the email and order (the proposal)."""
    send(ws, session, "cancel please")
    until(ws)
    send(ws, session, f"{EMAIL} {PENDING}")
    return until(ws)


def wait_idle(gateway, timeout: float = 10.0) -> None:
    """Until every connection of the local gateway is closed and its $disconnect has run (as stop() waits)."""
    deadline = time.monotonic() + timeout
    while (gateway._connections or gateway._workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not gateway._connections and not gateway._workers, "the gateway still has connections"
