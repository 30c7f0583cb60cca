"""The edge's records in the conversation table (the item kinds are listed in the package's
docstring): who is connected, which connection and principal a session has, the outbox of frames
a client must not miss, the customer messages seen (so a retried one runs once), and rate windows.

The session item also carries what limits a conversation (`turns`, `tokens` used) and, for anonymous
chat, `token_hash`: the SHA-256 of the secret the server issued to whoever started the session, which
every later claim must present (knowing a session id is not enough to continue it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from order_agent.conversations import turn
from order_agent.conversations.table import (
    STORE_ERRORS,
    conditional_failed,
    connection_key,
    dynamodb_client,
    message_key,
    outbox_key,
    outbox_partition,
    outbox_sort_key,
    rate_key,
    session_key,
)
from order_agent.conversations.turn import open_turn, turn_of
from order_agent.settings import Settings


class SessionOwnedByAnother(Exception):
    """The session id belongs to another principal (authenticated user), or, for anonymous chat, the
    client did not present the session's token."""


class RateLimited(Exception):
    """Too many customer messages in the current window, from this connection or this principal."""


@dataclass(frozen=True)
class Claim:
    """What claiming a session learnt about it, from the claim's one request."""

    last_seq: int
    turns: int  # turns the conversation has run
    tokens: int  # model tokens it has used
    issued_token: str | None  # a session token issued by this claim (the client must keep it)
    new_session: bool = False  # the claim created the session: it has no messages and no checkpoint yet
    running_message: str | None = None  # the message whose turn holds the session, when the claim found it busy


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class EdgeStore:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.table = settings.checkpoint_table
        self.region = settings.aws_region
        self.ttl_seconds = settings.checkpoint_ttl_seconds
        self.stale_after = settings.session_lock_seconds
        self.client = client or dynamodb_client(settings)

    def _ttl(self) -> dict[str, str]:
        return {"N": str(int(time.time()) + self.ttl_seconds)}

    # -- connections -----------------------------------------------------------------------------

    def connect(self, connection_id: str, principal: str) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                **connection_key(connection_id),
                "principal": {"S": principal},
                "connected_at": {"N": str(int(time.time()))},
                "ttl": {"N": str(int(time.time()) + 3 * 3600)},
            },
        )

    def disconnect(self, connection_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key=connection_key(connection_id))

    # -- sessions ------------------------------------------------------------------------------------

    def claim_session(
        self,
        session_id: str,
        connection_id: str,
        principal: str,
        token: str | None = None,
        bind: bool = False,
        message_id: str | None = None,
    ) -> Claim:
        """Make this connection the session's; the first principal to use a session owns it. With
        `bind` (anonymous chat), the session is also bound to a secret: the first claim issues it (and
        returns it, once), and a claim from any other connection than the session's current one must
        present it as `token`. One conditional UpdateItem.

        With a `message_id` (a customer message), the same request also takes the session lock for
        that message's turn when the session is free, and opens the turn (turn.py) that
        `SessionLock.acquire` then adopts without a request of its own; `end_turn` releases it if no
        turn ran. When the session is busy (or not this principal's), the claim is made again without
        the lock: it then says which message's turn holds the session, and the agent finds it busy."""
        if message_id is not None:
            try:
                return self._claim(session_id, connection_id, principal, token, bind, message_id)
            except SessionOwnedByAnother:
                pass  # or busy: the claim alone tells which
        return self._claim(session_id, connection_id, principal, token, bind, None)

    def end_turn(self, session_id: str) -> None:
        """Release the lock a message's claim took if no turn adopted it (a repeated or refused message)."""
        current = turn_of(session_id)
        if current is None:
            return
        turn.current.set(None)
        if current.state == "open" and not current.adopted:
            # Lost (expired and taken over): theirs now. Failed: the lease expires on its own.
            with contextlib.suppress(*STORE_ERRORS):
                current.commit([])

    def _claim(
        self,
        session_id: str,
        connection_id: str,
        principal: str,
        token: str | None,
        bind: bool,
        message_id: str | None,
    ) -> Claim:
        issued = secrets.token_urlsafe(32) if bind else None
        update = (
            "SET connection_id = :c, principal = if_not_exists(principal, :p), "
            "last_seq = if_not_exists(last_seq, :zero), #ttl = :ttl"
        )
        condition = "(attribute_not_exists(principal) OR principal = :p)"
        values = {":c": {"S": connection_id}, ":p": {"S": principal}, ":zero": {"N": "0"}, ":ttl": self._ttl()}
        if issued is not None:
            update += ", token_hash = if_not_exists(token_hash, :issued)"
            # The session's current connection already proved it: follow-ups on it need no token.
            condition += " AND (attribute_not_exists(token_hash) OR token_hash = :presented OR connection_id = :c)"
            values[":issued"] = {"S": token_hash(issued)}
            values[":presented"] = {"S": token_hash(token) if token else "-"}
        lock_token = secrets.token_hex(8)
        if message_id is not None:
            now = int(time.time())
            # The lock names its message: a retry of it while its turn runs is known by the claim alone.
            update += ", lock_token = :lock, lock_expires = :expires, lock_message = :message"
            condition += " AND (attribute_not_exists(lock_expires) OR lock_expires < :now)"
            values |= {
                ":lock": {"S": lock_token},
                ":expires": {"N": str(now + self.stale_after)},
                ":now": {"N": str(now)},
                ":message": {"S": message_id},
            }
        try:
            # The item as it was: whether the session is new, and every value this update set is known here.
            result = self.client.update_item(
                TableName=self.table,
                Key=session_key(session_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise SessionOwnedByAnother(session_id) from exc
            raise
        before = result.get("Attributes", {})
        new_session = not before
        if message_id is not None:
            # adopted=False: until the agent's acquire takes it
            turn.current.set(
                turn.OpenTurn.locked(
                    before, session_id, lock_token, self.table, self.client, adopted=False, new_session=new_session
                )
            )
        running = None
        if message_id is None and int(before.get("lock_expires", {}).get("N", 0)) >= int(time.time()):
            running = before.get("lock_message", {}).get("S")
        return Claim(
            last_seq=int(before.get("last_seq", {}).get("N", 0)),
            turns=int(before.get("turns", {}).get("N", 0)),
            tokens=int(before.get("tokens", {}).get("N", 0)),
            issued_token=issued if issued and "token_hash" not in before else None,
            new_session=new_session,
            running_message=running,
        )

    # -- message rate ----------------------------------------------------------------------------------

    def count_message(
        self, connection_id: str, principal_key: str, window_s: int, per_connection: int, per_principal: int
    ) -> None:
        """Count one customer message in the current fixed window of `window_s` seconds, against both
        limits at once (0: none); RateLimited when either is reached. One conditional UpdateItem on the
        principal's window item (a connection belongs to one principal), which expires after the window."""
        if not per_connection and not per_principal:
            return
        now = int(time.time())
        start = now - now % window_s
        conditions = []
        values: dict[str, Any] = {":one": {"N": "1"}, ":ttl": {"N": str(start + 2 * window_s)}}
        if per_principal:
            conditions.append("(attribute_not_exists(#total) OR #total < :pmax)")
            values[":pmax"] = {"N": str(per_principal)}
        if per_connection:
            conditions.append("(attribute_not_exists(#conn) OR #conn < :cmax)")
            values[":cmax"] = {"N": str(per_connection)}
        try:
            self.client.update_item(
                TableName=self.table,
                Key=rate_key(principal_key, start),
                UpdateExpression="ADD #total :one, #conn :one SET #ttl = :ttl",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames={"#total": "total", "#conn": f"c_{connection_id}", "#ttl": "ttl"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise RateLimited(principal_key) from exc
            raise

    def _session(self, session_id: str) -> dict[str, Any]:
        answer = self.client.get_item(TableName=self.table, Key=session_key(session_id), ConsistentRead=True)
        return answer.get("Item", {})

    def session_connection(self, session_id: str) -> str | None:
        item = self._session(session_id)
        return item["connection_id"]["S"] if "connection_id" in item else None

    def last_seq(self, session_id: str) -> int:
        """The session's last frame seq; in its turn, as the lock read it (no request)."""
        current = open_turn(session_id)
        if current is not None:
            return current.last_seq
        item = self._session(session_id)
        return int(item["last_seq"]["N"]) if "last_seq" in item else 0

    def record_frames(
        self,
        session_id: str,
        frames: list[dict[str, Any]],
        last_seq: int,
        finished_message: str | None = None,
        tokens: int | None = None,
    ) -> None:
        """Keep a turn's lasting frames for resume and move the session's seq forward; with
        `finished_message`, also mark that customer message done with these frames (what
        `finish_message` does). With `tokens` (the turn ended), the seq update also counts the
        turn and the model tokens it used, for the conversation's limits.

        In the session's turn (under its lock): one transaction with the turn's checkpoint that
        also releases the lock (turn.py); LockLost if another turn took the session. Otherwise two
        requests: the items in one batch, then the seq (conditional), so a seq a client sees
        always has its frames kept."""
        ttl = self._ttl()
        items = [
            {**outbox_key(session_id, frame["seq"]), "frame": {"S": json.dumps(frame)}, "ttl": ttl} for frame in frames
        ]
        if finished_message is not None:
            items.append(self._done_item(session_id, finished_message, frames))
        current = turn_of(session_id)
        if current is not None and current.state != "committed":
            current.commit(items, last_seq, tokens)  # LockLost when the turn was lost before
            return
        self._batch_put(items)
        values = {":s": {"N": str(last_seq)}}
        update = "SET last_seq = :s"
        if tokens is not None:
            update += " ADD turns :one, #tokens :tokens"
            values |= {":one": {"N": "1"}, ":tokens": {"N": str(max(tokens, 0))}}
        self.client.update_item(
            TableName=self.table,
            Key=session_key(session_id),
            UpdateExpression=update,
            ConditionExpression="attribute_not_exists(last_seq) OR last_seq < :s",
            ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": {"#tokens": "tokens"}} if tokens is not None else {}),
        )

    def _batch_put(self, items: list[dict[str, Any]], attempts: int = 8) -> None:
        """BatchWriteItem (up to 25 items), sending again what DynamoDB left unprocessed (throttling)."""
        for start in range(0, len(items), 25):
            pending = {self.table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
            for attempt in range(attempts):
                pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise RuntimeError(f"DynamoDB left {len(pending[self.table])} items unprocessed after {attempts} tries")

    def frames_after(self, session_id: str, seq: int, limit: int = 200) -> list[dict[str, Any]]:
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND SK > :sk",
            ExpressionAttributeValues={":pk": {"S": outbox_partition(session_id)}, ":sk": {"S": outbox_sort_key(seq)}},
            ConsistentRead=True,
            Limit=limit,
        )["Items"]
        return [json.loads(item["frame"]["S"]) for item in items]

    # -- customer messages (a retried messageId runs once) ---------------------------------------------

    def earlier_delivery(self, session_id: str, message_id: str, claim: Claim) -> dict[str, Any] | None:
        """None when this customer message is new; otherwise what is known of it:
        {"state": "in_progress"} while its turn runs, {"state": "done", "frames": [...]} once answered.

        Nothing is written: a message's turn holds the session lock, which names it (`lock_message`),
        and an answered message has a done item, written in the same transaction as its turn's last
        frames and the lock's release (turn.py). So a retry finds the answer, or the lock, or neither
        (the turn died: its lease expired and this claim took the session over). When this claim took
        the lock, the done item is read in the turn's checkpoint read (one BatchGetItem), and a new
        session has neither; when it found the session busy, with one GetItem."""
        key = message_key(session_id, message_id)
        current = open_turn(session_id)
        if current is not None and not current.adopted:  # the lock this claim took for the message
            if claim.new_session:
                return None
            item = current.prefetch(also=key) or {}
        else:
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
        if item.get("state", {}).get("S") == "done":
            return {"state": "done", "frames": json.loads(item["frames"]["S"])}
        if claim.running_message == message_id:
            return {"state": "in_progress"}
        return None

    def finish_message(self, session_id: str, message_id: str, frames: list[dict[str, Any]]) -> None:
        self.client.put_item(TableName=self.table, Item=self._done_item(session_id, message_id, frames))

    def _done_item(self, session_id: str, message_id: str, frames: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            **message_key(session_id, message_id),
            "state": {"S": "done"},
            "frames": {"S": json.dumps(frames)},
            "ttl": self._ttl(),
        }
