"""The local API Gateway WebSocket emulator, driven by real clients on loopback.

A `websockets` client plays the browser and a boto3 `apigatewaymanagementapi` client plays the
Lambdas' side of the @connections API. The events the gateway produces are compared with events
that API Gateway really sent, as recorded in Powertools for AWS Lambda (Python) and aws-lambda-go
(support/aws_events.py).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed

from order_agent_dev.local.gateway import GatewayConfig, LocalGateway

from .support.aws_events import (
    AWS_AUTHORIZER,
    AWS_CONNECT,
    AWS_DISCONNECT,
    AWS_DISCONNECT_1001,
    AWS_MESSAGE,
    AWS_MESSAGE_WITH_UA,
    ID,
    TRACE_ID,
    check_context_formats,
)
from .support.websocket import WsClient, assert_gone, close_without_status, drop_tcp

pytestmark = pytest.mark.timeout(120)

WAIT = 5.0  # seconds: the bound on every wait for a frame, an event or a close
_client = WsClient(WAIT)
open_ws, recv_json, wait_closed = _client.open_ws, _client.recv_json, _client.wait_closed
connect_status = _client.connect_status


@pytest.mark.parametrize(
    "sample", [AWS_CONNECT, AWS_MESSAGE, AWS_DISCONNECT, AWS_MESSAGE_WITH_UA, AWS_DISCONNECT_1001, AWS_AUTHORIZER]
)
def test_format_checks_accept_the_recorded_aws_events(sample: dict[str, Any]) -> None:
    check_context_formats(sample["requestContext"])


# ---- test backend: Lambda handlers that record and answer through boto3 ------------------------


class Recorder:
    """Events seen by the handlers, in the order the handlers ran; waits are bounded."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, event: dict[str, Any]) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = WAIT) -> dict[str, Any]:
        with self._cond:
            found = self._cond.wait_for(lambda: next((e for e in self.events if predicate(e)), None), timeout)
        assert found is not None, f"no matching event within {timeout}s; saw {[route(e) for e in self.events]}"
        return found

    def routes(self) -> list[str]:
        with self._cond:
            return [route(e) for e in self.events]


def route(event: dict[str, Any]) -> str:
    return event.get("requestContext", {}).get("routeKey", event.get("type", "?"))


def is_route(key: str, connection_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda e: route(e) == key and connection_id in (None, e["requestContext"]["connectionId"])


def management_client(gateway: LocalGateway):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.management_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=WAIT, read_timeout=WAIT),
    )


class Backend:
    """The handlers of the test API; `api` is the boto3 client, set once the gateway listens."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.api: Any = None
        self.contexts: list[Any] = []

    def connect(self, event: dict, context: Any) -> dict:
        self.recorder.add(event)
        self.contexts.append(context)
        return {"statusCode": 200}

    def disconnect(self, event: dict, context: Any) -> None:
        self.recorder.add(event)

    def send_message(self, event: dict, context: Any) -> None:
        self.recorder.add(event)
        body = json.loads(event["body"])
        self.post(event, {"route": "sendMessage", "echo": body.get("text")})

    def default(self, event: dict, context: Any) -> dict:
        self.recorder.add(event)
        self.post(event, {"route": "$default", "length": len(event["body"])})
        return {"statusCode": 200, "body": "route responses are not configured: never sent"}

    def boom(self, event: dict, context: Any) -> None:
        self.recorder.add(event)
        raise RuntimeError("the handler failed")

    def post(self, event: dict, payload: dict) -> None:
        self.api.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=json.dumps(payload))

    def routes(self) -> dict[str, Callable]:
        return {
            "$connect": self.connect,
            "$disconnect": self.disconnect,
            "sendMessage": self.send_message,
            "$default": self.default,
            "boom": self.boom,
        }


@pytest.fixture
def start_gateway() -> Iterator[Callable[..., LocalGateway]]:
    started: list[LocalGateway] = []

    def start(**config: Any) -> LocalGateway:
        gateway = LocalGateway(GatewayConfig(**config)).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
def gateway(start_gateway, backend: Backend) -> LocalGateway:
    gateway = start_gateway(routes=backend.routes())
    backend.api = management_client(gateway)
    return gateway


# ---- event shapes ------------------------------------------------------------------------------


def test_connect_event_has_the_shape_api_gateway_sends(gateway: LocalGateway, backend: Backend) -> None:
    before = int(time.time() * 1000)
    with open_ws(gateway.url) as ws:
        ws.send(json.dumps({"action": "sendMessage", "text": "hi"}))
        recv_json(ws)
    after = int(time.time() * 1000)
    event = backend.recorder.wait_for(is_route("$connect"))

    assert set(event) == set(AWS_CONNECT)  # no query keys without a query string, no body
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert set(context) == set(AWS_CONNECT["requestContext"])
    assert set(context["identity"]) == set(AWS_MESSAGE_WITH_UA["requestContext"]["identity"])
    check_context_formats(context)
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "order-agent-tests/1.0"}
    assert context["domainName"] == f"127.0.0.1:{gateway.port}"
    assert (context["stage"], context["apiId"], context["routeKey"]) == ("local", "localapi01", "$connect")
    assert before <= context["connectedAt"] <= context["requestTimeEpoch"] <= after

    headers = event["headers"]
    assert set(AWS_CONNECT["headers"]) <= set(headers)
    assert not {"Connection", "Upgrade"} & set(headers)  # API Gateway drops the hop-by-hop headers
    assert headers["Host"] == f"127.0.0.1:{gateway.port}"
    assert headers["User-Agent"] == "order-agent-tests/1.0"
    assert TRACE_ID.match(headers["X-Amzn-Trace-Id"]) and TRACE_ID.match(AWS_CONNECT["headers"]["X-Amzn-Trace-Id"])
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert event["multiValueHeaders"] == {name: [value] for name, value in headers.items()}

    context_object = backend.contexts[0]
    assert uuid.UUID(context_object.aws_request_id)
    assert context_object.function_name
    assert 0 < context_object.get_remaining_time_in_millis() <= 29_000


def test_connect_event_carries_the_query_string(gateway: LocalGateway, backend: Backend) -> None:
    with open_ws(gateway.url + "?token=abc%3D&tag=a&tag=b&empty="):
        pass
    event = backend.recorder.wait_for(is_route("$connect"))
    assert event["queryStringParameters"] == {"token": "abc=", "tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"token": ["abc="], "tag": ["a", "b"], "empty": [""]}


def test_message_event_has_the_shape_api_gateway_sends(gateway: LocalGateway, backend: Backend) -> None:
    raw = '{"action": "sendMessage",\r\n\t"text": "héllo"}'  # the body is passed on byte for byte
    with open_ws(gateway.url) as ws:
        ws.send(raw)
        assert recv_json(ws) == {"route": "sendMessage", "echo": "héllo"}
    connected = backend.recorder.wait_for(is_route("$connect"))
    event = backend.recorder.wait_for(is_route("sendMessage"))

    assert set(event) == set(AWS_MESSAGE)
    assert event["body"] == raw and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert set(context) == set(AWS_MESSAGE["requestContext"])
    check_context_formats(context)
    assert context["connectionId"] == connected["requestContext"]["connectionId"]
    assert context["connectedAt"] == connected["requestContext"]["connectedAt"]
    assert context["requestId"] != connected["requestContext"]["requestId"]
    assert context["identity"] == connected["requestContext"]["identity"]


def test_disconnect_event_has_the_shape_api_gateway_sends(gateway: LocalGateway, backend: Backend) -> None:
    with open_ws(gateway.url) as ws:
        ws.close(4000, "done here")
    event = backend.recorder.wait_for(is_route("$disconnect"))

    assert set(event) == set(AWS_DISCONNECT)
    assert set(event["headers"]) == set(AWS_DISCONNECT["headers"])
    assert event["headers"] == {
        "Host": f"127.0.0.1:{gateway.port}",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert event["multiValueHeaders"] == {name: [value] for name, value in event["headers"].items()}
    context = event["requestContext"]
    assert set(context) == set(AWS_DISCONNECT["requestContext"])
    check_context_formats(context)
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (4000, "done here")


# ---- authorizer --------------------------------------------------------------------------------


def allow_policy(event: dict, resource: str | None = None, **context: Any) -> dict:
    return {
        "principalId": "customer-7",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource or event["methodArn"]}
            ],
        },
        "context": context,
    }


def test_authorizer_event_shape_and_context_on_every_later_event(start_gateway, backend: Backend) -> None:
    authorizer_events: list[dict] = []

    def authorizer(event: dict, context: Any) -> dict:
        authorizer_events.append(event)
        return allow_policy(event, customerId="c-1", tier=3, verified=True)

    gateway = start_gateway(routes=backend.routes(), authorizer=authorizer)
    backend.api = management_client(gateway)
    with open_ws(gateway.url, additional_headers={"Authorization": "token-1"}) as ws:
        ws.send(json.dumps({"action": "sendMessage", "text": "x"}))
        recv_json(ws)

    event = authorizer_events[0]
    assert set(event) == set(AWS_AUTHORIZER)
    assert set(event["requestContext"]) == set(AWS_AUTHORIZER["requestContext"])
    check_context_formats(event["requestContext"])
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:localapi01/local/$connect"
    assert event["type"] == "REQUEST" and event["stageVariables"] == {}
    assert event["queryStringParameters"] == {} and event["multiValueQueryStringParameters"] == {}
    assert event["headers"]["Authorization"] == "token-1"
    assert {"Connection", "Upgrade", "content-length"} <= set(event["headers"])  # as recorded from AWS

    expected = {"principalId": "customer-7", "customerId": "c-1", "tier": "3", "verified": "true"}  # stringified
    for key in ("$connect", "sendMessage", "$disconnect"):
        later = backend.recorder.wait_for(is_route(key))
        assert later["requestContext"]["authorizer"] == expected, key
        assert later["requestContext"]["connectionId"] == event["requestContext"]["connectionId"]
    connect_event = backend.recorder.wait_for(is_route("$connect"))
    assert connect_event["requestContext"]["requestId"] == event["requestContext"]["requestId"]  # one request


def _deny(event: dict, context: Any) -> dict:
    policy = allow_policy(event)
    policy["policyDocument"]["Statement"].append({"Action": "execute-api:*", "Effect": "Deny", "Resource": "*"})
    return policy


def _unauthorized(event: dict, context: Any) -> dict:
    raise Exception("Unauthorized")  # the exact error message API Gateway turns into 401


def _crash(event: dict, context: Any) -> dict:
    raise ValueError("token service unavailable")


@pytest.mark.parametrize(
    ("authorizer", "status"),
    [
        pytest.param(_deny, 403, id="explicit-deny"),
        pytest.param(lambda e, c: allow_policy(e, resource="arn:aws:execute-api:*:*:other/*"), 403, id="other-api"),
        pytest.param(_unauthorized, 401, id="unauthorized"),
        pytest.param(_crash, 500, id="authorizer-error"),
        pytest.param(lambda e, c: {"principalId": "x"}, 500, id="no-policy"),
        pytest.param(lambda e, c: allow_policy(e, nested={"a": 1}), 500, id="nested-context"),
    ],
)
def test_authorizer_rejections(start_gateway, backend: Backend, authorizer: Callable, status: int) -> None:
    gateway = start_gateway(routes=backend.routes(), authorizer=authorizer)
    assert connect_status(gateway.url) == status
    assert backend.recorder.routes() == []  # $connect never ran, and no $disconnect for a refused connection


def test_authorizer_allow_with_wildcard_resource(start_gateway, backend: Backend) -> None:
    gateway = start_gateway(
        routes=backend.routes(), authorizer=lambda e, c: allow_policy(e, resource="arn:aws:execute-api:us-east-1:*:*/*")
    )
    with open_ws(gateway.url):
        pass
    assert backend.recorder.wait_for(is_route("$connect"))["requestContext"]["authorizer"] == {
        "principalId": "customer-7"
    }


# ---- $connect results --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
def test_connect_rejected_with_the_handler_status(start_gateway, status: int) -> None:
    gateway = start_gateway(routes={"$connect": lambda e, c: {"statusCode": status, "body": "no"}})
    assert connect_status(gateway.url) == status


@pytest.mark.parametrize("status", [200, 204, 299])
def test_connect_accepted_with_any_2xx(start_gateway, status: int) -> None:
    gateway = start_gateway(routes={"$connect": lambda e, c: {"statusCode": status}})
    with open_ws(gateway.url) as ws:
        ws.ping().wait(WAIT)


def _connect_crash(event: dict, context: Any) -> dict:
    raise RuntimeError("database down")


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(_connect_crash, id="raises"),
        pytest.param(lambda e, c: None, id="returns-none"),
        pytest.param(lambda e, c: {"body": "no status"}, id="no-status"),
    ],
)
def test_connect_failure_is_502(start_gateway, backend: Backend, handler: Callable) -> None:
    gateway = start_gateway(routes={"$connect": handler, "$disconnect": backend.disconnect})
    assert connect_status(gateway.url) == 502
    time.sleep(0.2)
    assert backend.recorder.routes() == []  # no $disconnect for a connection that never opened


def test_requested_subprotocol_is_echoed_only_when_connect_returns_it(start_gateway) -> None:
    def connect_handler(event: dict, context: Any) -> dict:
        offered = event["headers"].get("Sec-WebSocket-Protocol", "")
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat.v1"} if "chat.v1" in offered else {}}

    gateway = start_gateway(routes={"$connect": connect_handler})
    with open_ws(gateway.url, subprotocols=["chat.v1", "chat.v0"]) as ws:
        assert ws.subprotocol == "chat.v1"
    with open_ws(gateway.url, subprotocols=["chat.v0"]) as ws:
        assert ws.subprotocol is None


def test_unknown_paths_are_404(gateway: LocalGateway) -> None:
    base = gateway.url.rsplit("/", 1)[0]
    assert connect_status(base + "/prod") == 404
    assert connect_status(gateway.url + "/extra") == 404


# ---- messages ----------------------------------------------------------------------------------


def test_route_selection_by_action(gateway: LocalGateway, backend: Backend) -> None:
    sent = [
        (json.dumps({"action": "sendMessage", "text": "a"}), "sendMessage"),
        (json.dumps({"action": "unknown", "text": "b"}), "$default"),
        ("plain text, not JSON", "$default"),
        ("[1, 2, 3]", "$default"),
        (json.dumps({"text": "no action"}), "$default"),
        (json.dumps({"action": 7}), "$default"),
        (json.dumps({"action": "$disconnect"}), "$default"),
    ]
    with open_ws(gateway.url) as ws:
        for body, _ in sent:
            ws.send(body)
        frames = [recv_json(ws) for _ in sent]
    assert [frame["route"] for frame in frames] == [expected for _, expected in sent]
    messages = [e for e in backend.recorder.events if e["requestContext"]["eventType"] == "MESSAGE"]
    assert [(e["body"], route(e)) for e in messages] == sent


def test_forbidden_frame_without_a_default_route(start_gateway, backend: Backend) -> None:
    routes = backend.routes()
    del routes["$default"]
    gateway = start_gateway(routes=routes)
    backend.api = management_client(gateway)
    with open_ws(gateway.url) as ws:
        ws.send(json.dumps({"action": "nothingHere"}))
        frame = recv_json(ws)
        connection_id = backend.recorder.wait_for(is_route("$connect"))["requestContext"]["connectionId"]
        assert set(frame) == {"message", "connectionId", "requestId"}
        assert frame["message"] == "Forbidden" and frame["connectionId"] == connection_id
        assert ID.match(frame["requestId"])
        ws.send(json.dumps({"action": "sendMessage", "text": "still open"}))
        assert recv_json(ws)["echo"] == "still open"
    assert "$default" not in backend.recorder.routes()


def test_handler_error_sends_internal_server_error_and_keeps_the_socket(
    gateway: LocalGateway, backend: Backend
) -> None:
    with open_ws(gateway.url) as ws:
        ws.send(json.dumps({"action": "boom"}))
        frame = recv_json(ws)
        failed = backend.recorder.wait_for(is_route("boom"))["requestContext"]
        assert frame == {
            "message": "Internal server error",
            "connectionId": failed["connectionId"],
            "requestId": failed["requestId"],
        }
        ws.send(json.dumps({"action": "sendMessage", "text": "after"}))
        assert recv_json(ws) == {"route": "sendMessage", "echo": "after"}


def test_handler_results_are_not_sent(start_gateway, backend: Backend) -> None:
    routes = backend.routes()
    routes["answer"] = lambda e, c: {"statusCode": 200, "body": "not a route response"}
    gateway = start_gateway(routes=routes)
    backend.api = management_client(gateway)
    with open_ws(gateway.url) as ws:
        ws.send(json.dumps({"action": "answer"}))
        ws.send(json.dumps({"action": "sendMessage", "text": "next"}))
        assert recv_json(ws) == {"route": "sendMessage", "echo": "next"}  # nothing came before it


def test_binary_frame_closes_1003(gateway: LocalGateway, backend: Backend) -> None:
    with open_ws(gateway.url) as ws:
        ws.send(b"\x00\x01binary")
        assert wait_closed(ws).rcvd.code == 1003
    event = backend.recorder.wait_for(is_route("$disconnect"))
    assert event["requestContext"]["disconnectStatusCode"] == 1003
    assert "$default" not in backend.recorder.routes()


def test_message_over_128_kb_closes_1009_and_128_kb_is_accepted(gateway: LocalGateway, backend: Backend) -> None:
    limit = 128 * 1024
    with open_ws(gateway.url) as ws:
        ws.send("x" * limit)
        assert recv_json(ws) == {"route": "$default", "length": limit}
        ws.send("x" * (limit + 1))
        assert wait_closed(ws).rcvd.code == 1009
    event = backend.recorder.wait_for(is_route("$disconnect"))
    assert event["requestContext"]["disconnectStatusCode"] == 1009
    assert [len(e["body"]) for e in backend.recorder.events if "body" in e] == [limit]


def test_messages_over_the_32_kb_frame_size_are_kept(gateway: LocalGateway, backend: Backend) -> None:
    with open_ws(gateway.url) as ws:
        ws.send("y" * 40_000)  # one frame over 32 KB
        assert recv_json(ws)["length"] == 40_000
        ws.send(iter(["a" * 30_000, "b" * 30_000, "c" * 30_000]))  # one message in three frames
        assert recv_json(ws)["length"] == 90_000
    bodies = [e["body"] for e in backend.recorder.events if "body" in e]
    assert bodies[1] == "a" * 30_000 + "b" * 30_000 + "c" * 30_000


# ---- timers and close codes --------------------------------------------------------------------


def test_idle_timeout_closes_1001_and_client_messages_reset_it(start_gateway, backend: Backend) -> None:
    gateway = start_gateway(routes=backend.routes(), idle_timeout_s=0.6)
    backend.api = management_client(gateway)
    with open_ws(gateway.url) as ws:
        for i in range(8):  # 1.6 s of activity, well past one idle period
            ws.send(json.dumps({"action": "sendMessage", "text": str(i)}))
            assert recv_json(ws)["echo"] == str(i)
            time.sleep(0.2)
        last_message = time.monotonic()
        closed = wait_closed(ws)
        idle_for = time.monotonic() - last_message
    assert (closed.rcvd.code, closed.rcvd.reason) == (1001, "Going away")
    assert 0.3 <= idle_for < WAIT
    context = backend.recorder.wait_for(is_route("$disconnect"))["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def test_server_posts_do_not_count_as_activity(start_gateway, backend: Backend) -> None:
    gateway = start_gateway(routes=backend.routes(), idle_timeout_s=0.6)
    api = management_client(gateway)
    with open_ws(gateway.url) as ws:
        connection_id = backend.recorder.wait_for(is_route("$connect"))["requestContext"]["connectionId"]
        start = time.monotonic()
        with pytest.raises(api.exceptions.GoneException):
            while time.monotonic() - start < WAIT:
                api.post_to_connection(ConnectionId=connection_id, Data=b"tick")
                time.sleep(0.1)
        assert time.monotonic() - start < 2.0
        assert wait_closed(ws).rcvd.code == 1001


def test_max_connection_duration_closes_1001_even_when_active(start_gateway, backend: Backend) -> None:
    gateway = start_gateway(routes=backend.routes(), idle_timeout_s=30, max_connection_s=1.0)
    backend.api = management_client(gateway)
    start = time.monotonic()
    with open_ws(gateway.url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            for i in range(int(WAIT / 0.1)):
                ws.send(json.dumps({"action": "sendMessage", "text": str(i)}))
                ws.recv(timeout=WAIT)
                time.sleep(0.1)
        lived = time.monotonic() - start
    assert closed.value.rcvd.code == 1001
    assert 0.8 <= lived < 3.0
    assert backend.recorder.wait_for(is_route("$disconnect"))["requestContext"]["disconnectStatusCode"] == 1001


@pytest.mark.parametrize(
    ("close", "code", "reason"),
    [
        pytest.param(lambda ws: ws.close(), 1000, "", id="normal"),
        pytest.param(lambda ws: ws.close(1001), 1001, "", id="going-away"),
        pytest.param(lambda ws: ws.close(4001, "logged out"), 4001, "logged out", id="application-code"),
        pytest.param(close_without_status, 1005, "Client-side close frame status not set", id="no-status"),
        pytest.param(drop_tcp, 1006, "", id="tcp-dropped"),
    ],
)
def test_disconnect_status_follows_the_client_close(
    gateway: LocalGateway, backend: Backend, close: Callable, code: int, reason: str
) -> None:
    with open_ws(gateway.url) as ws:
        close(ws)
        context = backend.recorder.wait_for(is_route("$disconnect"))["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (code, reason)


def test_stop_closes_every_connection_with_disconnect(start_gateway, backend: Backend) -> None:
    def slow_disconnect(event: dict, context: Any) -> None:
        time.sleep(0.3)  # stop() must wait for $disconnect handlers, not just send the close frames
        backend.disconnect(event, context)

    gateway = start_gateway(routes={**backend.routes(), "$disconnect": slow_disconnect})
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(open_ws(gateway.url)) for _ in range(3)]
        backend.recorder.wait_for(lambda e: backend.recorder.routes().count("$connect") == 3)
        gateway.stop()
        disconnects = [e for e in backend.recorder.events if route(e) == "$disconnect"]  # stop() waited for them
        assert [e["requestContext"]["disconnectStatusCode"] for e in disconnects] == [1001, 1001, 1001]
        for ws in clients:
            assert wait_closed(ws).rcvd.code == 1001


# ---- @connections management API ---------------------------------------------------------------


def test_connections_api_post_get_delete(gateway: LocalGateway, backend: Backend) -> None:
    api = backend.api
    with open_ws(gateway.url) as ws:
        connection_id = backend.recorder.wait_for(is_route("$connect"))["requestContext"]["connectionId"]
        assert connection_id.endswith("=")  # boto3 sends it as %3D

        api.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "ack"}')
        assert ws.recv(timeout=WAIT) == '{"type": "ack"}'  # the raw bytes, as a text frame

        info = api.get_connection(ConnectionId=connection_id)
        assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "order-agent-tests/1.0"}
        assert abs(info["ConnectedAt"].timestamp() - time.time()) < 5
        assert info["LastActiveAt"] == info["ConnectedAt"]
        time.sleep(0.05)
        ws.send(json.dumps({"action": "sendMessage", "text": "activity"}))
        recv_json(ws)
        assert api.get_connection(ConnectionId=connection_id)["LastActiveAt"] > info["ConnectedAt"]

        response = api.delete_connection(ConnectionId=connection_id)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert wait_closed(ws).rcvd.code == 1000

    context = backend.recorder.wait_for(is_route("$disconnect"))["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1000, "Connection Closed Normally")
    assert_gone(api, connection_id)


def test_posting_to_a_closed_or_unknown_connection_raises_gone(gateway: LocalGateway, backend: Backend) -> None:
    api = backend.api
    with open_ws(gateway.url):
        connection_id = backend.recorder.wait_for(is_route("$connect"))["requestContext"]["connectionId"]
    backend.recorder.wait_for(is_route("$disconnect"))
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"after close")
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"never existed")


def test_posting_while_connect_runs_raises_gone(start_gateway) -> None:
    outcome: list[str] = []
    holder: dict[str, Any] = {}

    def connect_handler(event: dict, context: Any) -> dict:
        try:
            holder["api"].post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=b"too early")
            outcome.append("delivered")
        except holder["api"].exceptions.GoneException:
            outcome.append("gone")
        return {"statusCode": 200}

    gateway = start_gateway(routes={"$connect": connect_handler})
    holder["api"] = management_client(gateway)
    with open_ws(gateway.url) as ws:
        ws.ping().wait(WAIT)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)  # the early post was not delivered later either
    assert outcome == ["gone"]


def test_post_over_131072_bytes_is_413(gateway: LocalGateway, backend: Backend) -> None:
    api = backend.api
    with open_ws(gateway.url) as ws:
        connection_id = backend.recorder.wait_for(is_route("$connect"))["requestContext"]["connectionId"]
        with pytest.raises(api.exceptions.PayloadTooLargeException) as too_large:
            api.post_to_connection(ConnectionId=connection_id, Data=b"z" * 131_073)
        assert too_large.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        api.post_to_connection(ConnectionId=connection_id, Data=b"z" * 131_072)
        assert len(ws.recv(timeout=WAIT)) == 131_072  # the largest post arrives, and nothing before it


# ---- concurrency -------------------------------------------------------------------------------


def test_one_event_at_a_time_per_connection_and_concurrency_across_connections(start_gateway) -> None:
    lock = threading.Lock()
    active: dict[str, int] = {}
    overlap: dict[str, int] = {}
    started: dict[str, list[int]] = {}
    both_inside = threading.Barrier(2, timeout=WAIT)
    holder: dict[str, Any] = {}

    def work(event: dict, context: Any) -> None:
        connection_id = event["requestContext"]["connectionId"]
        body = json.loads(event["body"])
        with lock:
            active[connection_id] = active.get(connection_id, 0) + 1
            overlap[connection_id] = max(overlap.get(connection_id, 0), active[connection_id])
            started.setdefault(connection_id, []).append(body["seq"])
        try:
            if body["seq"] == 0:
                both_inside.wait()  # breaks (and the test fails) unless both connections run at once
            time.sleep(body["delay"])  # later messages are quicker: a reordering would show
        finally:
            with lock:
                active[connection_id] -= 1
        holder["api"].post_to_connection(ConnectionId=connection_id, Data=json.dumps({"done": body["seq"]}))

    gateway = start_gateway(routes={"work": work}, handler_workers=8)
    holder["api"] = management_client(gateway)
    count = 8
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(open_ws(gateway.url)) for _ in range(2)]
        for seq in range(count):
            for ws in clients:
                ws.send(json.dumps({"action": "work", "seq": seq, "delay": (count - seq) * 0.01}))
        for ws in clients:
            assert [recv_json(ws) for _ in range(count)] == [{"done": seq} for seq in range(count)]
    assert len(started) == 2
    assert all(order == list(range(count)) for order in started.values()), started
    assert set(overlap.values()) == {1}  # never two events of one connection at once
    assert not both_inside.broken


def test_config_rejects_an_api_id_aws_would_not_generate() -> None:
    with pytest.raises(ValueError, match="api_id"):
        GatewayConfig(routes={}, api_id="Local-API")


def test_management_timestamps_are_iso8601(gateway: LocalGateway, backend: Backend) -> None:
    # botocore parses them, but a handler reading the raw JSON (or another SDK) needs ISO-8601.
    import urllib.request

    with open_ws(gateway.url):
        connection_id = backend.recorder.wait_for(is_route("$connect"))["requestContext"]["connectionId"]
        quoted = connection_id.replace("=", "%3D")
        with urllib.request.urlopen(f"{gateway.management_url}/@connections/{quoted}", timeout=WAIT) as response:  # noqa: S310
            payload = json.loads(response.read())
    assert set(payload) == {"connectedAt", "identity", "lastActiveAt"}
    connected = datetime.strptime(payload["connectedAt"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert connected.tzinfo is not None and abs(connected.timestamp() - datetime.now(UTC).timestamp()) < 5
