"""A local API Gateway WebSocket API that invokes Python Lambda handlers in-process.

No free AWS emulator serves the WebSocket data plane, so this module reproduces the part of
API Gateway that the project's Lambdas talk to, on one loopback port, as an ASGI app served by
uvicorn (its `websockets` sans-I/O protocol):

- `ws://127.0.0.1:<port>/<stage>`: the WebSocket endpoint. A REQUEST Lambda authorizer (if
  configured) and then the `$connect` route run during the handshake; `2xx` accepts the upgrade,
  any other status is answered as a real HTTP response with that status (the ASGI
  `websocket.http.response` extension): authorizer Deny → 403, authorizer raising
  `Exception("Unauthorized")` → 401, any other authorizer error or a malformed policy → 500,
  `$connect` raising (or returning something that is not a proxy response) → 502. A requested
  `Sec-WebSocket-Protocol` is echoed when the `$connect` response headers carry it.
- Messages: route selection `$request.body.action` (a JSON object whose string `action` names a
  configured route, otherwise `$default`, otherwise a `{"message": "Forbidden", ...}` frame);
  a handler exception sends `{"message": "Internal server error", ...}` and keeps the socket
  open; handler results are never sent (no route responses). Binary frames close with 1003, a
  message over 128 KB with 1009; an idle connection (no client message for 10 minutes) and a
  connection older than 2 hours close with 1001 "Going away". `$disconnect` runs after every
  close with `disconnectStatusCode` / `disconnectReason`.
- Events are Lambda proxy events as API Gateway sends them (checked against Powertools for AWS
  Lambda's and aws-lambda-go's recorded WebSocket events): `$connect` has headers,
  multiValueHeaders and (only with a query string) the query maps; messages have `body` and
  `messageId` only; `$disconnect` has the reduced header set. `requestContext.authorizer` =
  `{principalId, **context}` (context values stringified, as API Gateway does) on every event
  of an authorized connection.
- `POST | GET | DELETE /<stage>/@connections/<id>` on the same port, so a boto3
  `apigatewaymanagementapi` client with `endpoint_url=gateway.management_url` works unchanged:
  410 + `x-amzn-ErrorType: GoneException` for unknown, closed or still-connecting connections,
  413 + `PayloadTooLargeException` over 131,072 bytes, 204 for DELETE (close code 1000).

Handlers are blocking functions, run in a thread pool per function (route, authorizer; each
`handler_workers` threads, as each Lambda function has its own concurrency): concurrently across
connections, but one event at a time per connection, in arrival order, `$disconnect` last.

Known differences from API Gateway (besides speed, scale and billing):
- Ordering: API Gateway does not serialise a connection's messages; two quick messages can run
  in two Lambda invocations at once. Here they never overlap, so code that relies on ordering
  works here and may fail in AWS.
- SigV4 signatures on the management API are accepted without checking (unsigned too); no IAM,
  no API keys, no usage plans, no 403 ForbiddenException, no 429 throttling.
- A text message over the 32 KB frame limit but within the 128 KB message limit is accepted
  whole, as API Gateway accepts a message sent as several frames; frame boundaries are not
  visible through ASGI, so `max_frame_bytes` is not enforced (it is logged at debug level).
  Outgoing messages are sent as one frame, where API Gateway may fragment them.
- Only the exact path `/<stage>` upgrades (a trailing slash or another stage → 404).
- Header names are canonicalised (`Sec-WebSocket-Key`, `User-Agent`): uvicorn's HTTP/1.1 parser
  lower-cases them, so the client's own spelling is lost. `domainName` is `127.0.0.1:<port>`,
  `X-Forwarded-Proto` is `http` and `X-Forwarded-Port` is the local port.
- No integration timeout (API Gateway gives up after 29 s and sends an "Endpoint request timed
  out" frame); `get_remaining_time_in_millis()` counts down from 29 s but nothing is stopped.
- Idle time counts client messages only; WebSocket pings (which API Gateway answers but never
  sends) and server-to-client posts do not keep a connection alive. permessage-deflate is not
  negotiated.
- The authorizer runs on every connect (no result caching, no identity-source precheck that
  would answer 401 without invoking it); only `$connect` responses' status and
  `Sec-WebSocket-Protocol` header are honoured; rejection bodies are small JSON messages.
- `disconnectReason` texts are API Gateway's where recorded ("Client-side close frame status
  not set" for 1005, "Connection Closed Normally" after DELETE); elsewhere the client's close
  reason, "Going away" for the timers, or "" for a dropped TCP connection (reported as 1006).
- Binary data posted to @connections is sent as a text frame after UTF-8 decoding with
  replacement characters (ASGI text frames are `str`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import signal
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

logger = logging.getLogger(__name__)

Handler = Callable[[dict, Any], Any]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ACCOUNT_ID = "123456789012"  # the placeholder account AWS documentation uses
MAX_POST_BYTES = 131_072  # PostToConnection data limit
INTEGRATION_TIMEOUT_MS = 29_000
AUTHORIZER_RESULT_MAX_BYTES = 8 * 1024
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# uvicorn hands the handshake headers over lower-cased; these are the spellings clients send.
_HEADER_SPELLINGS = {
    "sec-websocket-key": "Sec-WebSocket-Key",
    "sec-websocket-version": "Sec-WebSocket-Version",
    "sec-websocket-extensions": "Sec-WebSocket-Extensions",
    "sec-websocket-protocol": "Sec-WebSocket-Protocol",
    "x-amzn-trace-id": "X-Amzn-Trace-Id",
    "www-authenticate": "WWW-Authenticate",
}
_HOP_BY_HOP = {"connection", "upgrade"}  # absent from recorded $connect events, present for authorizers
_SPECIAL_ROUTES = {"$connect", "$disconnect", "$default"}  # never selected by a message's action


@dataclass
class GatewayConfig:
    """What Terraform's API Gateway WebSocket API defines: routes, authorizer, stage, limits."""

    routes: dict[str, Handler]
    authorizer: Handler | None = None
    stage: str = "local"
    api_id: str = "localapi01"
    region: str = "us-east-1"
    idle_timeout_s: float = 600.0
    max_connection_s: float = 7200.0
    max_message_bytes: int = 128 * 1024
    max_frame_bytes: int = 32 * 1024
    handler_workers: int = 8

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]{10}", self.api_id):
            raise ValueError(f"api_id must be 10 lowercase letters or digits like AWS's, got {self.api_id!r}")
        if not self.stage or "/" in self.stage or "@" in self.stage:
            raise ValueError(f"invalid stage name {self.stage!r}")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default_factory=lambda: time.monotonic() + INTEGRATION_TIMEOUT_MS / 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _new_id() -> str:
    # 11 random bytes in URL-safe base64: 16 characters ending in one "=", like "BFaT_fALIAMCKug=".
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode("ascii")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _clf_time(epoch_ms: int) -> str:
    """Common log format as in requestTime, independent of the process locale."""
    t = time.gmtime(epoch_ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _header_name(lower: str) -> str:
    return _HEADER_SPELLINGS.get(lower) or "-".join(part.capitalize() for part in lower.split("-"))


class _QuietRejections(logging.Filter):
    """uvicorn's sans-I/O protocol logs an error after every `websocket.http.response`, though the
    response was sent as asked; a rejected handshake is normal here, so that line is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


_quiet_rejections = _QuietRejections()


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM-style wildcard match: `*` any run of characters, `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _stringify(value: Any) -> str:
    # API Gateway hands authorizer context values to the integration as strings ("123", "true").
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Rejected(Exception):  # a control-flow signal carrying the HTTP answer
    def __init__(self, status: int, message: str | None = None, error_type: str | None = None) -> None:
        super().__init__(status)
        self.status, self.message, self.error_type = status, message, error_type


def _evaluate_authorizer(result: Any, method_arn: str) -> dict[str, str]:
    """The authorizer's output → `requestContext.authorizer`, or _Rejected (403 deny, 500 malformed)."""
    malformed = _Rejected(500, None, "AuthorizerConfigurationException")
    if not isinstance(result, dict) or "principalId" not in result:
        raise malformed
    try:
        size = len(json.dumps(result))
    except (TypeError, ValueError):
        raise malformed from None
    if size > AUTHORIZER_RESULT_MAX_BYTES:
        raise malformed
    policy = result.get("policyDocument")
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if not statements:
        raise malformed
    allowed = False
    for statement in _as_list(statements):
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise malformed
        actions = _as_list(statement.get("Action", []))
        resources = _as_list(statement.get("Resource", []))
        if any(_glob(str(a), "execute-api:Invoke", ignore_case=True) for a in actions) and any(
            _glob(str(r), method_arn) for r in resources
        ):
            if statement["Effect"] == "Deny":
                raise _Rejected(403, "Forbidden", "AccessDeniedException")  # an explicit deny wins
            allowed = True
    if not allowed:
        raise _Rejected(403, "Forbidden", "AccessDeniedException")
    context = result.get("context") or {}
    if not isinstance(context, dict) or not all(isinstance(v, str | int | float | bool) for v in context.values()):
        raise malformed  # API Gateway accepts only string, number and boolean context values
    return {"principalId": _stringify(result["principalId"]), **{k: _stringify(v) for k, v in context.items()}}


class _Connection:
    """One client connection: its identity, state, ordered work queue and timers."""

    def __init__(
        self, send: Send, source_ip: str, user_agent: str | None, host: str, domain: str, connected_at: int
    ) -> None:
        self.id = _new_id()
        self.send_asgi = send
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.host = host  # the client's Host header, echoed in $disconnect's reduced headers
        self.domain = domain
        self.connected_at = connected_at
        self.last_active = connected_at
        self.state: Literal["connecting", "open", "closed"] = "connecting"
        self.authorizer: dict[str, str] | None = None
        self.queue: asyncio.Queue[dict | None] = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.max_timer: asyncio.TimerHandle | None = None
        self.closing: tuple[int, str] | None = None  # our own close: (code, disconnectReason)
        self.send_lock = asyncio.Lock()

    def identity(self) -> dict[str, str]:
        identity = {"sourceIp": self.source_ip}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        return identity

    async def send_text(self, text: str) -> bool:
        """Send one text frame; False when the connection is not (or no longer) open."""
        async with self.send_lock:  # FIFO, so posts leave in the order they arrived
            if self.state != "open":
                return False
            try:
                await self.send_asgi({"type": "websocket.send", "text": text})
            except Exception:  # uvicorn raises ClientDisconnected or RuntimeError once closed
                return False
            return True

    def cancel_timers(self) -> None:
        for timer in (self.idle_timer, self.max_timer):
            if timer is not None:
                timer.cancel()


class LocalGateway:
    """The emulator. `start()` serves it in a background thread; it is also an ASGI app itself."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._connections: dict[str, _Connection] = {}
        self._workers: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()  # timer-started closes: asyncio keeps only weak refs
        self._executors: dict[str, ThreadPoolExecutor] = {}  # one per function (route), like Lambda
        self._executor_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None  # uvicorn.Server, imported lazily (a development dependency)
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self._public_host()}:{self._require_port()}/{self.config.stage}"

    @property
    def management_url(self) -> str:
        return f"http://{self._public_host()}:{self._require_port()}/{self.config.stage}"

    def start(self, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0) -> LocalGateway:
        """Serve in a background thread; returns once the socket listens (port 0 → a free port)."""
        import uvicorn

        logging.getLogger("uvicorn.error").addFilter(_quiet_rejections)  # idempotent: one filter object
        if self._thread is not None:
            raise RuntimeError("gateway already started")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        self.host, self.port = host, sock.getsockname()[1]
        config = uvicorn.Config(
            self,
            interface="asgi3",
            lifespan="off",
            http="h11",
            ws="websockets-sansio",
            ws_max_size=self.config.max_message_bytes,  # websockets closes with 1009 beyond it
            ws_ping_interval=None,  # API Gateway never pings clients
            ws_per_message_deflate=False,
            proxy_headers=False,  # X-Forwarded-For from a client must not replace its address
            server_header=False,
            log_config=None,  # leave the host process's logging alone
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(sock,), name="local-gateway", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                sock.close()
                raise RuntimeError("the local gateway did not start")
            time.sleep(0.01)
        logger.info("local API Gateway WebSocket API at %s (management %s)", self.url, self.management_url)
        return self

    def _run(self, sock: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve(sockets=[sock])

        try:
            asyncio.run(serve())
        finally:
            sock.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection (each gets its $disconnect), then stop the server."""
        if self._thread is None:
            return
        if self._loop is not None and self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._close_all(timeout), self._loop)
            try:
                future.result(timeout + 1)
            except Exception:
                logger.exception("closing the gateway's connections failed")
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(2)
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self._thread = None

    async def _close_all(self, timeout: float) -> None:
        self._stopping = True
        for conn in list(self._connections.values()):
            await self._close(conn, 1001, "Going away")
        if self._workers:
            await asyncio.wait(set(self._workers), timeout=timeout)

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        """Run in the foreground until SIGINT/SIGTERM (from the main thread) or stop()."""
        self.start(host, port)
        done = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: done.set())
        try:
            while not done.is_set() and self._thread is not None and self._thread.is_alive():
                done.wait(0.5)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def __enter__(self) -> LocalGateway:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _public_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104 - compared, not bound

    def _require_port(self) -> int:
        if self.port is None:
            raise RuntimeError("gateway not started")
        return self.port

    def _pool(self, function: str) -> ThreadPoolExecutor:
        """The function's own `handler_workers` threads: each route is a Lambda function with its own
        concurrency, so a backlog of messages does not hold up `$connect` (handshakes) or `$disconnect`."""
        with self._executor_lock:
            if function not in self._executors:
                self._executors[function] = ThreadPoolExecutor(
                    self.config.handler_workers, thread_name_prefix=f"lambda-{function}"
                )
            return self._executors[function]

    # ---- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    def _domain(self, scope: Scope) -> str:
        server = scope.get("server") or (self._public_host(), self.port)
        return f"{server[0]}:{server[1]}"

    # ---- WebSocket: handshake, messages, close ---------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if scope["path"] != f"/{self.config.stage}":
            await self._reject(scope, send, _Rejected(404, "Not Found"))
            return
        if self._stopping:
            await self._reject(scope, send, _Rejected(503, "Service Unavailable"))
            return
        connected_at = _now_ms()
        headers = self._handshake_headers(scope)
        user_agent = next((v for k, v in headers if k == "User-Agent"), None)
        host = next((v for k, v in headers if k == "Host"), self._domain(scope))
        source_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        conn = _Connection(send, source_ip, user_agent, host, self._domain(scope), connected_at)
        self._connections[conn.id] = conn  # visible to @connections (as 410) while $connect runs
        try:
            subprotocol = await self._handshake(scope, conn, headers)
        except _Rejected as rejected:
            self._connections.pop(conn.id, None)
            await self._reject(scope, send, rejected)
            return
        if self._stopping:
            self._connections.pop(conn.id, None)
            await self._reject(scope, send, _Rejected(503, "Service Unavailable"))
            return
        try:
            await send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": []})
        except Exception:  # the client left while $connect ran: the connection never existed
            self._connections.pop(conn.id, None)
            return
        conn.state = "open"
        loop = asyncio.get_running_loop()
        conn.max_timer = loop.call_later(self.config.max_connection_s, self._close_soon, conn)
        self._reset_idle(conn)
        conn.worker = loop.create_task(self._work(conn))
        self._workers.add(conn.worker)
        conn.worker.add_done_callback(self._workers.discard)
        await self._receive_loop(conn, receive)

    def _handshake_headers(self, scope: Scope) -> list[tuple[str, str]]:
        return [(_header_name(k.decode("latin-1").lower()), v.decode("latin-1")) for k, v in scope["headers"]]

    async def _handshake(self, scope: Scope, conn: _Connection, client_headers: list[tuple[str, str]]) -> str | None:
        """Authorizer, then $connect; returns the subprotocol to accept or raises _Rejected."""
        request_id = _new_id()
        added = [
            ("X-Amzn-Trace-Id", f"Root=1-{conn.connected_at // 1000:08x}-{secrets.token_hex(12)}"),
            ("X-Forwarded-For", conn.source_ip),
            ("X-Forwarded-Port", str((scope.get("server") or ("", self.port))[1])),
            ("X-Forwarded-Proto", "https" if scope.get("scheme") == "wss" else "http"),
        ]
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)

        if self.config.authorizer is not None:
            auth_headers = [*client_headers, ("content-length", "0"), *added]
            method_arn = (
                f"arn:aws:execute-api:{self.config.region}:{ACCOUNT_ID}:{self.config.api_id}/"
                f"{self.config.stage}/$connect"
            )
            event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                **_header_maps(auth_headers),
                **_query_maps(query, always=True),
                "stageVariables": {},
                "requestContext": self._request_context(conn, "$connect", "CONNECT", request_id),
            }
            try:
                result = await self._invoke(self.config.authorizer, event, "authorizer")
            except Exception as exc:
                if str(exc) == "Unauthorized":
                    raise _Rejected(401, "Unauthorized", "UnauthorizedException") from None
                logger.exception("authorizer failed")
                raise _Rejected(500, None, "AuthorizerConfigurationException") from None
            conn.authorizer = _evaluate_authorizer(result, method_arn)

        handler = self.config.routes.get("$connect")
        if handler is None:
            return None  # an API without a $connect route accepts every connection
        connect_headers = [(k, v) for k, v in client_headers if k.lower() not in _HOP_BY_HOP] + added
        event = {
            **_header_maps(connect_headers),
            **_query_maps(query, always=False),
            "requestContext": self._request_context(conn, "$connect", "CONNECT", request_id),
            "isBase64Encoded": False,
        }
        try:
            response = await self._invoke(handler, event, "$connect")
        except Exception:
            logger.exception("$connect handler failed")
            raise _Rejected(502, "Internal server error") from None
        status = response.get("statusCode") if isinstance(response, dict) else None
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            logger.error("$connect returned no valid statusCode: %r", response)
            raise _Rejected(502, "Internal server error")
        if not 200 <= status <= 299:
            raise _Rejected(status)
        return _response_subprotocol(response) if scope.get("subprotocols") else None

    async def _reject(self, scope: Scope, send: Send, rejected: _Rejected) -> None:
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})  # the server can only answer 403
            return
        headers = []
        if rejected.error_type:
            headers.append((b"x-amzn-errortype", rejected.error_type.encode()))
        body = b""  # a $connect handler's own status goes back without a body
        if rejected.message is not None or rejected.error_type is not None:
            body = _json({"message": rejected.message})
            headers.append((b"content-type", b"application/json"))
        await send({"type": "websocket.http.response.start", "status": rejected.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})

    def _request_context(
        self, conn: _Connection, route_key: str, event_type: str, request_id: str, at: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        now = _now_ms() if at is None else at  # when the gateway received it, not when a worker got to it
        context: dict[str, Any] = {"routeKey": route_key, **extra}
        if conn.authorizer is not None:
            context["authorizer"] = dict(conn.authorizer)
        context.update(
            eventType=event_type,
            extendedRequestId=request_id,
            requestTime=_clf_time(now),
            messageDirection="IN",
            stage=self.config.stage,
            connectedAt=conn.connected_at,
            requestTimeEpoch=now,
            identity=conn.identity(),
            requestId=request_id,
            domainName=conn.domain,
            connectionId=conn.id,
            apiId=self.config.api_id,
        )
        return context

    async def _receive_loop(self, conn: _Connection, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                break
            if conn.state != "open":
                continue  # after our close frame, nothing more is routed
            text = message.get("text")
            if text is None:
                await self._close(conn, 1003, "Binary frames are not supported")
                continue
            size = len(text.encode())
            if size > self.config.max_message_bytes:  # uvicorn's ws_max_size does this when start() serves
                await self._close(conn, 1009, "Message too big")
                continue
            if size > self.config.max_frame_bytes:
                logger.debug("message of %d bytes over the frame limit, accepted as fragmented", size)
            now = _now_ms()
            conn.last_active = now
            self._reset_idle(conn)
            conn.queue.put_nowait({"kind": "message", "body": text, "at": now})
        conn.cancel_timers()
        conn.state = "closed"
        self._connections.pop(conn.id, None)
        code, reason = self._disconnect_status(conn, message)
        conn.queue.put_nowait({"kind": "disconnect", "code": code, "reason": reason, "at": _now_ms()})
        conn.queue.put_nowait(None)

    @staticmethod
    def _disconnect_status(conn: _Connection, message: dict[str, Any]) -> tuple[int, str]:
        if conn.closing is not None:
            code, reason = conn.closing
            if message.get("code") == code:
                return code, reason
        code = int(message.get("code", 1006))
        reason = message.get("reason")
        if reason is None:
            # uvicorn reports a lost TCP connection as 1005 without a reason: it is an abnormal closure.
            return 1006, ""
        if code == 1005:
            return 1005, "Client-side close frame status not set"
        return code, reason

    async def _close(self, conn: _Connection, code: int, reason: str, wire_reason: str | None = None) -> bool:
        """Server-side close (timers, DELETE, limits, stop); $disconnect follows from the receive loop."""
        if conn.state != "open":
            return False
        conn.state = "closed"  # @connections answers 410 from now on
        conn.closing = (code, reason)
        conn.cancel_timers()
        async with conn.send_lock:
            with contextlib.suppress(Exception):
                await conn.send_asgi(
                    {"type": "websocket.close", "code": code, "reason": reason if wire_reason is None else wire_reason}
                )
        return True

    def _reset_idle(self, conn: _Connection) -> None:
        if conn.idle_timer is not None:
            conn.idle_timer.cancel()
        conn.idle_timer = asyncio.get_running_loop().call_later(self.config.idle_timeout_s, self._close_soon, conn)

    def _close_soon(self, conn: _Connection) -> None:
        """Timer callback: idle or maximum duration reached."""
        task = asyncio.get_running_loop().create_task(self._close(conn, 1001, "Going away"))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _work(self, conn: _Connection) -> None:
        """Runs a connection's events one at a time, in arrival order, $disconnect last."""
        while (item := await conn.queue.get()) is not None:
            try:
                if item["kind"] == "message":
                    await self._dispatch_message(conn, item)
                else:
                    await self._dispatch_disconnect(conn, item)
            except Exception:
                logger.exception("gateway error on connection %s", conn.id)

    async def _dispatch_message(self, conn: _Connection, item: dict[str, Any]) -> None:
        body: str = item["body"]
        request_id = _new_id()
        route_key = self._select_route(body)
        if route_key is None:
            await conn.send_text(_error_frame("Forbidden", conn.id, request_id))
            return
        event = {
            "requestContext": self._request_context(
                conn, route_key, "MESSAGE", request_id, item["at"], messageId=_new_id()
            ),
            "body": body,
            "isBase64Encoded": False,
        }
        try:
            await self._invoke(self.config.routes[route_key], event, route_key)
        except Exception:
            logger.exception("%s handler failed", route_key)
            await conn.send_text(_error_frame("Internal server error", conn.id, request_id))

    async def _dispatch_disconnect(self, conn: _Connection, item: dict[str, Any]) -> None:
        handler = self.config.routes.get("$disconnect")
        if handler is None:
            return
        reduced = [("Host", conn.host), ("x-api-key", ""), ("X-Forwarded-For", ""), ("x-restapi", "")]
        event = {
            **_header_maps(reduced),
            "requestContext": self._request_context(
                conn,
                "$disconnect",
                "DISCONNECT",
                _new_id(),
                item["at"],
                disconnectStatusCode=item["code"],
                disconnectReason=item["reason"],
            ),
            "isBase64Encoded": False,
        }
        try:
            await self._invoke(handler, event, "$disconnect")
        except Exception:
            logger.exception("$disconnect handler failed (delivery is best-effort, as in AWS)")

    def _select_route(self, body: str) -> str | None:
        """`$request.body.action`: the named route, else $default, else None (Forbidden)."""
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nesting too deep for the decoder
            parsed = None
        action = parsed.get("action") if isinstance(parsed, dict) else None
        if isinstance(action, str) and action not in _SPECIAL_ROUTES and action in self.config.routes:
            return action
        return "$default" if "$default" in self.config.routes else None

    async def _invoke(self, handler: Handler, event: dict[str, Any], route_key: str) -> Any:
        name = "local-" + (re.sub(r"[^A-Za-z0-9_-]", "", route_key.lstrip("$")) or "route")
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=f"arn:aws:lambda:{self.config.region}:{ACCOUNT_ID}:function:{name}",
            log_group_name=f"/aws/lambda/{name}",
        )
        payload = json.loads(json.dumps(event))  # a fresh JSON document per invocation, as Lambda gets
        return await asyncio.get_running_loop().run_in_executor(self._pool(name), handler, payload, context)

    # ---- HTTP: the @connections management API ---------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, too_large = await _read_body(receive, MAX_POST_BYTES)
        segments = scope.get("raw_path", scope["path"].encode()).split(b"?", 1)[0].split(b"/")
        stage = self.config.stage.encode()
        if len(segments) == 4 and segments[1] == stage and unquote(segments[2].decode("latin-1")) == "@connections":
            connection_id = unquote(segments[3].decode("latin-1"))  # boto3 sends "=" as %3D
            await self._management(scope["method"], connection_id, body, too_large, send)
        elif scope["path"] == f"/{self.config.stage}":
            await _respond(send, 426, {"message": "Upgrade Required"})
        else:
            await _respond(send, 404, {"message": "Not Found"})

    async def _management(self, method: str, connection_id: str, body: bytes, too_large: bool, send: Send) -> None:
        conn = self._connections.get(connection_id)
        gone = conn is None or conn.state != "open"
        if method == "POST":
            if too_large:
                await _respond(send, 413, {"message": "Request entity too large"}, "PayloadTooLargeException")
            elif gone or not await conn.send_text(body.decode("utf-8", errors="replace")):
                await _respond(send, 410, {"message": None}, "GoneException")
            else:
                await _respond(send, 200, None)
        elif method == "GET":
            if gone:
                await _respond(send, 410, {"message": None}, "GoneException")
                return
            identity = {"sourceIp": conn.source_ip}
            if conn.user_agent is not None:
                identity["userAgent"] = conn.user_agent
            await _respond(
                send,
                200,
                {"connectedAt": _iso(conn.connected_at), "identity": identity, "lastActiveAt": _iso(conn.last_active)},
            )
        elif method == "DELETE":
            if gone or not await self._close(conn, 1000, "Connection Closed Normally", wire_reason=""):
                await _respond(send, 410, {"message": None}, "GoneException")
            else:
                await _respond(send, 204, None)
        else:
            await _respond(send, 405, {"message": "Method Not Allowed"})


def _header_maps(headers: list[tuple[str, str]]) -> dict[str, dict]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value  # the last value wins, as in API Gateway's single-value map
        multi.setdefault(name, []).append(value)
    return {"headers": single, "multiValueHeaders": multi}


def _query_maps(query: list[tuple[str, str]], *, always: bool) -> dict[str, dict]:
    if not query and not always:
        return {}  # $connect events carry no query keys when the URL has no query string
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in query:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return {"queryStringParameters": single, "multiValueQueryStringParameters": multi}


def _response_subprotocol(response: dict[str, Any]) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == "sec-websocket-protocol" and value:
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == "sec-websocket-protocol" and values:
            return str(values[0])
    return None


def _error_frame(message: str, connection_id: str, request_id: str) -> str:
    # Spelled as API Gateway sends it (one space after the first colon only).
    return f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The whole request body, keeping at most limit bytes; True if there was more."""
    body = bytearray()
    too_large = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if len(body) + len(chunk) > limit:
            too_large = True
        else:
            body += chunk
        if not message.get("more_body", False):
            break
    return bytes(body), too_large


async def _respond(send: Send, status: int, payload: Any, error_type: str | None = None) -> None:
    body = b"" if payload is None else _json(payload)
    headers = [(b"x-amzn-requestid", str(uuid.uuid4()).encode())]
    if status != 204:  # a 204 carries no Content-Length
        headers.append((b"content-length", str(len(body)).encode()))
    if payload is not None:
        headers.append((b"content-type", b"application/json"))
    if error_type:
        # botocore maps errors to typed exceptions (GoneException, ...) only with this header.
        headers.append((b"x-amzn-errortype", error_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
