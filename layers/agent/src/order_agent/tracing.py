"""Traces of the agent's turns in MLflow: one trace per turn.

    turn (AGENT) ─┬─ entry_intent (AGENT) ─┬─ model entry_intent (CHAT_MODEL): usage, cost, stop reason, TTFT
                  │                         └─ get_order_details (TOOL): arguments, result
                  └─ resolution (AGENT) ...

While a turn runs, its spans are only *recorded* here, in memory (`span()`, a few microseconds
each, nothing when tracing is off). When the turn is over, `TraceHandoff.send()` hands the whole
trace off in one durable step — an SQS message on the trace queue (TRACE_QUEUE_URL), the trace in
S3 (TRACE_BUCKET) when it is over the message limit — and the trace forwarder
(order_agent.trace_forwarder, its own Lambda function) rebuilds it in MLflow later. Why:
- the customer never waits for MLflow, and an MLflow outage or slowdown costs the turn nothing: the
  hand-off is one SQS request, after the reply was sent and before the handler returns (a frozen
  process loses nothing); the queue keeps the traces until MLflow takes them again;
- personal data is redacted here, knowing everything the turn revealed (a name typed by the
  customer is recognised once a look-up tool has used it), so no personal data enters the queue;
- a failed hand-off is logged and swallowed, never an error of the turn.

This module never imports MLflow (the message function's layers have none): the serialized trace
is plain JSON (`serialize()`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from aws_lambda_powertools import Logger

from order_agent.logs import service_name
from order_agent.settings import Settings

logger = Logger(service=service_name(), child=True)

# MLflow's span types (mlflow.entities.SpanType), as strings: no mlflow import while recording.
AGENT, TOOL, CHAT_MODEL = "AGENT", "TOOL", "CHAT_MODEL"
# Trace metadata that groups a conversation's traces and names its user in the MLflow UI: the
# user is a pseudonymous key (`user_key`), never the τ user id, which contains the customer's name.
SESSION_KEY, USER_KEY = "mlflow.trace.session", "mlflow.trace.user"
USAGE_KEY, MODEL_KEY, PROVIDER_KEY, COST_KEY = (
    "mlflow.chat.tokenUsage",
    "mlflow.llm.model",
    "mlflow.llm.provider",
    "mlflow.llm.cost",
)


@dataclass
class SpanRecord:
    """One span as recorded during the turn."""

    name: str
    span_type: str
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int | None = None
    error: str | None = None
    children: list[SpanRecord] = field(default_factory=list)

    def walk(self) -> Iterator[SpanRecord]:
        yield self
        for child in self.children:
            yield from child.walk()


_open_span: ContextVar[SpanRecord | None] = ContextVar("order_agent_open_span", default=None)


def tracing() -> bool:
    """Whether a turn is being recorded here (callers can skip work only a trace needs)."""
    return _open_span.get() is not None


@contextmanager
def span(
    name: str, span_type: str, inputs: Any = None, *, expected: tuple[type[BaseException], ...] = ()
) -> Iterator[SpanRecord]:
    """Record a span under the open one. Outside a recorded turn the record is simply dropped.

    An exception marks the span as failed and propagates, unless it is `expected` (LangGraph's
    interrupt, which is how a node waits for the customer), which is noted as an attribute."""
    parent = _open_span.get()
    record = SpanRecord(name, span_type, inputs)
    if parent is None:
        yield record
        return
    parent.children.append(record)
    token = _open_span.set(record)
    try:
        yield record
    except expected as exc:
        record.attributes["interrupted"] = type(exc).__name__
        raise
    except BaseException as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        record.end_ns = time.time_ns()
        _open_span.reset(token)


@cache
def prompt_hash() -> str:
    """A short hash of the prompt files: the default prompt/policy version of a trace."""
    digest = hashlib.sha256()
    folder = resources.files("order_agent.agent") / "prompts"
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if item.name.endswith(".md"):
            digest.update(item.name.encode() + b"\0" + item.read_bytes())
    return f"prompts-{digest.hexdigest()[:12]}"


def user_key(settings: Settings, user_id: str) -> str:
    """The pseudonym of a customer in traces: `u_` + HMAC-SHA256 of the user id, keyed with the
    deployment's secret key (order_agent.db.credentials.trace_user_key), first 128 bits in hex.

    Keyed, not a plain hash: τ user ids are a first name, a last name and four digits, few enough
    to hash them all and read a plain hash back. The same customer gets the same key in every
    conversation of one deployment (their traces group in MLflow), and nobody without the key can
    tell who it is; another deployment gives another key."""
    from order_agent.db.credentials import trace_user_key  # boto3 only when a secret is configured

    digest = hmac.new(trace_user_key(settings), user_id.encode(), hashlib.sha256).hexdigest()
    return f"u_{digest[:32]}"


class TurnTrace:
    """One turn's trace while it is being recorded: the root span and the trace's tags."""

    def __init__(self, settings: Settings, session_id: str, text: str, message_id: str | None) -> None:
        self.root = SpanRecord("turn", AGENT, inputs={"text": text})
        self.settings = settings
        self.session_id = session_id
        self.customer_id: str | None = None
        self.tags: dict[str, str] = {
            "session_id": session_id,
            "prompt_version": settings.prompt_version or prompt_hash(),
            "model_provider": settings.model_provider,
        }
        if message_id:
            self.tags["message_id"] = message_id

    @contextmanager
    def recording(self) -> Iterator[TurnTrace]:
        token = _open_span.set(self.root)
        try:
            yield self
        except BaseException as exc:
            self.root.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.root.end_ns = time.time_ns()
            _open_span.reset(token)

    def user_key(self) -> str | None:
        return user_key(self.settings, self.customer_id) if self.customer_id else None

    def metadata(self) -> dict[str, str]:
        values = {SESSION_KEY: self.session_id}
        if self.customer_id:
            values[USER_KEY] = self.user_key()
        return values


# -- redaction --------------------------------------------------------------------------------------------

REDACTED = "[REDACTED]"
# Keys whose values are personal data wherever they appear (tool arguments, user and order documents).
PII_KEYS = frozenset(
    {"email", "first_name", "last_name", "address1", "address2", "city", "state", "zip", "country",
     "payment_method_id", "last_four"}
)  # fmt: skip
# Values that also get recognised in free text (the customer's words, the model's replies) once seen.
_LEARNED_KEYS = frozenset({"email", "first_name", "last_name", "address1", "address2", "city", "zip"})
EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# τ-retail payment method ids: credit_card_9513926, paypal_7644869, gift_card_7245904.
PAYMENT_METHOD_PATTERN = re.compile(r"\b(?:credit_card|debit_card|paypal|gift_card|bank_account|apple_pay)_\d+\b")
# A customer introducing themselves before any look-up has revealed their name ("Hi, I'm Ana
# Lopez", "my name is ...", "me llamo ..."): the capitalised words that follow. A heuristic: a name
# typed in lower case and never looked up is not caught.
NAME_INTRODUCTION_PATTERN = re.compile(
    r"(?i:\b(?:i'?m|i am|my name is|my name's|this is|me llamo|mi nombre es|soy)\s+)"
    r"([A-ZÀ-Þ][\w'-]+(?:\s+[A-ZÀ-Þ][\w'-]+){0,2})"
)


class Redactor:
    """Replaces personal data in span inputs and outputs: values under personal keys, emails and
    payment method ids anywhere, and — in free text — every personal value seen anywhere in the turn.
    With `pseudonym`, user ids (values under `user_id`, and `user_ids`, e.g. the verified customer
    a look-up returned as a bare string) become their pseudonymous key, wherever they appear."""

    def __init__(
        self,
        records: list[SpanRecord],
        pseudonym: Callable[[str], str] | None = None,
        user_ids: Iterable[str] = (),
    ) -> None:
        values: set[str] = set()
        ids: set[str] = {u for u in user_ids if u}
        for record in records:
            for value in (record.inputs, record.outputs):
                self._learn(value, values)
                self._learn_user_ids(value, ids)
        ordered = sorted(values, key=len, reverse=True)  # "Main St 12" before "Main"
        self._known = (
            re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered)) + r")(?!\w)", re.IGNORECASE)
            if ordered
            else None
        )
        self._pseudonym = pseudonym
        self._pseudonyms = {u: pseudonym(u) for u in ids} if pseudonym else {}
        self._user_ids = (
            re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(ids, key=len, reverse=True))) + r")(?!\w)")
            if self._pseudonyms
            else None
        )

    @classmethod
    def _learn_user_ids(cls, value: Any, into: set[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "user_id" and isinstance(item, str) and item:
                    into.add(item)
                else:
                    cls._learn_user_ids(item, into)
        elif isinstance(value, list | tuple):
            for item in value:
                cls._learn_user_ids(item, into)

    @classmethod
    def _learn(cls, value: Any, into: set[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _LEARNED_KEYS and isinstance(item, str) and len(item.strip()) >= 2:
                    into.add(item.strip())
                else:
                    cls._learn(item, into)
        elif isinstance(value, list | tuple):
            for item in value:
                cls._learn(item, into)

    def text(self, value: str) -> str:
        if self._user_ids is not None:  # before the names in them are redacted
            value = self._user_ids.sub(lambda m: self._pseudonyms[m.group(0)], value)
        value = EMAIL_PATTERN.sub("[EMAIL]", value)
        value = PAYMENT_METHOD_PATTERN.sub("[PAYMENT_METHOD]", value)
        value = NAME_INTRODUCTION_PATTERN.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "[NAME]", value)
        return self._known.sub(REDACTED, value) if self._known else value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            clean: dict[Any, Any] = {}
            for key, item in value.items():
                name = self.text(key) if isinstance(key, str) else key
                while name in clean:  # two payment method ids became the same placeholder
                    name = f"{name}'"
                pii = key in PII_KEYS and isinstance(item, str | int | float) and item not in ("", None)
                if key == "user_id" and self._pseudonym is not None and isinstance(item, str) and item:
                    clean[name] = self._pseudonyms.get(item) or self._pseudonym(item)
                else:
                    clean[name] = REDACTED if pii else self(item)
            return clean
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        return value


# -- hand-off ------------------------------------------------------------------------------------------------

FORMAT_VERSION = 1
SQS_BODY_LIMIT = 256 * 1024  # bytes of one SQS message body
# The body of a trace kept in S3 instead: {"format": ..., "s3": {"bucket": ..., "key": ...}}.
S3_PREFIX = "traces/"


def serialize(trace: TurnTrace) -> dict[str, Any]:
    """The finished trace as plain JSON data, personal data already redacted, so that what leaves
    the message function is what MLflow will show. `order_agent.trace_forwarder.rebuild` reads it:

        {"format": 1, "tags": {...}, "metadata": {...},
         "root": {"name", "span_type", "inputs", "outputs", "attributes", "start_ns", "end_ns", "error",
                  "children": [<span>, ...]}}
    """
    records = list(trace.root.walk())
    settings = trace.settings
    pseudonym = functools.partial(user_key, settings)
    clean = Redactor(records, pseudonym, [trace.customer_id]) if settings.trace_redact_pii else copy.deepcopy
    end_ns = time.time_ns()

    def to_json(record: SpanRecord) -> dict[str, Any]:
        return {
            "name": record.name,
            "span_type": record.span_type,
            "inputs": clean(record.inputs),
            "outputs": clean(record.outputs),
            "attributes": record.attributes,
            "start_ns": record.start_ns,
            "end_ns": record.end_ns or end_ns,
            "error": record.error,
            "children": [to_json(child) for child in record.children],
        }

    tags = {**trace.tags, **({"user_key": trace.user_key()} if trace.customer_id else {})}
    return {"format": FORMAT_VERSION, "tags": tags, "metadata": trace.metadata(), "root": to_json(trace.root)}


def encode(payload: dict[str, Any]) -> str:
    """JSON text; values JSON has no type for (datetimes, decimals) as their str(), as MLflow would show them."""
    return json.dumps(payload, default=str, separators=(",", ":"), ensure_ascii=False)


@dataclass
class HandoffResult:
    message_id: str | None  # the SQS message id; None when nothing was sent
    duration_ms: float  # time spent handing off (the benchmark reports it)
    size_bytes: int  # the serialized trace
    error: str | None = None
    s3_key: str | None = None  # set when the trace was too big for a message


class TraceHandoff:
    """Hands each finished trace to the trace queue (TRACE_QUEUE_URL): one SQS SendMessage, after one
    S3 PutObject for a trace over the message limit. The trace forwarder sends it on to MLflow."""

    def __init__(self, settings: Settings, sqs: Any = None, s3: Any = None) -> None:
        self.settings = settings
        self._sqs, self._s3 = sqs, s3

    @property
    def enabled(self) -> bool:
        return bool(self.settings.trace_queue_url)

    def _client(self, service: str) -> Any:
        cached = getattr(self, f"_{service}")
        if cached is None:
            cached = trace_client(service, self.settings.aws_region, self.settings.aws_endpoint_url)
            setattr(self, f"_{service}", cached)
        return cached

    def send(self, trace: TurnTrace) -> HandoffResult:
        """Hand the trace off now. Never raises: a failure is logged and returned (the reply is out)."""
        started = time.perf_counter()
        size, key = 0, None
        try:
            body = encode(serialize(trace))
            size = len(body.encode())
            if size > SQS_BODY_LIMIT:
                key = self._store(trace, body)
                body = encode({"format": FORMAT_VERSION, "s3": {"bucket": self.settings.trace_bucket, "key": key}})
            sent = self._client("sqs").send_message(QueueUrl=self.settings.trace_queue_url, MessageBody=body)
            return HandoffResult(sent["MessageId"], _ms_since(started), size, s3_key=key)
        except Exception as exc:
            logger.warning("trace of session %s not handed off: %s", trace.session_id, exc)
            return HandoffResult(None, _ms_since(started), size, f"{type(exc).__name__}: {exc}", key)

    def _store(self, trace: TurnTrace, body: str) -> str:
        if not self.settings.trace_bucket:
            raise ValueError(f"a {len(body.encode())}-byte trace needs TRACE_BUCKET (over the SQS limit)")
        key = f"{S3_PREFIX}{trace.session_id}/{time.time_ns()}.json"
        self._client("s3").put_object(
            Bucket=self.settings.trace_bucket, Key=key, Body=body.encode(), ContentType="application/json"
        )
        return key


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


@functools.cache
def trace_client(service: str, region: str, endpoint_url: str | None) -> Any:
    """One SQS or S3 client per process, with short timeouts: the hand-off runs inside the turn's invocation."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
