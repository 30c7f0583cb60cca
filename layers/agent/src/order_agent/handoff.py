"""A handoff that reaches people: after `transfer_to_human_agents` has recorded the handoff in the
database, one event goes to the system's EventBridge bus, where the helpdesk subscribes (an email
through SNS, a queue, any EventBridge target: docs/deployment.md "Handoffs to the helpdesk").

    source       "order-agent"
    detail-type  "Conversation handed off"
    detail       HandoffDetail: handoff id, reference, session, customer, redacted summary,
                 where the transcript is, when

Delivery is at least once: a consumer de-duplicates on `detail.handoff_id`, which is derived from
the conversation's id (a conversation is handed off once; a retried turn that hands off again
publishes the same id). The customer is told what happens next only as far as it is true: the
texts are settings (HANDOFF_REPLY_TEXT, ...), and a publish that failed is said as such, never
raised: the turn goes on, the failure is logged with the session id and counted in the turn's
log record (`handoff_published: false`), which an alarm watches.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from order_agent.logs import service_name
from order_agent.settings import Settings
from order_agent.tracing import TOOL, Redactor, SpanRecord, span

logger = Logger(service=service_name(), child=True)

EVENT_SOURCE = "order-agent"
DETAIL_TYPE = "Conversation handed off"
SCHEMA_VERSION = 1
SUMMARY_MAX_CHARS = 2000  # an email's worth; the transcript has the rest
# A fixed namespace: the same conversation gives the same handoff id in every process.
_HANDOFF_NAMESPACE = uuid.UUID("6f1c2a0e-3a57-4c1b-9d3e-5b8f0e7a4c21")
_CHECKPOINT_PREFIX = "CHECKPOINT_"  # langgraph-checkpoint-aws DynamoDBSaver: PK of a thread's checkpoints


class MlflowLocation(BaseModel):
    tracking_uri: str  # a URL, or the SageMaker tracking server's ARN
    experiment: str  # the experiment's id when known, else its name
    session_filter: str  # the MLflow search filter of this conversation's traces (one per turn)


class TranscriptLocation(BaseModel):
    """Where the whole conversation can be read (the summary is redacted; these are not)."""

    dynamodb_table: str
    partition_key: str  # the items with this PK are the conversation's LangGraph checkpoints
    thread_id: str  # LangGraph's thread id: `graph.get_state({"configurable": {"thread_id": ...}})`
    s3_bucket: str | None = None  # checkpoints too large for an item
    mlflow: MlflowLocation | None = None  # None: tracing is off


class HandoffDetail(BaseModel):
    """The `detail` of a handoff event: its schema, documented in docs/deployment.md."""

    version: int = SCHEMA_VERSION
    handoff_id: str = Field(description="De-duplication key: the same for every delivery of one handoff.")
    reference: str = Field(description="What the customer was told to quote: the handoff id's first 8 hex digits.")
    session_id: str
    customer_id: str | None = Field(description="The verified customer's user id; null when not verified.")
    summary: str = Field(description="The agent's summary, personal data redacted.")
    transcript: TranscriptLocation
    handed_off_at: datetime


def handoff_id(session_id: str) -> str:
    return str(uuid.uuid5(_HANDOFF_NAMESPACE, session_id))


def reference(session_id: str) -> str:
    return "H-" + handoff_id(session_id).replace("-", "")[:8].upper()


def redacted_summary(summary: str, transcript: list[dict[str, Any]]) -> str:
    """The summary with personal data replaced as in traces (tracing.Redactor): emails and payment
    method ids anywhere, and every name, address or zip the conversation's tool results revealed."""
    redact = Redactor([SpanRecord("transcript", TOOL, inputs=transcript)])
    text = redact.text(summary)
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 1] + "…"


def transcript_location(settings: Settings, session_id: str) -> TranscriptLocation:
    mlflow = None
    if settings.mlflow_tracking_uri:
        mlflow = MlflowLocation(
            tracking_uri=settings.mlflow_tracking_uri,
            experiment=settings.mlflow_experiment_id or settings.mlflow_experiment_name,
            session_filter=f"metadata.`mlflow.trace.session` = '{session_id}'",
        )
    return TranscriptLocation(
        dynamodb_table=settings.checkpoint_table,
        partition_key=f"{_CHECKPOINT_PREFIX}{session_id}",
        thread_id=session_id,
        s3_bucket=settings.checkpoint_bucket,
        mlflow=mlflow,
    )


def handoff_detail(
    settings: Settings, session_id: str, customer_id: str | None, summary: str, transcript: list[dict[str, Any]]
) -> HandoffDetail:
    return HandoffDetail(
        handoff_id=handoff_id(session_id),
        reference=reference(session_id),
        session_id=session_id,
        customer_id=customer_id,
        summary=redacted_summary(summary, transcript),
        transcript=transcript_location(settings, session_id),
        handed_off_at=datetime.now(UTC),
    )


@cache
def events_client(region: str, endpoint_url: str | None) -> Any:
    """One EventBridge client per process (and endpoint), at the endpoint the other AWS clients use.
    Short timeouts: the customer is waiting for this turn's answer."""
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("events", region_name=region, endpoint_url=endpoint_url, config=config)


class HandoffNotPublished(Exception):
    pass


class HandoffBusNotSet(HandoffNotPublished):
    """No HANDOFF_EVENT_BUS: a run without the deployed system (`order-agent chat`, evaluations)."""


def publish(settings: Settings, detail: HandoffDetail, client: Any = None) -> None:
    """Put the event on HANDOFF_EVENT_BUS; HandoffNotPublished when it is not there afterwards."""
    if not settings.handoff_event_bus:
        raise HandoffBusNotSet("HANDOFF_EVENT_BUS is not set: the handoff is only recorded in the database")
    client = client or events_client(settings.aws_region, settings.aws_endpoint_url)
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": detail.model_dump_json(),
        "EventBusName": settings.handoff_event_bus,
        "Time": detail.handed_off_at,
    }
    try:
        answer = client.put_events(Entries=[entry])
    except (BotoCoreError, ClientError) as exc:
        raise HandoffNotPublished(f"{type(exc).__name__}: {exc}") from exc
    if answer.get("FailedEntryCount"):  # PutEvents reports a refused entry in its answer, not as an error
        failed = answer["Entries"][0]
        raise HandoffNotPublished(f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")


def announce_handoff(
    settings: Settings, session_id: str, customer_id: str | None, summary: str, transcript: list[dict[str, Any]]
) -> tuple[str, bool]:
    """Publish the handoff the tool has just committed. Returns what to tell the customer and whether
    the event went out. Never raises."""
    detail = handoff_detail(settings, session_id, customer_id, summary, transcript)
    published = False
    with span("publish_handoff", TOOL, {"handoff_id": detail.handoff_id}) as record:
        try:
            publish(settings, detail)
            published = True
            logger.info("handoff published", extra={"session_id": session_id, "handoff_id": detail.handoff_id})
        except HandoffNotPublished as exc:
            record.error = str(exc)
            log = logger.warning if isinstance(exc, HandoffBusNotSet) else logger.error
            log(
                "handoff not published",
                extra={"session_id": session_id, "handoff_id": detail.handoff_id, "error": str(exc)},
            )
        record.outputs = {"published": published}
    if not published:
        return settings.handoff_failed_text.format(reference=detail.reference), False
    text = settings.handoff_reply_text if customer_id else settings.handoff_unverified_reply_text
    return text.format(reference=detail.reference), True


def handed_off_text(session_id: str) -> str:
    """The answer to any message after the handoff: true whether or not the event went out."""
    return (
        f"This conversation was handed to our support team (reference {reference(session_id)}); "
        "this assistant no longer answers it. To ask about something else, start a new conversation."
    )


def event_summary(event: dict[str, Any]) -> str:
    """One line for a developer's terminal (make dev prints every handoff event it receives)."""
    detail = event.get("detail") or {}
    if isinstance(detail, str):
        detail = json.loads(detail)
    return (
        f"handoff {detail.get('reference')} session={detail.get('session_id')} "
        f"customer={detail.get('customer_id')}: {detail.get('summary')}"
    )
