"""What `make bench` (scripts/bench.py) and `make load` (scripts/load.py) share: a throw-away local
stack, timing and round-trip hooks, the conversations they drive, percentiles.

The hooks wrap real objects (the checkpointer's methods, the tool runner, the session lock, the
edge store, the frame poster, the model) and count real requests (botocore `before-call` events on
the DynamoDB/S3 clients; a psycopg2 connection subclass that counts round trips). Each hook adds the
*exclusive* time of its part to the turn running on the current thread, so nested parts (frames
posted from inside a model call) are not counted twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import secrets
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
from cost_model import dynamodb_request_units, websocket_messages  # scripts/ is on the path: a sibling

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"

# -- statistics -------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (NumPy's default); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: list[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/mean of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "n": len(ms),
        "p50": rounded(percentile(ms, 50)),
        "p95": rounded(percentile(ms, 95)),
        "p99": rounded(percentile(ms, 99)),
        "mean": rounded(statistics.fmean(ms)) if ms else None,
    }


# -- the local stack ----------------------------------------------------------------------------------------


EMULATORS = ("ministack", "moto")


class PerfStack:
    """PostgreSQL with the τ retail data in a scratch database (an embedded server unless a server
    URL is given), and an AWS emulator with the conversation table: the one at `aws_endpoint`, else
    one of its own, `emulator`: ministack (in its own process, as `make dev` runs it) or moto (a
    server in this process); with `tracing`, a trace queue on the emulator (TRACE_QUEUE_URL) and a
    real MLflow tracking server for the forwarder (the settings' MLFLOW_TRACKING_URI, experiment
    "bench"); all removed on exit."""

    def __init__(
        self,
        server_url: str | None = None,
        aws_endpoint: str | None = None,
        *,
        prefix: str,
        tracing: bool = False,
        emulator: str = "moto",
    ) -> None:
        if emulator not in EMULATORS:
            raise ValueError(f"emulator must be one of {EMULATORS}, not {emulator!r}")
        self._server_url = server_url
        self._aws_endpoint = aws_endpoint
        self._tracing = tracing
        self.emulator = f"at {aws_endpoint}" if aws_endpoint else emulator
        self.prefix = prefix
        self._stack = contextlib.ExitStack()
        self.settings: Any = None
        self.db: Any = None

    def __enter__(self) -> PerfStack:
        from order_agent.db.dataset import load_dataset, read_dataset, save_snapshot
        from order_agent.db.migrate import migrate
        from order_agent.db.pool import Database
        from order_agent.settings import Settings
        from order_agent_dev.local.aws import LocalAws, create_conversation_store, create_trace_queue
        from order_agent_dev.local.emulator import Ministack
        from order_agent_dev.local.mlflow_server import MlflowServer
        from order_agent_dev.local.postgres import EmbeddedPostgres
        from order_agent_dev.scratch import create_scratch_database, drop_database

        try:
            for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                os.environ.setdefault(key, "testing")  # the emulator accepts any credentials
            mlflow_server: Future | None = None
            if self._tracing:
                # It takes ~12 s to start: in the background, while the τ data loads.
                data = self._stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{self.prefix}-mlflow-"))
                executor = ThreadPoolExecutor(1)
                self._stack.callback(executor.shutdown)
                mlflow_server = executor.submit(MlflowServer, Path(data))
                # Stopped (after waiting for its start) before its directory is removed.
                self._stack.callback(lambda: mlflow_server.exception() or mlflow_server.result().stop())
            server_url = self._server_url
            if server_url is None:
                tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{self.prefix}-pg-"))
                server = EmbeddedPostgres(Path(tmp) / "data", delete=True)
                self._stack.callback(server.cleanup)
                server_url = server.url
            url = create_scratch_database(server_url, prefix=self.prefix.replace("-", "_"))
            self._stack.callback(drop_database, url)
            endpoint = self._aws_endpoint
            if endpoint is None and self.emulator == "ministack":
                state = self._stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{self.prefix}-ministack-"))
                ministack = Ministack.start(
                    venv_dir=ROOT / ".cache" / "ministack",
                    requirements=ROOT / "requirements" / "emulator.txt",
                    state_dir=Path(state),
                )
                self._stack.callback(ministack.stop)  # before its state directory is removed
                endpoint = ministack.url
            elif endpoint is None:
                aws = LocalAws()
                self._stack.callback(aws.stop)
                endpoint = aws.url
            self.settings = Settings(
                database_url=url,
                aws_endpoint_url=endpoint,
                checkpoint_table=f"{self.prefix}-{secrets.token_hex(3)}",
                checkpoint_bucket=f"{self.prefix}-offload-{secrets.token_hex(3)}",
                # Explicitly off without `tracing`: an MLFLOW_TRACKING_URI of the environment is not ours.
                mlflow_tracking_uri=mlflow_server.result().url if mlflow_server else None,
                mlflow_experiment_name=self.prefix,
                mlflow_experiment_id=None,
                trace_queue_url=None,  # set below with `tracing`
                # One client on 127.0.0.1 sends every turn: the rate limits are counted (one DynamoDB
                # request per message, as deployed) but out of reach.
                max_messages_per_connection=10**9,
                max_messages_per_principal=10**9,
            )
            create_conversation_store(self.settings)
            if mlflow_server is not None:
                traces = f"{self.prefix}-traces-{secrets.token_hex(3)}"
                self.settings = self.settings.model_copy(update={"trace_bucket": traces})
                queue_url, _ = create_trace_queue(self.settings, traces)
                self.settings = self.settings.model_copy(update={"trace_queue_url": queue_url})
            self.db = Database(self.settings)
            self._stack.callback(self.db.close)
            migrate(self.db)
            load_dataset(self.db, read_dataset("tau-retail", self.settings))
            save_snapshot(self.db)
        except BaseException:
            self._stack.close()
            raise
        return self

    def restore(self) -> None:
        """The τ data as loaded (before a conversation that writes)."""
        from order_agent.db.dataset import restore_snapshot

        restore_snapshot(self.db)

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


# -- timing and counting hooks ---------------------------------------------------------------------------

MODEL = "model"
CHECKPOINT_READ = "checkpointer reads"
CHECKPOINT_WRITE = "checkpointer writes"
SESSION_LOCK = "session lock"
EDGE_STORE = "edge store"
TOOLS = "tools/SQL"
POSTING = "frame posting"
TRACING = "trace hand-off"
PARTS = (CHECKPOINT_READ, CHECKPOINT_WRITE, SESSION_LOCK, EDGE_STORE, TOOLS, TRACING, POSTING)
# What the cost model (cost_model.py) needs beyond the request counts
DYNAMODB_READ_UNITS = "dynamodb read units"
DYNAMODB_WRITE_UNITS = "dynamodb write units"
MESSAGES_IN = "websocket messages in"  # billed: one per started 32 KB of each frame
MESSAGES_OUT = "websocket messages out"
BYTES_OUT = "frame bytes out"
TRACE_BYTES = "trace bytes"


@dataclass
class TurnRecord:
    label: str
    started: float
    total_s: float = 0.0
    parts: Counter = field(default_factory=Counter)  # exclusive seconds per part
    counts: Counter = field(default_factory=Counter)  # requests, by kind and by the part that made them
    sql_per_tool_call: list[tuple[str, int]] = field(default_factory=list)
    model_ttft_s: float | None = None  # model time until its first streamed text (earlier calls included)
    first_text_at: float | None = None  # time.monotonic() of that first text

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.parts[MODEL]

    @property
    def rest_s(self) -> float:
        """Graph and everything not measured separately (event parsing, frame building, ...)."""
        return self.total_s - sum(self.parts.values())


class Recorder:
    """Collects TurnRecords; hooks find the turn of their thread."""

    def __init__(self) -> None:
        self.turns: list[TurnRecord] = []
        # A context variable, not a thread-local: LangGraph writes the checkpoint from a worker
        # thread of its own, with a copy of the caller's context.
        self._turn: contextvars.ContextVar[TurnRecord | None] = contextvars.ContextVar("turn", default=None)
        self._local = threading.local()  # each thread's stack of open parts
        self._finished = threading.Condition()

    def current(self) -> TurnRecord | None:
        return self._turn.get()

    @contextlib.contextmanager
    def turn(self, label: str) -> Iterator[TurnRecord]:
        record = TurnRecord(label, time.monotonic())
        token = self._turn.set(record)
        self._local.stack = []
        try:
            yield record
        finally:
            record.total_s = time.monotonic() - record.started
            self._turn.reset(token)
            with self._finished:
                self.turns.append(record)
                self._finished.notify_all()

    def finished(self, labels: list[str], timeout: float = 30) -> dict[str, TurnRecord]:
        """The records of these turns, once their handlers have returned (the client sees `done` a
        little earlier)."""
        with self._finished:
            if not self._finished.wait_for(lambda: set(labels) <= {t.label for t in self.turns}, timeout):
                raise TimeoutError(f"turns not finished within {timeout} s: {labels}")
            return {t.label: t for t in self.turns if t.label in labels}

    def current_part(self) -> str | None:
        stack = getattr(self._local, "stack", None)
        return stack[-1][0] if stack else None

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        record = self.current()
        if record is None:
            yield
            return
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        stack = self._local.stack
        entry = [name, time.monotonic(), 0.0]  # name, start, time of nested parts
        stack.append(entry)
        try:
            yield
        finally:
            stack.pop()
            elapsed = time.monotonic() - entry[1]
            record.parts[name] += elapsed - entry[2]
            if stack:
                stack[-1][2] += elapsed

    def count(self, kind: str, n: float = 1) -> None:
        record = self.current()
        if record is not None:
            record.counts[kind] += n
            record.counts[f"{kind}:{self.current_part() or 'graph'}"] += n

    def wrap(self, obj: Any, method: str, part: str) -> None:
        """Time `obj.method` as `part` (an instance attribute shadows the class's method)."""
        original = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.part(part):
                return original(*args, **kwargs)

        setattr(obj, method, timed)

    def count_aws_requests(self, client: Any) -> None:
        """Count every API call of a boto3 client (before retries: one per request made by our code),
        and for DynamoDB the read and write request units each consumes (cost_model)."""
        service = client.meta.service_model.service_name
        client.meta.events.register(f"before-call.{service}", lambda **_: self.count(service))
        if service != "dynamodb":
            return

        def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["bench_params"] = dict(params)

        def count_units(model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            reads, writes = dynamodb_request_units(model.name, context.get("bench_params", {}), parsed)
            self.count(DYNAMODB_READ_UNITS, reads)
            self.count(DYNAMODB_WRITE_UNITS, writes)

        client.meta.events.register("before-parameter-build.dynamodb", keep_params)
        client.meta.events.register("after-call.dynamodb", count_units)


class InstrumentedModel:
    """A model provider wrapper: model time, and the model's own time to its first streamed text."""

    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self.inner, self.recorder = inner, recorder
        self.name = inner.name
        self.requests: list[Any] = []

    def converse(self, request: Any, on_text: Callable[[str], None] | None = None) -> Any:
        record = self.recorder.current()
        started = time.monotonic()
        earlier_model_s = record.parts[MODEL] if record is not None else 0.0
        self.requests.append(request)

        def text(piece: str) -> None:
            if record is not None and record.first_text_at is None:
                record.first_text_at = time.monotonic()
                record.model_ttft_s = earlier_model_s + (record.first_text_at - started)
            if on_text is not None:
                on_text(piece)

        if record is not None:
            record.counts["model calls"] += 1
        with self.recorder.part(MODEL):
            return self.inner.converse(request, on_text=text)


def counting_connection_class(recorder: Recorder) -> type:
    """A psycopg2 connection class that counts round trips to the server: each execute, the
    BEGIN psycopg2 sends before a transaction's first statement, and COMMIT/ROLLBACK of an open
    transaction (psycopg2 sends nothing for those on an idle connection)."""

    def in_transaction(conn: Any) -> bool:
        return conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE

    cursor_classes: dict[type, type] = {}

    def counting_cursor(base: type) -> type:
        if base not in cursor_classes:

            def execute(self: Any, query: Any, args: Any = None) -> Any:
                begins = not self.connection.autocommit and not in_transaction(self.connection)
                recorder.count("sql", 2 if begins else 1)
                return base.execute(self, query, args)

            cursor_classes[base] = type(f"Counting{base.__name__}", (base,), {"execute": execute})
        return cursor_classes[base]

    class CountingConnection(psycopg2.extensions.connection):
        def cursor(self, *args: Any, **kwargs: Any) -> Any:
            base = kwargs.get("cursor_factory") or self.cursor_factory or psycopg2.extensions.cursor
            kwargs["cursor_factory"] = counting_cursor(base)
            return super().cursor(*args, **kwargs)

        def commit(self) -> None:
            if not self.closed and in_transaction(self):
                recorder.count("sql")
            super().commit()

        def rollback(self) -> None:
            if not self.closed and in_transaction(self):
                recorder.count("sql")
            super().rollback()

    return CountingConnection


def instrument_runner(runner: Any, recorder: Recorder) -> None:
    """Tool calls timed as tools/SQL, with the SQL round trips of each call."""
    original = runner.run

    def run(ctx: Any, name: str, arguments: Any, **options: Any) -> Any:
        record = recorder.current()
        before = record.counts["sql"] if record is not None else 0
        with recorder.part(TOOLS):
            result = original(ctx, name, arguments, **options)
        if record is not None:
            kind = f"{name} (dry run)" if options.get("dry_run") else name
            record.sql_per_tool_call.append((kind, record.counts["sql"] - before))
            record.counts["tool calls"] += 1
        return result

    runner.run = run


def trace_size(trace: Any) -> int:
    """About what a turn's trace sends: its spans (names, inputs, outputs, attributes) and tags as JSON."""
    spans = [
        {"name": s.name, "inputs": s.inputs, "outputs": s.outputs, "attributes": s.attributes}
        for s in trace.root.walk()
    ]
    return len(json.dumps({"spans": spans, "tags": trace.tags}, default=str).encode())


def instrument_tracing(recorder: Recorder, agent: Any) -> bool:
    """Time the agent's per-turn trace hand-off (one SQS message, after the reply frames, inside the
    handler) as TRACING, and count failed ones; False when tracing is off (no TRACE_QUEUE_URL)."""
    handoff = agent.traces
    if not handoff.enabled:
        return False
    original = handoff.send

    def send(trace: Any) -> Any:
        with recorder.part(TRACING):
            result = original(trace)
        recorder.count("trace handoffs")
        recorder.count(TRACE_BYTES, result.size_bytes or trace_size(trace))
        if result.error is not None:
            recorder.count("trace handoff errors")
        return result

    handoff.send = send
    return True


@dataclass
class Forwarded:
    delivered: int
    failed: int
    seconds: float  # the forwarder's time over them


def forward_traces(settings: Any) -> Forwarded:
    """What the trace forwarder does in AWS, here after a conversation: the queue's traces into MLflow."""
    from order_agent.trace_forwarder import TraceForwarder

    started = time.perf_counter()
    result = TraceForwarder(settings).drain(settings.trace_queue_url)
    return Forwarded(len(result.delivered), result.failed, time.perf_counter() - started)


@contextlib.contextmanager
def instrumented_edge(edge: Any, recorder: Recorder) -> Iterator[dict[str, Any]]:
    """Hooks on everything a message handler invocation touches (the Edge of the local gateway,
    its agent, stores and poster); each sendMessage invocation becomes one TurnRecord."""
    from order_agent.edge import handlers

    agent = edge.agent
    recorder.wrap(agent.graph.checkpointer, "get_tuple", CHECKPOINT_READ)
    recorder.wrap(agent.graph.checkpointer, "list", CHECKPOINT_READ)
    recorder.wrap(agent.graph.checkpointer, "put", CHECKPOINT_WRITE)
    recorder.wrap(agent.graph.checkpointer, "put_writes", CHECKPOINT_WRITE)
    for method in ("acquire", "release", "held"):
        recorder.wrap(agent.lock, method, SESSION_LOCK)
    for method in ("count_message", "claim_session", "last_seq", "record_frames", "frames_after",
                   "earlier_delivery", "finish_message", "session_connection", "end_turn"):  # fmt: skip
        recorder.wrap(edge.store, method, EDGE_STORE)
    instrument_runner(agent.runner, recorder)
    saver = agent.graph.checkpointer
    clients = [saver.client, agent.lock.client, edge.store.client]
    s3 = getattr(saver.storage, "s3_client", None)  # only with offload configured
    for client in {id(c): c for c in [*clients, s3] if c is not None}.values():
        recorder.count_aws_requests(client)
    tracing = instrument_tracing(recorder, agent)

    original_post = handlers.Poster._post_now

    def post(self: Any, frame: dict[str, Any]) -> bool:
        recorder.count("frames posted")
        size = len(json.dumps(frame).encode())  # what Poster sends
        recorder.count(BYTES_OUT, size)
        recorder.count(MESSAGES_OUT, websocket_messages(size))
        if threading.current_thread().name == handlers.SENDER_THREAD:
            return original_post(self, frame)  # beside the turn: not part of its time
        with recorder.part(POSTING):
            return original_post(self, frame)

    original_message = edge.message

    def message(event: dict[str, Any]) -> dict[str, Any]:
        try:
            body = json.loads(event.get("body") or "{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("action") != "sendMessage":
            return original_message(event)
        with recorder.turn(str(body.get("messageId"))):
            recorder.count(MESSAGES_IN, websocket_messages(len((event.get("body") or "").encode())))
            return original_message(event)

    handlers.Poster._post_now = post  # every frame posted, at once or by the poster's sender thread
    edge.message = message
    try:
        yield {"tracing": tracing}
    finally:
        handlers.Poster._post_now = original_post
        edge.message = original_message


# -- conversations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """A scripted conversation, driven as the scenario harness drives one (`evals.scenarios.run_scenario`):
    the customer says its lines in order, but answers every proposal (a quick reply with a
    confirmHash) with `confirms` and that hash; it ends when the scripted model has no responses
    left or the conversation is closed or handed off."""

    name: str
    says: tuple[str, ...]
    steps: tuple[dict[str, Any], ...]  # the model's replies (ScriptedProvider steps)
    confirms: str = "Yes"
    writes: bool = False  # may change the database: the data is restored before it runs
    max_turns: int = 12


EMAIL = "aarav.anderson9752@example.com"
PENDING, PROCESSED, DELIVERED = "#W9300146", "#W3220203", "#W4316152"
GIFT_CARD = "gift_card_7245904"
OTHER_PENDING = "#W8770097"  # another customer's order
_ASK_EMAIL = {"expect": {"stage": "entry_intent"}, "text": "Happy to help. What is the email address on your account?"}
_FIND = {"tool_use": {"name": "find_user_id_by_email", "input": {"email": EMAIL}}}
_USAGE = {}  # the scripted model reports no usage; the bench estimates tokens from the requests


def representative_conversations() -> list[Conversation]:
    """Five conversations covering the common order requests, on the τ retail data, each
    proposal answered "Yes" (`make bench --suite representative`; `make load` uses its own)."""
    return [
        Conversation("status", (f"Where is my order {PROCESSED}?", EMAIL,
                                "Great, that's all. Bye!"), (
            _ASK_EMAIL, _FIND,
            {"tool_use": {"name": "get_order_details", "input": {"order_id": PROCESSED}}},
            {"text": f"Order {PROCESSED} (Bluetooth Speaker) has been processed and is on its way to you."},
            {"text": "You're welcome. Goodbye!", "tool_use": {"name": "end_conversation", "input": {}}},
        )),
        Conversation("cancel", ("I'd like to cancel an order", f"{EMAIL}, order {PENDING}",
                                "No, that's all. Bye!"), (
            _ASK_EMAIL, _FIND,
            {"tool_use": {"name": "get_order_details", "input": {"order_id": PENDING}}},
            {"text": f"Order {PENDING} (Desk Lamp, $153.23) is pending. I will cancel it because it is no longer "
                     "needed and refund $153.23 to your gift card. Shall I go ahead?",
             "tool_use": {"name": "cancel_pending_order",
                          "input": {"order_id": PENDING, "reason": "no longer needed"}}},
            {"expect": {"stage": "resolution", "tool_status": "success"},
             "text": f"Done: order {PENDING} is cancelled and $153.23 is back on your gift card. Anything else?"},
            {"text": "Goodbye!", "tool_use": {"name": "end_conversation", "input": {}}},
        ), writes=True),
        Conversation("address", (f"Please send order {PENDING} to my new address",
                                 f"{EMAIL}; it's 12 Elm Street, Apt 4, Denver, CO 80202"), (
            _ASK_EMAIL, _FIND,
            {"tool_use": {"name": "get_order_details", "input": {"order_id": PENDING}}},
            {"text": f"I will ship order {PENDING} to 12 Elm Street, Apt 4, Denver, CO 80202, USA. Shall I go ahead?",
             "tool_use": {"name": "modify_pending_order_address", "input": {
                 "order_id": PENDING, "address1": "12 Elm Street", "address2": "Apt 4", "city": "Denver",
                 "state": "CO", "country": "USA", "zip": "80202"}}},
            {"expect": {"stage": "resolution", "tool_status": "success"},
             "text": f"Done: order {PENDING} will go to 12 Elm Street, Denver. Anything else?"},
        ), writes=True),
        Conversation("return", ("I want to return a kettle",
                                f"{EMAIL}, it's order {DELIVERED}"), (
            _ASK_EMAIL, _FIND,
            {"tool_use": {"name": "get_order_details", "input": {"order_id": DELIVERED}}},
            {"text": f"I'll request the return of one Tea Kettle ($94.80) from {DELIVERED}, refunded to your gift "
                     "card. Confirm?",
             "tool_use": {"name": "return_delivered_order_items", "input": {
                 "order_id": DELIVERED, "item_ids": ["7292993796"], "payment_method_id": GIFT_CARD}}},
            {"expect": {"stage": "resolution", "tool_status": "success"},
             "text": "Your return is requested; you'll get an email with instructions."},
        ), writes=True),
        Conversation("refusal", ("hi",
                                 f"{EMAIL}; also cancel {OTHER_PENDING} for my friend"), (
            _ASK_EMAIL, _FIND,
            {"tool_use": {"name": "get_order_details", "input": {"order_id": OTHER_PENDING}}},
            {"expect": {"tool_result": "get_order_details", "tool_status": "error"},
             "text": "I can only help with orders on your own account."},
        )),
    ]  # fmt: skip


def scenario_conversations(stack: PerfStack, which: str) -> list[Conversation]:
    """The evaluation suite's scenarios that the scripted model can play (`ci`: those `make test`
    runs; `all`), as the harness plays them: a gold transcript is generated from the scenario's
    expected actions, with a "Please continue." line for each continuation it needs."""
    from order_agent.db.dataset import restore_snapshot
    from order_agent_dev.evals.scenarios import (
        changes_orders,
        email_of,
        gold_script,
        load_scenarios,
        provider_for,
        replay_expected,
    )

    scenarios = [s for s in load_scenarios([ROOT / "evals/scenarios"]) if provider_for(s, "scripted") == "scripted"]
    conversations = []
    for scenario in scenarios if which == "all" else [s for s in scenarios if s.ci]:
        says = list(scenario.customer.says)
        if scenario.script == "gold":
            _, oks = replay_expected(stack.db, stack.settings, scenario.expected.actions)
            steps, continues = gold_script(
                scenario.expected.actions,
                oks,
                email_of(scenario, stack.db),
                stack.settings.max_tool_rounds,
                scenario.expected.facts,
            )
            says += ["Please continue."] * continues
        else:
            steps = list(scenario.script)
        writes = any(changes_orders(step.get("tool_use", {}).get("name", "")) for step in steps)
        conversations.append(
            Conversation(
                scenario.id, tuple(says), tuple(steps), scenario.customer.confirms, writes, scenario.customer.max_turns
            )
        )
    restore_snapshot(stack.db)  # replay_expected leaves the expected final state
    return conversations


def estimated_tokens(request: Any) -> dict[str, int]:
    """What a model call would cost, estimated at 4 characters a token (no tokenizer offline): the
    system prompt and tools (the prefix Bedrock caches after the cachePoint) and the transcript."""
    prefix = len(request.system) + len(json.dumps(request.tools))
    transcript = len(json.dumps(request.messages))
    return {"cacheable_prefix": prefix // 4, "input": (prefix + transcript) // 4}
