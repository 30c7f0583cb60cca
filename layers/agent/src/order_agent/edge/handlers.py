"""What the WebSocket Lambda functions do; `lambdas/*/handler.py` only call into here.

`message` turns one client frame into at most one agent turn: it validates the frame, claims the
session for this connection, runs a new `messageId` once (a retry gets the recorded answer),
streams the agent's events back as protocol frames — text coalesced to one post per
DELTA_COALESCE_MS — and records the frames a client must not miss, so `resume` after a reconnect
returns them. A client that disappears mid-stream does not stop the turn: it completes, and its
frames wait in the outbox.

Nothing on the way to the first token waits for a post: a turn's frames are posted in order by a
sender thread (`Poster.post_soon`) while the turn goes on. The turn's first `seq` costs no request:
the claim that took the session lock read it (`conversations/turn.py`).
"""

from __future__ import annotations

import contextvars
import json
import queue
import threading
import time
from concurrent.futures import Future
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from pydantic import ValidationError

from order_agent.agent.events import AgentEvent, TextDelta
from order_agent.conversations import STORE_ERRORS, Claim, EdgeStore, RateLimited, SessionOwnedByAnother
from order_agent.edge.protocol import (
    ACTIONS,
    CLIENT_MESSAGE,
    AckFrame,
    ErrorFrame,
    PongFrame,
    Resume,
    SendMessage,
    SessionFrame,
    TypingFrame,
    turn_frame,
)
from order_agent.logs import entry_point, service_name
from order_agent.settings import Settings, get_settings

if TYPE_CHECKING:
    from order_agent.agent.service import Agent

logger = Logger(service=service_name())  # the parent of the library modules' loggers (order_agent.logs)

MAX_FRAME_BYTES = 32 * 1024  # API Gateway's frame size; our messages are far smaller
OK = {"statusCode": 200}


@cache
def _management_client(endpoint_url: str, region: str) -> Any:
    import boto3  # here, not at import: created on the first post (after a SnapStart restore), then reused

    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, region_name=region)


SENDER_THREAD = "frame-sender"  # the name of a Poster's sender thread


def in_background(function: Any, *args: Any, name: str | None = None) -> Future:
    """Run `function(*args)` in a new daemon thread, in a copy of this context (as LangGraph runs
    its own workers); the future has its result or exception."""
    future: Future = Future()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            future.set_result(context.run(function, *args))
        except BaseException as exc:  # handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True, name=name or getattr(function, "__name__", None)).start()
    return future


class Poster:
    """Posts frames to the session's connection. On GoneException it looks up the session's
    current connection (the client may have reconnected and resumed) and carries on there; with
    no connection left it stops posting, and the turn goes on. Whenever it moves to a new
    connection, it first posts there the turn's numbered frames other than deltas it was given
    before (a post to a closing connection can succeed and still be lost, and one skipped while the
    client was gone was never sent; a client keeps the highest seq it saw and drops what comes
    below it, so a later frame must not reach it first; a repeat is dropped by its seq).

    `post_soon` queues a frame for a sender thread, which posts the queued frames in order while
    the caller goes on; `post` and `drain` wait for the queued ones first, and a failure to post
    is raised to the caller there, as `post` would have raised it. `close` before returning from
    the invocation: Lambda freezes the process after that."""

    def __init__(self, endpoint_url: str, connection_id: str, store: EdgeStore, session_id: str | None) -> None:
        self.client = _management_client(endpoint_url, store.region)
        self.connection_id = connection_id
        self.store = store
        self.session_id = session_id
        self.gone = False
        self._lock = threading.Lock()
        self._queued: queue.Queue[dict[str, Any] | None] | None = None
        self._sender: Future | None = None
        self._failure: Exception | None = None
        self._numbered: list[dict[str, Any]] = []  # the frames with a seq it was given, deltas left out
        self._unsent: list[dict[str, Any]] = []  # of those, what the connection moved to has not had

    def post_soon(self, frame: dict[str, Any]) -> None:
        if self._queued is None:
            self._queued = queue.Queue()
            self._sender = in_background(self._send_queued, self._queued, name=SENDER_THREAD)
        self._queued.put(frame)

    def _send_queued(self, queued: queue.Queue[dict[str, Any] | None]) -> None:
        while (frame := queued.get()) is not None:
            try:
                if self._failure is None:
                    self._post_now(frame)
            except Exception as exc:
                self._failure = exc  # the frames after it are not posted; drain() and close() raise it
            finally:
                queued.task_done()
        queued.task_done()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def drain(self) -> None:
        """Wait until every queued frame is posted (raising the failure if one could not be)."""
        if self._queued is not None:
            self._queued.join()
        self._raise_failure()

    def close(self) -> None:
        """Post what is queued and stop the sender."""
        if self._queued is not None:
            queued, sender = self._queued, self._sender
            self._queued = self._sender = None
            queued.put(None)
            if sender is not None:
                sender.result()
        self._raise_failure()

    def post(self, frame: dict[str, Any]) -> bool:
        self.drain()
        return self._post_now(frame)

    def _post_now(self, frame: dict[str, Any]) -> bool:
        with self._lock:
            try:
                return self._deliver(frame)
            finally:
                if frame.get("seq") is not None and frame.get("type") != "delta":
                    self._numbered.append(frame)

    def _deliver(self, frame: dict[str, Any]) -> bool:
        for _ in range(2):
            if self.gone:
                return False
            try:
                while self._unsent:  # in seq order, before this frame
                    self._send(self._unsent[0])
                    self._unsent.pop(0)
                self._send(frame)
                return True
            except self.client.exceptions.GoneException:
                current = self.store.session_connection(self.session_id) if self.session_id else None
                if current is None or current == self.connection_id:
                    self.gone = True
                    logger.info("client gone", extra={"connection_id": self.connection_id})
                    return False
                self._move_to(current)
        return False

    def _send(self, frame: dict[str, Any]) -> None:
        self.client.post_to_connection(ConnectionId=self.connection_id, Data=json.dumps(frame).encode())

    def _move_to(self, connection_id: str) -> None:
        self.connection_id, self.gone = connection_id, False
        self._unsent = list(self._numbered)

    def reconnected(self) -> bool:
        """After posting stopped (the client was gone), whether the session has a new connection
        now, which then becomes this poster's (its next post sends the turn's numbered frames there
        first). A turn asks once its lasting frames are recorded: a `resume` that read the outbox
        before that missed them, and gets them this way."""
        with self._lock:
            if not self.gone or self.session_id is None:
                return False
            current = self.store.session_connection(self.session_id)
            if current is None or current == self.connection_id:
                return False
            self._move_to(current)
            return True


class TurnStream:
    """Turns the agent's events into frames: deltas coalesced, seq numbered, lasting ones kept."""

    def __init__(self, poster: Poster, store: EdgeStore, session_id: str, turn_id: str, coalesce_ms: int) -> None:
        self.poster, self.store = poster, store
        self.session_id, self.turn_id = session_id, turn_id
        self.coalesce_s = coalesce_ms / 1000
        self.seq: int | None = None
        self.buffer = ""
        self.last_post = 0.0
        self.lasting: list[dict[str, Any]] = []
        self.finished = False  # the customer message is marked done, with the lasting frames

    def _next_seq(self) -> int:
        if self.seq is None:
            # Read once the agent holds the session lock (events only come then): turns never share seqs.
            self.seq = self.store.last_seq(self.session_id)
        self.seq += 1
        return self.seq

    def _flush(self) -> None:
        if self.buffer:
            frame = turn_frame(TextDelta(text=self.buffer), self.session_id, self.turn_id, self._next_seq())
            self.buffer = ""
            self.last_post = time.monotonic()
            self.poster.post_soon(frame)

    def __call__(self, event: AgentEvent) -> None:
        if event.type == "delta":
            self.buffer += event.text
            if time.monotonic() - self.last_post >= self.coalesce_s:  # the first delta goes at once
                self._flush()
            return
        self._flush()
        if event.type == "error" and self.seq is None:
            # The turn never started (busy, model unavailable before any text): nothing to number
            # or keep for resume — and no seq read outside the session lock.
            self.poster.post_soon(turn_frame(event, self.session_id, self.turn_id, None))
            return
        frame = turn_frame(event, self.session_id, self.turn_id, self._next_seq())
        self.lasting.append(frame)
        if event.type in {"done", "error"}:  # the turn's last frame: keep them for resume first
            # ... and mark the message done in the same request, unless the client may send it
            # again (a retryable error: `Edge._send` forgets it instead)
            finished = event.type == "done" or not event.retryable
            # The turn ran: it counts against the conversation's limits, with the tokens it used.
            tokens = sum(event.usage.values()) if event.type == "done" else 0
            self.store.record_frames(
                self.session_id,
                self.lasting,
                self.seq,
                finished_message=self.turn_id if finished else None,
                tokens=tokens,
            )
            self.finished = finished
            self.poster.drain()  # whether the client is gone is known once the frames before are posted
            if self.poster.gone:
                self.poster.reconnected()  # then the frames it missed go to its new connection first
        self.poster.post_soon(frame)


def _with_required_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The event with the fields Powertools' models require and API Gateway always sends, filled in
    where an emulator leaves them out (ministack sends no `messageDirection`, and no headers on
    `$disconnect`); an event from API Gateway is returned unchanged."""
    context = event.get("requestContext") or {}
    disconnect = context.get("eventType") == "DISCONNECT"
    if "messageDirection" in context and (not disconnect or {"headers", "multiValueHeaders"} <= event.keys()):
        return event
    completed = {**event, "requestContext": {"messageDirection": "IN", **context}}
    if disconnect:
        completed.setdefault("headers", {})
        completed.setdefault("multiValueHeaders", {})
    return completed


class Edge:
    """The three handlers' logic with their dependencies (built once per Lambda process)."""

    def __init__(self, settings: Settings | None = None, agent: Agent | None = None) -> None:
        self.settings = settings or get_settings()
        self.store = EdgeStore(self.settings)
        self._agent = agent

    @property
    def agent(self) -> Agent:
        if self._agent is None:  # the graph and model client only when a message needs them
            # Imported here, not at the top: $connect and $disconnect share this module and never
            # need LangGraph (lambdas/message/handler.py imports it at init instead).
            from order_agent.agent.service import Agent

            self._agent = Agent(self.settings)
        return self._agent

    def endpoint(self, request_context: Any) -> str:
        return (
            self.settings.websocket_management_url or f"https://{request_context.domain_name}/{request_context.stage}"
        )

    # -- $connect / $disconnect ---------------------------------------------------------------------

    def connect(self, event: dict[str, Any]) -> dict[str, Any]:
        parsed = parse(event=_with_required_fields(event), model=APIGatewayWebSocketConnectEventModel)
        logger.append_keys(connection_id=parsed.request_context.connection_id)
        principal = _principal(event)
        if self.settings.auth_mode != "none" and principal == "anonymous":
            return {"statusCode": 401}  # the authorizer must have run: never accept without it
        self.store.connect(parsed.request_context.connection_id, principal)
        return OK

    def disconnect(self, event: dict[str, Any]) -> dict[str, Any]:
        parsed = parse(event=_with_required_fields(event), model=APIGatewayWebSocketDisconnectEventModel)
        logger.append_keys(connection_id=parsed.request_context.connection_id)
        self.store.disconnect(parsed.request_context.connection_id)
        return OK

    # -- messages ---------------------------------------------------------------------------------------

    def message(self, event: dict[str, Any]) -> dict[str, Any]:
        parsed = parse(event=_with_required_fields(event), model=APIGatewayWebSocketMessageEventModel)
        context = parsed.request_context
        logger.append_keys(connection_id=context.connection_id)
        body = event.get("body") or ""
        message = self._read(body)
        if isinstance(message, ErrorFrame):
            Poster(self.endpoint(context), context.connection_id, self.store, None).post(message.model_dump())
            return OK
        poster = Poster(self.endpoint(context), context.connection_id, self.store, getattr(message, "sessionId", None))
        if message.action == "ping":
            poster.post(PongFrame().model_dump())
            return OK
        principal = _principal(event)
        anonymous = principal == "anonymous"
        try:
            if message.action == "sendMessage":
                self._count_message(event, context.connection_id, principal)
            claim = self.store.claim_session(
                message.sessionId,
                context.connection_id,
                principal,
                token=message.sessionToken,
                bind=anonymous,
                # a customer message: the lock too, for its turn (the agent adopts it)
                message_id=message.messageId if message.action == "sendMessage" else None,
            )
            if message.action == "resume":
                self._resume(message, poster, claim)
            else:
                self._send(message, poster, claim)
        except RateLimited:
            s = self.settings
            poster.post(
                ErrorFrame(
                    code="rate_limited",
                    message="You are sending messages faster than we can answer. Please wait up to "
                    f"{s.rate_limit_window_s} seconds, then send it again.",
                    retryable=True,
                    sessionId=message.sessionId,
                    turnId=message.messageId,  # the client marks exactly this message as not sent
                ).model_dump()
            )
        except SessionOwnedByAnother:
            text = (
                "This conversation can be continued only in the browser tab that started it. Please start a new one."
                if anonymous
                else "This conversation belongs to another user."
            )
            poster.post(_error("forbidden", text, message.sessionId))
        except STORE_ERRORS as exc:
            # The edge's own records (session, done marks, outbox) could not be read or written even
            # after botocore's retries. Nothing was answered: a lock left behind expires with its
            # lease, and then the client's retry with the same messageId runs the turn.
            logger.warning("conversation store failed", extra={"session_id": message.sessionId, "error": str(exc)})
            poster.post(
                ErrorFrame(
                    code="unavailable",
                    message="Sorry, something went wrong on our side. Please send your message again in a moment.",
                    retryable=True,
                    sessionId=message.sessionId,
                ).model_dump()
            )
        finally:
            try:
                poster.close()  # nothing queued outlives the invocation (Lambda freezes the process after it)
            finally:
                self.store.end_turn(message.sessionId)  # the lock the claim took, when no turn ran
        return OK

    def _read(self, body: str) -> SendMessage | Resume | Any | ErrorFrame:
        not_json = ErrorFrame(
            code="invalid_json", message='Send a JSON object, e.g. {"action": "ping"}.', retryable=False
        )
        try:
            size = len(body.encode())
        except UnicodeEncodeError:  # lone surrogates: not text a client can send, nor one we could store
            return not_json
        if size > MAX_FRAME_BYTES:
            return ErrorFrame(
                code="frame_too_large", message=f"Messages are limited to {MAX_FRAME_BYTES} bytes.", retryable=False
            )
        try:
            raw = json.loads(body)
            # "\ud800" escapes decode to lone surrogates, which nothing downstream can encode
            json.dumps(raw, ensure_ascii=False).encode()
        except (ValueError, UnicodeEncodeError, RecursionError):
            # ValueError: not JSON, or an integer over Python's 4300-digit limit;
            # RecursionError: nesting deeper than the decoder's recursion limit
            return not_json
        if not isinstance(raw, dict) or raw.get("action") not in ACTIONS:
            action = raw.get("action") if isinstance(raw, dict) else None
            return ErrorFrame(
                code="unknown_action",
                retryable=False,
                message=f"Unknown action {action!r}; use one of: {', '.join(ACTIONS)}.",
            )
        try:
            message = CLIENT_MESSAGE.validate_python(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:]) or 'message'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return ErrorFrame(
                code="invalid_message",
                message=problems,
                retryable=False,
                sessionId=raw.get("sessionId") if isinstance(raw.get("sessionId"), str) else None,
            )
        if isinstance(message, SendMessage) and len(message.text) > self.settings.max_message_chars:
            return ErrorFrame(
                code="text_too_long",
                retryable=False,
                sessionId=message.sessionId,
                turnId=message.messageId,  # the client marks exactly this message as not sent
                message=f"Messages are limited to {self.settings.max_message_chars} characters "
                f"({len(message.text)} sent).",
            )
        return message

    def _count_message(self, event: dict[str, Any], connection_id: str, principal: str) -> None:
        """Count a customer message against the per-connection and per-principal rate limits. Every
        anonymous visitor is the same principal, so there the client's source IP stands for it."""
        s = self.settings
        if principal == "anonymous":
            identity = (event.get("requestContext") or {}).get("identity") or {}
            key = f"ip:{identity.get('sourceIp') or 'unknown'}"
        else:
            key = f"sub:{principal}"
        self.store.count_message(
            connection_id, key, s.rate_limit_window_s, s.max_messages_per_connection, s.max_messages_per_principal
        )

    def _over_limit(self, claim: Claim, message: SendMessage) -> ErrorFrame | None:
        """The conversation's own limits, checked before a new turn from what the claim read: a turn
        that starts below them finishes, so a conversation exceeds the token budget by one turn at most."""
        s = self.settings
        if s.max_turns_per_conversation and claim.turns >= s.max_turns_per_conversation:
            code = "turn_limit_reached"
            text = f"This conversation has reached its limit of {s.max_turns_per_conversation} messages."
        elif s.max_tokens_per_conversation and claim.tokens >= s.max_tokens_per_conversation:
            code = "token_budget_exceeded"
            text = "This conversation has become too long for us to continue."
        else:
            return None
        return ErrorFrame(
            code=code,
            message=f"{text} Everything so far is kept; please start a new conversation to go on.",
            retryable=False,
            sessionId=message.sessionId,
            turnId=message.messageId,
        )

    def _send(self, message: SendMessage, poster: Poster, claim: Claim) -> None:
        session, turn_id = message.sessionId, message.messageId
        earlier = self.store.earlier_delivery(session, turn_id, claim)
        if earlier is not None:  # a retry: acknowledge, and repeat the answer if there is one
            poster.post(
                AckFrame(
                    sessionId=session, messageId=turn_id, duplicate=True, sessionToken=claim.issued_token
                ).model_dump()
            )
            for frame in earlier.get("frames", []):
                poster.post(frame)
            return
        refused = self._over_limit(claim, message)
        if refused is not None:  # not run, nor marked done: a retry is refused the same way
            poster.post(refused.model_dump())
            return
        # Posted by the poster's sender thread while the agent takes the lock and reads the checkpoint.
        poster.post_soon(AckFrame(sessionId=session, messageId=turn_id, sessionToken=claim.issued_token).model_dump())
        poster.post_soon(TypingFrame(sessionId=session, turnId=turn_id).model_dump())
        stream = TurnStream(poster, self.store, session, turn_id, self.settings.delta_coalesce_ms)
        started = time.monotonic()
        # A crash, or a retryable error (nothing happened), leaves no done mark: the client's retry
        # with the same messageId runs the turn.
        outcome = self.agent.handle_message(
            session,
            message.text,
            stream,
            message_id=turn_id,
            confirm_hash=message.confirmHash,
        )
        poster.close()  # the turn's frames are all posted before the invocation returns
        # One structured record per turn: the observability module's metric filters and dashboard read it.
        logger.info("turn", extra=turn_record(session, turn_id, outcome, (time.monotonic() - started) * 1000))
        retryable = outcome.error is not None and outcome.error.retryable
        if not retryable and not stream.finished:  # a turn refused before it started (nothing recorded yet)
            try:
                self.store.finish_message(session, turn_id, stream.lasting)
            except STORE_ERRORS as exc:
                # The answer reached the client; only the duplicate-delivery record is missing, so
                # a retry is refused again (the turn did nothing) instead of being repeated.
                logger.warning(
                    "could not record the answered message", extra={"session_id": session, "error": str(exc)}
                )

    def _resume(self, message: Resume, poster: Poster, claim: Claim) -> None:
        session = message.sessionId
        missed = self.store.frames_after(session, message.lastSeq)
        for frame in missed:
            poster.post(frame)
        snapshot = self.agent.snapshot(session)
        frame = SessionFrame(
            **dict(snapshot),
            sessionId=session,
            lastSeq=self.store.last_seq(session),
            sessionToken=claim.issued_token,
        )
        poster.post(frame.model_dump())


def turn_record(session_id: str, turn_id: str, outcome: Any, duration_ms: float) -> dict[str, Any]:
    """The fields of a turn's "turn" log record (an `agent.service.TurnOutcome`): its outcome, model
    calls, tokens and cost. Field names are a contract with the metric filters and Logs Insights
    queries of terraform/modules/observability; no customer text or personal data."""
    done, error = outcome.done, outcome.error
    usage = (done.usage if done is not None else None) or {}
    return {
        "session_id": session_id,
        "turn_id": turn_id,
        "outcome": "error" if error is not None else "answered",
        "error_code": error.code if error is not None else None,
        "duration_ms": round(duration_ms, 1),
        "model_calls": done.model_calls if done is not None else 0,
        "tool_calls": done.tool_calls if done is not None else 0,
        "input_tokens": usage.get("inputTokens", 0),
        "output_tokens": usage.get("outputTokens", 0),
        "cache_read_tokens": usage.get("cacheReadInputTokens", 0),
        "cache_write_tokens": usage.get("cacheWriteInputTokens", 0),
        "cost_usd": outcome.cost_usd,
        "conversation_cost_usd": outcome.conversation_cost_usd,
        "handoff_published": outcome.handoff_published,  # false: the helpdesk was not told (alarmed)
    }


def _principal(event: dict[str, Any]) -> str:
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    return str(authorizer.get("principalId") or "anonymous")


def _error(code: str, message: str, session_id: str | None = None) -> dict[str, Any]:
    return ErrorFrame(code=code, message=message, retryable=False, sessionId=session_id).model_dump()


# -- Lambda entry points (lambdas/*/handler.py import these) -------------------------------------------

_shared_edge: Edge | None = None


def use_edge(edge: Edge | None) -> None:
    """Use this Edge for the entry points (the local gateway wires its own settings this way)."""
    global _shared_edge
    _shared_edge = edge


def _edge() -> Edge:
    global _shared_edge
    if _shared_edge is None:  # built on the first event, then reused while the process lives
        _shared_edge = Edge()
    return _shared_edge


# Each invocation's records carry the function's context and, as correlation id, API Gateway's
# request id (`requestContext.requestId`, one per WebSocket event); the handlers add the connection id.
_entry_point = entry_point(logger, correlation_id_path=correlation_paths.API_GATEWAY_REST)


@_entry_point
def connect_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _edge().connect(event)


@_entry_point
def disconnect_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _edge().disconnect(event)


@_entry_point
def message_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _edge().message(event)
