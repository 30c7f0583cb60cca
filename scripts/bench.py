"""`make bench`: the system's figures on this machine, measured in one run, printed as one table and
written as JSON (build/bench/latest.json). Nothing is asserted: timings on shared machines are noisy,
so read medians, and ratios measured in the same run.

    .venv/bin/python scripts/bench.py [--suite ci|all|representative] [--no-tracing] [--repetitions 5]
        [--emulator ministack|moto]
        [--first-token-ms 300] [--chunk-ms 20]
        [--cold-start-repetitions 7] [--db-calls 200] [--build-layers] [--out build/bench/latest.json]

What it measures (docs/performance.md explains each figure):
- turns: the conversations (the scenario suite's scripted transcripts by default; zero model latency)
  through the local gateway and the real handlers, PostgreSQL with the τ retail data, DynamoDB in
  the AWS emulator (ministack, in its own process, unless --emulator moto) and each turn's trace
  handed off to a trace queue there; per turn the handler's time minus the model's (orchestration
  overhead) and its split (the trace hand-off included), DynamoDB requests, frames posted, SQL round
  trips per tool call, model calls, tokens per conversation (estimated);
- the trace forwarder's delivery of each conversation's traces to a local MLflow server, after the
  conversation (off the turns' path, as in AWS): traces delivered, failed, its time per trace;
- time to first text at the WebSocket client with a model that streams at a given pace, minus the
  model's own time to its first text;
- cold start: importing each lambdas/*/handler.py vs `from langgraph.graph import StateGraph`,
  in fresh processes, median of several;
- layer sizes from an existing `make layers` build (or built now with --build-layers);
- tool latency on the τ data with the connection pool and with a new connection per call.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cost_model
from cost_model import ConversationUsage
from perf_common import (  # scripts/ is not a package: imported from its folder
    BYTES_OUT,
    DYNAMODB_READ_UNITS,
    DYNAMODB_WRITE_UNITS,
    EMULATORS,
    LAMBDAS,
    MESSAGES_IN,
    MESSAGES_OUT,
    MODEL,
    PARTS,
    ROOT,
    TRACE_BYTES,
    TRACING,
    Conversation,
    Forwarded,
    InstrumentedModel,
    PerfStack,
    Recorder,
    counting_connection_class,
    estimated_tokens,
    forward_traces,
    instrumented_edge,
    representative_conversations,
    scenario_conversations,
    summary_ms,
)

from order_agent.db.pool import Database
from order_agent_dev.evals.scenarios import ENDED_STAGES

TTFT_BUDGET_MS = 50
COLD_START_BUDGET = 1.0
TURN_TIMEOUT_S = 60
TRACING_OFF = "n/a (tracing not enabled)"


class BenchError(RuntimeError):
    """A conversation did not go as scripted: the figures would be of something else."""


# -- turns through the gateway -----------------------------------------------------------------------------


def _turn(ws: Any, session: str, text: str, confirm_hash: str | None) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    payload = {"action": "sendMessage", "sessionId": session, "messageId": message_id, "text": text}
    if confirm_hash:
        payload["confirmHash"] = confirm_hash
    sent = time.monotonic()
    ws.send(json.dumps(payload))
    frames, first_delta_at = [], None
    deadline = sent + TURN_TIMEOUT_S
    while True:
        frame = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        now = time.monotonic()
        if "type" not in frame:  # the gateway's own error frame: the handler raised
            raise BenchError(f"turn {text!r}: {frame}")
        frames.append(frame)
        if frame["type"] == "delta" and first_delta_at is None:
            first_delta_at = now
        if frame["type"] == "error":
            raise BenchError(f"turn {text!r}: error frame {frame}")
        if frame["type"] == "done" and frame.get("turnId") == message_id:
            return {
                "message_id": message_id,
                "sent": sent,
                "done_at": now,
                "first_delta_at": first_delta_at,
                "frames": frames,
            }


def converse(
    ws: Any, session: str, conversation: Conversation, scripted: Any, recorder: Recorder
) -> list[dict[str, Any]]:
    """One conversation as the scenario harness drives it: the next line, or `confirms` when a
    proposal awaits the answer; until the script is used up or the conversation closed or handed off."""
    seen: list[dict[str, Any]] = []
    lines = iter(conversation.says)
    text, confirm_hash = next(lines), None
    while text is not None and len(seen) < conversation.max_turns:
        try:
            seen.append(_turn(ws, session, text, confirm_hash))
        except BenchError as exc:
            raise BenchError(f"{conversation.name}, turn {len(seen) + 1}: {exc}") from exc
        # The client has `done` before the handler returns (the trace is handed off after the reply):
        # a customer types for longer than that, so the next turn must not wait for this one's hand-off.
        recorder.finished([seen[-1]["message_id"]])
        message = next(f for f in seen[-1]["frames"] if f["type"] == "message")
        if message["stage"] in ENDED_STAGES or scripted.remaining <= 0:
            break
        replies = message.get("quickReplies", [])
        if any(q.get("confirmHash") for q in replies):  # a proposal awaits the answer
            # As in the chat: the answer matching a quick reply is that button (the Yes one carries
            # the confirmHash); any other answer ("sí", "no, thanks") is typed and classified.
            answer = conversation.confirms.strip().casefold()
            button = next((q for q in replies if answer in (q["text"].casefold(), q["label"].casefold())), None)
            text, confirm_hash = conversation.confirms, button.get("confirmHash") if button else None
        else:
            text, confirm_hash = next(lines, None), None
    return seen


def run_conversations(
    stack: PerfStack, conversations: list[Conversation], repetitions: int, first_token_s: float, chunk_s: float
) -> dict[str, Any]:
    """Every conversation `repetitions` times (after one unrecorded warm-up conversation) through the
    gateway; returns the per-turn records joined with what the client saw."""
    from websockets.sync.client import connect

    from order_agent.agent.service import Agent
    from order_agent.edge import handlers
    from order_agent.tools import ToolRunner
    from order_agent_dev.local.stack import start_gateway
    from order_agent_dev.providers.scripted import ScriptedProvider

    settings = stack.settings
    recorder = Recorder()
    db = Database(settings, connection_factory=counting_connection_class(recorder))
    agent = Agent(settings, model=ScriptedProvider([]), runner=ToolRunner(db, settings))
    gateway, _ = start_gateway(settings, LAMBDAS, agent=agent)
    turns: list[dict[str, Any]] = []
    per_conversation: dict[str, dict[str, Any]] = {}
    usage: dict[str, list[ConversationUsage]] = {}
    forwarding: list[Forwarded] = []
    try:
        with instrumented_edge(handlers._shared_edge, recorder) as hooks, connect(gateway.url) as ws:
            for repetition in range(-1, repetitions):  # -1: the warm-up (imports, first connections)
                for conversation in conversations if repetition >= 0 else conversations[:1]:
                    if conversation.writes:
                        stack.restore()
                    scripted = ScriptedProvider(
                        list(conversation.steps), first_token_delay_s=first_token_s, chunk_delay_s=chunk_s
                    )
                    model = InstrumentedModel(scripted, recorder)
                    agent.model = model
                    session = f"bench-{conversation.name}-{uuid.uuid4().hex[:8]}"
                    seen = converse(ws, session, conversation, scripted, recorder)
                    if scripted.remaining:
                        raise BenchError(f"{conversation.name}: {scripted.remaining} scripted responses unused")
                    # The forwarder's run over this conversation's traces (in AWS: the event source mapping's,
                    # in another function), after the conversation and outside its turns' records.
                    forwarded = forward_traces(settings) if hooks["tracing"] else None
                    if repetition < 0:
                        recorder.finished([client["message_id"] for client in seen])
                        recorder.turns.clear()
                        continue
                    if forwarded is not None:
                        forwarding.append(forwarded)
                    records = recorder.finished([client["message_id"] for client in seen])
                    for client in seen:
                        record = records[client["message_id"]]
                        done = next(f for f in client["frames"] if f["type"] == "done")
                        turns.append(
                            {
                                "conversation": conversation.name,
                                "record": record,
                                "client": client,
                                "model_calls": done["modelCalls"],
                                "usage": done["usage"],
                            }
                        )
                    tokens = [estimated_tokens(request) for request in model.requests]
                    stats = per_conversation.setdefault(conversation.name, {"runs": 0})
                    stats["runs"] += 1
                    stats.update(
                        turns=len(seen),
                        model_calls=sum(t["model_calls"] for t in turns[-len(seen) :]),
                        estimated_input_tokens=sum(t["input"] for t in tokens),
                        estimated_cacheable_prefix_tokens=sum(t["cacheable_prefix"] for t in tokens),
                        estimated_output_tokens=sum(
                            len(json.dumps(step.get("text", "")) + json.dumps(step.get("tool_use", {}))) // 4
                            for step in conversation.steps
                        ),
                        reported_usage=dict(sum((Counter(t["usage"]) for t in turns[-len(seen) :]), Counter())),
                    )
                    usage.setdefault(conversation.name, []).append(
                        conversation_usage([records[c["message_id"]] for c in seen], stats, forwarded)
                    )
                    recorder.turns.clear()
                recorder.turns.clear()
    finally:
        gateway.stop()
        handlers.use_edge(None)
        db.close()
    return {
        "turns": turns,
        "conversations": per_conversation,
        "tracing": hooks["tracing"],
        "forwarding": forwarding,
        "usage": {name: ConversationUsage.mean(runs) for name, runs in usage.items()},
    }


def conversation_usage(records: list[Any], stats: dict[str, Any], forwarded: Forwarded | None) -> ConversationUsage:
    """One run of a conversation as the cost model takes it: its turns' records and token estimates, and
    with tracing the forwarder's time over its traces."""
    total = sum((r.counts for r in records), Counter())
    tracing = forwarded is not None
    return ConversationUsage(
        turns=len(records),
        handler_s=sum(r.total_s for r in records),
        trace_export_s=forwarded.seconds if tracing else None,
        trace_handoff_s=sum(r.parts[TRACING] for r in records) if tracing else None,
        trace_bytes=total[TRACE_BYTES] if tracing else None,
        model_calls=stats["model_calls"],
        input_tokens=stats["estimated_input_tokens"],
        cacheable_prefix_tokens=stats["estimated_cacheable_prefix_tokens"],
        output_tokens=stats["estimated_output_tokens"],
        messages_in=total[MESSAGES_IN],
        messages_out=total[MESSAGES_OUT],
        bytes_out=total[BYTES_OUT],
        read_units=total[DYNAMODB_READ_UNITS],
        write_units=total[DYNAMODB_WRITE_UNITS],
    )


def trace_forwarding(forwarding: list[Forwarded]) -> dict[str, Any]:
    """The forwarder's runs (one per conversation): traces delivered to MLflow, failures, its time per trace."""
    delivered = sum(f.delivered for f in forwarding)
    seconds = sum(f.seconds for f in forwarding)
    return {
        "delivered": delivered,
        "failed": sum(f.failed for f in forwarding),
        "ms_per_trace_mean": round(seconds / delivered * 1000, 1) if delivered else None,
    }


def summarise_turns(run: dict[str, Any]) -> dict[str, Any]:
    turns = run["turns"]
    records = [t["record"] for t in turns]
    parts = {}
    for part in (*PARTS, "graph and the rest"):
        if part == TRACING and not run["tracing"]:
            parts[part] = TRACING_OFF
            continue
        values = [r.rest_s if part == "graph and the rest" else r.parts[part] for r in records]
        parts[part] = summary_ms(values)
    counts = Counter()
    for record in records:
        counts.update(record.counts)
    dynamodb = [r.counts["dynamodb"] for r in records]
    by_origin = {
        key.split(":", 1)[1]: round(value / len(records), 2)
        for key, value in sorted(counts.items())
        if key.startswith("dynamodb:")
    }
    sql: dict[str, list[int]] = defaultdict(list)
    for record in records:
        for tool, trips in record.sql_per_tool_call:
            sql[tool].append(trips)
    model_calls = [t["model_calls"] for t in turns]
    return {
        "turns": len(turns),
        "handler_ms": summary_ms([r.total_s for r in records]),
        "model_ms": summary_ms([r.parts[MODEL] for r in records]),
        "overhead_ms": summary_ms([r.overhead_s for r in records]),
        "overhead_split_ms": parts,
        "client_turn_ms": summary_ms([t["client"]["done_at"] - t["client"]["sent"] for t in turns]),
        "dynamodb_requests_per_turn": {
            "mean": round(statistics.fmean(dynamodb), 2),
            "min": min(dynamodb),
            "max": max(dynamodb),
            "by_origin_mean": by_origin,
        },
        "dynamodb_request_units_per_turn": {
            kind: {
                "mean": round(counts[key] / len(records), 2),
                "by_origin_mean": {
                    k.split(":", 1)[1]: round(v / len(records), 2)
                    for k, v in sorted(counts.items())
                    if k.startswith(f"{key}:")
                },
            }
            for kind, key in (("read", DYNAMODB_READ_UNITS), ("write", DYNAMODB_WRITE_UNITS))
        },
        "s3_requests_per_turn_mean": round(counts["s3"] / len(records), 2),
        "trace_handoffs": {"turns": counts["trace handoffs"], "failed": counts["trace handoff errors"]},
        "trace_forwarding": trace_forwarding(run["forwarding"]) if run["tracing"] else None,
        "frames_posted_per_turn_mean": round(counts["frames posted"] / len(records), 2),
        "sql_round_trips_per_tool_call": {
            tool: {"mean": round(statistics.fmean(v), 2), "min": min(v), "max": max(v), "calls": len(v)}
            for tool, v in sorted(sql.items())
        },
        "model_calls_per_turn": {"mean": round(statistics.fmean(model_calls), 2), "max": max(model_calls)},
        "per_conversation": run["conversations"],
    }


def summarise_ttft(run: dict[str, Any], first_token_ms: float, chunk_ms: float) -> dict[str, Any]:
    gaps, client, model = [], [], []
    for turn in run["turns"]:
        record, seen = turn["record"], turn["client"]
        if record.model_ttft_s is None or seen["first_delta_at"] is None:
            continue  # a turn without streamed text (a fixed reply, a tool round only)
        client_ttft = seen["first_delta_at"] - seen["sent"]
        client.append(client_ttft)
        model.append(record.model_ttft_s)
        gaps.append(client_ttft - record.model_ttft_s)
    return {
        "model_first_token_delay_ms": first_token_ms,
        "model_chunk_delay_ms": chunk_ms,
        "turns_with_streamed_text": len(gaps),
        "client_ttft_ms": summary_ms(client),
        "model_ttft_ms": summary_ms(model),
        "client_minus_model_ms": summary_ms(gaps),
        "budget_ms": TTFT_BUDGET_MS,
    }


# -- cold start -------------------------------------------------------------------------------------------

_IMPORT_PROBE = """
import importlib.util, sys, time
target = sys.argv[1]
wall, cpu = time.perf_counter(), time.process_time()
if target == "baseline":
    from langgraph.graph import StateGraph
else:  # as the Lambda runtime loads a handler: from its file
    spec = importlib.util.spec_from_file_location("handler", target)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(time.process_time() - cpu, time.perf_counter() - wall)
"""


def cold_start(repetitions: int) -> dict[str, Any]:
    """Import times in fresh interpreters, the targets interleaved so that machine noise hits all
    alike. The ratio uses CPU time (user + system of the importing process): on a shared machine
    wall time mostly measures the neighbours; both are reported."""
    targets = {"baseline": "baseline", **{p.parent.name: str(p) for p in sorted(LAMBDAS.glob("*/handler.py"))}}
    cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    for _ in range(repetitions):
        for name, target in targets.items():
            out = subprocess.run(
                [sys.executable, "-c", _IMPORT_PROBE, target], capture_output=True, text=True, env=env, check=True
            )
            cpu_s, wall_s = map(float, out.stdout.strip().splitlines()[-1].split())
            cpu[name].append(cpu_s)
            wall[name].append(wall_s)
    baseline = statistics.median(cpu["baseline"])
    return {
        "repetitions": repetitions,
        "baseline": "from langgraph.graph import StateGraph",
        "baseline_cpu_median_ms": round(baseline * 1000, 1),
        "baseline_wall_median_ms": round(statistics.median(wall["baseline"]) * 1000, 1),
        "handlers": {
            name: {
                "cpu_median_ms": round(statistics.median(values) * 1000, 1),
                "wall_median_ms": round(statistics.median(wall[name]) * 1000, 1),
                "ratio": round(statistics.median(values) / baseline, 2),
                "within_budget": statistics.median(values) / baseline <= COLD_START_BUDGET,
            }
            for name, values in cpu.items()
            if name != "baseline"
        },
        "budget_ratio": COLD_START_BUDGET,
    }


_FIRST_TURN_PROBE = """
import importlib.util, json, os, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

class Connections(BaseHTTPRequestHandler):  # API Gateway's @connections: every post arrives
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Connections)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ["WEBSOCKET_MANAGEMENT_URL"] = f"http://127.0.0.1:{server.server_port}/live"
timings = {}

def timed(name, step):
    cpu, wall = time.process_time(), time.perf_counter()
    step()
    timings[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}

module = {}
def load():
    spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
    module["handler"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module["handler"])

timed("import", load)
if sys.argv[2] == "warmed":
    from order_agent.edge import snapstart
    timed("warm", snapstart.warm)
context = SimpleNamespace(function_name="message", memory_limit_in_mb=1024, aws_request_id="first-turn",
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:message")
session = f"first-turn-{uuid.uuid4().hex[:8]}"
for n, text in enumerate(sys.argv[3:], 1):
    body = {"action": "sendMessage", "sessionId": session, "messageId": str(uuid.uuid4()), "text": text}
    event = {"requestContext": {"routeKey": "sendMessage", "eventType": "MESSAGE", "messageDirection": "IN",
                                "connectionId": "first-turn", "requestId": str(n), "domainName": "localhost",
                                "stage": "live", "apiId": "local", "messageId": str(n), "extendedRequestId": str(n),
                                "requestTime": "", "connectedAt": 0, "requestTimeEpoch": 0,
                                "identity": {"sourceIp": "127.0.0.1"}},
             "body": json.dumps(body), "isBase64Encoded": False}
    timed(f"turn {n}", lambda: module["handler"].handler(event, context))
print("FIRST-TURN " + json.dumps(timings))
"""


def first_turn(stack: PerfStack, repetitions: int) -> dict[str, Any]:
    """A fresh message-handler process, as after a cold start: its import, then its first two
    customer messages (offline model, tracing off, the stack's DynamoDB and PostgreSQL, a stand-in
    @connections endpoint), with and without the SnapStart warm-up (snapstart.warm, which runs
    before the snapshot) in between. Wall and CPU medians; the processes interleaved."""
    from perf_common import EMAIL

    values = {
        k.upper(): json.dumps(v) if isinstance(v, (dict, list)) else str(v)
        for k, v in stack.settings.model_dump().items()
        if v is not None
    }
    env = {**os.environ, **values, "MODEL_PROVIDER": "offline", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    env.pop("MLFLOW_TRACKING_URI", None)
    texts = ["I want to cancel an order", EMAIL]
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(repetitions):
        for variant in ("lazy", "warmed"):
            out = subprocess.run(
                [sys.executable, "-c", _FIRST_TURN_PROBE, str(LAMBDAS / "message/handler.py"), variant, *texts],
                capture_output=True, text=True, env=env, check=True,
            )  # fmt: skip
            line = next(line for line in out.stdout.splitlines() if line.startswith("FIRST-TURN "))
            runs[variant].append(json.loads(line.removeprefix("FIRST-TURN ")))

    def median_ms(variant: str, step: str, clock: str) -> float:
        return round(statistics.median(run[step][clock] for run in runs[variant]) * 1000, 1)

    result: dict[str, Any] = {"repetitions": repetitions, "model": "offline", "tracing": "off", "messages": texts}
    variants = {"lazy": ("import", "turn 1", "turn 2"), "warmed": ("import", "warm", "turn 1", "turn 2")}
    for variant, steps in variants.items():
        result[variant] = {
            f"{step.replace(' ', '_')}_{clock}_ms": median_ms(variant, step, clock)
            for step in steps
            for clock in ("wall", "cpu")
        }
    return result


# -- layer sizes ------------------------------------------------------------------------------------------


def _build_layers_module() -> Any:
    spec = importlib.util.spec_from_file_location("build_layers", ROOT / "scripts/build_layers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_layers"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def layer_sizes(layers_dir: Path, build: bool, budget_mib: float) -> dict[str, Any]:
    build_layers = _build_layers_module()
    how = f"read from {layers_dir}/manifest.json (a `make layers` build)"
    if build:
        started = time.monotonic()
        code = subprocess.run(
            [sys.executable, str(ROOT / "scripts/build_layers.py"), "--out", str(layers_dir)]
        ).returncode
        how = f"built now with scripts/build_layers.py in {time.monotonic() - started:.0f} s (exit {code})"
    if not (layers_dir / "manifest.json").exists():
        return {"source": f"not available: no {layers_dir}/manifest.json (run `make layers` or pass --build-layers)"}
    manifest, artifacts = build_layers.read_manifest(layers_dir)
    return {
        "source": how,
        "arch": manifest["arch"],
        "python": manifest["python"],
        "built_at": time.strftime("%Y-%m-%d %H:%M", time.localtime((layers_dir / "manifest.json").stat().st_mtime)),
        "artifacts_mib": {a.name: round(a.unzipped / build_layers.MIB, 1) for a in artifacts},
        **_rounded(build_layers.size_summary(artifacts, budget_mib, manifest["functions"])),
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 1) if isinstance(value, float) else value


# -- the database -----------------------------------------------------------------------------------------


class UnpooledDatabase(Database):
    """A new connection for every use, closed afterwards: what the pool saves."""

    @contextmanager
    def connection(self):  # type: ignore[override]
        conn = psycopg2.connect(**self.connect_arguments())
        try:
            yield conn
        finally:
            conn.close()


def database(stack: PerfStack, calls: int) -> dict[str, Any]:
    from perf_common import DELIVERED, EMAIL, PENDING

    from order_agent.tools import ConversationContext, ToolRunner

    customer = "aarav_anderson_8794"
    cases = [
        ("find_user_id_by_email", {"email": EMAIL}, False),
        ("get_user_details", {"user_id": customer}, False),
        ("get_order_details", {"order_id": DELIVERED}, False),
        ("get_product_details", {"product_id": "9832717871"}, False),
        ("cancel_pending_order", {"order_id": PENDING, "reason": "no longer needed"}, True),
        (
            "modify_pending_order_address",
            {
                "order_id": PENDING,
                "address1": "12 Elm Street",
                "address2": "",
                "city": "Denver",
                "state": "CO",
                "country": "USA",
                "zip": "80202",
            },
            True,
        ),
    ]
    stack.restore()  # the conversations may have cancelled the order the dry runs use
    recorder = Recorder()
    factory = counting_connection_class(recorder)
    results: dict[str, Any] = {"calls_per_tool": calls, "tools": {}}
    for mode, db in (
        ("pool", Database(stack.settings, connection_factory=factory)),
        ("new connection", UnpooledDatabase(stack.settings, connection_factory=factory)),
    ):
        runner = ToolRunner(db, stack.settings)
        ctx = ConversationContext(session_id=f"bench-db-{uuid.uuid4().hex[:8]}", customer_id=customer)
        times: dict[str, list[float]] = defaultdict(list)
        trips: dict[str, list[int]] = defaultdict(list)
        try:
            for index in range(calls + 3):  # 3 warm-up rounds
                for name, arguments, dry_run in cases:
                    label = f"{name} (dry run)" if dry_run else name
                    with recorder.turn(label) as record:
                        started = time.perf_counter()
                        result = runner.run(ctx, name, arguments, dry_run=dry_run)
                        elapsed = time.perf_counter() - started
                    if not result.ok:
                        raise BenchError(f"{label}: {result.error_code} {result.error_message}")
                    if index >= 3:
                        times[label].append(elapsed)
                        trips[label].append(record.counts["sql"])
                recorder.turns.clear()
        finally:
            db.close()
        for label, values in times.items():
            entry = results["tools"].setdefault(label, {"sql_round_trips": max(trips[label])})
            entry[mode] = {k: v for k, v in summary_ms(values).items() if k in ("p50", "p99")}
    return results


# -- report -----------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown",
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _ms(summary: dict[str, Any] | str, keys: tuple[str, ...] = ("p50", "p95", "p99")) -> str:
    if isinstance(summary, str):
        return summary
    if not summary.get("n", 1):
        return "no samples"
    return " / ".join("-" if summary[k] is None else f"{summary[k]:.1f}" for k in keys) + " ms"


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    add = lambda metric, value, budget="": rows.append((metric, value, budget))  # noqa: E731
    if "aws_emulator" in results:
        add("AWS emulator (DynamoDB, SQS, S3)", results["aws_emulator"])
    if "turns" in results:
        t = results["turns"]
        add(
            f"orchestration overhead per turn (p50/p95/p99, {t['turns']} turns)",
            _ms(t["overhead_ms"]),
            "small next to model time",
        )
        for part, summary in t["overhead_split_ms"].items():
            add(f"  {part} (p50/p95/p99)", _ms(summary))
        add("handler time per turn incl. model (p50/p95/p99)", _ms(t["handler_ms"]))
        add("client turn latency (p50/p95/p99)", _ms(t["client_turn_ms"]))
        d = t["dynamodb_requests_per_turn"]
        origins = ", ".join(f"{k} {v}" for k, v in d["by_origin_mean"].items())
        add(
            "DynamoDB requests per turn (mean, min-max)",
            f"{d['mean']} ({d['min']}-{d['max']}): {origins}",
            "floor: 1 read + 1 write (checkpoint)",
        )
        for kind, units in t["dynamodb_request_units_per_turn"].items():
            origins = ", ".join(f"{k} {v}" for k, v in units["by_origin_mean"].items())
            add(f"DynamoDB {kind} request units per turn (mean)", f"{units['mean']}: {origins}")
        add("S3 requests per turn (mean)", str(t["s3_requests_per_turn_mean"]))
        if t["overhead_split_ms"][TRACING] != TRACING_OFF:
            e, f = t["trace_handoffs"], t["trace_forwarding"]
            add("traces handed off to the queue (failed)", f"{e['turns']} ({e['failed']})", "one per turn, none failed")
            add(
                "traces the forwarder delivered to MLflow (failed)",
                f"{f['delivered']} ({f['failed']}), {f['ms_per_trace_mean']} ms per trace",
                "every one handed off, off the turn's path",
            )
        add("frames posted per turn (mean)", str(t["frames_posted_per_turn_mean"]))
        for tool, s in t["sql_round_trips_per_tool_call"].items():
            add(f"SQL round trips: {tool}", f"{s['mean']} ({s['min']}-{s['max']}, {s['calls']} calls)")
        m = t["model_calls_per_turn"]
        add("model calls per turn (mean, max)", f"{m['mean']}, {m['max']}", "1 + 1 per tool round")
        for name, c in t["per_conversation"].items():
            add(
                f"conversation {name}: turns, model calls, est. tokens in (cacheable) / out",
                f"{c['turns']}, {c['model_calls']}, {c['estimated_input_tokens']} "
                f"({c['estimated_cacheable_prefix_tokens']}) / {c['estimated_output_tokens']}",
            )
    if "ttft" in results:
        f = results["ttft"]
        add(
            f"TTFT at the client, model paced {f['model_first_token_delay_ms']:g} ms + {f['model_chunk_delay_ms']:g} "
            "ms/chunk (p50/p95/p99)",
            _ms(f["client_ttft_ms"]),
        )
        add("  model's own TTFT (p50/p95/p99)", _ms(f["model_ttft_ms"]))
        add("  client TTFT minus model TTFT (p50/p95/p99)", _ms(f["client_minus_model_ms"]), f"<= {TTFT_BUDGET_MS} ms")
    if "cold_start" in results:
        c = results["cold_start"]
        add(
            f"cold start: {c['baseline']} (CPU, wall; median of {c['repetitions']})",
            f"{c['baseline_cpu_median_ms']:.0f} ms, {c['baseline_wall_median_ms']:.0f} ms",
        )
        for name, h in c["handlers"].items():
            verdict = "OK" if h["within_budget"] else "OVER"
            add(
                f"  import lambdas/{name}/handler.py (CPU = ratio, wall)",
                f"{h['cpu_median_ms']:.0f} ms = {h['ratio']:.2f}x, {h['wall_median_ms']:.0f} ms",
                f"<= {c['budget_ratio']}x: {verdict}",
            )
    if "first_turn" in results:
        f, lazy, warmed = results["first_turn"], results["first_turn"]["lazy"], results["first_turn"]["warmed"]
        add(
            f"fresh message-handler process, {f['model']} model, tracing {f['tracing']} (wall; median of "
            f"{f['repetitions']}): import + first turn",
            f"{lazy['import_wall_ms']:.0f} + {lazy['turn_1_wall_ms']:.0f} ms "
            f"(second turn {lazy['turn_2_wall_ms']:.0f} ms)",
        )
        add(
            "  after the SnapStart warm-up: import + warm-up (before the snapshot) + first turn",
            f"{warmed['import_wall_ms']:.0f} + {warmed['warm_wall_ms']:.0f} + {warmed['turn_1_wall_ms']:.0f} ms "
            f"(second turn {warmed['turn_2_wall_ms']:.0f} ms)",
            "a restore pays the first turn only",
        )
    if "layers" in results:
        layer = results["layers"]
        if "message_function_mib" in layer:
            verdict = "OK" if layer["within_budget"] else "OVER"
            add(
                f"message function + its layers, unzipped ({layer['arch']}, Python {layer['python']})",
                f"{layer['message_function_mib']:.1f} MiB",
                f"<= {layer['budget_mib']:g} MiB: {verdict}",
            )
            for name, total in layer["functions_mib"].items():
                add(f"  {name} + its layers", f"{total:.1f} MiB")
            add(
                "  largest function + layers",
                f"{layer['largest_function_with_layers_mib']:.1f} MiB",
                f"Lambda limit {layer['lambda_limit_mib']} MiB",
            )
            add("  source", layer["source"] + f", {layer['built_at']}")
        else:
            add("layers", layer["source"])
    if "database" in results:
        for tool, s in results["database"]["tools"].items():
            add(
                f"tool {tool}: pool vs new connection (p50/p99)",
                f"{_ms(s['pool'], ('p50', 'p99'))} vs {_ms(s['new connection'], ('p50', 'p99'))}",
                f"{s['sql_round_trips']} SQL round trips",
            )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [f"{'figure':<{width}}  {'value':<{value_width}}  budget", "-" * (width + value_width + 30)]
    lines += [f"{m:<{width}}  {v:<{value_width}}  {b}" for m, v, b in rows]
    m = results["machine"]
    lines.append(
        f"machine: {m['cpu']}, {m['cpus']} CPUs, Python {m['python']}, load average "
        f"{m['load_average']} -> {m.get('load_average_after')}; took {results['took_s']:.0f} s"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--suite",
        choices=("ci", "all", "representative"),
        default="ci",
        help="the conversations: the scenario suite's CI scenarios with a scripted transcript, all scenarios "
        "with one, or five hand-made representative conversations",
    )
    parser.add_argument("--conversations", type=int, default=None, help="use only the first N conversations")
    parser.add_argument(
        "--no-tracing",
        dest="tracing",
        action="store_false",
        help="no trace queue, forwarder or MLflow server (default: traces handed off to a queue, forwarded to MLflow)",
    )
    parser.add_argument("--repetitions", type=int, default=5, help="passes over the conversations (zero latency)")
    parser.add_argument("--ttft-repetitions", type=int, default=2, help="passes with the paced model")
    parser.add_argument("--first-token-ms", type=float, default=300, help="paced model: wait before the first text")
    parser.add_argument("--chunk-ms", type=float, default=20, help="paced model: wait between 16-character chunks")
    parser.add_argument("--cold-start-repetitions", type=int, default=7)
    parser.add_argument("--first-turn-repetitions", type=int, default=3, help="fresh handler processes per variant")
    parser.add_argument("--db-calls", type=int, default=200, help="calls per tool and connection mode")
    parser.add_argument("--layers-dir", type=Path, default=ROOT / "build/lambda")
    parser.add_argument("--build-layers", action="store_true", help="build the layers now (network, minutes)")
    parser.add_argument("--layer-budget-mb", type=float, default=60)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL server to make the scratch database on (default: an embedded one)",
    )
    parser.add_argument("--aws-endpoint", default=None, help="a running AWS emulator (default: one of its own)")
    parser.add_argument(
        "--emulator", choices=EMULATORS, default="ministack",
        help="the AWS emulator to start: ministack, the one make dev runs (in its own process), or moto (in this one)",
    )  # fmt: skip
    parser.add_argument(
        "--think-time-s", type=float, default=cost_model.Assumptions.think_time_s,
        help="cost and sizing: the customer's time between a reply and the next message",
    )  # fmt: skip
    parser.add_argument(
        "--trace-pipeline", choices=cost_model.TRACE_PIPELINES, default=cost_model.Assumptions.trace_pipeline,
        help="cost and sizing: price traces as today's synchronous MLflow export or as the planned SQS + forwarder",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "build/bench/latest.json")
    args = parser.parse_args(argv)
    for name in ("repetitions", "ttft_repetitions", "cold_start_repetitions", "first_turn_repetitions", "db_calls"):
        if not 1 <= getattr(args, name) <= 1000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 1000")

    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine()}
    tracing = "on: a local MLflow server" if args.tracing else "off (--no-tracing)"
    stack = PerfStack(
        args.database_url, args.aws_endpoint, prefix="bench", tracing=args.tracing, emulator=args.emulator
    )
    print(f"stack: PostgreSQL, AWS emulator {stack.emulator}, tracing {tracing}", file=sys.stderr, flush=True)
    results["aws_emulator"] = stack.emulator
    with stack:
        if args.suite == "representative":
            conversations = representative_conversations()
        else:
            conversations = scenario_conversations(stack, args.suite)
        conversations = conversations[: args.conversations]
        results["suite"] = args.suite
        results["tracing"] = tracing
        results["conversations"] = [c.name for c in conversations]
        print(f"turns: {len(conversations)} conversations x {args.repetitions}", file=sys.stderr, flush=True)
        run = run_conversations(stack, conversations, args.repetitions, 0, 0)
        results["turns"] = summarise_turns(run)
        assumptions = cost_model.Assumptions(think_time_s=args.think_time_s, trace_pipeline=args.trace_pipeline)
        results.update(cost_model.report(run["usage"], assumptions=assumptions))
        print(f"time to first text: x {args.ttft_repetitions}", file=sys.stderr, flush=True)
        paced = run_conversations(
            stack, conversations, args.ttft_repetitions, args.first_token_ms / 1000, args.chunk_ms / 1000
        )
        results["ttft"] = summarise_ttft(paced, args.first_token_ms, args.chunk_ms)
        print(f"database: {args.db_calls} calls per tool and mode", file=sys.stderr, flush=True)
        results["database"] = database(stack, args.db_calls)
        print(f"first turn of a fresh handler process: x {args.first_turn_repetitions}", file=sys.stderr, flush=True)
        results["first_turn"] = first_turn(stack, args.first_turn_repetitions)
    print(f"cold start: x {args.cold_start_repetitions}", file=sys.stderr, flush=True)
    results["cold_start"] = cold_start(args.cold_start_repetitions)
    results["layers"] = layer_sizes(args.layers_dir, args.build_layers, args.layer_budget_mb)
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    results["took_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(cost_model.tables(results))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
