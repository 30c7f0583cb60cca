"""What a conversation costs to serve at AWS list prices, and what N concurrent conversations need
against the default AWS quotas: the model `make bench` (scripts/bench.py) feeds with what it measured.

    .venv/bin/python scripts/cost_model.py --tables    # the price and quota tables of the docs

Inputs: the list prices and quotas in scripts/aws_prices.toml (the one place for each); the Bedrock
token prices of the agent's own table (`Settings.price_of`); the functions' memory, architecture
and reserved concurrency from the Terraform defaults; per conversation what the bench measured
(handler time, DynamoDB requests and item sizes, frames and their sizes, trace export time and
size, model calls, estimated tokens); and the `Assumptions` below for what a local run cannot
measure (the model's latency, the customer's think time). docs/performance.md explains the method.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRICES_FILE = Path(__file__).with_name("aws_prices.toml")

WEBSOCKET_FRAME_BYTES = 32 * 1024  # API Gateway meters messages in 32 KB increments
SQS_CHUNK_BYTES = 64 * 1024  # each 64 KB of a payload is one SQS request
READ_UNIT_BYTES = 4 * 1024  # a strongly consistent read of up to 4 KB (eventually consistent: half)
WRITE_UNIT_BYTES = 1024
GB = 1024**3
SMALL_FUNCTIONS = ("connect", "disconnect", "authorizer")
TRACE_PIPELINES = ("sync-mlflow", "sqs-forwarder")
SIZES = (10, 100, 1000)


# -- prices and quotas ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    key: str
    item: str
    usd: float  # for `per` units of `unit`
    per: float
    unit: str
    source: str
    use: str  # conversation, idle or both: which table shows it
    assumption: bool = False

    @property
    def unit_usd(self) -> float:
        return self.usd / self.per

    def text(self) -> str:
        per = "" if self.per == 1 else ("1M " if self.per == 1_000_000 else f"{self.per:,.0f} ")
        if self.unit.startswith("times"):
            return f"{self.usd:g} {self.unit}"
        return f"US${_usd(self.usd)} per {per}{self.unit}"


def _usd(value: float) -> str:
    """At least two decimals, and every significant one a price has (US$0.0000133334)."""
    text = f"{value:.10f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{int(whole):,}.{decimals.ljust(2, '0')}"


@dataclass(frozen=True)
class Quota:
    key: str
    item: str
    value: float
    source: str


@dataclass(frozen=True)
class PriceBook:
    checked: str
    region: str
    prices: dict[str, Price]
    quotas: dict[str, Quota]

    def __getitem__(self, key: str) -> float:
        """The price of one unit (a GB-second, a request, a message ...)."""
        return self.prices[key].unit_usd


def load_prices(path: Path = PRICES_FILE) -> PriceBook:
    data = tomllib.loads(path.read_text())
    return PriceBook(
        checked=data["checked"],
        region=data["region"],
        prices={key: Price(key=key, **entry) for key, entry in data["price"].items()},
        quotas={key: Quota(key=key, **entry) for key, entry in data["quota"].items()},
    )


def price_table(book: PriceBook, use: str) -> str:
    """The markdown table of the prices a document uses ("conversation" or "idle")."""
    rows = ["| Item | Unit price | Source / note |", "|---|---|---|"]
    own = [p for p in book.prices.values() if p.use == use]
    shared = [p for p in book.prices.values() if p.use == "both"]
    rows += [f"| {price.item} | {price.text()} | {price.source} |" for price in own + shared]
    return "\n".join(rows)


def quota_table(book: PriceBook) -> str:
    rows = ["| Quota | Default | Source / note |", "|---|---:|---|"]
    for quota in book.quotas.values():
        rows.append(f"| {quota.item} | {quota.value:,g} | {quota.source} |")
    return "\n".join(rows)


# -- what is billed how -----------------------------------------------------------------------------------


def websocket_messages(frame_bytes: int) -> int:
    """Billed API Gateway messages of one frame: one per started 32 KB."""
    return max(1, math.ceil(frame_bytes / WEBSOCKET_FRAME_BYTES))


def sqs_requests(payload_bytes: int) -> int:
    """Billed SQS requests of one message: one per started 64 KB."""
    return max(1, math.ceil(payload_bytes / SQS_CHUNK_BYTES))


def billed_seconds(seconds: float) -> float:
    """Lambda bills duration rounded up to the millisecond."""
    return math.ceil(round(seconds * 1000, 6)) / 1000


def _value_size(value: Any) -> int:
    """DynamoDB's size of an attribute value, typed ({"S": ...}) as the low-level client sends it,
    or a plain Python value as the resource layer takes it: strings and binaries their length in
    bytes, numbers about one byte per two digits plus one, lists and maps 3 bytes plus their elements."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("S", "N", "B", "BOOL", "NULL"):
            if kind == "N":
                return len(str(inner).lstrip("-").replace(".", "")) // 2 + 1
            return 1 if kind in ("BOOL", "NULL") else _value_size(inner)
        if kind in ("SS", "BS"):
            return sum(_value_size(v) for v in inner)
        if kind == "NS":
            return sum(_value_size({"N": v}) for v in inner)
        if kind == "L":
            return 3 + sum(1 + _value_size(v) for v in inner)
        if kind == "M":
            return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes | bytearray | memoryview):
        return len(bytes(value))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float):
        return len(str(abs(value)).replace(".", "")) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return 3 + sum(1 + _value_size(v) for v in value)
    if hasattr(value, "value"):  # boto3's Binary
        return _value_size(value.value)
    return len(str(value).encode())


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in (item or {}).items())


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units if consistent else units / 2


def _write_units(size: int) -> float:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def dynamodb_request_units(operation: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[float, float]:
    """(read, write) request units one DynamoDB call consumes on an on-demand table, from the request
    and its response (moto reports no ConsumedCapacity): reads per 4 KB read (the items a Query
    returns, summed, then rounded up; half when eventually consistent), writes per 1 KB of each
    item written, transactions twice. An update or delete counts the item the request names (or
    returns), not the stored one it replaces: a floor, exact for the bench's small items."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return _read_units(item_size(response.get("Item")), consistent), 0.0
    if operation in ("Query", "Scan"):
        return _read_units(sum(item_size(i) for i in response.get("Items", [])), consistent), 0.0
    if operation == "BatchGetItem":
        reads = 0.0
        for table, items in response.get("Responses", {}).items():
            table_consistent = bool(params.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
            reads += sum(_read_units(item_size(i), table_consistent) for i in items)
        return reads, 0.0
    if operation == "TransactGetItems":
        return sum(2 * _read_units(item_size(r.get("Item")), True) for r in response.get("Responses", [])), 0.0
    if operation == "PutItem":
        return 0.0, _write_units(item_size(params.get("Item")))
    if operation in ("UpdateItem", "DeleteItem"):
        written = response.get("Attributes") or {
            **params.get("Key", {}),
            **{k.lstrip(":"): v for k, v in params.get("ExpressionAttributeValues", {}).items()},
        }
        return 0.0, _write_units(item_size(written))
    if operation == "BatchWriteItem":
        writes = 0.0
        for requests in params.get("RequestItems", {}).values():
            for request in requests:
                put = request.get("PutRequest")
                writes += _write_units(item_size(put["Item"])) if put else 1
        return 0.0, writes
    if operation == "TransactWriteItems":
        writes = 0.0
        for entry in params.get("TransactItems", []):
            ((_, body),) = entry.items()
            writes += 2 * _write_units(item_size(body.get("Item") or body.get("Key")))
        return 0.0, writes
    return 0.0, 0.0  # DescribeTable and other control-plane calls: not request units


# -- the deployment (Terraform defaults) and what cannot be measured locally --------------------------------


@dataclass(frozen=True)
class Deployment:
    """What the Terraform defaults configure (terraform/modules/system and agent)."""

    architecture: str
    memory_mb: dict[str, int]
    reserved_concurrency: dict[str, int | None]
    account_concurrency: int
    proxy_max_connections_percent: int
    db_pool_min: int  # connections each warm message environment keeps open (settings)


def _tf_default(path: Path, variable: str) -> str:
    match = re.search(rf'variable "{variable}" \{{.*?default\s*=\s*"?([^"\n]+)"?\n', path.read_text(), re.S)
    if not match:
        raise ValueError(f"no default of {variable} in {path}")
    return match.group(1).strip()


def _tf_map(path: Path, local: str) -> dict[str, str]:
    match = re.search(rf"{local}\s*=\s*(?:merge\()?\{{([^}}]*)\}}", path.read_text())
    if not match:
        raise ValueError(f"no {local} map in {path}")
    return {k.strip(): v.strip() for k, v in (pair.split("=", 1) for pair in match.group(1).split(",") if "=" in pair)}


def _settings() -> Any:
    from order_agent.settings import Settings  # the agent's own settings: read, never changed here

    return Settings()


def deployment_from_terraform(root: Path = ROOT) -> Deployment:
    """The functions' memory and reserved concurrency, their architecture and the account's
    concurrency as the modules default them (an environment's tfvars may change them)."""
    agent, system = root / "terraform/modules/agent", root / "terraform/modules/system"
    reserved = {}
    for name, value in _tf_map(agent / "main.tf", "reserved_defaults").items():
        # authorizer = var.auth_mode == "jwt" ? 25 : null, and auth_mode defaults to jwt
        number = re.search(r"\d+", value.split("?")[-1].split(":")[0] if "?" in value else value)
        reserved[name] = int(number.group()) if number else None
    return Deployment(
        architecture=_tf_default(system / "variables.tf", "architecture"),
        memory_mb={k: int(v) for k, v in _tf_map(agent / "main.tf", "memory_sizes").items()},
        reserved_concurrency=reserved,
        account_concurrency=int(_tf_default(system / "variables.tf", "account_concurrent_executions")),
        proxy_max_connections_percent=int(
            _tf_default(root / "terraform/modules/database/variables.tf", "proxy_max_connections_percent")
        ),
        db_pool_min=_settings().db_pool_min,
    )


@dataclass(frozen=True)
class Assumptions:
    """What a local run with a scripted model cannot measure. Each is printed with the figures."""

    think_time_s: float = 20.0  # the customer reads the reply and types the next message
    model_first_token_s: float = 1.0  # Bedrock's time to the first token of a call (Sonnet, ~15k-token prompt)
    model_output_tokens_per_s: float = 60.0
    small_function_s: float = 0.05  # connect, disconnect and authorizer per call (agent module's description)
    authorizer: bool = True  # auth_mode = "jwt", the default: one authorizer call per connection
    connection_writes: int = 2  # $connect's PutItem and $disconnect's DeleteItem, one WRU each
    bedrock_model_id: str = field(default_factory=lambda: _settings().bedrock_model_id)  # BEDROCK_MODEL_ID
    trace_pipeline: str = "sqs-forwarder"  # as built; "sync-mlflow": the export in the message function, as before
    trace_export_s_unmeasured: float = 0.217  # per turn, docs/performance.md's p50, when --no-tracing
    trace_bytes_unmeasured: int = 20_000  # per turn, when --no-tracing
    forwarder_memory_mb: int = 256
    forwarder_batch: int = 10  # traces per forwarder invocation (SQS batch size)
    handoff_s: float = 0.01  # the message function's one SendMessage per turn
    bytes_per_token: int = 4

    def model_seconds(self, calls: float, output_tokens: float) -> float:
        return calls * self.model_first_token_s + output_tokens / self.model_output_tokens_per_s


# -- one conversation -------------------------------------------------------------------------------------


@dataclass
class ConversationUsage:
    """What one conversation used, as the bench measured it (the mean of its runs)."""

    turns: float
    handler_s: float  # the message handler's time over all turns, zero-latency model, trace hand-off included
    trace_export_s: float | None  # the trace forwarder's time over the traces; None: not measured (tracing off)
    trace_bytes: float | None
    model_calls: float
    input_tokens: float  # estimated from the requests: prefix + transcript, every call
    cacheable_prefix_tokens: float  # of which the system prompt and tool specs (the cached prefix)
    output_tokens: float
    messages_in: float  # billed messages the client sent
    messages_out: float  # billed messages posted to the client
    bytes_out: float
    read_units: float
    write_units: float
    trace_handoff_s: float | None = None  # of handler_s, handing the traces off (one SQS message per turn)

    @classmethod
    def mean(cls, runs: list[ConversationUsage]) -> ConversationUsage:
        def avg(name: str) -> float | None:
            values = [getattr(r, name) for r in runs]
            return None if any(v is None for v in values) else sum(values) / len(values)

        return cls(**{f: avg(f) for f in cls.__dataclass_fields__})


def bedrock_cost(usage: ConversationUsage, book: PriceBook, assumptions: Assumptions, caching: bool) -> float:
    """With caching, as the agent calls Bedrock (a cachePoint after the system prompt and after the
    tools): the conversation's first call writes the prefix, every later call reads it (the cache
    lives 5 minutes from its last use, longer than a think time); without, all input at full price."""
    price = _settings().price_of(assumptions.bedrock_model_id)
    if price is None:
        raise ValueError(f"no price for {assumptions.bedrock_model_id}: add it to MODEL_PRICES")
    geographic = not assumptions.bedrock_model_id.startswith("global.")
    premium = book.prices["bedrock_geographic_premium"].usd if geographic else 1.0
    tokens = bedrock_tokens(usage, caching)
    usd = (
        tokens["input"] * price.input
        + tokens["cache_write"] * price.cache_write
        + tokens["cache_read"] * price.cache_read
        + tokens["output"] * price.output
    )
    return usd * premium / 1_000_000


def bedrock_tokens(usage: ConversationUsage, caching: bool) -> dict[str, float]:
    """Uncached input, cache writes, cache reads and output of a conversation's model calls."""
    if not caching or not usage.model_calls:
        return {"input": usage.input_tokens, "cache_write": 0.0, "cache_read": 0.0, "output": usage.output_tokens}
    prefix = usage.cacheable_prefix_tokens / usage.model_calls
    return {
        "input": usage.input_tokens - usage.cacheable_prefix_tokens,
        "cache_write": prefix,
        "cache_read": usage.cacheable_prefix_tokens - prefix,
        "output": usage.output_tokens,
    }


def trace_export_seconds(usage: ConversationUsage, assumptions: Assumptions) -> float:
    """The export time of the conversation's traces (the forwarder's, measured; in the message function
    before issue 15): measured, or assumed with --no-tracing."""
    if usage.trace_export_s is not None:
        return usage.trace_export_s
    return assumptions.trace_export_s_unmeasured * usage.turns


def trace_pipeline_cost(
    usage: ConversationUsage, book: PriceBook, deployment: Deployment, assumptions: Assumptions, pipeline: str
) -> dict[str, float]:
    """The traces of a conversation, per pipeline: the price of the message function's time spent on
    them, of what carries them, and of their bytes through the MLflow endpoint. The tracking
    server itself is a standing cost (docs/idle-cost.md)."""
    export_s = trace_export_seconds(usage, assumptions)
    trace_bytes = (
        usage.trace_bytes if usage.trace_bytes is not None else assumptions.trace_bytes_unmeasured * usage.turns
    )
    gb_second = book[f"lambda_gb_second_{deployment.architecture}"]
    endpoint = trace_bytes / GB * book["interface_endpoint_gb"]
    if pipeline == "sync-mlflow":  # the export runs in the message function, after `done`
        lambda_usd = export_s * deployment.memory_mb["message"] / 1024 * gb_second
        return {"usd": lambda_usd + endpoint, "message_function_s": export_s}
    if pipeline == "sqs-forwarder":
        per_trace_bytes = trace_bytes / usage.turns if usage.turns else 0
        # one SendMessage per turn; the forwarder's ReceiveMessage and DeleteMessageBatch per batch
        requests = usage.turns * (sqs_requests(int(per_trace_bytes)) + 2 / assumptions.forwarder_batch)
        handoff_s = trace_handoff_seconds(usage, assumptions)
        handoff_usd = handoff_s * deployment.memory_mb["message"] / 1024 * gb_second
        # the forwarder spends what the export takes today, per trace, at its own memory
        forwarder_usd = export_s * assumptions.forwarder_memory_mb / 1024 * gb_second
        invocations = usage.turns / assumptions.forwarder_batch
        usd = handoff_usd + forwarder_usd + requests * book["sqs_request"] + invocations * book["lambda_request"]
        return {"usd": usd + endpoint, "message_function_s": handoff_s}
    raise ValueError(f"unknown trace pipeline {pipeline!r}: one of {TRACE_PIPELINES}")


def trace_handoff_seconds(usage: ConversationUsage, assumptions: Assumptions) -> float:
    """The message function's time handing the conversation's traces off: measured, or assumed."""
    if usage.trace_handoff_s is not None:
        return usage.trace_handoff_s
    return assumptions.handoff_s * usage.turns


def conversation_seconds(usage: ConversationUsage, assumptions: Assumptions) -> float:
    """How long the connection is open: every turn (the model's time included) and a think time after
    each reply (the customer reads the last one before leaving)."""
    model_s = assumptions.model_seconds(usage.model_calls, usage.output_tokens)
    return usage.handler_s + model_s + usage.turns * assumptions.think_time_s


def message_function_seconds(usage: ConversationUsage, assumptions: Assumptions) -> float:
    """The message function's time over the conversation without its traces (the trace pipeline's
    line prices that share): the measured handler time minus the hand-off, plus the model's (assumed)
    time, which the function spends waiting for Bedrock's stream."""
    model_s = assumptions.model_seconds(usage.model_calls, usage.output_tokens)
    return usage.handler_s - (usage.trace_handoff_s or 0.0) + model_s


def conversation_cost(
    usage: ConversationUsage, book: PriceBook, deployment: Deployment, assumptions: Assumptions
) -> dict[str, Any]:
    """The conversation's cost line by line (USD), with and without prompt caching."""
    gb_second = book[f"lambda_gb_second_{deployment.architecture}"]
    message_s = message_function_seconds(usage, assumptions)
    small = [f for f in SMALL_FUNCTIONS if f != "authorizer" or assumptions.authorizer]
    small_gb_s = sum(billed_seconds(assumptions.small_function_s) * deployment.memory_mb[f] / 1024 for f in small)
    minutes = math.ceil(conversation_seconds(usage, assumptions) / 60)
    trace = trace_pipeline_cost(usage, book, deployment, assumptions, assumptions.trace_pipeline)
    bedrock_bytes = (usage.input_tokens + usage.output_tokens) * assumptions.bytes_per_token
    lines = {
        "lambda_message_gb_seconds": message_s * deployment.memory_mb["message"] / 1024 * gb_second,
        "lambda_other_functions_gb_seconds": small_gb_s * gb_second,
        "lambda_requests": (usage.turns + len(small)) * book["lambda_request"],
        "websocket_messages": (usage.messages_in + usage.messages_out) * book["websocket_message"],
        "websocket_connection_minutes": minutes * book["websocket_connection_minute"],
        "dynamodb_request_units": usage.read_units * book["dynamodb_read_request_unit"]
        + (usage.write_units + assumptions.connection_writes) * book["dynamodb_write_request_unit"],
        "trace_pipeline": trace["usd"],
        "network_data_processing": usage.bytes_out / GB * book["nat_gateway_gb"]
        + bedrock_bytes / GB * book["interface_endpoint_gb"],
        "bedrock_tokens": bedrock_cost(usage, book, assumptions, caching=True),
    }
    aws = sum(v for k, v in lines.items() if k != "bedrock_tokens")
    without_caching = bedrock_cost(usage, book, assumptions, caching=False)
    return {
        "usd": aws + lines["bedrock_tokens"],
        "usd_without_prompt_caching": aws + without_caching,
        "usd_aws_without_bedrock": aws,
        "lines_usd": lines,
        "bedrock_without_prompt_caching_usd": without_caching,
        "quantities": {
            "turns": usage.turns,
            "message_function_s": round(message_s, 3),
            "connection_minutes": minutes,
            "websocket_messages": usage.messages_in + usage.messages_out,
            "dynamodb_read_units": usage.read_units,
            "dynamodb_write_units": usage.write_units + assumptions.connection_writes,
            "model_calls": usage.model_calls,
            "bedrock_tokens": bedrock_tokens(usage, caching=True),
            "trace_export_measured": usage.trace_export_s is not None,
        },
    }


# -- the suite, and N conversations at once ----------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    item: str
    quota: float
    raise_: str  # what to raise when it binds
    enforced: bool = True  # False: shown, but not named as the one that binds first


def _limits(book: PriceBook, deployment: Deployment) -> dict[str, Limit]:
    q = {k: v.value for k, v in book.quotas.items()}
    proxy_share = deployment.proxy_max_connections_percent / 100
    return {
        "lambda_concurrency": Limit(
            "Lambda concurrent executions, all functions (account quota, Terraform's account_concurrent_executions)",
            deployment.account_concurrency,
            "the account's Lambda concurrency quota (Service Quotas), then account_concurrent_executions",
        ),
        "message_function_concurrency": Limit(
            "message function concurrency (its reserved concurrency, Terraform default)",
            deployment.reserved_concurrency["message"],
            "reserved_concurrent_executions.message (turns beyond it are throttled: the customer sees an error)",
        ),
        "websocket_new_connections_per_s": Limit(
            "API Gateway WebSocket new connections per second",
            q["websocket_new_connections_per_second"],
            "API Gateway's new-connection rate (Service Quotas)",
        ),
        "dynamodb_read_units_per_s": Limit(
            "DynamoDB table read request units per second",
            q["dynamodb_table_read_units_per_second"],
            "the table-level read throughput quota",
        ),
        "dynamodb_write_units_per_s": Limit(
            "DynamoDB table write request units per second",
            q["dynamodb_table_write_units_per_second"],
            "the table-level write throughput quota",
        ),
        "rds_proxy_connections": Limit(
            f"RDS Proxy: database connections it may open ({deployment.proxy_max_connections_percent}% of prod's "
            "max_connections), if every client connection were pinned",
            math.floor(q["db_max_connections_prod"] * proxy_share),
            "the instance class (max_connections), or proxy_max_connections_percent; avoid pinning",
        ),
        "bedrock_tokens_per_minute": Limit(
            "Bedrock tokens per minute (quota tokens: input + cache writes + 5 x output)",
            q["bedrock_tokens_per_minute"],
            "Bedrock's cross-Region tokens-per-minute quota for the model (Service Quotas; AWS offers the RPM "
            "one with it), or the global inference profile",
        ),
        "bedrock_requests_per_minute": Limit(
            "Bedrock requests per minute",
            q["bedrock_requests_per_minute"],
            "Bedrock's requests-per-minute quota, if the account still has one",
            enforced=False,
        ),
    }


def _quota_tokens(usage: ConversationUsage, book: PriceBook) -> float:
    tokens = bedrock_tokens(usage, caching=True)
    burndown = book.quotas["bedrock_output_token_burndown"].value
    return tokens["input"] + tokens["cache_write"] + burndown * tokens["output"]


def sizing(
    usages: dict[str, ConversationUsage],
    book: PriceBook,
    deployment: Deployment,
    assumptions: Assumptions,
    sizes: tuple[int, ...] = SIZES,
) -> dict[str, Any]:
    """What N conversations in progress at every moment need, the suite's conversations in equal
    parts: each one's demand spread over its length (so means, not peaks: leave headroom), against
    each quota; which binds first, at how many conversations, and what to raise."""
    mix = ConversationUsage.mean(list(usages.values()))
    duration = conversation_seconds(mix, assumptions)
    trace = trace_pipeline_cost(mix, book, deployment, assumptions, assumptions.trace_pipeline)
    message_s = message_function_seconds(mix, assumptions) + trace["message_function_s"]
    small = [f for f in SMALL_FUNCTIONS if f != "authorizer" or assumptions.authorizer]
    other_s = len(small) * assumptions.small_function_s
    if assumptions.trace_pipeline == "sqs-forwarder":
        other_s += trace_export_seconds(mix, assumptions)  # the forwarder's time
    per_conversation = {
        "lambda_concurrency": (message_s + other_s) / duration,
        "message_function_concurrency": message_s / duration,
        "websocket_new_connections_per_s": 1 / duration,
        "dynamodb_read_units_per_s": mix.read_units / duration,
        "dynamodb_write_units_per_s": (mix.write_units + assumptions.connection_writes) / duration,
        # every warm message environment keeps DB_POOL_MIN connections to the proxy
        "rds_proxy_connections": message_s / duration * deployment.db_pool_min,
        "bedrock_tokens_per_minute": _quota_tokens(mix, book) * 60 / duration,
        "bedrock_requests_per_minute": mix.model_calls * 60 / duration,
    }
    limits = _limits(book, deployment)
    binds_at = {k: limits[k].quota / rate for k, rate in per_conversation.items() if rate > 0}
    first = min((k for k in binds_at if limits[k].enforced), key=binds_at.get)
    result: dict[str, Any] = {
        "conversation": {
            "seconds": round(duration, 1),
            "turns": round(mix.turns, 2),
            "message_function_s": round(message_s, 2),
            "model_calls": round(mix.model_calls, 2),
            "quota_tokens": round(_quota_tokens(mix, book)),
            "bedrock_tokens_per_minute_without_prompt_caching": round(
                (mix.input_tokens + book.quotas["bedrock_output_token_burndown"].value * mix.output_tokens)
                * 60
                / duration
            ),
        },
        "quotas": {
            k: {"item": v.item, "quota": v.quota, "raise": v.raise_, "enforced": v.enforced} for k, v in limits.items()
        },
        "binds_at_conversations": {k: math.floor(v) for k, v in sorted(binds_at.items(), key=lambda kv: kv[1])},
        "binds_first": {
            "metric": first,
            "at_conversations": math.floor(binds_at[first]),
            "raise": limits[first].raise_,
        },
    }
    for n in sizes:
        result[str(n)] = {
            k: {
                "value": round(rate * n, 2),
                "quota": limits[k].quota,
                "utilization": round(rate * n / limits[k].quota, 3),
            }
            for k, rate in per_conversation.items()
        }
    return result


def report(
    usages: dict[str, ConversationUsage],
    book: PriceBook | None = None,
    deployment: Deployment | None = None,
    assumptions: Assumptions | None = None,
) -> dict[str, Any]:
    """`cost` and `sizing`, as build/bench/latest.json holds them (docs/performance.md lists the keys)."""
    book = book or load_prices()
    deployment = deployment or deployment_from_terraform()
    assumptions = assumptions or Assumptions()
    per_scenario = {
        name: {**conversation_cost(u, book, deployment, assumptions), "measured": asdict(u)}
        for name, u in usages.items()
    }
    lines: dict[str, float] = {}
    for cost in per_scenario.values():
        for key, value in cost["lines_usd"].items():
            lines[key] = lines.get(key, 0.0) + value
    suite_usd = sum(c["usd"] for c in per_scenario.values())
    pipelines = {}
    for pipeline in TRACE_PIPELINES:
        per_trace = [
            trace_pipeline_cost(u, book, deployment, assumptions, pipeline)["usd"] / u.turns
            for u in usages.values()
            if u.turns
        ]
        pipelines[pipeline] = {"usd_per_trace": sum(per_trace) / len(per_trace) if per_trace else 0.0}
    return {
        "cost": {
            "prices": {
                "checked": book.checked,
                "region": book.region,
                "file": str(PRICES_FILE.relative_to(ROOT)),
                "bedrock_model_id": assumptions.bedrock_model_id,
            },
            "deployment": asdict(deployment),
            "assumptions": asdict(assumptions),
            "per_scenario": per_scenario,
            "suite": {
                "conversations": len(per_scenario),
                "usd": suite_usd,
                "usd_without_prompt_caching": sum(c["usd_without_prompt_caching"] for c in per_scenario.values()),
                "usd_per_conversation_mean": suite_usd / len(per_scenario) if per_scenario else 0.0,
                "lines_usd": lines,
            },
            "trace_pipelines": pipelines,
        },
        "sizing": sizing(usages, book, deployment, assumptions),
    }


def _aligned(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in (header, *rows)
    ]


def _money(usd: float) -> str:
    return f"${usd:.4f}" if usd >= 0.0001 else f"${usd:.6f}"


def tables(results: dict[str, Any]) -> str:
    """The cost and sizing tables `make bench` prints."""
    cost, size = results["cost"], results["sizing"]
    a, d = cost["assumptions"], cost["deployment"]
    out = [
        f"cost of a conversation at list prices ({cost['prices']['region']}, {cost['prices']['file']}, checked "
        f"{cost['prices']['checked']}; Lambda {d['architecture']}, message function {d['memory_mb']['message']} MB; "
        f"model {a['bedrock_model_id']}, tokens estimated from the scripted model's requests; model "
        f"{a['model_first_token_s']:g} s to first token + {a['model_output_tokens_per_s']:g} tokens/s, think time "
        f"{a['think_time_s']:g} s; trace pipeline {a['trace_pipeline']})",
    ]
    header = ("scenario", "turns", "calls", "AWS w/o Bedrock", "Bedrock", "total", "total w/o caching")
    rows = []
    for name, c in cost["per_scenario"].items():
        q = c["quantities"]
        rows.append(
            (
                name,
                f"{q['turns']:g}",
                f"{q['model_calls']:g}",
                _money(c["usd_aws_without_bedrock"]),
                _money(c["lines_usd"]["bedrock_tokens"]),
                _money(c["usd"]),
                _money(c["usd_without_prompt_caching"]),
            )
        )
    suite = cost["suite"]
    rows.append(
        (
            f"suite ({suite['conversations']} conversations)",
            "",
            "",
            _money(suite["usd"] - suite["lines_usd"]["bedrock_tokens"]),
            _money(suite["lines_usd"]["bedrock_tokens"]),
            _money(suite["usd"]),
            _money(suite["usd_without_prompt_caching"]),
        )
    )
    out += _aligned(header, rows)
    out.append(
        "suite by line: "
        + ", ".join(f"{k} {_money(v)}" for k, v in sorted(suite["lines_usd"].items(), key=lambda kv: -kv[1]))
    )
    out.append(
        "trace pipeline per trace: "
        + ", ".join(f"{k} {_money(v['usd_per_trace'])}" for k, v in cost["trace_pipelines"].items())
    )
    conv = size["conversation"]
    out.append(
        f"sizing: a conversation lasts {conv['seconds']:g} s ({conv['turns']:g} turns), keeps the message function "
        f"busy {conv['message_function_s']:g} s, makes {conv['model_calls']:g} model calls; means, not peaks"
    )
    header = ("needs", *(f"{n} conversations" for n in SIZES), "quota", "binds at")
    rows = []
    for key, limit in size["quotas"].items():
        rows.append(
            (
                key,
                *(f"{size[str(n)][key]['value']:,.1f} ({size[str(n)][key]['utilization']:.0%})" for n in SIZES),
                f"{limit['quota']:,g}",
                f"{size['binds_at_conversations'][key]:,}" if key in size["binds_at_conversations"] else "-",
            )
        )
    out += _aligned(header, rows)
    first = size["binds_first"]
    out.append(f"binds first: {first['metric']} at {first['at_conversations']:,} conversations; raise {first['raise']}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", action="store_true", help="print the price and quota tables of the docs")
    parser.add_argument("--deployment", action="store_true", help="print what the Terraform defaults configure")
    args = parser.parse_args(argv)
    book = load_prices()
    if args.deployment:
        print(json.dumps(asdict(deployment_from_terraform()), indent=2))
    if args.tables or not args.deployment:
        for title, text in (
            ("docs/performance.md, prices", price_table(book, "conversation")),
            ("docs/performance.md, quotas", quota_table(book)),
            ("docs/idle-cost.md, prices", price_table(book, "idle")),
        ):
            print(f"<!-- {title} -->\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
