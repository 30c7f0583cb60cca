"""`make bench` and `make load` at tiny sizes: the output's structure and the correctness checks, never
timings. Both run in their own processes, as `make` runs them, against this session's PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import load  # noqa: E402  (scripts/ is not a package)


def _run(script: str, out: Path, server_url: str, *options: str) -> tuple[int, str, dict]:
    process = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--out", str(out), "--database-url", server_url, *options],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.exists(), process.stderr[-3000:]
    return process.returncode, process.stdout, json.loads(out.read_text())


def test_bench_reports_every_figure_with_traces_handed_off_and_forwarded_to_mlflow(postgres_server_url, tmp_path):
    # One bench run (each costs a minute or two): every figure, with tracing on as deployed.
    code, table, results = _run(
        "bench.py", tmp_path / "bench.json", postgres_server_url,
        "--suite", "representative", "--conversations", "2", "--repetitions", "1", "--ttft-repetitions", "1", "--first-token-ms", "30",
        "--chunk-ms", "1", "--cold-start-repetitions", "1", "--first-turn-repetitions", "1", "--db-calls", "2", "--layers-dir", str(tmp_path / "none"),
    )  # fmt: skip
    assert code == 0, table
    turns = results["turns"]
    # the customer's "Yes" is not a line of its own: the driver answers the proposal
    assert results["conversations"] == ["status", "cancel"] and turns["turns"] == 3 + 4
    split = turns["overhead_split_ms"]
    handoff = split["trace hand-off"]
    assert isinstance(handoff, dict) and handoff["n"] == turns["turns"] and handoff["p50"] > 0
    assert turns["trace_handoffs"] == {"turns": turns["turns"], "failed": 0}  # one trace per turn, all sent
    forwarding = turns["trace_forwarding"]  # and every one reached MLflow, off the turns' path
    assert (forwarding["delivered"], forwarding["failed"]) == (turns["turns"], 0)
    assert forwarding["ms_per_trace_mean"] > 0
    assert {"checkpointer reads", "checkpointer writes", "tools/SQL", "frame posting", "graph and the rest"} <= set(
        split
    )
    # a turn's reads come with its lock and one BatchGetItem (none in a new session), and its writes
    # go with the edge's records in one transaction (conversations/turn.py): at most 4 requests a turn
    dynamodb = turns["dynamodb_requests_per_turn"]
    assert 3 <= dynamodb["min"] <= dynamodb["max"] <= 4
    # the edge makes them all: its claim, its check for an earlier answer (the checkpoint's items come
    # in the same BatchGetItem) and its record of the turn's frames (the transaction)
    assert set(dynamodb["by_origin_mean"]) == {"edge store"}
    assert results["aws_emulator"] == "ministack"  # the emulator make dev runs, in a process of its own
    sql = turns["sql_round_trips_per_tool_call"]
    assert sql["find_user_id_by_email"]["min"] == 1  # a read: one statement in autocommit
    # the budgets: a write at most 5 round trips (BEGIN and COMMIT included), its dry run at most 3
    assert sql["cancel_pending_order"]["max"] <= 5 and 1 <= sql["cancel_pending_order (dry run)"]["max"] <= 3
    assert turns["per_conversation"]["cancel"]["model_calls"] == 6  # the script's six responses
    assert turns["per_conversation"]["cancel"]["estimated_input_tokens"] > 0
    assert results["ttft"]["turns_with_streamed_text"] > 0 and results["ttft"]["client_minus_model_ms"]["n"] > 0
    assert set(results["cold_start"]["handlers"]) == {"authorizer", "connect", "disconnect", "message", "migrate",
                                                           "trace_forwarder"}  # fmt: skip
    warmed = results["first_turn"]["warmed"]
    assert {"import_cpu_ms", "warm_cpu_ms", "turn_1_wall_ms", "turn_2_wall_ms"} <= warmed.keys()
    assert results["layers"]["source"].startswith("not available")
    tools = results["database"]["tools"]
    assert {"pool", "new connection"} <= set(tools["get_order_details"]) and tools["get_order_details"][
        "sql_round_trips"
    ] == 1
    for figure in (
        "orchestration overhead per turn",
        "client TTFT minus model TTFT",
        "import lambdas/message/handler.py",
        "cost of a conversation at list prices",
        "binds first:",
        "trace hand-off (p50/p95/p99)",
        "traces the forwarder delivered to MLflow (failed)",
    ):
        assert figure in table
    # the cost of each conversation and of the suite, and the sizing, under their documented keys
    units = turns["dynamodb_request_units_per_turn"]
    assert units["read"]["mean"] > 0 and units["write"]["mean"] >= 2  # a checkpoint write and the session claim
    cost = results["cost"]
    assert set(cost["per_scenario"]) == {"status", "cancel"}
    for name, scenario in cost["per_scenario"].items():
        lines = scenario["lines_usd"]
        assert scenario["usd"] == pytest.approx(sum(lines.values())), name
        assert scenario["usd_without_prompt_caching"] > scenario["usd"] > lines["bedrock_tokens"] > 0, name
        assert all(value > 0 for value in lines.values()), (name, lines)
        measured = scenario["measured"]
        assert measured["messages_out"] >= measured["turns"] * 3  # ack, message, done at least
        # measured, not assumed, with tracing on
        assert measured["trace_export_s"] > 0 and measured["trace_handoff_s"] > 0 and measured["trace_bytes"] > 0
    assert cost["suite"]["usd"] == pytest.approx(sum(s["usd"] for s in cost["per_scenario"].values()))
    assert set(cost["trace_pipelines"]) == {"sync-mlflow", "sqs-forwarder"}
    assert cost["deployment"]["memory_mb"]["message"] > 0 and cost["deployment"]["architecture"] in ("arm64", "x86_64")
    sizing = results["sizing"]
    for n in ("10", "100", "1000"):
        assert sizing[n]["bedrock_tokens_per_minute"]["value"] > 0
        assert (
            sizing[n]["message_function_concurrency"]["quota"] == cost["deployment"]["reserved_concurrency"]["message"]
        )
    assert sizing["binds_first"]["metric"] in sizing["binds_at_conversations"]


def test_load_checks_frames_and_database_writes(postgres_server_url, tmp_path):
    code, report, results = _run(
        "load.py", tmp_path / "load.json", postgres_server_url, "--sessions", "5", "--turns", "2", "--resume-every", "2",
        "--time-limit", "300",
    )  # fmt: skip
    assert code == 0, report
    assert (results["sessions"], results["completed_turns"], results["resumed_sessions"]) == (5, 10, 2)
    assert results["frame_problems"] == [] and results["database_problems"] == [] and results["errors"] == {}
    assert "frames once and in order: OK" in report and "database changes exactly once: OK" in report


# -- the checks themselves catch what they are for --------------------------------------------------------------


def _frame(seq, kind, turn="t1", **extra):
    return {"type": kind, "sessionId": "s", "turnId": turn, "seq": seq, **extra}


def _session(frames, resumed=False):
    result = load.SessionResult(load.Target("s", "e", "#W1"), frames=frames, resumed=resumed)
    result.turns = [{"message_id": "t1"}]
    return result


ACK = {"type": "ack", "sessionId": "s", "messageId": "t1"}


def test_frame_check_accepts_a_complete_turn():
    frames = [ACK, _frame(1, "delta", text="a"), _frame(2, "message"), _frame(3, "done")]
    assert load.check_frames(_session(frames), [frames[2], frames[3]], 1)["problems"] == []


@pytest.mark.parametrize(
    ("frames", "problem"),
    [
        ([ACK, _frame(1, "delta"), _frame(3, "message"), _frame(4, "done")], "seq gaps"),
        ([ACK, _frame(2, "message"), _frame(1, "delta"), _frame(3, "done")], "not a repeat"),
        ([ACK, _frame(1, "message"), _frame(2, "done"), _frame(2, "done")], "repeated frames"),
        ([ACK, _frame(1, "message")], "{'message': 1}"),
        ([ACK, ACK, _frame(1, "message"), _frame(2, "done")], "acks"),
    ],
)
def test_frame_check_finds_gaps_disorder_repeats_and_missing_frames(frames, problem):
    problems = load.check_frames(_session(frames), [], 1)["problems"]
    assert any(problem in p for p in problems), problems


def test_frame_check_after_a_resume_allows_lost_deltas_but_not_lost_kept_frames():
    done = _frame(4, "done")
    frames = [ACK, _frame(1, "delta"), _frame(3, "message"), done, done]  # delta 2 went to the old connection
    assert load.check_frames(_session(frames, resumed=True), [frames[2], done], 1)["problems"] == []
    lost = load.check_frames(_session(frames[:3], resumed=True), [frames[2], done], 1)["problems"]
    assert any("kept frames not received" in p for p in lost)


def test_a_served_childs_output_after_ready_is_read_so_it_never_blocks(tmp_path):
    # The load test's gateway logs a record per turn: once the pipe's buffer (64 KiB) was full, its
    # handlers blocked in their next log line and every session timed out. One that prints 1 MiB
    # after it is ready must get to its end while the parent only waits.
    done, log = tmp_path / "done", tmp_path / "child.log"
    code = (
        "import json, sys\nprint(json.dumps({'url': 'x'}), flush=True)\n"
        f"for _ in range(1024): print('x' * 1023, flush=True)\nopen({str(done)!r}, 'w').close()\nsys.stdin.read()\n"
    )
    with load.child([sys.executable, "-c", code], {}, "url", log=log) as ready:
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready == {"url": "x"} and done.exists()
    assert log.stat().st_size == 1024 * 1024  # all of it kept, in order
