"""Traces of the agent's turns in MLflow: one trace per turn.

    turn (AGENT) ─┬─ entry_intent (AGENT) ─┬─ model entry_intent (CHAT_MODEL): usage, cost, stop reason, TTFT
                  │                         └─ get_order_details (TOOL): arguments, result
                  └─ resolution (AGENT) ...

While a turn runs, its spans are only *recorded* here, in memory (`span()`, a few microseconds
each, nothing when tracing is off). The trace goes to MLflow afterwards, in one piece:
`TraceExporter.export()` replays the recorded spans with their real start and end times through
`mlflow-tracing` with synchronous export (`MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false`). Why:
- the customer never waits for MLflow: the agent exports after the reply was sent (in Lambda,
  after the final frames were posted and before the handler returns, so a frozen process loses
  nothing) — with live spans, synchronous export would send every span as it ends, mid-turn;
- personal data is redacted knowing everything the turn revealed (a name typed by the customer
  is recognised once a look-up tool has used it);
- a tracking server that is down or slow costs at most its request timeout, and never an error:
  every failure is logged and swallowed.

This module imports only the `mlflow-tracing` API (the Lambda layer has no full `mlflow`), and
imports it only when a trace is exported, so a process with tracing off never loads it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import os
import re
import threading
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


# -- export -------------------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    trace_id: str | None  # None when nothing was sent
    duration_ms: float  # time spent in export (a benchmark subtracts or reports it)
    error: str | None = None


class TraceExporter:
    """Sends recorded turns to the tracking server of the settings (MLFLOW_TRACKING_URI)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.mlflow_tracking_uri)

    def start(self, session_id: str, text: str, message_id: str | None) -> TurnTrace | None:
        return TurnTrace(self.settings, session_id, text, message_id) if self.enabled else None

    def export(self, trace: TurnTrace) -> ExportResult:
        """Send the trace now (synchronously). Never raises: a failure is logged and returned."""
        started = time.perf_counter()
        try:
            with self._lock:  # MLflow's tracking URI and experiment are process-wide
                experiment_id = _configure(self.settings)
                trace_id = self._send(trace, experiment_id)
            return ExportResult(trace_id, (time.perf_counter() - started) * 1000)
        except Exception as exc:
            logger.warning("trace of session %s not exported: %s", trace.session_id, exc)
            return ExportResult(None, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}")

    def _send(self, trace: TurnTrace, experiment_id: str) -> str:
        import mlflow
        from mlflow.entities import SpanEvent, SpanStatus, SpanStatusCode

        records = list(trace.root.walk())
        pseudonym = functools.partial(user_key, self.settings)
        clean = Redactor(records, pseudonym, [trace.customer_id]) if self.settings.trace_redact_pii else copy.deepcopy

        def status(record: SpanRecord) -> SpanStatus:
            if record.error:
                return SpanStatus(SpanStatusCode.ERROR, record.error)
            return SpanStatus(SpanStatusCode.OK)

        def finish(live: Any, record: SpanRecord) -> None:
            if record.error:
                live.add_event(SpanEvent("exception", attributes={"exception.message": record.error}))
            live.end(
                outputs=clean(record.outputs),
                status=status(record),
                end_time_ns=record.end_ns or time.time_ns(),
            )

        def replay(parent: Any, record: SpanRecord) -> None:
            live = mlflow.start_span_no_context(
                record.name,
                span_type=record.span_type,
                parent_span=parent,
                inputs=clean(record.inputs),
                attributes=record.attributes,
                start_time_ns=record.start_ns,
            )
            for child in record.children:
                replay(live, child)
            finish(live, record)

        root = trace.root
        tags = {**trace.tags, **({"user_key": trace.user_key()} if trace.customer_id else {})}
        live_root = mlflow.start_span_no_context(
            root.name,
            span_type=root.span_type,
            inputs=clean(root.inputs),
            attributes=root.attributes,
            tags=tags,
            metadata=trace.metadata(),
            experiment_id=experiment_id,
            start_time_ns=root.start_ns,
        )
        for child in root.children:
            replay(live_root, child)
        finish(live_root, root)  # the root's end sends the trace (synchronously)
        return live_root.trace_id


_configured: dict[tuple[str, str], str] = {}  # (tracking URI, experiment name) -> experiment id
_tracking_uri: str | None = None  # what this module last gave mlflow.set_tracking_uri


def set_tracking_uri(uri: str) -> None:
    """`mlflow.set_tracking_uri`, without its side effect: MLflow also writes the URI to the
    environment, where MLFLOW_TRACKING_URI is one of our settings (and would outlive the call)."""
    import mlflow

    ours = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if ours is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = ours


def _configure(settings: Settings) -> str:
    """Point MLflow at the settings' server and experiment (once per process and pair)."""
    uri, name = settings.mlflow_tracking_uri or "", settings.mlflow_experiment_name
    # Read by MLflow when its exporter and HTTP sessions are made: set before the first span.
    os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"  # export within the invocation
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # no calls to MLflow's telemetry host
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(settings.trace_export_timeout_s)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.trace_export_max_retries)
    import mlflow

    global _tracking_uri
    # Not mlflow.get_tracking_uri(): with no URI set it looks for ./mlruns through full mlflow's file store.
    if _tracking_uri != uri:
        set_tracking_uri(uri)
        _tracking_uri = uri
    if settings.mlflow_experiment_id:
        return settings.mlflow_experiment_id
    if (uri, name) not in _configured:
        # One REST call per process (two when the experiment is new): set_experiment creates it.
        _configured[(uri, name)] = mlflow.set_experiment(name).experiment_id
    return _configured[(uri, name)]
