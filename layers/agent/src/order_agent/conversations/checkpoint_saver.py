"""The DynamoDB checkpointer, reading a session's checkpoint once per turn.

A turn reads the checkpoint twice: `Agent` asks for the state (is a proposal waiting? did the last
turn stop part-way?) to choose the run input, and then the graph loads the same checkpoint when
it starts. Each read is 2-3 DynamoDB requests (the latest checkpoint, its pending writes, chunks).
Inside `checkpoints.reads_reused()` the second read of the same checkpoint is served from the
first. That is safe because the caller holds the session lock, so nothing else writes the session
meanwhile; any write through this saver forgets what was read, and each read gets its own copy
(LangGraph updates a loaded checkpoint in place as the run goes).

Loaded lazily (by `checkpoints.checkpointer`): it imports LangGraph, which $connect/$disconnect never need.
"""

from __future__ import annotations

import copy
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_id
from langgraph_checkpoint_aws import DynamoDBSaver

from order_agent.conversations.checkpoints import checkpoint_reads as _reads


def _key(config: Any) -> tuple[str, str, str | None]:
    configurable = config["configurable"]
    return str(configurable["thread_id"]), configurable.get("checkpoint_ns", ""), get_checkpoint_id(config)


class TurnDynamoDBSaver(DynamoDBSaver):
    def get_tuple(self, config: Any) -> CheckpointTuple | None:
        reads = _reads.get()
        if reads is None:
            return super().get_tuple(config)
        key = _key(config)
        if key not in reads:
            reads[key] = super().get_tuple(config)
        return copy.deepcopy(reads[key])

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self._forget(config)
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        self._forget(config)
        super().put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self._forget({"configurable": {"thread_id": thread_id}})
        super().delete_thread(thread_id)

    @staticmethod
    def _forget(config: Any) -> None:
        reads = _reads.get()
        if reads:
            thread_id = str(config["configurable"]["thread_id"])
            for key in [k for k in reads if k[0] == thread_id]:
                del reads[key]
