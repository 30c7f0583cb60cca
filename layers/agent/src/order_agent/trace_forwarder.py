"""The trace forwarder: turns the traces the message function handed off (order_agent.tracing) into
MLflow traces, with every span, tag, attribute and their real start and end times.

    forwarder = TraceForwarder(settings)
    forwarder.handle_batch(sqs_event)          # the Lambda handler: {"batchItemFailures": [...]}
    forwarder.drain(queue_url)                 # local runs and tests: the same, pulling from the queue
    replay_dead_letters(sqs, dlq_url, queue_url)  # what could not be delivered, back on the queue

Delivery is at least once: a trace is acknowledged (deleted from the queue) only after MLflow took it;
a failure leaves it on the queue, which offers it again after its visibility timeout and, after
maxReceiveCount attempts, moves it to the dead-letter queue (terraform/modules/trace_pipeline).

MLflow's exporter logs and swallows its failures (tracing must never break an application); here a
failure must be known, to keep the message, so the exporter's failure log records of one trace's
export are collected and turn into `DeliveryFailed`.

This module imports `mlflow-tracing`, which only the forwarder's layer carries: nothing on the
message function's path imports it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from order_agent.logs import service_name
from order_agent.settings import Settings
from order_agent.tracing import FORMAT_VERSION, trace_client

logger = Logger(service=service_name(), child=True)

# MLflow's synchronous exporter: it reports a failed export only as a log record of this logger.
EXPORTER_LOGGER = "mlflow.tracing.export.mlflow_v3"


class DeliveryFailed(Exception):
    """MLflow did not take the trace (the message stays on the queue)."""


def load(body: str, s3: Any = None) -> dict[str, Any]:
    """The serialized trace of a queue message: in the body, or in S3 where the body points."""
    payload = json.loads(body)
    if payload.get("format") != FORMAT_VERSION:
        raise ValueError(f"unknown trace format {payload.get('format')!r}")
    if "s3" in payload:
        location = payload["s3"]
        payload = json.loads(s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read())
    return payload


class _FailureLog(logging.Handler):
    """Collects what MLflow's exporter says went wrong while one trace is exported."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING or message.startswith("Failed"):
            self.failures.append(message)


@contextmanager
def _exporter_failures() -> Iterator[_FailureLog]:
    exporter_logger = logging.getLogger(EXPORTER_LOGGER)
    handler, level = _FailureLog(), exporter_logger.level
    exporter_logger.addHandler(handler)
    exporter_logger.setLevel(logging.DEBUG)  # its span-upload failures are debug records
    try:
        yield handler
    finally:
        exporter_logger.removeHandler(handler)
        exporter_logger.setLevel(level)


def rebuild(payload: dict[str, Any], experiment_id: str) -> str:
    """Replay the serialized trace through `mlflow-tracing` with its recorded start and end times; the
    root's end exports it (synchronously). Returns the MLflow trace id; raises `DeliveryFailed`."""
    import mlflow
    from mlflow.entities import SpanEvent, SpanStatus, SpanStatusCode

    def finish(live: Any, record: dict[str, Any]) -> None:
        error = record.get("error")
        if error:
            live.add_event(SpanEvent("exception", attributes={"exception.message": error}))
        status = SpanStatus(SpanStatusCode.ERROR, error) if error else SpanStatus(SpanStatusCode.OK)
        live.end(outputs=record["outputs"], status=status, end_time_ns=record["end_ns"])

    def replay(parent: Any, record: dict[str, Any]) -> None:
        live = mlflow.start_span_no_context(
            record["name"],
            span_type=record["span_type"],
            parent_span=parent,
            inputs=record["inputs"],
            attributes=record["attributes"],
            start_time_ns=record["start_ns"],
        )
        for child in record["children"]:
            replay(live, child)
        finish(live, record)

    root = payload["root"]
    with _exporter_failures() as failures:
        live_root = mlflow.start_span_no_context(
            root["name"],
            span_type=root["span_type"],
            inputs=root["inputs"],
            attributes=root["attributes"],
            tags=payload["tags"],
            metadata=payload["metadata"],
            experiment_id=experiment_id,
            start_time_ns=root["start_ns"],
        )
        for child in root["children"]:
            replay(live_root, child)
        finish(live_root, root)  # the root's end sends the trace
    if failures.failures:
        raise DeliveryFailed("; ".join(failures.failures))
    return live_root.trace_id


@dataclass
class DrainResult:
    delivered: list[str] = field(default_factory=list)  # MLflow trace ids
    failed: int = 0  # attempts that failed (the messages stay on the queue)


class TraceForwarder:
    """Delivers serialized traces to the MLflow tracking server of the settings."""

    def __init__(self, settings: Settings, sqs: Any = None, s3: Any = None) -> None:
        self.settings = settings
        self._sqs = sqs or trace_client("sqs", settings.aws_region, settings.aws_endpoint_url)
        self._s3 = s3 or trace_client("s3", settings.aws_region, settings.aws_endpoint_url)
        self._lock = threading.Lock()

    def forward(self, body: str) -> str:
        """Deliver one queue message's trace; its MLflow trace id. Raises on any failure."""
        payload = load(body, self._s3)
        with self._lock:  # MLflow's tracking URI and experiment are process-wide
            experiment_id = configure_mlflow(self.settings)
            return rebuild(payload, experiment_id)

    def _try(self, message_id: str, body: str) -> str | None:
        try:
            return self.forward(body)
        except Exception as exc:
            logger.warning("trace message %s not delivered (it stays on the queue): %s", message_id, exc)
            return None

    def handle_batch(self, event: dict[str, Any]) -> dict[str, Any]:
        """An SQS event source mapping's batch, with ReportBatchItemFailures: only the messages
        named in the answer come back (the others are deleted)."""
        failures = []
        for record in event.get("Records", []):
            if self._try(record["messageId"], record["body"]) is None:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def drain(self, queue_url: str, *, max_batches: int = 100, wait_s: int = 0) -> DrainResult:
        """What the event source mapping does, for a process that runs no mapping (tests, `make bench`):
        receive batches of up to 10, deliver, delete what was delivered, until the queue is empty."""
        result = DrainResult()
        for _ in range(max_batches):
            received = self._sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
            ).get("Messages", [])
            if not received:
                break
            done = []
            for message in received:
                trace_id = self._try(message["MessageId"], message["Body"])
                if trace_id is None:
                    result.failed += 1
                else:
                    result.delivered.append(trace_id)
                    done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
            if done:
                self._sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
            if len(done) < len(received):
                break  # the failed ones are invisible until their timeout: do not spin on them
        return result


def replay_dead_letters(sqs: Any, dead_letter_url: str, queue_url: str, *, max_batches: int = 100) -> int:
    """Move every message of the dead-letter queue back to the trace queue (the forwarder tries them
    again); the number moved. In AWS `aws sqs start-message-move-task --source-arn <DLQ ARN>` does the
    same (`make trace-replay`)."""
    moved = 0
    for _ in range(max_batches):
        received = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10).get("Messages", [])
        if not received:
            break
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(received)],
        )
        sqs.delete_message_batch(
            QueueUrl=dead_letter_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
        moved += len(received)
    return moved


# -- MLflow configuration (process-wide) -------------------------------------------------------------------

_configured: dict[tuple[str, str], str] = {}  # (tracking URI, experiment name) -> experiment id
_tracking_uri: str | None = None  # what this module last gave mlflow.set_tracking_uri


def set_tracking_uri(uri: str) -> None:
    """`mlflow.set_tracking_uri`, without its side effect: MLflow also writes the URI to the
    environment, where MLFLOW_TRACKING_URI is one of our settings (and would outlive the call)."""
    import mlflow

    ours = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if ours is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = ours


def configure_mlflow(settings: Settings) -> str:
    """Point MLflow at the settings' server and experiment (once per process and pair); the experiment id."""
    if not settings.mlflow_tracking_uri:
        raise DeliveryFailed("MLFLOW_TRACKING_URI is not set")
    uri, name = settings.mlflow_tracking_uri, settings.mlflow_experiment_name
    # Read by MLflow when its exporter and HTTP sessions are made: set before the first span.
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # a failure must be seen before the ack
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # no calls to MLflow's telemetry host
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(settings.trace_export_timeout_s)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.trace_export_max_retries)
    import mlflow

    global _tracking_uri
    # Not mlflow.get_tracking_uri(): with no URI set it looks for ./mlruns through full mlflow's file store.
    if _tracking_uri != uri:
        set_tracking_uri(uri)
        _tracking_uri = uri
    if settings.mlflow_experiment_id:
        return settings.mlflow_experiment_id
    if (uri, name) not in _configured:
        # One REST call per process (two when the experiment is new): set_experiment creates it.
        _configured[(uri, name)] = mlflow.set_experiment(name).experiment_id
    return _configured[(uri, name)]
