"""Events from an emulator that leaves out fields API Gateway always sends still parse; API Gateway's
own events are passed through untouched."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)

from order_agent.edge.handlers import _with_required_fields

CONTEXT = {
    "routeKey": "$default", "eventType": "MESSAGE", "extendedRequestId": "x", "requestTime": "03/Dec/2026:08:00:00 +0000",
    "stage": "local", "connectedAt": 1, "requestTimeEpoch": 1, "identity": {"sourceIp": "127.0.0.1"},
    "requestId": "r", "domainName": "abc.execute-api.127.0.0.1", "connectionId": "c1", "apiId": "abc", "messageId": "m",
}  # fmt: skip


def test_an_api_gateway_event_is_returned_unchanged():
    event = {"requestContext": {**CONTEXT, "messageDirection": "IN"}, "body": "{}", "isBase64Encoded": False}
    assert _with_required_fields(event) is event


def test_an_emulator_message_without_message_direction_parses():
    event = {"requestContext": dict(CONTEXT), "body": "{}", "isBase64Encoded": False}
    parsed = parse(event=_with_required_fields(event), model=APIGatewayWebSocketMessageEventModel)
    assert parsed.request_context.connection_id == "c1"
    assert "messageDirection" not in event["requestContext"]  # the caller's event is not changed


def test_an_emulator_disconnect_without_headers_parses():
    context = {**CONTEXT, "routeKey": "$disconnect", "eventType": "DISCONNECT", "disconnectStatusCode": 1006,
               "disconnectReason": ""}  # fmt: skip
    context.pop("messageId")
    event = {"requestContext": context, "isBase64Encoded": False}
    parsed = parse(event=_with_required_fields(event), model=APIGatewayWebSocketDisconnectEventModel)
    assert parsed.request_context.event_type == "DISCONNECT"
