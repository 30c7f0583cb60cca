"""Events API Gateway really sent (WebSocket $connect, message, $disconnect, REQUEST authorizer), as
recorded in Powertools for AWS Lambda (Python) and aws-lambda-go (embedded, trimmed; the source is
named above each one), and the value formats every requestContext has. The local gateway's and the
emulator's events are compared with these."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

# ---- events API Gateway really sent ------------------------------------------------------------

# aws-powertools/powertools-lambda-python: tests/events/apiGatewayWebSocketApiConnect.json
AWS_CONNECT = json.loads(r"""{
  "headers": {"Host": "fjnq7njcv2.execute-api.us-east-1.amazonaws.com",
    "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    "Sec-WebSocket-Key": "+W5xw47OHh3OTFsWKjGu9Q==", "Sec-WebSocket-Version": "13",
    "X-Amzn-Trace-Id": "Root=1-6731ebfc-08e1e656421db73c5d2eef31", "X-Forwarded-For": "166.90.225.1",
    "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
  "multiValueHeaders": {"Host": ["fjnq7njcv2.execute-api.us-east-1.amazonaws.com"],
    "Sec-WebSocket-Key": ["+W5xw47OHh3OTFsWKjGu9Q=="], "Sec-WebSocket-Version": ["13"]},
  "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": "BFHPhFe3IAMF95g=",
    "requestTime": "11/Nov/2024:11:35:24 +0000", "messageDirection": "IN", "stage": "prod",
    "connectedAt": 1731324924553, "requestTimeEpoch": 1731324924561, "identity": {"sourceIp": "166.90.225.1"},
    "requestId": "BFHPhFe3IAMF95g=", "domainName": "asasasas.execute-api.us-east-1.amazonaws.com",
    "connectionId": "BFHPhfCWIAMCKlQ=", "apiId": "asasasas"},
  "isBase64Encoded": false
}""")

# aws-powertools/powertools-lambda-python: tests/events/apiGatewayWebSocketApiMessage.json
AWS_MESSAGE = json.loads(r"""{
  "requestContext": {"routeKey": "chat", "messageId": "BFaVtfGSIAMCKug=", "eventType": "MESSAGE",
    "extendedRequestId": "BFaVtH2HoAMFZEQ=", "requestTime": "11/Nov/2024:13:45:46 +0000", "messageDirection": "IN",
    "stage": "prod", "connectedAt": 1731332735513, "requestTimeEpoch": 1731332746514,
    "identity": {"sourceIp": "166.90.225.1"}, "requestId": "BFaVtH2HoAMFZEQ=",
    "domainName": "asasasas.execute-api.us-east-1.amazonaws.com", "connectionId": "BFaT_fALIAMCKug=",
    "apiId": "asasasas"},
  "body": "{\"action\": \"chat\", \"message\": \"Hello from client\"}",
  "isBase64Encoded": false
}""")

# aws-powertools/powertools-lambda-python: tests/events/apiGatewayWebSocketApiDisconnect.json
AWS_DISCONNECT = json.loads(r"""{
  "headers": {"Host": "asasasas.execute-api.us-east-1.amazonaws.com", "x-api-key": "", "X-Forwarded-For": "",
    "x-restapi": ""},
  "multiValueHeaders": {"Host": ["asasasas.execute-api.us-east-1.amazonaws.com"], "x-api-key": [""],
    "X-Forwarded-For": [""], "x-restapi": [""]},
  "requestContext": {"routeKey": "$disconnect", "disconnectStatusCode": 1005, "eventType": "DISCONNECT",
    "extendedRequestId": "BFbOeE87IAMF31w=", "requestTime": "11/Nov/2024:13:51:49 +0000", "messageDirection": "IN",
    "disconnectReason": "Client-side close frame status not set", "stage": "prod", "connectedAt": 1731332735513,
    "requestTimeEpoch": 1731333109875, "identity": {"sourceIp": "166.90.225.1"}, "requestId": "BFbOeE87IAMF31w=",
    "domainName": "asasasas.execute-api.us-east-1.amazonaws.com", "connectionId": "BFaT_fALIAMCKug=",
    "apiId": "asasasas"},
  "isBase64Encoded": false
}""")

# aws/aws-lambda-go: events/testdata/apigw-websocket-request-send-message.json (a browser: userAgent present)
AWS_MESSAGE_WITH_UA = json.loads(r"""{
  "requestContext": {"routeKey": "$default", "messageId": "R1knPc2ntjMCFIA=", "eventType": "MESSAGE",
    "extendedRequestId": "R1knPH17NjMFftw=", "requestTime": "20/Jan/2024:11:55:00 +0000", "messageDirection": "IN",
    "stage": "prod", "connectedAt": 1705751697419, "requestTimeEpoch": 1705751700453,
    "identity": {"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "sourceIp": "49.105.91.154"},
    "requestId": "R1knPH17NjMFftw=", "domainName": "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
    "connectionId": "R1kmxc2VNjMCFIA=", "apiId": "gy415nuibc"},
  "body": "{\r\n\t\"a\": 1\r\n}",
  "isBase64Encoded": false
}""")

# aws/aws-lambda-go: events/testdata/apigw-websocket-request-disconnect.json (a browser tab closed: 1001, "")
AWS_DISCONNECT_1001 = json.loads(r"""{
  "requestContext": {"routeKey": "$disconnect", "disconnectStatusCode": 1001, "eventType": "DISCONNECT",
    "extendedRequestId": "R1koeHsUtjMFbRw=", "requestTime": "20/Jan/2024:11:55:08 +0000", "messageDirection": "IN",
    "disconnectReason": "", "stage": "prod", "connectedAt": 1705751697419, "requestTimeEpoch": 1705751708326,
    "identity": {"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "sourceIp": "49.105.91.154"},
    "requestId": "R1koeHsUtjMFbRw=", "domainName": "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
    "connectionId": "R1kmxc2VNjMCFIA=", "apiId": "dl7ptocha9"},
  "isBase64Encoded": false
}""")

# aws-powertools/powertools-lambda-python: tests/events/apiGatewayAuthorizerWebSocketEvent.json
AWS_AUTHORIZER = json.loads(r"""{
  "type": "REQUEST",
  "methodArn": "arn:aws:execute-api:us-east-1:533568316194:c5jwxq709g/production/$connect",
  "headers": {"Authorization": "Leo", "Connection": "upgrade", "content-length": "0",
    "Host": "c5jwxq709g.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13", "Upgrade": "websocket",
    "X-Amzn-Trace-Id": "Root=1-6797b6d3-64f9c928577f3ac56f5368ce", "X-Forwarded-For": "93.108.161.96",
    "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"},
  "multiValueHeaders": {"Authorization": ["Leo"], "Connection": ["upgrade"], "content-length": ["0"]},
  "queryStringParameters": {}, "multiValueQueryStringParameters": {}, "stageVariables": {},
  "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": "FDmBIG3EoAMEqYA=",
    "requestTime": "27/Jan/2025:16:39:47 +0000", "messageDirection": "IN", "stage": "production",
    "connectedAt": 1737995987617, "requestTimeEpoch": 1737995987617, "identity": {"sourceIp": "93.108.161.96"},
    "requestId": "FDmBIG3EoAMEqYA=", "domainName": "c5jwxq709g.execute-api.us-east-1.amazonaws.com",
    "connectionId": "FDmBIeapIAMCIQg=", "apiId": "c5jwxq709g"}
}""")

ID = re.compile(r"^[A-Za-z0-9_+/-]{15}=$")  # connection, request and message ids: 16 base64 chars
REQUEST_TIME = re.compile(r"^\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")
TRACE_ID = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")


def check_context_formats(context: dict[str, Any]) -> None:
    """Value formats shared by every requestContext; run on AWS's events too, to keep it honest."""
    for key in ("connectionId", "requestId", "extendedRequestId"):
        assert ID.match(context[key]), (key, context[key])
    assert context["requestId"] == context["extendedRequestId"]
    if "messageId" in context:
        assert ID.match(context["messageId"]) and context["messageId"] != context["requestId"]
    assert REQUEST_TIME.match(context["requestTime"]), context["requestTime"]
    for key in ("connectedAt", "requestTimeEpoch"):
        assert isinstance(context[key], int) and len(str(context[key])) == 13, (key, context[key])  # epoch ms
    assert context["requestTimeEpoch"] >= context["connectedAt"]
    stamped = datetime.strptime(context["requestTime"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(stamped.timestamp() - context["requestTimeEpoch"] / 1000) < 1.0  # the same instant, to the second
    assert context["messageDirection"] == "IN"
    assert context["eventType"] in ("CONNECT", "MESSAGE", "DISCONNECT")
