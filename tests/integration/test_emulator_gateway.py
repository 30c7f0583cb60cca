"""The AWS emulator's (ministack's) API Gateway WebSocket data plane, measured against API Gateway.

The same behaviours test_local_gateway.py checks on the project's own gateway, checked on the
emulator: one emulator for the module, a WebSocket API made through boto3 as Terraform makes it
(`$request.body.action`, a REQUEST authorizer on `$connect` with identity source
`route.request.querystring.token`, AWS_PROXY integrations, permissions, deployment, stage), and
Lambda functions from a zip built here (emulator_ws_handlers.py) that record every event they get
in the emulator's S3 and answer through `@connections`.

Where the emulator behaves as API Gateway does, a test asserts it. Where it does not, a test named
`test_ministack_difference_…` pins what the emulator does instead (its docstring says what API
Gateway does), so that an emulator upgrade that changes it fails here and the README's list of
differences ("The local gateway") can be brought up to date.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import statistics
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from botocore.config import Config
from pydantic import ValidationError
from websockets.sync.client import ClientConnection

from order_agent_dev.local.emulator import Ministack
from order_agent_dev.local.gateway import GatewayConfig, LocalGateway

from .support.aws_events import (
    AWS_AUTHORIZER,
    AWS_CONNECT,
    AWS_DISCONNECT,
    AWS_MESSAGE,
    REQUEST_TIME,
    check_context_formats,
)
from .support.websocket import WsClient, assert_gone, close_without_status, drop_tcp

pytestmark = pytest.mark.timeout(300)  # the first test's setup may make the emulator's virtualenv

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = Path(__file__).with_name("emulator_ws_handlers.py")
WAIT = 10.0  # seconds: the bound on every wait for a frame, an event record or a close
_client = WsClient(WAIT)
open_ws, recv_json, wait_closed = _client.open_ws, _client.recv_json, _client.wait_closed
connect_status = _client.connect_status
STAGE = "test"
BUCKET = "ws-events"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
AUTHORIZER_CONTEXT = {"principalId": "customer-7", "customerId": "c-1", "tier": "3", "verified": "true"}


# ---- the emulator and the API, provisioned once -------------------------------------------------


class Records:
    """The events the handlers stored in the emulator's S3, in the order they were stored."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self._bodies: dict[str, dict] = {}

    def read(self, prefix: str) -> list[dict[str, Any]]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
        keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        for key in keys:
            if key not in self._bodies:
                self._bodies[key] = json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        return [self._bodies[key] for key in keys]

    def wait(
        self, prefix: str, count: int = 1, where: Callable[[dict], bool] = lambda r: True, timeout: float = WAIT
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [record for record in self.read(prefix) if where(record)]
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(found) >= count, f"{len(found)} of {count} records under {prefix}/ within {timeout}s"
        return found

    def events(self, connection_id: str, count: int = 1, route: str | None = None) -> list[dict[str, Any]]:
        where = (lambda r: route_of(r) == route) if route else (lambda r: True)
        return [record["event"] for record in self.wait(f"events/{connection_id}", count, where)]


def route_of(record: dict[str, Any]) -> str:
    return record["event"]["requestContext"]["routeKey"]


@dataclass
class Deployment:
    emulator: Ministack
    api_id: str  # the API under test: authorizer, $connect, $disconnect, $default, sendMessage, …
    bare_api_id: str  # no authorizer, no $default: $connect, $disconnect and sendMessage
    records: Records
    management: Any  # apigatewaymanagementapi client on the API's @connections endpoint
    first_connect_s: float  # the first handshake: authorizer and $connect functions cold

    def url(self, api_id: str | None = None) -> str:
        return self.emulator.websocket_url(api_id or self.api_id, STAGE)

    def connect_url(self, token: str | None = "allow", **query: str) -> tuple[str, str]:  # noqa: S107
        """A URL of the API with a fresh `tag` (to find the $connect records) and the token."""
        tag = uuid.uuid4().hex
        params = {**({"token": token} if token is not None else {}), "tag": tag, **query}
        return f"{self.url()}?{urlencode(params)}", tag

    def connect_event(self, tag: str) -> dict[str, Any]:
        return self.records.wait(f"connect/{tag}")[0]["event"]

    def connection_id(self, tag: str) -> str:
        return self.connect_event(tag)["requestContext"]["connectionId"]


def aws_client(emulator: Ministack, service: str, **options: Any) -> Any:
    return boto3.client(service, endpoint_url=emulator.url, region_name=REGION, **CREDENTIALS, **options)


def management_client(endpoint_url: str) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        region_name=REGION,
        **CREDENTIALS,
        config=Config(retries={"max_attempts": 1}, connect_timeout=WAIT, read_timeout=WAIT),
    )


def handlers_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers.py", HANDLERS.read_text())
    return buffer.getvalue()


def provision(emulator: Ministack) -> tuple[str, str]:
    """Two WebSocket APIs made through boto3 the way terraform/modules/websocket_api makes one
    (AWS_PROXY integrations, a REQUEST authorizer on $connect, permissions, a deployment and a stage),
    with the extra routes the tests need; their Lambda functions all run emulator_ws_handlers.py."""
    apigw, lam, iam = (aws_client(emulator, name) for name in ("apigatewayv2", "lambda", "iam"))
    aws_client(emulator, "s3").create_bucket(Bucket=BUCKET)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="ws-fidelity", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    def api(name: str) -> str:
        made = apigw.create_api(Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
        return made["ApiId"]

    api_id, bare_api_id = api("fidelity"), api("fidelity-bare")
    code = handlers_zip()
    functions: dict[str, str] = {}
    for name in ("authorizer", "connect", "disconnect", "message", "echo", "message-bare"):
        endpoint = emulator.connections_url(bare_api_id if name.endswith("-bare") else api_id, STAGE)
        env = {"EVENTS_BUCKET": BUCKET, "MANAGEMENT_URL": endpoint}
        handler = "handlers." + name.removesuffix("-bare")
        functions[name] = lam.create_function(
            FunctionName=f"ws-{name}", Runtime="python3.13", Role=role, Handler=handler,
            Code={"ZipFile": code}, Timeout=30, MemorySize=256, Environment={"Variables": env},
        )["FunctionArn"]  # fmt: skip
        lam.add_permission(
            FunctionName=f"ws-{name}", StatementId="apigateway", Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:{REGION}:*:*/*",
        )  # fmt: skip

    def invocation_uri(name: str) -> str:
        return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{functions[name]}/invocations"

    def integration(api: str, name: str) -> str:
        made = apigw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=invocation_uri(name))
        return "integrations/" + made["IntegrationId"]

    authorizer_id = apigw.create_authorizer(
        ApiId=api_id, Name="token", AuthorizerType="REQUEST", AuthorizerUri=invocation_uri("authorizer"),
        IdentitySource=["route.request.querystring.token"],
    )["AuthorizerId"]  # fmt: skip
    apigw.create_route(
        ApiId=api_id, RouteKey="$connect", Target=integration(api_id, "connect"),
        AuthorizationType="CUSTOM", AuthorizerId=authorizer_id,
    )  # fmt: skip
    apigw.create_route(ApiId=api_id, RouteKey="$disconnect", Target=integration(api_id, "disconnect"))
    message = integration(api_id, "message")
    for route_key in ("$default", "sendMessage", "boom", "answer", "work"):
        apigw.create_route(ApiId=api_id, RouteKey=route_key, Target=message)
    apigw.create_route(ApiId=api_id, RouteKey="echo", Target=integration(api_id, "echo"))
    for route_key, name in (("$connect", "connect"), ("$disconnect", "disconnect"), ("sendMessage", "message-bare")):
        apigw.create_route(ApiId=bare_api_id, RouteKey=route_key, Target=integration(bare_api_id, name))
    for api in (api_id, bare_api_id):
        deployment = apigw.create_deployment(ApiId=api)["DeploymentId"]
        apigw.create_stage(ApiId=api, StageName=STAGE, DeploymentId=deployment)
    return api_id, bare_api_id


@pytest.fixture(scope="module")
def deployment(ministack_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    emulator = Ministack.start(
        venv_dir=ministack_venv,
        requirements=ROOT / "requirements" / "emulator.txt",
        state_dir=tmp_path_factory.mktemp("ministack"),
    )
    try:
        api_id, bare_api_id = provision(emulator)
        records = Records(aws_client(emulator, "s3", config=Config(s3={"addressing_style": "path"})))
        deployed = Deployment(
            emulator, api_id, bare_api_id, records, management_client(emulator.connections_url(api_id, STAGE)), 0.0
        )
        url, _ = deployed.connect_url()
        started = time.monotonic()
        with open_ws(url):
            deployed.first_connect_s = time.monotonic() - started
        yield deployed
    finally:
        emulator.stop()


# ---- client helpers --------------------------------------------------------------------------


def nothing_arrives(ws: ClientConnection, within: float = 1.0) -> bool:
    try:
        ws.recv(timeout=within)
    except TimeoutError:
        return True
    return False


# ---- event shapes ------------------------------------------------------------------------------


def test_connect_event_has_what_api_gateway_sends(deployment: Deployment) -> None:
    url, tag = deployment.connect_url()
    before = int(time.time() * 1000)
    with open_ws(url):
        event = deployment.connect_event(tag)
    after = int(time.time() * 1000)

    assert set(AWS_CONNECT) <= set(event)
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("$connect", "CONNECT")
    assert (context["stage"], context["apiId"]) == (STAGE, deployment.api_id)
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "order-agent-tests/1.0"}
    assert REQUEST_TIME.match(context["requestTime"]), context["requestTime"]
    assert before <= context["connectedAt"] <= context["requestTimeEpoch"] <= after
    assert context["authorizer"] == AUTHORIZER_CONTEXT
    assert event["queryStringParameters"] == {"token": "allow", "tag": tag}
    assert event["multiValueHeaders"] == {name: [value] for name, value in event["headers"].items()}


def test_connect_event_carries_the_query_string(deployment: Deployment) -> None:
    url, tag = deployment.connect_url()
    with open_ws(url + "&key=abc%3D&multi=a&multi=b&empty="):
        event = deployment.connect_event(tag)
    assert event["queryStringParameters"] == {"token": "allow", "tag": tag, "key": "abc=", "multi": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "token": ["allow"], "tag": [tag], "key": ["abc="], "multi": ["a", "b"], "empty": [""],
    }  # fmt: skip


def test_message_event_has_what_api_gateway_sends(deployment: Deployment) -> None:
    raw = '{"action": "sendMessage",\r\n\t"text": "héllo"}'  # the body is passed on byte for byte
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(raw)
        assert recv_json(ws) == {"route": "sendMessage", "echo": "héllo"}
        connection_id = deployment.connection_id(tag)
    event = deployment.records.events(connection_id, route="sendMessage")[0]
    connected = deployment.connect_event(tag)["requestContext"]

    assert set(event) == set(AWS_MESSAGE)  # no headers on messages
    assert event["body"] == raw and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["stage"]) == ("sendMessage", "MESSAGE", STAGE)
    assert context["connectionId"] == connection_id
    assert context["requestId"] != connected["requestId"] and context["messageId"]
    assert context["identity"] == connected["identity"]
    assert context["authorizer"] == AUTHORIZER_CONTEXT
    assert REQUEST_TIME.match(context["requestTime"])


def test_disconnect_event_names_the_connection_and_its_authorizer(deployment: Deployment) -> None:
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        connection_id = deployment.connection_id(tag)
        ws.close(4000, "done here")
    context = deployment.records.events(connection_id, route="$disconnect")[0]["requestContext"]
    assert (context["eventType"], context["connectionId"], context["stage"]) == ("DISCONNECT", connection_id, STAGE)
    assert context["authorizer"] == AUTHORIZER_CONTEXT
    assert isinstance(context["disconnectStatusCode"], int) and isinstance(context["disconnectReason"], str)


def test_lambda_context_object(deployment: Deployment) -> None:
    url, tag = deployment.connect_url()
    with open_ws(url):
        record = deployment.records.wait(f"connect/{tag}")[0]
    assert uuid.UUID(record["context"]["aws_request_id"])
    assert record["context"]["function_name"] == "ws-connect"
    assert 0 < record["context"]["remaining_ms"] <= 30_000


def test_ministack_difference_ids_are_not_api_gateway_shaped(deployment: Deployment) -> None:
    """API Gateway: connectionId, requestId (= extendedRequestId) and messageId are 16 base64
    characters ending in "=" ("BFaT_fALIAMCKug="), all different; apiId is 10 lowercase letters and
    digits. ministack: a 16-hex-digit connectionId, UUIDs for the request ids, a message's requestId
    equal to its messageId (and to the Lambda request id), and an 8-hex-digit apiId."""
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(json.dumps({"action": "sendMessage", "text": "x"}))
        recv_json(ws)
        connection_id = deployment.connection_id(tag)
    message = deployment.records.wait(f"events/{connection_id}", where=lambda r: route_of(r) == "sendMessage")[0]
    context = message["event"]["requestContext"]
    hex_digits = set("0123456789abcdef")
    assert len(connection_id) == 16 and set(connection_id) <= hex_digits
    assert len(deployment.api_id) == 8 and set(deployment.api_id) <= hex_digits
    assert uuid.UUID(context["requestId"]) and uuid.UUID(context["extendedRequestId"])
    assert context["requestId"] != context["extendedRequestId"]
    assert context["messageId"] == context["requestId"] == message["context"]["aws_request_id"]
    with pytest.raises(AssertionError):
        check_context_formats(context)  # the checks API Gateway's recorded events pass


def test_ministack_difference_no_message_direction_so_powertools_rejects_every_event(
    deployment: Deployment,
) -> None:
    """API Gateway: every requestContext has `messageDirection: "IN"`, and `$disconnect` events
    carry a reduced header set; Powertools' WebSocket models (which the project's handlers parse
    every event with) require both. ministack sends `messageDirection` only to the authorizer and
    no headers on `$disconnect`, so the models reject all three event types."""
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(json.dumps({"action": "sendMessage", "text": "x"}))
        recv_json(ws)
        connection_id = deployment.connection_id(tag)
    connect_event = deployment.connect_event(tag)
    message = deployment.records.events(connection_id, route="sendMessage")[0]
    disconnect = deployment.records.events(connection_id, route="$disconnect")[0]
    authorizer = deployment.records.wait(f"authorizer/{tag}")[0]["event"]

    assert authorizer["requestContext"]["messageDirection"] == "IN"
    for event, model in (
        (connect_event, APIGatewayWebSocketConnectEventModel),
        (message, APIGatewayWebSocketMessageEventModel),
        (disconnect, APIGatewayWebSocketDisconnectEventModel),
    ):
        assert "messageDirection" not in event["requestContext"]
        with pytest.raises(ValidationError, match="messageDirection"):
            parse(event=event, model=model)
    assert "headers" not in disconnect
    # With those two filled in, the same events parse: nothing else in them stops the models.
    for event, model in (
        (connect_event, APIGatewayWebSocketConnectEventModel),
        (message, APIGatewayWebSocketMessageEventModel),
        (disconnect, APIGatewayWebSocketDisconnectEventModel),
    ):
        patched = {"headers": {}, "multiValueHeaders": {}, **event}
        patched["requestContext"] = {**event["requestContext"], "messageDirection": "IN"}
        parse(event=patched, model=model)


def test_ministack_difference_connected_at_is_each_events_own_time(deployment: Deployment) -> None:
    """API Gateway: `connectedAt` is the connection's start on every event of it. ministack: each
    event's own time (equal to its `requestTimeEpoch`)."""
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        time.sleep(0.05)
        ws.send(json.dumps({"action": "sendMessage", "text": "x"}))
        recv_json(ws)
        connection_id = deployment.connection_id(tag)
    connected = deployment.connect_event(tag)["requestContext"]
    message = deployment.records.events(connection_id, route="sendMessage")[0]["requestContext"]
    assert message["connectedAt"] == message["requestTimeEpoch"] > connected["connectedAt"]


def test_ministack_difference_domain_name_has_no_port(deployment: Deployment) -> None:
    """API Gateway: `domainName` is `{apiId}.execute-api.{region}.amazonaws.com`, and
    `https://{domainName}/{stage}` is the @connections endpoint. ministack:
    `{apiId}.execute-api.127.0.0.1` (its MINISTACK_HOST), with neither port nor region, which no
    client can reach; the endpoint is `http://127.0.0.1:<port>/_aws/execute-api/{apiId}/{stage}`,
    so the functions need WEBSOCKET_MANAGEMENT_URL."""
    url, tag = deployment.connect_url()
    with open_ws(url):
        context = deployment.connect_event(tag)["requestContext"]
    assert context["domainName"] == f"{deployment.api_id}.execute-api.127.0.0.1"


def test_ministack_difference_connect_headers(deployment: Deployment) -> None:
    """API Gateway: the client's header spellings (`Host`, `Sec-WebSocket-Key`), no hop-by-hop
    `Connection`/`Upgrade`, and its own `X-Amzn-Trace-Id`, `X-Forwarded-For/Port/Proto`. ministack:
    every name lower-cased, `connection` and `upgrade` kept, nothing added."""
    url, tag = deployment.connect_url()
    with open_ws(url):
        headers = deployment.connect_event(tag)["headers"]
    assert headers["host"] == f"127.0.0.1:{deployment.emulator.port}"
    assert headers["user-agent"] == "order-agent-tests/1.0"
    assert {"connection", "upgrade", "sec-websocket-key", "sec-websocket-version"} <= set(headers)
    assert all(name == name.lower() for name in headers)
    assert not {"x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"} & set(headers)


def test_ministack_difference_event_keys(deployment: Deployment) -> None:
    """API Gateway: `$connect` has no `body` (and no query keys without a query string);
    `$disconnect` has the reduced headers `Host`, `x-api-key`, `X-Forwarded-For`, `x-restapi` and
    no `body`. ministack: `body: ""` on both, query keys present as null, no headers on
    `$disconnect`."""
    with open_ws(deployment.url(deployment.bare_api_id)) as ws:  # no authorizer: no query string needed
        ws.send(json.dumps({"action": "sendMessage", "text": "x", "whoami": True}))
        bare_id = recv_json(ws)["connectionId"]
    bare = deployment.records.wait(
        "connect/none", where=lambda r: r["event"]["requestContext"]["connectionId"] == bare_id
    )
    assert bare[0]["event"]["queryStringParameters"] is None
    assert bare[0]["event"]["multiValueQueryStringParameters"] is None
    events: dict[str, dict] = {}
    url, tag = deployment.connect_url()
    with open_ws(url):
        connection_id = deployment.connection_id(tag)
    events["connect"] = deployment.connect_event(tag)
    events["disconnect"] = deployment.records.events(connection_id, route="$disconnect")[0]
    assert set(events["connect"]) == set(AWS_CONNECT) | {
        "body",
        "queryStringParameters",
        "multiValueQueryStringParameters",
    }
    assert events["connect"]["body"] == ""
    assert set(events["disconnect"]) == {"requestContext", "body", "isBase64Encoded"}
    assert set(AWS_DISCONNECT) - set(events["disconnect"]) == {"headers", "multiValueHeaders"}
    assert set(events["disconnect"]["requestContext"]) == set(AWS_DISCONNECT["requestContext"]) - {
        "messageDirection"
    } | {"authorizer"}


# ---- route selection -----------------------------------------------------------------------------


def test_route_selection_by_action(deployment: Deployment) -> None:
    sent = [
        (json.dumps({"action": "sendMessage", "text": "a"}), "sendMessage"),
        (json.dumps({"action": "unknown", "text": "b"}), "$default"),
        ("plain text, not JSON", "$default"),
        ("[1, 2, 3]", "$default"),
        (json.dumps({"text": "no action"}), "$default"),
        (json.dumps({"action": 7}), "$default"),
    ]
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        for body, _ in sent:
            ws.send(body)
        frames = [recv_json(ws) for _ in sent]
        connection_id = deployment.connection_id(tag)
    assert [frame["route"] for frame in frames] == [expected for _, expected in sent]
    messages = deployment.records.events(connection_id, count=len(sent), route=None)
    assert [(e["body"], e["requestContext"]["routeKey"]) for e in messages[: len(sent)]] == sent


def test_ministack_difference_an_action_can_select_the_disconnect_route(deployment: Deployment) -> None:
    """API Gateway: `$connect`/`$disconnect`/`$default` are not selected by a message's `action`
    (the project's gateway sends such a message to `$default`). ministack: `{"action":
    "$disconnect"}` invokes the `$disconnect` function with a MESSAGE event."""
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(json.dumps({"action": "$disconnect"}))
        ws.send(json.dumps({"action": "sendMessage", "text": "after"}))
        assert recv_json(ws)["echo"] == "after"
        connection_id = deployment.connection_id(tag)
    routed = deployment.records.events(connection_id, route="$disconnect", count=2)
    assert [e["requestContext"]["eventType"] for e in routed] == ["MESSAGE", "DISCONNECT"]


def test_ministack_difference_no_forbidden_frame_without_a_default_route(deployment: Deployment) -> None:
    """API Gateway: a message no route matches, with no `$default`, is answered with
    `{"message": "Forbidden", "connectionId", "requestId"}` and the socket stays open. ministack:
    nothing is sent; the socket stays open."""
    with open_ws(deployment.url(deployment.bare_api_id)) as ws:
        ws.send(json.dumps({"action": "nothingHere"}))
        assert nothing_arrives(ws)
        ws.send(json.dumps({"action": "sendMessage", "text": "still open"}))
        assert recv_json(ws)["echo"] == "still open"


def test_ministack_difference_handler_error_sends_the_error_message_as_text(
    deployment: Deployment, capsys: pytest.CaptureFixture
) -> None:
    """API Gateway: a handler that raises gets `{"message": "Internal server error",
    "connectionId", "requestId"}` sent to the client, and the socket stays open. ministack: the
    exception's message as a plain text frame (here "the handler failed"); the socket stays open,
    and the function's worker is restarted, so the next message pays a cold start."""
    url, _ = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(json.dumps({"action": "boom"}))
        assert ws.recv(timeout=WAIT) == "the handler failed"
        started = time.monotonic()
        ws.send(json.dumps({"action": "sendMessage", "text": "after", "quiet": True}))
        assert recv_json(ws) == {"route": "sendMessage", "echo": "after"}
        after_error = (time.monotonic() - started) * 1000
    with capsys.disabled():
        print(f"\nministack: first round trip after a handler error {after_error:.0f} ms (its worker restarted)")


def test_ministack_difference_handler_results_are_sent(deployment: Deployment) -> None:
    """API Gateway: a Lambda's result reaches the client only with a route response (two-way
    route); the project's routes have none. ministack: a result's `body` is always sent (the
    project's handlers return no body, so they are not affected)."""
    url, _ = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(json.dumps({"action": "answer"}))
        assert ws.recv(timeout=WAIT) == "route responses are not configured: never sent"


# ---- the authorizer and $connect -----------------------------------------------------------------


def test_authorizer_event_and_context_on_every_later_event(deployment: Deployment) -> None:
    url, tag = deployment.connect_url()
    with open_ws(url, additional_headers={"Authorization": "token-1"}) as ws:
        ws.send(json.dumps({"action": "sendMessage", "text": "x"}))
        recv_json(ws)
        connection_id = deployment.connection_id(tag)
    event = deployment.records.wait(f"authorizer/{tag}")[0]["event"]
    assert set(event) == set(AWS_AUTHORIZER)
    assert set(event["requestContext"]) == set(AWS_AUTHORIZER["requestContext"])
    assert event["type"] == "REQUEST" and event["stageVariables"] == {}
    assert event["methodArn"] == f"arn:aws:execute-api:{REGION}:000000000000:{deployment.api_id}/{STAGE}/$connect"
    assert event["queryStringParameters"] == {"token": "allow", "tag": tag}
    assert event["headers"]["authorization"] == "token-1"  # lower-cased, as on $connect

    later = [deployment.connect_event(tag), *deployment.records.events(connection_id, count=2)]
    assert [e["requestContext"]["routeKey"] for e in later] == ["$connect", "sendMessage", "$disconnect"]
    for e in later:
        assert e["requestContext"]["authorizer"] == AUTHORIZER_CONTEXT  # values stringified
    assert later[0]["requestContext"]["requestId"] == event["requestContext"]["requestId"]  # one request


@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param("deny", 403, id="explicit-deny"),
        pytest.param("otherapi", 403, id="other-api"),
        pytest.param("crash", 500, id="authorizer-error"),
        pytest.param("nopolicy", 500, id="no-policy"),
    ],
)
def test_authorizer_rejections(deployment: Deployment, token: str, status: int) -> None:
    url, tag = deployment.connect_url(token=token)
    assert connect_status(url) == status
    deployment.records.wait(f"authorizer/{tag}")  # it ran
    assert deployment.records.read(f"connect/{tag}") == []  # $connect did not


def test_missing_identity_source_is_401_without_invoking_the_authorizer(deployment: Deployment) -> None:
    url, tag = deployment.connect_url(token=None)
    assert connect_status(url) == 401
    time.sleep(0.3)
    assert deployment.records.read(f"authorizer/{tag}") == []
    assert deployment.records.read(f"connect/{tag}") == []


def test_ministack_difference_unauthorized_from_the_authorizer_is_500(deployment: Deployment) -> None:
    """API Gateway: an authorizer raising `Exception("Unauthorized")` answers 401. ministack: 500,
    as for any authorizer error (so a bad token is 500, a missing one 401)."""
    url, tag = deployment.connect_url(token="unauthorized")
    assert connect_status(url) == 500
    assert deployment.records.read(f"connect/{tag}") == []


def test_ministack_difference_nested_authorizer_context_is_dropped(deployment: Deployment) -> None:
    """API Gateway: context values must be strings, numbers or booleans; a nested object fails the
    authorization (500). ministack: the connection is accepted, the nested value left out."""
    url, tag = deployment.connect_url(token="nested")
    with open_ws(url):
        authorizer = deployment.connect_event(tag)["requestContext"]["authorizer"]
    assert authorizer == {"principalId": "customer-7"}


@pytest.mark.parametrize("status", [200, 204, 299])
def test_connect_accepted_with_any_2xx(deployment: Deployment, status: int) -> None:
    url, _ = deployment.connect_url(status=str(status))
    with open_ws(url) as ws:
        ws.ping().wait(WAIT)


def test_ministack_difference_connect_rejections_are_all_403(deployment: Deployment) -> None:
    """API Gateway: a `$connect` result with a non-2xx status rejects the upgrade with that status
    (401, 429, …), an exception with 502 (the notes; the project's gateway does so). ministack:
    403 for all of them."""
    measured = {}
    for status in ("400", "401", "404", "429", "500", "503", "raise"):
        url, _ = deployment.connect_url(status=status)
        measured[status] = connect_status(url)
    assert set(measured.values()) == {403}, measured


def test_ministack_difference_requested_subprotocol_is_not_echoed(deployment: Deployment) -> None:
    """API Gateway: a `Sec-WebSocket-Protocol` header in the `$connect` result is returned in the
    handshake. ministack: the handshake never selects a subprotocol."""
    url, tag = deployment.connect_url()
    with open_ws(url, subprotocols=["chat.v1", "chat.v0"]) as ws:
        assert ws.subprotocol is None
        assert deployment.connect_event(tag)["headers"]["sec-websocket-protocol"] == "chat.v1, chat.v0"


def test_unknown_api_is_refused(deployment: Deployment) -> None:
    assert connect_status(deployment.emulator.websocket_url("0000000a", STAGE)) == 403


def test_ministack_difference_unknown_stage_is_accepted(deployment: Deployment) -> None:
    """API Gateway: a stage the API does not have is refused (the project's gateway answers 404).
    ministack: the upgrade is accepted and the events name that stage."""
    url, tag = deployment.connect_url()
    url = url.replace(f"/{STAGE}?", "/nosuchstage?")
    with open_ws(url):
        assert deployment.connect_event(tag)["requestContext"]["stage"] == "nosuchstage"


# ---- limits and close codes ----------------------------------------------------------------------


def test_ministack_difference_binary_frames_are_routed(deployment: Deployment) -> None:
    """API Gateway: a binary frame closes the connection with 1003. ministack: it is decoded as
    UTF-8 and routed like text."""
    url, _ = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(b"\x00\x01binary")
        assert recv_json(ws) == {"route": "$default", "length": 8}
        ws.ping().wait(WAIT)


def test_ministack_difference_no_frame_or_message_size_limit(deployment: Deployment) -> None:
    """API Gateway: a message over 128 KB (or a frame over 32 KB) closes the connection with 1009.
    ministack: 200 KB in one frame is routed whole (its server, hypercorn, closes with 1009 only
    over 16 MiB)."""
    url, _ = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send("x" * 200_000)
        assert recv_json(ws) == {"route": "$default", "length": 200_000}


def test_fragmented_message_is_routed_whole(deployment: Deployment) -> None:
    url, _ = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(iter(["a" * 30_000, "b" * 30_000, "c" * 30_000]))  # one 90 KB message in three frames
        assert recv_json(ws) == {"route": "$default", "length": 90_000}


@pytest.mark.parametrize(
    ("close", "aws_code"),
    [
        pytest.param(lambda ws: ws.close(), 1000, id="normal"),
        pytest.param(lambda ws: ws.close(1001), 1001, id="going-away"),
        pytest.param(lambda ws: ws.close(4001, "logged out"), 4001, id="application-code"),
        pytest.param(close_without_status, 1005, id="no-status"),
        pytest.param(drop_tcp, 1006, id="tcp-dropped"),
    ],
)
def test_ministack_difference_disconnect_status_is_always_1006(
    deployment: Deployment, close: Callable, aws_code: int
) -> None:
    """API Gateway: `disconnectStatusCode`/`disconnectReason` are the client's close code and
    reason (1005 "Client-side close frame status not set" without one, 1006 for a dropped TCP
    connection). ministack: 1006 and "" whatever the client sent (its server, hypercorn, does not
    pass the close frame's code on to the application)."""
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        connection_id = deployment.connection_id(tag)
        close(ws)
        context = deployment.records.events(connection_id, route="$disconnect")[0]["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1006, "")


# ---- @connections --------------------------------------------------------------------------------


def test_connections_api_post_delete_and_gone(deployment: Deployment) -> None:
    api = deployment.management
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        connection_id = deployment.connection_id(tag)
        api.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "ack"}')
        assert ws.recv(timeout=WAIT) == '{"type": "ack"}'  # the raw bytes, as a text frame
        response = api.delete_connection(ConnectionId=connection_id)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert wait_closed(ws).rcvd.code == 1000
    deployment.records.events(connection_id, route="$disconnect")
    assert_gone(api, connection_id)


def test_ministack_difference_disconnect_after_delete_is_1005(deployment: Deployment) -> None:
    """API Gateway (as the project's gateway reproduces it): after DeleteConnection the client gets
    close 1000 and `$disconnect` has 1000 "Connection Closed Normally". ministack: close 1000, but
    `$disconnect` says 1005 and ""."""
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        connection_id = deployment.connection_id(tag)
        deployment.management.delete_connection(ConnectionId=connection_id)
        assert wait_closed(ws).rcvd.code == 1000
    context = deployment.records.events(connection_id, route="$disconnect")[0]["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1005, "")


def test_ministack_difference_get_connection_fields_are_not_read_by_boto3(deployment: Deployment) -> None:
    """API Gateway: GetConnection answers `{"connectedAt", "identity": {"sourceIp", "userAgent"},
    "lastActiveAt"}` (ISO-8601), which boto3 returns as ConnectedAt, Identity, LastActiveAt.
    ministack: `{"ConnectedAt", "Identity", "LastActiveAt"}` with integer epoch seconds, keys
    boto3 does not know, so its answer has none of the three. (The project never calls it.)"""
    url, tag = deployment.connect_url()
    with open_ws(url):
        connection_id = deployment.connection_id(tag)
        info = deployment.management.get_connection(ConnectionId=connection_id)
        endpoint = deployment.emulator.connections_url(deployment.api_id, STAGE)
        with urllib.request.urlopen(f"{endpoint}/@connections/{connection_id}", timeout=WAIT) as response:  # noqa: S310
            payload = json.loads(response.read())
    assert not {"ConnectedAt", "Identity", "LastActiveAt"} & set(info)
    assert set(payload) == {"ConnectedAt", "Identity", "LastActiveAt"}
    assert isinstance(payload["ConnectedAt"], int) and abs(payload["ConnectedAt"] - time.time()) < 5
    assert payload["Identity"] == {"sourceIp": "127.0.0.1", "userAgent": "order-agent-tests/1.0"}


def test_posting_to_a_closed_or_unknown_connection_raises_gone(deployment: Deployment) -> None:
    api = deployment.management
    url, tag = deployment.connect_url()
    with open_ws(url):
        connection_id = deployment.connection_id(tag)
    deployment.records.events(connection_id, route="$disconnect")
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"after close")
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"never existed")


def test_posting_while_connect_runs_raises_gone(deployment: Deployment) -> None:
    url, tag = deployment.connect_url(early="1")
    with open_ws(url) as ws:
        assert nothing_arrives(ws, within=0.3)  # the early post was not delivered later either
    outcome = deployment.records.s3.get_object(Bucket=BUCKET, Key=f"early/{tag}")["Body"].read()
    assert outcome == b"gone"


def test_ministack_difference_posts_over_128_kb_are_delivered(deployment: Deployment) -> None:
    """API Gateway: PostToConnection data over 131,072 bytes is refused with 413
    PayloadTooLargeException. ministack: it is delivered."""
    api = deployment.management
    url, tag = deployment.connect_url()
    with open_ws(url) as ws:
        connection_id = deployment.connection_id(tag)
        api.post_to_connection(ConnectionId=connection_id, Data=b"z" * 131_073)
        assert len(ws.recv(timeout=WAIT)) == 131_073


# ---- concurrency, streaming and latency ----------------------------------------------------------


def test_ministack_difference_one_event_at_a_time_per_connection(deployment: Deployment) -> None:
    """API Gateway: two quick messages of one connection may run in two invocations at once.
    ministack (like the project's gateway): one at a time, in arrival order."""
    url, _ = deployment.connect_url()
    count = 4
    with open_ws(url) as ws:
        for seq in range(count):
            ws.send(json.dumps({"action": "work", "seq": seq, "delay": (count - seq) * 0.05, "quiet": True}))
        frames = [recv_json(ws) for _ in range(2 * count)]
    done = [frame for frame in frames if "done" in frame]
    assert [frame["done"] for frame in done] == list(range(count))  # later ones are quicker: no reordering
    for earlier, later in itertools.pairwise(done):
        assert earlier["end"] <= later["start"]  # never two of one connection at once


def test_posts_during_an_invocation_arrive_at_once(deployment: Deployment) -> None:
    """Streaming works: a post reaches the client while the handler is still running."""
    url, _ = deployment.connect_url()
    with open_ws(url) as ws:
        ws.send(json.dumps({"action": "work", "seq": 0, "delay": 0.5, "quiet": True}))
        assert recv_json(ws) == {"started": 0}
        arrived = time.time()
        done = recv_json(ws)
    assert arrived < done["end"]


def test_ministack_difference_one_invocation_at_a_time_per_function(deployment: Deployment) -> None:
    """API Gateway (and the project's gateway): invocations for different connections run at the
    same time, in separate execution environments. ministack: one worker per function runs the
    WebSocket events of all connections one after the other, so a long turn of one customer holds
    up every other customer's messages."""
    urls = [deployment.connect_url()[0] for _ in range(2)]
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(open_ws(url)) for url in urls]
        barrier = threading.Barrier(2, timeout=WAIT)
        results: list[dict] = []

        def run(ws: ClientConnection, seq: int) -> None:
            barrier.wait()
            ws.send(json.dumps({"action": "work", "seq": seq, "delay": 0.4, "quiet": True}))
            frames = [recv_json(ws), recv_json(ws)]
            results.append(frames[1])

        threads = [threading.Thread(target=run, args=(ws, i)) for i, ws in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
    assert len(results) == 2
    first, second = sorted(results, key=lambda r: r["start"])
    assert first["end"] <= second["start"]  # serialised


def _round_trips(ws: ClientConnection, count: int) -> list[float]:
    times = []
    for n in range(count):
        started = time.perf_counter()
        ws.send(json.dumps({"action": "echo", "n": n}))
        assert recv_json(ws) == {"echo": n}
        times.append((time.perf_counter() - started) * 1000)
    return times


def test_latency_of_one_echo_round_trip(deployment: Deployment, capsys: pytest.CaptureFixture) -> None:
    """Printed, never asserted: the figures depend on the machine. The project's gateway runs the
    same kind of handler in process (posting through boto3 as well), for comparison."""
    url, _ = deployment.connect_url()
    with open_ws(url) as ws:
        cold = _round_trips(ws, 1)[0]  # the echo function has not run yet
        warm = _round_trips(ws, 30)
    started = time.perf_counter()
    with open_ws(deployment.connect_url()[0]):
        warm_connect = (time.perf_counter() - started) * 1000

    holder: dict[str, Any] = {}

    def echo(event: dict, context: Any) -> dict:
        n = json.loads(event["body"])["n"]
        holder["api"].post_to_connection(
            ConnectionId=event["requestContext"]["connectionId"], Data=json.dumps({"echo": n})
        )
        return {"statusCode": 200}

    gateway = LocalGateway(GatewayConfig(routes={"echo": echo})).start()
    try:
        holder["api"] = management_client(gateway.management_url)
        with open_ws(gateway.url) as ws:
            local_cold = _round_trips(ws, 1)[0]
            local_warm = _round_trips(ws, 30)
    finally:
        gateway.stop()
    with capsys.disabled():
        print(
            f"\necho round trip, ministack: cold {cold:.0f} ms, warm p50 {statistics.median(warm):.1f} ms"
            f" (max {max(warm):.1f} ms, n={len(warm)}); handshake with authorizer + $connect:"
            f" cold {deployment.first_connect_s * 1000:.0f} ms, warm {warm_connect:.0f} ms"
            f"\necho round trip, project gateway: first {local_cold:.0f} ms, warm p50"
            f" {statistics.median(local_warm):.1f} ms (max {max(local_warm):.1f} ms, n={len(local_warm)})"
        )
