"""The WebSocket protocol between the chat client and the agent, defined once.

Client → server (JSON text frames, routed by API Gateway on `action`):
    {"action": "sendMessage", "sessionId": "...", "messageId": "...", "text": "...", "confirmHash": "..."?,
     "sessionToken": "..."?}
    {"action": "ping"}
    {"action": "resume", "sessionId": "...", "lastSeq": 41, "sessionToken": "..."?}

Anonymous chat (AUTH_MODE=none) binds a session to a secret the server issues: the `ack` or `session`
frame of the request that started the session carries it as `sessionToken` (once; null otherwise),
and a `sendMessage` or `resume` of that session from another connection (a reconnect, a reload) must
send it back, or gets `forbidden`.
With a token issuer (AUTH_MODE=jwt) the session belongs to the token's subject instead, and
`sessionToken` is neither issued nor needed.

Server → client frames carry `type`; frames of a turn carry `turnId` (the messageId that started
it) and `seq`, a number that grows across the whole session, so `resume` with the last `seq` seen
returns what was missed:
    ack, typing, delta (text, streamed), message (final), done (usage), error, session, pong

`order_agent.edge.protocol.json_schemas()` exports the JSON Schema of every frame, the source
from which the web client's TypeScript types are generated and checked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from order_agent.agent.events import AgentEvent, Done, ErrorEvent, FinalMessage, SessionSnapshot, TextDelta

SESSION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
MAX_SEQ = 2**53 - 1  # the largest integer a JavaScript client holds exactly
# A session token: 32 random bytes, URL-safe base64 without padding.
SESSION_SECRET_FORMAT = r"^[A-Za-z0-9_-]{43}$"  # noqa: S105 (a pattern, not a secret)

# The `code` of an error frame that a limit sent (docs/security.md): retryable or not.
LIMIT_ERRORS = {"rate_limited": True, "turn_limit_reached": False, "token_budget_exceeded": False}

# -- client → server ------------------------------------------------------------------------------


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SendMessage(_ClientMessage):
    action: Literal["sendMessage"]
    sessionId: str = Field(pattern=SESSION_ID)
    messageId: str = Field(pattern=SESSION_ID)
    text: str
    confirmHash: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")  # a quick reply's proposal hash
    sessionToken: str | None = Field(default=None, pattern=SESSION_SECRET_FORMAT)  # anonymous chat: see above


class Ping(_ClientMessage):
    action: Literal["ping"]


class Resume(_ClientMessage):
    action: Literal["resume"]
    sessionId: str = Field(pattern=SESSION_ID)
    lastSeq: int = Field(default=0, ge=0, le=MAX_SEQ)
    sessionToken: str | None = Field(default=None, pattern=SESSION_SECRET_FORMAT)


ClientMessage = Annotated[SendMessage | Ping | Resume, Field(discriminator="action")]
CLIENT_MESSAGE = TypeAdapter(ClientMessage)
ACTIONS = ("sendMessage", "ping", "resume")

# -- server → client -----------------------------------------------------------------------------------


class _Frame(BaseModel):
    # Serialised frames always carry every field: their schema says so (the TypeScript types need a required `type`).
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class AckFrame(_Frame):
    type: Literal["ack"] = "ack"
    sessionId: str
    messageId: str
    duplicate: bool = False  # this messageId was seen before: nothing runs twice
    sessionToken: str | None = None  # issued to the client that started this session (anonymous chat)


class TypingFrame(_Frame):
    type: Literal["typing"] = "typing"
    sessionId: str
    turnId: str


# The frames of a turn are the agent's events (order_agent.agent.events, camelCase when serialised)
# with where they belong added: the session, the turn and the frame's place in the session.


class _TurnFrame(_Frame):
    sessionId: str
    turnId: str
    seq: int


class DeltaFrame(_TurnFrame, TextDelta):
    pass


class MessageFrame(_TurnFrame, FinalMessage):
    pass


class DoneFrame(_TurnFrame, Done):
    # The turn's tool counts stay on the server: a done frame read back (tests) has none.
    tool_rounds: int | None = Field(default=None, exclude=True)
    tool_calls: int | None = Field(default=None, exclude=True)


class ErrorFrame(_Frame, ErrorEvent):
    # Also sent for what never became a turn (an invalid frame, a limit): then without a turn or seq.
    sessionId: str | None = None
    turnId: str | None = None
    seq: int | None = None


_TURN_FRAMES: dict[str, type[_Frame]] = {
    "delta": DeltaFrame,
    "message": MessageFrame,
    "done": DoneFrame,
    "error": ErrorFrame,
}


def turn_frame(event: AgentEvent, session_id: str, turn_id: str, seq: int | None) -> dict[str, Any]:
    """The agent's event as the client receives it: the event itself, in its session and turn,
    numbered `seq` (None only for an error before the turn started)."""
    return _TURN_FRAMES[event.type](**dict(event), sessionId=session_id, turnId=turn_id, seq=seq).model_dump()


class SessionFrame(_Frame, SessionSnapshot):
    type: Literal["session"] = "session"
    sessionId: str
    lastSeq: int
    sessionToken: str | None = None  # issued to the client that started this session (anonymous chat)


class PongFrame(_Frame):
    type: Literal["pong"] = "pong"


ServerFrame = Annotated[
    AckFrame | TypingFrame | DeltaFrame | MessageFrame | DoneFrame | ErrorFrame | SessionFrame | PongFrame,
    Field(discriminator="type"),
]
SERVER_FRAME = TypeAdapter(ServerFrame)


def json_schemas() -> dict[str, Any]:
    """JSON Schemas of what the client sends (what the server accepts) and what it receives (frames as
    the server serialises them: every field present, so defaults such as `type` are required)."""
    return {"client": CLIENT_MESSAGE.json_schema(), "server": SERVER_FRAME.json_schema(mode="serialization")}
