"""`order-agent`: the command line for the database, the tools and the evaluation harnesses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import psycopg2

from order_agent.db.dataset import DATASETS, DatasetError, export_dataset, load_dataset, read_dataset
from order_agent.db.migrate import MigrationError, drop_schema, migrate
from order_agent.db.pool import Database, get_database
from order_agent.db.scratch import create_scratch_database, drop_database
from order_agent.settings import get_settings


def _migrate(args: argparse.Namespace) -> int:
    applied = migrate(get_database())
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing to apply"
    print(f"migrations: {names}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    data = read_dataset(args.dataset)  # fetch and verify before anything is dropped
    db = get_database()
    drop_schema(db)
    migrate(db)
    print(load_dataset(db, data))
    return 0


def _export(args: argparse.Namespace) -> int:
    text = json.dumps(export_dataset(get_database()), indent=args.indent, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def _chat(args: argparse.Namespace) -> int:
    """A terminal chat: in process over the agent's entry point, or through the gateway with --url."""
    import uuid

    if args.url:  # through the gateway, over the real protocol
        from order_agent.local.ws_chat import run

        return run(args.url, args.session, args.message, args.quiet)

    from order_agent.agent.service import Agent

    agent = Agent(get_settings())
    session = args.session or f"terminal-{uuid.uuid4()}"

    def emit(event) -> None:
        if event.type == "delta" and not args.quiet:
            print(event.text, end="", flush=True)
        elif event.type == "message":
            print(event.text if args.quiet else "", flush=True)
            if event.stage == "order_confirmation":
                print("  [yes / no]", flush=True)
            if event.model_provider == "offline":
                print("  (offline model)", flush=True)
        elif event.type == "error":
            print(f"[{event.code}] {event.message}", flush=True)

    messages = args.message or None
    print(f"session {session} - model {agent.model.name}", file=sys.stderr)
    while True:
        if messages is not None:
            if not messages:
                return 0
            text = messages.pop(0)
            print(f"> {text}")
        else:
            try:
                text = input("> ")
            except EOFError:
                return 0
        outcome = agent.handle_message(session, text, emit)
        if outcome.final and outcome.final.stage in {"closed", "handed_off"} and messages is None:
            return 0


def _tools(args: argparse.Namespace) -> int:
    from order_agent.tools import ToolRunner

    print(json.dumps(ToolRunner.converse_tools(), indent=2))
    return 0


def _tau_replay(args: argparse.Namespace) -> int:
    from order_agent.evals.tau_replay import replay

    # A scratch database on the same server: the replay reloads the data set before every task.
    settings = get_settings()
    url = create_scratch_database(settings.database_url, prefix="order_agent_tau_replay")
    scratch_settings = settings.model_copy(update={"database_url": url})
    db = Database(scratch_settings)
    try:
        migrate(db)
        report = replay(db, scratch_settings, set(args.task) if args.task else None)
    finally:
        db.close()
        drop_database(url)
    for task in report.tasks:
        if not task.identical or args.verbose:
            status = "identical" if task.identical else "DIFFERENT"
            print(f"task {task.task_id}: {status}")
            for line in task.differences:
                print(f"  {line}")
            for action in task.outcome_mismatches:
                print(
                    f"  {action.name}: reference ok={action.reference_ok} ours ok={action.ours_ok}"
                    f" ({action.ours_error or action.reference_error})"
                )
    print(report.action_summary())
    print(report.summary())
    same_outcomes = all(not task.outcome_mismatches for task in report.tasks)
    return 0 if report.identical == len(report.tasks) and same_outcomes else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="order-agent", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the orders database (DATABASE_URL)").add_subparsers(dest="db", required=True)
    db.add_parser("migrate", help="apply the SQL migrations that are not applied yet").set_defaults(run=_migrate)
    reset = db.add_parser("reset", help="drop the schema, migrate, and load a data set")
    reset.add_argument("--dataset", choices=DATASETS, default="tau-retail")
    reset.set_defaults(run=_reset)
    export = db.add_parser("export", help="write the database in the τ JSON shape")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.add_argument("--indent", type=int, default=None)
    export.set_defaults(run=_export)

    commands.add_parser("tools", help="print the tools' Bedrock Converse specs").set_defaults(run=_tools)

    chat = commands.add_parser("chat", help="chat with the agent in the terminal (MODEL_PROVIDER picks the model)")
    chat.add_argument(
        "--url", help="chat through a WebSocket gateway, e.g. ws://127.0.0.1:8765/local (default: in process)"
    )
    chat.add_argument("--session", help="continue this session id (default: a new one)")
    chat.add_argument("--message", "-m", action="append", help="send this message and exit (repeatable)")
    chat.add_argument("--quiet", "-q", action="store_true", help="print final messages only, not the stream")
    chat.set_defaults(run=_chat)

    evals = commands.add_parser("eval", help="evaluation harnesses").add_subparsers(dest="eval", required=True)
    tau = evals.add_parser(
        "tau-replay", help="replay τ-bench retail gold actions against the reference tools (in a scratch database)"
    )
    tau.add_argument("--task", action="append", help="only this task id (repeatable)")
    tau.add_argument("--verbose", "-v", action="store_true", help="list every task and action outcome")
    tau.set_defaults(run=_tau_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DatasetError, MigrationError, RuntimeError) as exc:
        print(f"order-agent: error: {exc}", file=sys.stderr)
        return 2
    except psycopg2.Error as exc:
        print(f"order-agent: database error: {str(exc).strip()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
