"""The DynamoDB checkpointer, reading a session's checkpoint once per turn, in one request, and
writing it with the turn's other records in one (turn.py).

A turn reads the checkpoint twice: `Agent` asks for the state (is a proposal waiting? did the last
turn stop part-way?) to choose the run input, and then the graph loads the same checkpoint when
it starts. Inside `checkpoints.reads_reused()` the second read of the same checkpoint is served from
the first. That is safe because the caller holds the session lock, so nothing else writes the session
meanwhile; any write through this saver forgets what was read, and each read gets its own copy
(LangGraph updates a loaded checkpoint in place as the run goes).

The library reads the latest checkpoint with a Query, then its payload chunk, then a Query for its
pending writes (and each write's chunk); it writes each of those items with its own PutItem. Its
public methods build and read those items through `self.client`, so this saver gives it a client
that, in the session's open turn, answers those reads from the items the turn prefetched (the lock
returned their keys) and keeps those writes for the turn's transaction; anything else goes to
DynamoDB. Outside a turn (tests, tools) it writes directly and drops the session's pointer, so that
the next turn reads the library's way.

Loaded lazily (by `checkpoints.checkpointer`): it imports LangGraph, which $connect/$disconnect never need.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_id
from langgraph_checkpoint_aws import DynamoDBSaver

from order_agent.conversations import turn
from order_agent.conversations.checkpoints import checkpoint_reads as _reads
from order_agent.conversations.table import session_key


def _key(config: Any) -> tuple[str, str, str | None]:
    configurable = config["configurable"]
    return str(configurable["thread_id"]), configurable.get("checkpoint_ns", ""), get_checkpoint_id(config)


class _TurnClient:
    """The library's DynamoDB client, seen through the open turn: its reads of the turn's prefetched
    checkpoint items are answered from them, its writes within `OpenTurn.capturing` are kept."""

    def __init__(self, client: Any) -> None:
        self.real = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put_item(self, **request: Any) -> dict[str, Any]:
        # Kept, its condition (do not overwrite) dropped: the same key in a turn is the same content.
        if turn.keep_if_capturing(request["Item"]):
            return {}
        return self.real.put_item(**request)

    def get_item(self, **request: Any) -> dict[str, Any]:
        prefetched = self._prefetched()
        key = (request["Key"]["PK"]["S"], request["Key"]["SK"]["S"])
        if prefetched and key in prefetched:
            return {"Item": prefetched[key]}
        return self.real.get_item(**request)

    def query(self, **request: Any) -> dict[str, Any]:
        prefetched = self._prefetched()
        values = request.get("ExpressionAttributeValues", {})
        pk = values.get(":pk", {}).get("S")
        if prefetched and pk is not None and "ExclusiveStartKey" not in request:
            items = [item for key, item in prefetched.items() if key[0] == pk]
            prefix = values.get(":ns_prefix", {}).get("S")
            if prefix is not None:  # the latest checkpoint: the one the pointer names
                items = [item for item in items if item["SK"]["S"].startswith(prefix)]
                if items:
                    return {"Items": items[:1]}
            elif pk.startswith("WRITES_"):  # the pointer lists every pending write of its checkpoint
                return {"Items": items}
        return self.real.query(**request)

    @staticmethod
    def _prefetched() -> dict[tuple[str, str], dict[str, Any]] | None:
        current = turn.current.get()
        return current.prefetched if current is not None and current.state == "open" else None


class TurnDynamoDBSaver(DynamoDBSaver):
    def __init__(self, *args: Any, ttl_seconds: int | None = None, **kwargs: Any) -> None:
        # Made without its TTL, which is then given to the parts that stamp it on items and objects:
        # given one, the library reads (and may rewrite) the offload bucket's lifecycle rules each
        # time a saver is made — on a process's first turn, with a permission the message function
        # does not have, on rules that are Terraform's (modules/conversation_store).
        super().__init__(*args, **kwargs)
        self.repo.ttl_seconds = self.storage.ttl_seconds = ttl_seconds
        self.client = self.repo.dynamodb_client = self.storage.dynamodb_client = _TurnClient(self.client)

    def get_tuple(self, config: Any) -> CheckpointTuple | None:
        thread_id, ns, checkpoint_id = _key(config)
        current = turn.open_turn(thread_id)
        if current is not None and current.new_session and not current.checkpoints:
            return None  # the session began with this turn, which has not written one yet: none exists
        if current is not None and current.pointer and not checkpoint_id and ns == current.pointer["ns"]:
            current.prefetch()
        reads = _reads.get()
        if reads is None:
            return super().get_tuple(config)
        key = _key(config)
        if key not in reads:
            reads[key] = super().get_tuple(config)
        return copy.deepcopy(reads[key])

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self._forget(config)
        thread_id, ns, _ = _key(config)
        current = turn.open_turn(thread_id)
        if current is None:
            result = super().put(config, checkpoint, metadata, new_versions)
            self._drop_pointer(thread_id)
            return result
        with current.capturing(ns, checkpoint["id"]):
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        self._forget(config)
        thread_id, ns, checkpoint_id = _key(config)
        current = turn.open_turn(thread_id)
        if current is None or checkpoint_id is None:
            super().put_writes(config, writes, task_id, task_path)
            self._drop_pointer(thread_id)
            return
        with current.capturing(ns, checkpoint_id):
            super().put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self._forget({"configurable": {"thread_id": thread_id}})
        super().delete_thread(thread_id)
        self._drop_pointer(thread_id)

    def _drop_pointer(self, thread_id: str) -> None:
        """A checkpoint written outside a turn: the session's pointer no longer names the latest, and
        the session item exists (a claim that creates it takes the session for new: no checkpoint)."""
        # The SET makes the item if it is missing (expiring with the checkpoint, with the library's TTL).
        now = int(time.time())
        update = "REMOVE #ckpt SET #written = :now"
        names = {"#ckpt": turn.POINTER, "#written": "checkpoint_written_outside_turn"}
        values = {":now": {"N": str(now)}}
        if self.storage.ttl_seconds:
            update += ", #ttl = if_not_exists(#ttl, :ttl)"
            names["#ttl"] = "ttl"
            values[":ttl"] = {"N": str(now + self.storage.ttl_seconds)}
        self.client.real.update_item(
            TableName=self.table_name,
            Key=session_key(thread_id),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    @staticmethod
    def _forget(config: Any) -> None:
        reads = _reads.get()
        if reads:
            thread_id = str(config["configurable"]["thread_id"])
            for key in [k for k in reads if k[0] == thread_id]:
                del reads[key]
