"""The message function's start: what is loaded before a SnapStart snapshot, and renewed after a restore.

Importing the handler loads only the edge (parsing, limits, posting). `prepare()`, which the handler
calls at import, registers two SnapStart runtime hooks (the `snapshot_restore_py` library of the
Lambda Python runtimes):

- before the snapshot, `warm()`: imports and builds what the first turn needs — LangGraph and the
  agent's graph (compiled once, so its schema work is done), the stage prompts and tool specs, the
  protocol's and Powertools' pydantic validators, botocore's service models. It opens no
  connection, creates no AWS client and reads no credential or secret: the snapshot is shared by
  every environment restored from it, and what it holds must be the same for all of them;
- after each restore, `after_restore()`: re-seeds `random` (every restore would otherwise draw the
  same numbers). Clients, the DynamoDB and database connections and the credentials are created on
  the first message after the restore, as `Edge`, `Agent` and `Database` do lazily.

On an on-demand or provisioned-concurrency start (SnapStart off) `prepare()` warms at once, in the
init phase; anywhere else (tests, the local gateway, the import benchmark) the first message loads
what it needs.
"""

from __future__ import annotations

import os
import random
from typing import Any

# Lambda's init types (AWS_LAMBDA_INITIALIZATION_TYPE) on which the init phase itself should warm.
WARM_AT_INIT = {"on-demand", "provisioned-concurrency"}
# The AWS services the message function calls (botocore's models, loaded without a client).
SERVICES = ("dynamodb", "apigatewaymanagementapi", "bedrock-runtime", "s3", "events")
# A sendMessage event as API Gateway sends it, to run the validators once.
_SAMPLE_EVENT = {
    "requestContext": {
        "routeKey": "sendMessage",
        "messageId": "warm",
        "eventType": "MESSAGE",
        "extendedRequestId": "warm",
        "requestTime": "01/Jan/2026:00:00:00 +0000",
        "messageDirection": "IN",
        "stage": "live",
        "connectedAt": 0,
        "requestTimeEpoch": 0,
        "identity": {"sourceIp": "127.0.0.1"},
        "requestId": "warm",
        "domainName": "example.com",
        "connectionId": "warm",
        "apiId": "warm",
    },
    "body": '{"action": "sendMessage", "sessionId": "warm", "messageId": "warm", "text": "hello"}',
    "isBase64Encoded": False,
}


def warm() -> None:
    """Import and build what the first turn needs, without a connection, a client or a credential."""
    import boto3
    import botocore.session
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import APIGatewayWebSocketMessageEventModel

    import order_agent.agent.service  # LangGraph, the tools, tracing: what Agent needs
    import order_agent.conversations.checkpoint_saver  # noqa: F401 (the DynamoDB saver)
    from order_agent.agent.graph import graph_builder, prompt, tool_specs
    from order_agent.edge.protocol import CLIENT_MESSAGE

    graph_builder().compile()
    for stage in ("entry_intent", "order_confirmation", "resolution"):
        prompt(stage)
    tool_specs()
    parse(event=_SAMPLE_EVENT, model=APIGatewayWebSocketMessageEventModel)
    CLIENT_MESSAGE.validate_json(_SAMPLE_EVENT["body"])
    # boto3.client() uses the default session: one whose loader has read the services' models and
    # endpoint rules. A session holds no credentials until a client asks for them (after the restore).
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    for service in SERVICES:
        session.get_service_model(service)
        loader.load_service_model(service, "endpoint-rule-set-1")
    for data in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        loader.load_data(data)
    boto3.setup_default_session(botocore_session=session)


def after_restore() -> None:
    """Make this environment's own what the snapshot shares with every other one."""
    random.seed()  # from os.urandom: each restored environment draws its own numbers


def prepare(hooks: Any = None) -> None:
    """Register the SnapStart hooks (with `hooks`, a stand-in for snapshot_restore_py in tests); on
    a Lambda init that SnapStart does not snapshot, warm now."""
    if hooks is None:
        try:
            import snapshot_restore_py as hooks  # in the Lambda Python runtimes (3.12+)
        except ImportError:
            hooks = None
    if hooks is not None:
        hooks.register_before_snapshot(warm)
        hooks.register_after_restore(after_restore)
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") in WARM_AT_INIT:
        warm()
