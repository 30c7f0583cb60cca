"""LangGraph's checkpoints in the conversation table (DynamoDBSaver, with S3 offload for large
ones), and the per-turn reuse of what was read (checkpoint_saver.py)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from order_agent.settings import Settings

if TYPE_CHECKING:
    from langgraph_checkpoint_aws import DynamoDBSaver

# The checkpoints read in this turn, by (thread_id, checkpoint_ns, checkpoint_id or None), for
# TurnDynamoDBSaver (checkpoint_saver.py); None outside reads_reused(). Here, not there: that
# module loads LangGraph's DynamoDB saver, which importing the agent service does not need.
checkpoint_reads: contextvars.ContextVar[dict[tuple[str, str, str | None], Any] | None] = contextvars.ContextVar(
    "checkpoint_reads", default=None
)


@contextlib.contextmanager
def reads_reused() -> Iterator[None]:
    """Within this block (one turn, under the session lock) the checkpointer fetches a checkpoint once."""
    token = checkpoint_reads.set({})
    try:
        yield
    finally:
        checkpoint_reads.reset(token)


def checkpointer(settings: Settings) -> DynamoDBSaver:
    # Imported here: it loads LangGraph, which the $connect/$disconnect functions (users of this
    # package through the edge) never need.
    import boto3

    from order_agent.conversations.checkpoint_saver import TurnDynamoDBSaver

    # boto3's default session, which boto3.client() uses too: one loader for every client's models
    # (the SnapStart warm-up fills it), instead of a session of the saver's own per client.
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    offload = None
    if settings.checkpoint_bucket:
        offload = {"bucket_name": settings.checkpoint_bucket, "endpoint_url": settings.aws_endpoint_url}
    return TurnDynamoDBSaver(
        session=boto3.DEFAULT_SESSION,
        table_name=settings.checkpoint_table,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        ttl_seconds=settings.checkpoint_ttl_seconds,
        s3_offload_config=offload,
    )
