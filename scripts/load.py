"""`make load`: many concurrent WebSocket conversations through the local gateway and the real handlers,
then proof that nothing was lost, repeated or reordered.

    .venv/bin/python scripts/load.py [--sessions 200] [--turns 5] [--workers 8] [--resume-every 10]
        [--model-delay-ms 0] [--time-limit 900] [--out build/load/latest.json]

Three processes on loopback: the AWS emulator (moto server), the gateway with the Lambda handlers from
lambdas/ (PostgreSQL with the τ retail data in a scratch database, DynamoDB in the emulator, the offline
model), and this one, the clients (asyncio WebSocket connections). Each session is one customer
cancelling a distinct pending order:

    1 "Hi, I'm <email>. Please cancel order #W..., I no longer need it."   -> a proposal
    2 "Yes" (the proposal's confirmHash)                                    -> cancelled
    3 "What is the status of order #W...?"   4 "Thanks!"   5 "That's all, bye"   (6+ "hello?")

Every --resume-every-th session drops its connection after the first streamed text of turn 1,
reconnects and sends `resume` with the last seq it saw.

Checks (the exit status is 1 when one fails): every turn got its ack, message and done; seq strictly
increasing per session with no gaps (only deltas of a dropped stream may be missing, and frames
repeated by a resume are dropped by seq as the protocol says); every frame the server kept for
resume (the outbox) arrived; each session's order cancelled exactly once (one idempotent write, one
refund per payment), and no other order changed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_common import LAMBDAS, ROOT, PerfStack, summary_ms

# A turn must finish within this time of its ack (the handler started it). Before the ack the
# message waits for a free handler, a queue of this test's own making: the run's time limit
# bounds that wait, and the ack latency reports it (saturation), instead of failing the turn.
TURN_TIMEOUT_S = 120
MAX_SESSIONS = 400  # distinct pending orders in the τ retail data: 423


# -- the server side (a child process) -----------------------------------------------------------------------


def serve(workers: int, model_delay_ms: float) -> int:
    """The gateway and the handlers, configured by the environment; prints its URL, runs until stdin closes."""
    from order_agent.agent.service import Agent
    from order_agent.settings import get_settings
    from order_agent_dev.local.stack import start_gateway

    settings = get_settings()
    agent = Agent(settings)
    if model_delay_ms:
        agent.model = _Paced(agent.model, model_delay_ms / 1000)
    gateway, _ = start_gateway(settings, LAMBDAS, agent=agent, handler_workers=workers)
    print(json.dumps({"url": gateway.url}), flush=True)
    try:
        sys.stdin.read()  # EOF: the parent is done (or gone)
    finally:
        gateway.stop()
    return 0


class _Paced:
    """The model answers after a delay, as a real one keeps a handler busy while it thinks."""

    def __init__(self, inner: Any, delay_s: float) -> None:
        self.inner, self.delay_s, self.name = inner, delay_s, inner.name

    def converse(self, request: Any, on_text: Any = None) -> Any:
        time.sleep(self.delay_s)
        return self.inner.converse(request, on_text)


@contextlib.contextmanager
def child(args: list[str], env: dict[str, str], ready: str, timeout: float = 60, log: Path | None = None):
    """A child process that prints a JSON line with `ready` when it serves; stopped on exit. What it
    prints after that (the handlers' log records) goes to `log`, or is dropped: it is read as it
    comes, since a child whose output pipe is full blocks in its next print (a handler logging its
    turn would hang with it)."""
    process = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    drained: threading.Thread | None = None
    try:
        deadline = time.monotonic() + timeout
        line = ""
        while ready not in line:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[1:3]} did not start (exit {process.poll()})")
            line = process.stdout.readline()
        drained = threading.Thread(target=_copy_lines, args=(process.stdout, log), daemon=True)
        drained.start()
        yield json.loads(line)
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(10)
        if drained is not None:
            drained.join(10)  # the pipe ends with the process


def _copy_lines(stream: Any, log: Path | None) -> None:
    with open(log or os.devnull, "w") as sink:
        for line in stream:
            sink.write(line)


@contextlib.contextmanager
def moto_server():
    from order_agent_dev.local.aws import free_port

    port = free_port()
    code = (
        "import json, sys\nfrom order_agent_dev.local.aws import LocalAws\n"
        f"aws = LocalAws({port})\nprint(json.dumps({{'url': aws.url}}), flush=True)\nsys.stdin.read()\naws.stop()\n"
    )
    with child([sys.executable, "-c", code], dict(os.environ), "url") as ready:
        yield ready["url"]


# -- the clients ----------------------------------------------------------------------------------------------


@dataclass
class Target:
    session: str
    email: str
    order_id: str


@dataclass
class SessionResult:
    target: Target
    frames: list[dict[str, Any]] = field(default_factory=list)  # every frame received, in arrival order
    turns: list[dict[str, Any]] = field(default_factory=list)  # per turn: message id, timings, outcome
    resumed: bool = False
    errors: list[str] = field(default_factory=list)


def customer_turns(target: Target, count: int) -> list[tuple[str, bool]]:
    script = [
        (f"Hi, I'm {target.email}. Please cancel order {target.order_id}, I no longer need it.", False),
        ("Yes", True),
        (f"What is the status of order {target.order_id}?", False),
        ("Thanks!", False),
        ("That's all, bye", False),
    ]
    return [script[i] if i < len(script) else ("hello?", False) for i in range(count)]


async def run_session(
    url: str, target: Target, turns: int, resume: bool, start_delay: float, run_deadline: float
) -> SessionResult:
    from websockets.asyncio.client import connect

    result = SessionResult(target)
    await asyncio.sleep(start_delay)
    last_seq = 0
    token = None  # the session token the server issues with the session (anonymous chat)
    ws = await connect(url, open_timeout=30, max_size=256 * 1024)
    try:
        confirm_hash = None
        for index, (text, confirm) in enumerate(customer_turns(target, turns)):
            message_id = str(uuid.uuid4())
            payload = {"action": "sendMessage", "sessionId": target.session, "messageId": message_id, "text": text}
            if confirm and confirm_hash:
                payload["confirmHash"] = confirm_hash
            sent = time.monotonic()
            turn = {"message_id": message_id, "sent": sent, "first_delta": None, "done": None, "ack": None}
            result.turns.append(turn)
            await ws.send(json.dumps(payload))
            deadline = run_deadline  # until the ack: queued for a handler
            drop = resume and index == 0
            while turn["done"] is None:
                try:
                    raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
                except TimeoutError:
                    if turn["ack"] is None:
                        result.errors.append(f"turn {index + 1}: no ack within the time limit")
                    else:
                        result.errors.append(f"turn {index + 1}: no done within {TURN_TIMEOUT_S} s of its ack")
                    return result
                frame = json.loads(raw)
                now = time.monotonic()
                result.frames.append(frame)
                kind = frame.get("type")
                if kind is None:
                    result.errors.append(f"turn {index + 1}: gateway error frame {frame}")
                    return result
                last_seq = max(last_seq, frame.get("seq") or 0)
                token = frame.get("sessionToken") or token
                if kind == "ack" and frame.get("messageId") == message_id:
                    turn["ack"] = now
                    deadline = min(run_deadline, now + TURN_TIMEOUT_S)
                elif kind == "delta" and frame.get("turnId") == message_id and turn["first_delta"] is None:
                    turn["first_delta"] = now
                    if drop:  # the client loses its connection mid-stream, comes back and resumes
                        drop = False
                        result.resumed = True
                        await ws.close()
                        ws = await connect(url, open_timeout=30, max_size=256 * 1024)
                        await ws.send(
                            json.dumps(
                                {"action": "resume", "sessionId": target.session, "lastSeq": last_seq}
                                | ({"sessionToken": token} if token else {})
                            )
                        )
                elif kind == "message" and frame.get("turnId") == message_id:
                    hashes = [q["confirmHash"] for q in frame.get("quickReplies", []) if q.get("confirmHash")]
                    confirm_hash = hashes[0] if hashes else None
                    turn["stage"] = frame["stage"]
                    turn["reply"] = frame["text"]
                    turn["confirm_offered"] = confirm_hash is not None
                elif kind == "done" and frame.get("turnId") == message_id:
                    turn["done"] = now
                elif kind == "error" and frame.get("turnId") in (None, message_id):
                    result.errors.append(f"turn {index + 1}: error {frame.get('code')}: {frame.get('message')}")
                    return result
    finally:
        await ws.close()
    return result


async def run_clients(
    url: str, targets: list[Target], turns: int, resume_every: int, ramp_s: float, time_limit: float
) -> tuple[list[SessionResult], float]:
    rng = random.Random(8)  # noqa: S311 - reproducible start times, not secrets
    started = time.monotonic()
    run_deadline = started + max(time_limit - 5, time_limit * 0.9)  # sessions say what they waited for
    tasks = [
        asyncio.create_task(
            run_session(
                url,
                t,
                turns,
                bool(resume_every) and i % resume_every == resume_every - 1,
                rng.uniform(0, ramp_s),
                run_deadline,
            )
        )
        for i, t in enumerate(targets)
    ]
    done, pending = await asyncio.wait(tasks, timeout=time_limit)
    for task in pending:
        task.cancel()
    results = []
    for task, target in zip(tasks, targets, strict=True):
        if task in done and task.exception() is None:
            results.append(task.result())
        else:
            failed = SessionResult(target)
            reason = "cancelled at the time limit" if task in pending else repr(task.exception())
            failed.errors.append(reason)
            results.append(failed)
    return results, time.monotonic() - started


# -- checks ---------------------------------------------------------------------------------------------------


def check_frames(result: SessionResult, outbox: list[dict[str, Any]], turns: int) -> dict[str, Any]:
    """Order and completeness of one session's frames, deduplicated by seq as a client does."""
    problems: list[str] = []
    accepted: list[dict[str, Any]] = []
    duplicates = 0
    for frame in result.frames:
        seq = frame.get("seq")
        if seq is None:
            continue
        if accepted and seq <= accepted[-1]["seq"]:
            if any(f["seq"] == seq and f == frame for f in accepted):
                duplicates += 1  # a frame sent again by a resume: the client drops it by seq
            else:
                problems.append(f"seq {seq} after {accepted[-1]['seq']} and not a repeat")
            continue
        accepted.append(frame)
    seqs = [f["seq"] for f in accepted]
    missing = sorted(set(range(1, (seqs[-1] if seqs else 0) + 1)) - set(seqs))
    if missing and not result.resumed:
        problems.append(f"seq gaps {missing[:5]}")
    if duplicates and not result.resumed:
        problems.append(f"{duplicates} repeated frames without a resume")
    received = {f["seq"]: f for f in accepted}
    lost = [f["seq"] for f in outbox if received.get(f["seq"]) != f]
    if lost:
        problems.append(f"kept frames not received (or different): seqs {lost[:5]}")
    for turn in result.turns:
        mine = [f for f in accepted if f.get("turnId") == turn["message_id"]]
        kinds = Counter(f["type"] for f in mine)
        if kinds["message"] != 1 or kinds["done"] != 1:
            problems.append(f"turn {turn['message_id'][:8]}: {dict(kinds)}")
        if mine and mine[-1]["type"] != "done":
            problems.append(f"turn {turn['message_id'][:8]}: done is not its last frame")
    first = result.turns[0] if result.turns else None
    if first and first.get("done") is not None and not first.get("confirm_offered"):
        # The "Yes" then confirms nothing and the write check fails too: say why (e.g. a tool
        # error such as `busy` in turn 1).
        problems.append(f"turn 1 made no proposal: {first.get('reply', '')[:120]!r}")
    acks = Counter(f["messageId"] for f in result.frames if f.get("type") == "ack")
    if any(n != 1 for n in acks.values()) or len(acks) != len(result.turns):
        problems.append(f"acks {dict(acks)}")
    if len(result.turns) != turns:
        problems.append(f"{len(result.turns)} of {turns} turns sent")
    return {"problems": problems, "duplicates_dropped": duplicates, "missing_delta_seqs": len(missing)}


def outbox(settings: Any, session: str) -> list[dict[str, Any]]:
    from order_agent.conversations import EdgeStore

    return EdgeStore(settings).frames_after(session, 0, limit=1000)


def check_database(db: Any, sessions: list[SessionResult], before: dict[str, Any]) -> list[str]:
    """Each order cancelled exactly once when its "Yes" turn completed (one write, one refund per
    payment), at most once when that turn was sent but not seen to finish, never otherwise; no
    other order changed."""
    problems: list[str] = []
    ids = [s.target.order_id for s in sessions]
    with db.transaction() as cur:
        cur.execute(
            """SELECT o.order_id, o.status,
                      count(*) FILTER (WHERE p.transaction_type = 'payment') AS payments,
                      count(*) FILTER (WHERE p.transaction_type = 'refund') AS refunds
               FROM orders o JOIN order_payments p USING (order_id)
               WHERE o.order_id = ANY(%s) GROUP BY o.order_id, o.status""",
            (ids,),
        )
        orders = {row["order_id"]: row for row in cur.fetchall()}
        cur.execute(
            "SELECT session_id, count(*) AS n FROM tool_writes WHERE tool_name = 'cancel_pending_order' "
            "GROUP BY session_id"
        )
        writes = {row["session_id"]: row["n"] for row in cur.fetchall()}
        cur.execute("SELECT status, count(*) AS n FROM orders GROUP BY status")
        statuses = {row["status"]: row["n"] for row in cur.fetchall()}
    cancelled = 0
    for session in sessions:
        order, written = orders[session.target.order_id], writes.get(session.target.session, 0)
        yes_sent = len(session.turns) >= 2
        yes_done = yes_sent and session.turns[1]["done"] is not None
        expected = {1} if yes_done else {0, 1} if yes_sent else {0}
        if written not in expected:
            problems.append(f"{session.target.session}: {written} cancel writes, expected {sorted(expected)}")
        if (order["status"] == "cancelled") != (written == 1) or order["refunds"] != order["payments"] * written:
            problems.append(
                f"{session.target.order_id}: {order['status']}, {order['refunds']} refunds, {written} writes"
            )
        cancelled += written
    if set(writes) - {s.target.session for s in sessions}:
        problems.append("cancel writes by sessions that are not ours")
    expected_statuses = {
        **before,
        "pending": before["pending"] - cancelled,
        "cancelled": before["cancelled"] + cancelled,
    }
    if statuses != expected_statuses:
        problems.append(f"order statuses {statuses}, expected {expected_statuses}")
    return problems


# -- main --------------------------------------------------------------------------------------------------------


def pick_targets(db: Any, sessions: int) -> list[Target]:
    """One distinct pending order per session (the customer's email with it)."""
    with db.transaction() as cur:
        cur.execute(
            """SELECT o.order_id, u.email FROM orders o JOIN users u USING (user_id)
               WHERE o.status = 'pending' ORDER BY o.order_id LIMIT %s""",
            (sessions,),
        )
        rows = cur.fetchall()
    run = uuid.uuid4().hex[:6]
    return [Target(f"load-{run}-{i:04d}", row["email"], row["order_id"]) for i, row in enumerate(rows)]


def problem_sessions(
    sessions: list[SessionResult], frame_checks: dict[str, Any], database_problems: list[str], limit: int = 10
) -> list[dict[str, Any]]:
    """What the clients saw in (up to `limit`) sessions a check flagged, to find the cause."""
    flagged = [
        s
        for s in sessions
        if s.errors
        or frame_checks[s.target.session]["problems"]
        or any(p.startswith((s.target.session, s.target.order_id)) for p in database_problems)
    ]
    return [
        {
            "session": s.target.session,
            "order_id": s.target.order_id,
            "resumed": s.resumed,
            "errors": s.errors,
            "turns": [
                {k: v for k, v in t.items() if k in ("message_id", "stage", "reply", "confirm_offered")}
                for t in s.turns
            ],
            "frames": [{k: v for k, v in f.items() if k not in ("sessionId", "usage")} for f in s.frames],
        }
        for s in flagged[:limit]
    ]


def report(results: dict[str, Any]) -> str:
    r = results
    lines = [
        f"sessions x turns: {r['sessions']} x {r['turns_per_session']} ({r['resumed_sessions']} resumed mid-stream), "
        f"gateway workers {r['workers']}, model {r['model']} (+{r['model_delay_ms']:g} ms per call)",
        f"completed turns: {r['completed_turns']} of {r['expected_turns']} in {r['wall_s']:.1f} s = "
        f"{r['throughput_turns_per_s']:.1f} turns/s ({r['throughput_sessions_per_s']:.2f} sessions/s)",
    ]
    for name in ("turn_latency_ms", "ttft_ms", "ack_ms"):
        s = r[name]
        lines.append(
            f"{name.replace('_ms', '').replace('_', ' ')}: p50 {s['p50']} / p95 {s['p95']} / p99 {s['p99']} "
            f"/ max {s['max']} ms"
        )
    lines.append(
        f"frames received: {r['frames_received']}; repeats after resume dropped by seq: "
        f"{r['duplicates_dropped']}; delta seqs lost with a dropped connection: {r['missing_delta_seqs']}"
    )
    lines.append(f"errors: {r['errors'] or 'none'}")
    lines.append(f"frames once and in order: {'OK' if not r['frame_problems'] else r['frame_problems'][:5]}")
    lines.append(f"database changes exactly once: {'OK' if not r['database_problems'] else r['database_problems'][:5]}")
    lines.append(f"took {r['took_s']:.0f} s; machine load average {r['load_average']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5, help="turns per session")
    parser.add_argument("--workers", type=int, default=8, help="the gateway's handler threads (concurrent Lambdas)")
    parser.add_argument("--resume-every", type=int, default=10, help="every Nth session drops and resumes (0: none)")
    parser.add_argument("--model-delay-ms", type=float, default=0, help="the offline model answers after this delay")
    parser.add_argument("--ramp-s", type=float, default=2.0, help="sessions start spread over this many seconds")
    parser.add_argument(
        "--time-limit", type=float, default=900, help="seconds before unfinished sessions are cancelled"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL server for the scratch database (default: an embedded one)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build/load/latest.json")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.workers, args.model_delay_ms)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        parser.error(f"--sessions must be between 1 and {MAX_SESSIONS} (one distinct pending order each)")
    if not 1 <= args.turns <= 20 or not 1 <= args.workers <= 64 or not 0 < args.time_limit <= 3600:
        parser.error("--turns 1-20, --workers 1-64, --time-limit up to 3600 s")

    started = time.monotonic()
    args.out.parent.mkdir(parents=True, exist_ok=True)  # the gateway's log goes beside the results
    with moto_server() as aws_url, PerfStack(args.database_url, aws_url, prefix="load") as stack:
        settings = stack.settings.model_copy(update={"model_provider": "offline"})
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "AWS_ENDPOINT_URL": aws_url,
            "CHECKPOINT_TABLE": settings.checkpoint_table,
            "CHECKPOINT_BUCKET": settings.checkpoint_bucket,
            "MODEL_PROVIDER": "offline",
            "AUTH_MODE": "none",
            # Every client comes from 127.0.0.1: the rate limits are counted (one request per message,
            # as deployed) but set out of reach; the per-conversation limits keep their defaults.
            "MAX_MESSAGES_PER_CONNECTION": "1000000000",
            "MAX_MESSAGES_PER_PRINCIPAL": "1000000000",
        }
        targets = pick_targets(stack.db, args.sessions)
        with stack.db.transaction() as cur:
            cur.execute("SELECT status, count(*) AS n FROM orders GROUP BY status")
            before = {row["status"]: row["n"] for row in cur.fetchall()}
        serve_args = [
            sys.executable,
            __file__,
            "--serve",
            "--workers",
            str(args.workers),
            "--model-delay-ms",
            str(args.model_delay_ms),
        ]
        with child(serve_args, env, "url", log=args.out.with_suffix(".server.log")) as ready:
            print(f"{len(targets)} sessions x {args.turns} turns against {ready['url']}", file=sys.stderr, flush=True)
            sessions, wall = asyncio.run(
                run_clients(ready["url"], targets, args.turns, args.resume_every, args.ramp_s, args.time_limit)
            )
        frame_checks = {
            s.target.session: check_frames(s, outbox(settings, s.target.session), args.turns) for s in sessions
        }
        database_problems = check_database(stack.db, sessions, before)

    turns = [t for s in sessions for t in s.turns if t["done"] is not None]

    def summary(key: str) -> dict[str, Any]:
        durations = [t[key] - t["sent"] for t in turns if t[key] is not None]
        return {**summary_ms(durations), "max": round(max(durations, default=0) * 1000, 1)}

    errors = Counter(e.split(":")[1].strip() if e.startswith("turn") else e for s in sessions for e in s.errors)
    results = {
        "sessions": len(targets),
        "turns_per_session": args.turns,
        "workers": args.workers,
        "model": "offline",
        "model_delay_ms": args.model_delay_ms,
        "resumed_sessions": sum(s.resumed for s in sessions),
        "expected_turns": len(targets) * args.turns,
        "completed_turns": len(turns),
        "wall_s": round(wall, 2),
        "throughput_turns_per_s": round(len(turns) / wall, 2),
        "throughput_sessions_per_s": round(
            sum(len(s.turns) == args.turns and not s.errors for s in sessions) / wall, 3
        ),
        "turn_latency_ms": summary("done"),
        "ttft_ms": summary("first_delta"),
        "ack_ms": summary("ack"),
        "frames_received": sum(len(s.frames) for s in sessions),
        "duplicates_dropped": sum(c["duplicates_dropped"] for c in frame_checks.values()),
        "missing_delta_seqs": sum(c["missing_delta_seqs"] for c in frame_checks.values()),
        "errors": dict(errors),
        "frame_problems": [f"{session}: {p}" for session, c in frame_checks.items() for p in c["problems"]],
        "database_problems": database_problems,
        "problem_sessions": problem_sessions(sessions, frame_checks, database_problems),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "took_s": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"written to {args.out}")
    ok = not (results["frame_problems"] or results["database_problems"] or results["errors"])
    return 0 if ok and results["completed_turns"] == results["expected_turns"] else 1


if __name__ == "__main__":
    sys.exit(main())
