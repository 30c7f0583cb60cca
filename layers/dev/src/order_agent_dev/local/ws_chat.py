"""A terminal chat client over the real WebSocket protocol (`order-agent chat --url ws://…`).

It shows streamed text as it arrives, keeps the last `seq` it saw, and when the connection
drops it reconnects (exponential backoff, bounded) and sends `resume`, so nothing is missed.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, TextIO

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

TURN_TIMEOUT_S = 120
RECONNECT_ATTEMPTS = 6


class WebSocketChat:
    def __init__(self, url: str, session_id: str | None = None, out: TextIO = sys.stdout, quiet: bool = False) -> None:
        self.url = url
        self.session_id = session_id or f"terminal-{uuid.uuid4()}"
        self.out = out
        self.quiet = quiet
        self.last_seq = 0
        self.session_token: str | None = None  # anonymous chat: issued with the session, sent back to continue it
        self.ws: ClientConnection | None = None
        self._connection: ExitStack | None = None
        self.interrupted = False  # the stream broke off: the final text is printed whole

    def _print(self, text: str, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def open(self) -> None:
        self.close()
        self._connection = ExitStack()
        self.ws = self._connection.enter_context(connect(self.url, open_timeout=10, max_size=256 * 1024))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _reconnect(self) -> None:
        delay = 0.2
        for attempt in range(RECONNECT_ATTEMPTS):
            try:
                self.open()
                self.ws.send(json.dumps(self._with_token({"action": "resume", "sessionId": self.session_id,
                                                          "lastSeq": self.last_seq})))  # fmt: skip
                return
            except OSError:
                if attempt == RECONNECT_ATTEMPTS - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _with_token(self, message: dict[str, Any]) -> dict[str, Any]:
        return {**message, "sessionToken": self.session_token} if self.session_token else message

    def frames(self, deadline: float) -> Iterator[dict[str, Any]]:
        """Frames until the deadline; reconnects and resumes when the connection drops."""
        while time.monotonic() < deadline:
            try:
                raw = self.ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return
            except ConnectionClosed:
                self._print("[connection lost - reconnecting]")
                self.interrupted = True
                self._reconnect()
                continue
            frame = json.loads(raw)
            if isinstance(frame.get("sessionToken"), str):
                self.session_token = frame["sessionToken"]
            if isinstance(frame.get("seq"), int):
                if frame["seq"] <= self.last_seq and frame.get("type") != "session":
                    continue  # already shown before a reconnect
                self.last_seq = frame["seq"]
            yield frame

    def send(self, text: str, on_frame: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
        """Send one message and show the answer; returns the frames of the turn."""
        message_id = str(uuid.uuid4())
        payload = self._with_token(
            {"action": "sendMessage", "sessionId": self.session_id, "messageId": message_id, "text": text}
        )
        try:
            self.ws.send(json.dumps(payload))
        except ConnectionClosed:
            self._reconnect()
            self.ws.send(json.dumps(payload))
        seen: list[dict[str, Any]] = []
        streamed = False
        self.interrupted = False
        for frame in self.frames(time.monotonic() + TURN_TIMEOUT_S):
            seen.append(frame)
            if on_frame is not None:
                on_frame(frame)
            kind = frame.get("type")
            if kind is None and "message" in frame:  # the gateway's own frame: "Internal server error", "Forbidden"
                self._print(f"[gateway] {frame['message']}")
                return seen
            if kind == "delta" and not self.quiet:
                self._print(frame["text"], end="")
                streamed = True
            elif kind == "message":
                self._print("" if streamed and not self.quiet and not self.interrupted else frame["text"])
                if frame.get("quickReplies"):
                    self._print("  [" + " / ".join(q["label"] for q in frame["quickReplies"]) + "]")
                if frame.get("modelProvider") == "offline":
                    self._print("  (offline model)")
            elif kind == "error":
                self._print(f"[{frame['code']}] {frame['message']}")
                if frame.get("turnId") in (None, message_id):
                    return seen
            elif kind == "done" and frame.get("turnId") == message_id:
                return seen
        return seen


def run(url: str, session_id: str | None, messages: list[str] | None, quiet: bool) -> int:
    chat = WebSocketChat(url, session_id, quiet=quiet)
    chat.open()
    print(f"session {chat.session_id} - {url}", file=sys.stderr)
    try:
        if messages is not None:
            for text in messages:
                chat._print(f"> {text}")
                chat.send(text)
            return 0
        while True:
            try:
                text = input("> ")
            except EOFError:
                return 0
            if text.strip():
                chat.send(text)
    finally:
        chat.close()
