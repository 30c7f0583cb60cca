"""The `$connect` REQUEST authorizer Lambda of the WebSocket API. Thin on purpose: the logic is in order_agent.edge.

API Gateway calls it before `$connect`; it returns an IAM policy allowing `execute-api:Invoke` on the event's
`methodArn` (with `principalId` and a flat `context`), or fails with "Unauthorized", which API Gateway answers with 401.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from order_agent.edge.auth import authorize
from order_agent.logs import entry_point, service_name
from order_agent.settings import get_settings

# The parent of order_agent.edge.auth's logger: its records carry API Gateway's request id as correlation id.
logger = Logger(service=service_name())


@entry_point(logger, correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event, get_settings())
