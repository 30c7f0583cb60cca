"""Recording Lambda handlers for test_emulator_gateway.py: zipped by the test and run by the emulator.

Not imported by the tests themselves. Every handler stores the event it got (and a few context
attributes) as a JSON object in the emulator's S3 bucket `EVENTS_BUCKET`, so the test reads the
events exactly as the emulator delivered them; message handlers answer through `@connections` at
`MANAGEMENT_URL` (the emulator's events name a domain without its port, so it is configured).

Keys: `authorizer/<tag>/…` and `connect/<tag>/…` (the client's `tag` query parameter, as the
connection id is not known to the client yet), `events/<connectionId>/…` for everything later.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from botocore.config import Config

BUCKET = os.environ.get("EVENTS_BUCKET", "")
_s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
_api = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ.get("MANAGEMENT_URL"))


def _record(event: dict, context: Any, prefix: str) -> None:
    request_context = event.get("requestContext") or {}
    kind = (request_context.get("routeKey") or event.get("type") or "unknown").lstrip("$")
    attributes = {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    body = json.dumps({"event": event, "context": attributes}).encode()
    _s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{time.time_ns()}-{kind}.json", Body=body)


def _connection_id(event: dict) -> str:
    return event["requestContext"]["connectionId"]


def _query(event: dict) -> dict:
    return event.get("queryStringParameters") or {}


def _post(event: dict, payload: dict) -> None:
    _api.post_to_connection(ConnectionId=_connection_id(event), Data=json.dumps(payload).encode())


def authorizer(event: dict, context: Any) -> dict:
    """REQUEST authorizer; the `token` query parameter says what to answer."""
    _record(event, context, f"authorizer/{_query(event).get('tag', 'none')}")
    token = _query(event).get("token")
    if token == "unauthorized":
        raise Exception("Unauthorized")  # the message API Gateway turns into 401
    if token == "crash":
        raise ValueError("token service unavailable")
    if token == "nopolicy":
        return {"principalId": "x"}
    effect = "Deny" if token == "deny" else "Allow"
    resource = "arn:aws:execute-api:*:*:other0000/*" if token == "otherapi" else event["methodArn"]
    context_values = {"nested": {"a": 1}} if token == "nested" else {"customerId": "c-1", "tier": 3, "verified": True}
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return {
        "principalId": "customer-7",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        "context": context_values,
    }


def connect(event: dict, context: Any) -> dict:
    """$connect: `status` (a number, or `raise`) and `early` (post before returning) from the query."""
    query = _query(event)
    _record(event, context, f"connect/{query.get('tag', 'none')}")
    if query.get("early"):
        try:
            _api.post_to_connection(ConnectionId=_connection_id(event), Data=b"too early")
            outcome = "delivered"
        except _api.exceptions.GoneException:
            outcome = "gone"
        except Exception as exc:
            outcome = repr(exc)
        _s3.put_object(Bucket=BUCKET, Key=f"early/{query['tag']}", Body=outcome.encode())
    if query.get("status") == "raise":
        raise RuntimeError("database down")
    headers = event.get("headers") or {}
    offered = headers.get("Sec-WebSocket-Protocol") or headers.get("sec-websocket-protocol") or ""
    response_headers = {"Sec-WebSocket-Protocol": "chat.v1"} if "chat.v1" in offered else {}
    return {"statusCode": int(query.get("status", 200)), "headers": response_headers}


def disconnect(event: dict, context: Any) -> dict:
    _record(event, context, f"events/{_connection_id(event)}")
    return {"statusCode": 200}


def message(event: dict, context: Any) -> dict | None:
    """sendMessage (echo; `whoami` adds the connection id), $default (length), boom (raises), answer (returns a body), work (timed)."""
    route = event["requestContext"]["routeKey"]
    try:
        body = json.loads(event["body"])
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    if not body.get("quiet"):
        _record(event, context, f"events/{_connection_id(event)}")
    if route == "sendMessage":
        who = {"connectionId": _connection_id(event)} if body.get("whoami") else {}
        _post(event, {"route": route, "echo": body.get("text"), **who})
    elif route == "boom":
        raise RuntimeError("the handler failed")
    elif route == "answer":
        return {"statusCode": 200, "body": "route responses are not configured: never sent"}
    elif route == "work":
        start = time.time()
        _post(event, {"started": body["seq"]})
        time.sleep(body["delay"])
        _post(event, {"done": body["seq"], "start": start, "end": time.time()})
    else:
        _post(event, {"route": route, "length": len(event["body"])})
    return {"statusCode": 200}


def echo(event: dict, context: Any) -> dict:
    """The latency probe: one post back, nothing recorded."""
    _post(event, {"echo": json.loads(event["body"]).get("n")})
    return {"statusCode": 200}
