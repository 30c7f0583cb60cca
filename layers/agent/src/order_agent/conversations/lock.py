"""The session lock: a lease on the session's item in the conversation table, so that two messages
of one session never run at the same time. Taking it also reads what the turn needs from that
item (turn.py): the frame seq and where the latest checkpoint is."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from order_agent.conversations import turn
from order_agent.conversations.table import conditional_failed, dynamodb_client, session_key
from order_agent.settings import Settings


class SessionLock:
    """A lease on a session, taken with a conditional write; an expired lease can be taken over
    (a turn whose Lambda died must not lock its customer out). `clock` gives the time in epoch
    seconds (tests pass one they advance, instead of waiting for a lease to expire)."""

    def __init__(self, settings: Settings, client: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table = settings.checkpoint_table
        self.lease_seconds = settings.session_lock_seconds
        self.ttl_seconds = settings.checkpoint_ttl_seconds
        self.client = client or dynamodb_client(settings)
        self.clock = clock

    def acquire(self, session_id: str) -> str | None:
        """A token when the session was free (or its lease expired); None when it is busy. One
        UpdateItem, which opens the turn (turn.OpenTurn) with the seq and checkpoint pointer it returns;
        none when the edge's claim of this message took the lock already (`EdgeStore.claim_session`)."""
        claimed = turn.open_turn(session_id)
        if claimed is not None and not claimed.adopted:
            claimed.adopted = True
            return claimed.token
        token = secrets.token_hex(8)
        now = int(self.clock())
        try:
            item = self.client.update_item(
                TableName=self.table,
                Key=session_key(session_id),
                UpdateExpression="SET lock_token = :token, lock_expires = :expires, #ttl = if_not_exists(#ttl, :ttl)",
                ConditionExpression="attribute_not_exists(lock_expires) OR lock_expires < :now",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":expires": {"N": str(now + self.lease_seconds)},
                    ":now": {"N": str(now)},
                    ":ttl": {"N": str(now + self.ttl_seconds)},  # a session used without the edge
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if conditional_failed(exc):
                return None
            raise
        turn.current.set(turn.OpenTurn.locked(item, session_id, token, self.table, self.client))
        return token

    def held(self, session_id: str) -> bool:
        """Whether a turn of this session is running now (an unexpired lease exists)."""
        item = self.client.get_item(TableName=self.table, Key=session_key(session_id), ConsistentRead=True).get("Item")
        return bool(item) and "lock_expires" in item and int(item["lock_expires"]["N"]) >= int(self.clock())

    def release(self, session_id: str, token: str) -> None:
        """End the turn: write what it kept and free the lease, unless the edge's record of its
        frames did both already. A lease someone took over is theirs: nothing is released."""
        current = turn.current.get()
        if current is not None and current.session_id == session_id and current.token == token:
            turn.current.set(None)
            if current.state == "open":
                current.commit([])  # LockLost when another turn took over: its writes were dropped
            return
        try:
            self.client.update_item(
                TableName=self.table,
                Key=session_key(session_id),
                UpdateExpression="REMOVE lock_token, lock_expires, lock_message",
                ConditionExpression="lock_token = :token",
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
