"""Where conversations live: LangGraph checkpoints in DynamoDB (DynamoDBSaver, S3 offload for
large ones), and a per-session lock item in the same table so that two messages of one session
never run at the same time."""

from __future__ import annotations

import contextlib
import contextvars
import secrets
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from order_agent.settings import Settings

if TYPE_CHECKING:
    from langgraph_checkpoint_aws import DynamoDBSaver

# Failures of the conversation store (DynamoDB, S3 offload) that outlast botocore's retries.
STORE_ERRORS = (ClientError, BotoCoreError)

# DynamoDBSaver's items have keys CHECKPOINT_*, WRITES_* and CHUNK_*; ours cannot collide.
_LOCK_PREFIX = "LOCK_"


# The checkpoints read in this turn, by (thread_id, checkpoint_ns, checkpoint_id or None), for
# TurnDynamoDBSaver (agent/checkpoints.py); None outside reads_reused(). Here, not there: that
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


def dynamodb_client(settings: Settings) -> Any:
    return boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)


def checkpointer(settings: Settings) -> DynamoDBSaver:
    # Imported here: it loads LangGraph, which the $connect/$disconnect functions (SessionLock users
    # through the edge) never need.
    from order_agent.agent.checkpoints import TurnDynamoDBSaver

    offload = None
    if settings.checkpoint_bucket:
        offload = {"bucket_name": settings.checkpoint_bucket, "endpoint_url": settings.aws_endpoint_url}
    return TurnDynamoDBSaver(
        table_name=settings.checkpoint_table,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        ttl_seconds=settings.checkpoint_ttl_seconds,
        s3_offload_config=offload,
    )


class SessionLock:
    """A lease on a session, taken with a conditional write; an expired lease can be taken over
    (a turn whose Lambda died must not lock its customer out). `clock` gives the time in epoch
    seconds (tests pass one they advance, instead of waiting for a lease to expire)."""

    def __init__(self, settings: Settings, client: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table = settings.checkpoint_table
        self.lease_seconds = settings.session_lock_seconds
        self.client = client or dynamodb_client(settings)
        self.clock = clock

    def _key(self, session_id: str) -> dict[str, Any]:
        return {"PK": {"S": f"{_LOCK_PREFIX}{session_id}"}, "SK": {"S": "LOCK"}}

    def acquire(self, session_id: str) -> str | None:
        """A token when the session was free (or its lease expired); None when it is busy."""
        token = secrets.token_hex(8)
        now = int(self.clock())
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._key(session_id),
                    "token": {"S": token},
                    "expires_at": {"N": str(now + self.lease_seconds)},
                    "ttl": {"N": str(now + self.lease_seconds + 3600)},  # the table's TTL cleans up
                },
                ConditionExpression="attribute_not_exists(PK) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return token

    def held(self, session_id: str) -> bool:
        """Whether a turn of this session is running now (an unexpired lease exists)."""
        item = self.client.get_item(TableName=self.table, Key=self._key(session_id), ConsistentRead=True).get("Item")
        return bool(item) and int(item["expires_at"]["N"]) >= int(self.clock())

    def release(self, session_id: str, token: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key(session_id),
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # someone took over an expired lease: theirs now, nothing to release
