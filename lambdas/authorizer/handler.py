"""The `$connect` REQUEST authorizer Lambda of the WebSocket API. Thin on purpose: the logic is in order_agent.edge.

API Gateway calls it before `$connect`; it returns an IAM policy allowing `execute-api:Invoke` on the event's
`methodArn` (with `principalId` and a flat `context`), or fails with "Unauthorized", which API Gateway answers with 401.
"""

from __future__ import annotations

from typing import Any

from order_agent.edge.auth import authorize
from order_agent.settings import get_settings


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event, get_settings())
