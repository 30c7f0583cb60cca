"""The conversation table: its client, its failures, and the key of every item kind in it (the
layout is in the package's docstring). Keys are built here and nowhere else, so that no two kinds
of item can collide."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from order_agent.settings import Settings


class LockLost(Exception):
    """A turn's lease expired and another turn took the session: the turn's writes were dropped."""


# Failures of the conversation store (DynamoDB, S3 offload) that outlast botocore's retries, and a
# turn that lost its session to another (its writes were refused).
STORE_ERRORS = (ClientError, BotoCoreError, LockLost)

Key = dict[str, dict[str, str]]


def dynamodb_client(settings: Settings) -> Any:
    return boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)


def conditional_failed(exc: ClientError) -> bool:
    """Whether a write was refused by its condition (not a failure of the store)."""
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _key(pk: str, sk: str) -> Key:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def connection_key(connection_id: str) -> Key:
    return _key(f"CONN_{connection_id}", "CONN")


def session_key(session_id: str) -> Key:
    return _key(f"SESSION_{session_id}", "META")


def outbox_partition(session_id: str) -> str:
    return f"OUTBOX_{session_id}"


def outbox_sort_key(seq: int) -> str:
    return f"{seq:012d}"  # padded: the outbox is queried in seq order


def outbox_key(session_id: str, seq: int) -> Key:
    return _key(outbox_partition(session_id), outbox_sort_key(seq))


def message_key(session_id: str, message_id: str) -> Key:
    return _key(f"MSG_{session_id}", message_id)


def rate_key(principal_key: str, window_start: int) -> Key:
    return _key(f"RATE_{principal_key}", f"{window_start:012d}")
