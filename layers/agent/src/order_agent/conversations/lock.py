"""The session lock: a lease item in the conversation table, so that two messages of one session
never run at the same time."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from order_agent.conversations.table import conditional_failed, dynamodb_client, lock_key
from order_agent.settings import Settings


class SessionLock:
    """A lease on a session, taken with a conditional write; an expired lease can be taken over
    (a turn whose Lambda died must not lock its customer out). `clock` gives the time in epoch
    seconds (tests pass one they advance, instead of waiting for a lease to expire)."""

    def __init__(self, settings: Settings, client: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table = settings.checkpoint_table
        self.lease_seconds = settings.session_lock_seconds
        self.client = client or dynamodb_client(settings)
        self.clock = clock

    def acquire(self, session_id: str) -> str | None:
        """A token when the session was free (or its lease expired); None when it is busy."""
        token = secrets.token_hex(8)
        now = int(self.clock())
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **lock_key(session_id),
                    "token": {"S": token},
                    "expires_at": {"N": str(now + self.lease_seconds)},
                    "ttl": {"N": str(now + self.lease_seconds + 3600)},  # the table's TTL cleans up
                },
                ConditionExpression="attribute_not_exists(PK) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return None
            raise
        return token

    def held(self, session_id: str) -> bool:
        """Whether a turn of this session is running now (an unexpired lease exists)."""
        item = self.client.get_item(TableName=self.table, Key=lock_key(session_id), ConsistentRead=True).get("Item")
        return bool(item) and int(item["expires_at"]["N"]) >= int(self.clock())

    def release(self, session_id: str, token: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=lock_key(session_id),
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise  # someone took over an expired lease: theirs now, nothing to release
