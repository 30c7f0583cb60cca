"""The trace forwarder Lambda: an SQS event source mapping on the trace queue, ReportBatchItemFailures.
Thin on purpose: the logic is in order_agent.trace_forwarder."""

from typing import Any

from order_agent.settings import get_settings
from order_agent.trace_forwarder import TraceForwarder

# At init, not per batch: the clients and MLflow's configuration live as long as the process.
_forwarder = TraceForwarder(get_settings())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _forwarder.handle_batch(event)
