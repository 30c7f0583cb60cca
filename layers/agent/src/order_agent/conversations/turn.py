"""A turn's requests to the conversation table, folded: what the turn reads comes with its lock, and
what it writes goes in one transaction with the lock's release.

The edge's claim of a customer message (`EdgeStore.claim_session`), or `SessionLock.acquire` for
the agent used alone, takes the lease on the session item with a conditional UpdateItem that
returns the item: the session's `last_seq` (the edge numbers the turn's frames from it) and a
pointer to its latest checkpoint (the keys of the checkpoint's items: metadata, payload chunk,
pending writes and their chunks). The turn then fetches them in one BatchGetItem instead of
querying for the latest one, its chunk and its writes (checkpoint_saver.py), with the customer
message's done mark in the same request (was it answered before?). When the claim created the
session item, the session is new: nothing is read at all.

While the turn runs, the checkpointer's writes are kept here instead of sent. When the edge records
the turn's lasting frames (`EdgeStore.record_frames`), or when the lock is released without them
(the agent used alone), one TransactWriteItems writes the checkpoint items, the frames, the done mark
of the customer message, the session's seq, counters and new checkpoint pointer, and releases the
lease, on the condition that this turn still holds it: a turn whose lease expired and was taken over
writes nothing. A turn too big for one transaction (100 items, 4 MB) writes its checkpoint items
first, as the checkpointer would, and the rest in the transaction.

The open turn lives in a context variable of the thread that took the lock; LangGraph runs the
graph's steps and checkpoint writes in copies of that context, where it is seen too.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from order_agent.conversations.table import LockLost, session_key

# DynamoDB's limits of one TransactWriteItems; the size counted is an estimate (attribute names and
# values), so the byte budget keeps a margin below the 4 MB.
MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_BYTES = 3_500_000
POINTER = "checkpoint"  # the session item's attribute: {"id", "ns", "keys": [{"PK", "SK"}...]}


@dataclass
class OpenTurn:
    session_id: str
    token: str
    table: str
    client: Any
    last_seq: int
    pointer: dict[str, Any] | None  # the latest checkpoint's keys, from the lock's UpdateItem
    state: str = "open"  # open -> committed | lost
    adopted: bool = True  # False while a turn opened by the edge's claim waits for the agent's acquire
    pending: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # checkpointer items by key
    checkpoints: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)  # (ns, id) -> keys
    prefetched: dict[tuple[str, str], dict[str, Any]] | None = None
    new_session: bool = False  # the lock created the session item: no checkpoint of it exists
    guard: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def locked(
        cls,
        item: dict[str, Any],
        session_id: str,
        token: str,
        table: str,
        client: Any,
        adopted: bool = True,
        new_session: bool = False,
    ) -> OpenTurn:
        """The turn a lock taken on the session item opens, from the item (seq, checkpoint pointer),
        which taking the lock left unchanged."""
        return cls(
            session_id=session_id,
            token=token,
            table=table,
            client=client,
            last_seq=int(item.get("last_seq", {}).get("N", 0)),
            pointer=read_pointer(item),
            adopted=adopted,
            new_session=new_session,
        )

    # -- the checkpointer's side ---------------------------------------------------------------------

    @contextlib.contextmanager
    def capturing(self, ns: str, checkpoint_id: str) -> Iterator[None]:
        """The checkpointer's puts within (in this context: LangGraph may write from several threads
        at once) are kept, as items of checkpoint (ns, id)."""
        captured: list[tuple[str, str]] = []
        token = _capturing.set((self, captured))
        try:
            yield
        finally:
            _capturing.reset(token)
            with self.guard:
                keys = self.checkpoints.setdefault((ns, checkpoint_id), [])
                keys.extend(k for k in captured if k not in keys)

    # -- the commit -------------------------------------------------------------------------------------

    def commit(self, items: list[dict[str, Any]], last_seq: int | None = None, tokens: int | None = None) -> None:
        """Write the kept checkpoint items and `items`, move the seq (count the turn and its tokens
        with `tokens`), and release the lease: one TransactWriteItems while it fits."""
        if self.state == "lost":
            raise LockLost(self.session_id)
        with self.guard:
            kept = list(self.pending.values())
        update = self._session_update(last_seq, tokens)
        if not kept and not items:
            self._send_update(update)
        else:
            if len(kept) + len(items) + 1 > MAX_TRANSACTION_ITEMS or _size(kept + items) > MAX_TRANSACTION_BYTES:
                self._write_directly(kept)  # too big for one transaction: the checkpointer's own way
                kept = []
            self._transact([*kept, *items], update)
        with self.guard:
            self.pending.clear()
        self.state = "committed"

    def _session_update(self, last_seq: int | None, tokens: int | None) -> dict[str, Any]:
        sets, removes, adds = [], ["lock_token", "lock_expires", "lock_message"], []
        values: dict[str, Any] = {":token": {"S": self.token}}
        names: dict[str, str] = {}
        if last_seq is not None:
            sets.append("last_seq = :s")
            values[":s"] = {"N": str(last_seq)}
        if tokens is not None:
            adds += ["turns :one", "#tokens :tokens"]
            values |= {":one": {"N": "1"}, ":tokens": {"N": str(max(tokens, 0))}}
            names["#tokens"] = "tokens"
        pointer = self._new_pointer()
        if pointer is not None:
            names["#ckpt"] = POINTER
            if pointer:
                sets.append("#ckpt = :ckpt")
                values[":ckpt"] = {"M": pointer}
            else:
                removes.append("#ckpt")
        expression = " ".join(
            f"{verb} {', '.join(parts)}" for verb, parts in (("SET", sets), ("REMOVE", removes), ("ADD", adds)) if parts
        )
        update = {
            "TableName": self.table,
            "Key": session_key(self.session_id),
            "UpdateExpression": expression,
            "ConditionExpression": "lock_token = :token",
            "ExpressionAttributeValues": values,
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return update

    def _new_pointer(self) -> dict[str, Any] | None:
        """The pointer to write: None to leave it, {} to remove it (a checkpoint it cannot describe)."""
        with self.guard:
            written = dict(self.checkpoints)
        if not written:
            return None
        if any(ns for ns, _ in written):
            return {}  # subgraph checkpoints: read the library's way
        latest = max(checkpoint_id for _, checkpoint_id in written)
        keys = list(written[("", latest)])
        if self.pointer and self.pointer["id"] == latest:  # more writes to the checkpoint the turn started from
            keys = [*self.pointer["keys"], *(k for k in keys if k not in self.pointer["keys"])]
        elif not any(k[0].startswith("CHECKPOINT_") for k in keys):
            return {}  # writes to a checkpoint whose items this turn did not read
        return {
            "id": {"S": latest},
            "ns": {"S": ""},
            "keys": {"L": [{"M": {"PK": {"S": pk}, "SK": {"S": sk}}} for pk, sk in keys]},
        }

    def _send_update(self, update: dict[str, Any]) -> None:
        try:
            self.client.update_item(**update)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                self.state = "lost"
                raise LockLost(self.session_id) from exc
            raise

    def _transact(self, items: list[dict[str, Any]], update: dict[str, Any]) -> None:
        transaction = [{"Put": {"TableName": self.table, "Item": item}} for item in items]
        transaction.append({"Update": update})
        try:
            self.client.transact_write_items(TransactItems=transaction)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[-1].get("Code") == "ConditionalCheckFailed":
                self.state = "lost"
                raise LockLost(self.session_id) from exc
            raise

    def _write_directly(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.client.put_item(TableName=self.table, Item=item)

    # -- reads ------------------------------------------------------------------------------------------

    def prefetch(self, also: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The latest checkpoint's items, in one BatchGetItem (up to 100 keys), once; with `also`, the
        item of that key too, in the same request (None if it does not exist)."""
        checkpoint_keys = []
        if self.prefetched is None and self.pointer and len(self.pointer["keys"]) + (also is not None) <= 100:
            checkpoint_keys = [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in self.pointer["keys"]]
        keys = checkpoint_keys + ([also] if also is not None else [])
        if not keys:
            return None
        answer = self.client.batch_get_item(RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}})
        items = {_item_key(item): item for item in answer["Responses"].get(self.table, [])}
        unprocessed = {_item_key(key) for key in answer.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])}
        extra = None
        if also is not None:
            wanted = _item_key(also)
            extra = items.pop(wanted, None)
            if wanted in unprocessed:  # throttled: asked again on its own
                unprocessed.discard(wanted)
                extra = self.client.get_item(TableName=self.table, Key=also, ConsistentRead=True).get("Item")
        if checkpoint_keys:
            self.prefetched = {} if unprocessed else items  # throttled: read the library's way
        return extra


def _item_key(item: dict[str, Any]) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]


def _size(items: list[dict[str, Any]]) -> int:
    def value_size(value: Any) -> int:
        if isinstance(value, dict):
            return sum(len(k) + value_size(v) for k, v in value.items())
        if isinstance(value, list):
            return sum(value_size(v) for v in value)
        return len(value) if isinstance(value, (str, bytes)) else 8

    return sum(value_size(item) for item in items)


def read_pointer(item: dict[str, Any]) -> dict[str, Any] | None:
    pointer = item.get(POINTER, {}).get("M")
    if not pointer:
        return None
    keys = [(k["M"]["PK"]["S"], k["M"]["SK"]["S"]) for k in pointer["keys"]["L"]]
    return {"id": pointer["id"]["S"], "ns": pointer["ns"]["S"], "keys": keys}


# The open turn of this context (set by SessionLock.acquire, cleared by release).
current: contextvars.ContextVar[OpenTurn | None] = contextvars.ContextVar("open_turn", default=None)
# The turn whose checkpoint writes are being kept, and the keys kept in this context (OpenTurn.capturing).
_capturing: contextvars.ContextVar[tuple[OpenTurn, list[tuple[str, str]]] | None] = contextvars.ContextVar(
    "capturing_turn", default=None
)


def open_turn(session_id: str) -> OpenTurn | None:
    """The turn of this session open in this context, if any."""
    turn = current.get()
    return turn if turn is not None and turn.session_id == session_id and turn.state == "open" else None


def turn_of(session_id: str) -> OpenTurn | None:
    """This session's turn in this context, open or ended (a lost one refuses further writes)."""
    turn = current.get()
    return turn if turn is not None and turn.session_id == session_id else None


def keep_if_capturing(item: dict[str, Any]) -> bool:
    """Keep a checkpointer's item for its turn's transaction, when a capture is on in this context."""
    capture = _capturing.get()
    if capture is None:
        return False
    kept_by, captured = capture
    key = _item_key(item)
    with kept_by.guard:
        kept_by.pending[key] = item
    captured.append(key)
    return True
