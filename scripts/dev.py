"""`make dev`: the whole system on one machine, offline, until Ctrl-C.

DEV_STACK=deployed (the default): the Terraform system (terraform/envs/local, the `system` module of dev
and prod) applied to ministack, the functions running from their packages behind the emulator's API
Gateway, the embedded PostgreSQL (.local/postgres) behind PgBouncer as behind RDS Proxy, a local MLflow
tracking server (.local/mlflow), and the chat site (web/dist, built first if needed) with its config.json.
The emulator saves what it holds when stopped (.local/emulator) and the Terraform state stays in
.local/terraform, so a second start applies only what changed. Without the terraform CLI, its provider
mirror or pgbouncer, it says so and runs the gateway stack instead.
DEV_STACK=gateway: moto with the conversation table and the project's local API Gateway running the
handlers in lambdas/ from the working tree (several customers at once; the fastest edit loop).
Ctrl-C stops everything it started.
MODEL_PROVIDER picks the model (default: offline; `bedrock` with AWS credentials for Claude; `anthropic` with
ANTHROPIC_API_KEY; `openai` with OPENAI_BASE_URL and OPENAI_MODEL, e.g. Ollama's). The deployed stack passes
the provider's settings (MODEL_SETTINGS) to the emulator's functions and builds its SDK into their layer.
Ports: DEV_AWS_PORT (default 4566, LocalStack's edge port), DEV_WEB_PORT (default 8766), DEV_MLFLOW_PORT
(default 5000), DEV_POOLER_PORT (default 6432, deployed) and DEV_GATEWAY_PORT (default 8765, gateway).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The settings of the anthropic and openai providers that the emulator's functions get from this environment.
MODEL_SETTINGS = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY",
                  "OPENAI_MODEL", "MODEL_MAX_TOKENS", "MODEL_TEMPERATURE", "MODEL_MAX_ATTEMPTS")  # fmt: skip


def provision_emulator(endpoint_url: str) -> tuple[dict[str, str], str]:
    """The conversation table (and offload bucket) on the emulator, as the conversation_store module
    defines them, and the handoff bus with an inbox queue, as the handoff module does. Returns the
    settings to run with and the inbox's URL. The whole Terraform system on ministack is
    `make test-deployed` (docs/deployment.md)."""
    from order_agent.settings import Settings
    from order_agent_dev.local.aws import create_conversation_store, create_handoff_inbox

    settings = Settings(aws_endpoint_url=endpoint_url, handoff_event_bus="order-agent-local-handoffs")
    create_conversation_store(settings)
    inbox_url = create_handoff_inbox(settings, "order-agent-local-handoff-inbox")
    return {"CHECKPOINT_TABLE": settings.checkpoint_table, "HANDOFF_EVENT_BUS": settings.handoff_event_bus}, inbox_url


def print_handoffs(endpoint_url: str, queue_url: str, started: list) -> None:
    """A thread that prints each handoff event arriving in the inbox queue (one long poll of at most
    1 s at a time, so it stops within about a second of Ctrl-C)."""
    import json

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from order_agent.handoff import event_summary

    sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                for message in answer.get("Messages", []):
                    print(f"[handoff event] {event_summary(json.loads(message['Body']))}", flush=True)
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            except (BotoCoreError, ClientError, ValueError) as exc:
                print(f"[handoff event] could not read {queue_url}: {exc}", file=sys.stderr, flush=True)
                done.wait(5)

    thread = threading.Thread(target=poll, name="handoff-printer", daemon=True)
    thread.start()
    started.append(("handoff printer", lambda: (done.set(), thread.join(timeout=5))))


def serve_site(websocket_url: str):
    """The chat site on DEV_WEB_PORT, built first if needed; None (and why) when it cannot be."""
    from order_agent_dev.local.site import SiteNotBuilt, SiteServer, build_site

    try:
        dist = build_site(ROOT / "web")
    except (SiteNotBuilt, OSError, subprocess.CalledProcessError) as exc:
        print(f"chat site not served ({exc}); the terminal chat still works", flush=True)
        return None
    return SiteServer(dist, websocket_url).start(int(os.environ.get("DEV_WEB_PORT", "8766")))


def start_mlflow(started: list) -> str:
    """A local tracking server for the traces, unless MLFLOW_TRACKING_URI points elsewhere already."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    from order_agent_dev.local.mlflow_server import MlflowServer

    print("starting the MLflow tracking server (.local/mlflow) ...", flush=True)
    server = MlflowServer(ROOT / ".local" / "mlflow", port=int(os.environ.get("DEV_MLFLOW_PORT", "5000")))
    started.append(("MLflow", server.stop))
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    return server.url


def start_deployed(started: list, postgres_url: str) -> tuple[str, str, dict]:
    """DEV_STACK=deployed: the Terraform system (terraform/envs/local) applied to ministack, the functions
    running from their packages, PostgreSQL behind PgBouncer. Returns the WebSocket URL, the emulator's
    URL and the timings."""
    from order_agent_dev.local.emulator import Ministack
    from order_agent_dev.local.pooler import Pooler
    from order_agent_dev.local.system import ExternalDatabase, LocalSystem

    local = ROOT / ".local"
    # The same port and password on every start: they are in the secret and the functions' environment,
    # so a restart with nothing changed has nothing to apply.
    # The agent's functions connect as the application role, which the migrate function creates.
    app_username, app_password = "order_agent_local_app", _saved_secret(local / "app-role-password")
    pooler = Pooler(
        postgres_url, local / "pgbouncer", port=int(os.environ.get("DEV_POOLER_PORT", "6432")),
        password=_saved_secret(local / "pgbouncer-password"), users={app_username: app_password},
    )  # fmt: skip
    started.append(("PgBouncer", pooler.stop))
    print("starting the AWS emulator (ministack; its virtualenv is made on first use) ...", flush=True)
    emulator = Ministack.start(
        venv_dir=ROOT / ".cache" / "ministack", requirements=ROOT / "requirements" / "emulator.txt",
        state_dir=local / "emulator", port=int(os.environ.get("DEV_AWS_PORT", "4566")), persist=True,
    )  # fmt: skip
    started.append(("AWS emulator (saving its state)", emulator.stop))
    mlflow_url = start_mlflow(started)
    database = ExternalDatabase(
        "127.0.0.1", pooler.port, pooler.user, pooler.password, pooler.database,
        app_username=app_username, app_password=app_password,
    )  # fmt: skip
    system = LocalSystem(
        ROOT, local / "terraform", emulator, database, auth_mode="none", mlflow_tracking_uri=mlflow_url,
        model_provider=os.environ.get("MODEL_PROVIDER", "offline"),
        model_environment={name: os.environ[name] for name in MODEL_SETTINGS if os.environ.get(name)},
    )  # fmt: skip
    print("building the Lambda packages for the emulator ...", flush=True)
    system.build_packages()
    resumed = system.is_deployed()
    if resumed:
        print("applying what changed since the last start to the emulator ...", flush=True)
    else:
        print("applying terraform/envs/local to the emulator (about three minutes) ...", flush=True)
    outputs = system.apply(fresh=not resumed)
    print_handoffs(emulator.url, outputs["handoff_inbox_queue_url"], started)
    return outputs["websocket_url"], emulator.url, system.timings, resumed


def chosen_stack() -> str:
    """DEV_STACK, `deployed` by default. The deployed shape needs the terraform CLI with its provider
    mirror and pgbouncer; without them this says why and runs the gateway stack."""
    from order_agent_dev.local.pooler import PgBouncerNotInstalled, pgbouncer_binary
    from order_agent_dev.local.terraform import TerraformUnavailable, terraform_and_plugin_dir

    stack = os.environ.get("DEV_STACK", "deployed")
    if stack not in ("deployed", "gateway"):
        raise SystemExit(f"DEV_STACK is `deployed` (the default) or `gateway`, not {stack!r}")
    if stack == "deployed":
        try:
            terraform_and_plugin_dir()
            pgbouncer_binary()
        except (TerraformUnavailable, PgBouncerNotInstalled) as exc:
            print(f"the deployed shape cannot start here ({exc}); starting the gateway stack instead", flush=True)
            return "gateway"
    return stack


def _saved_secret(path: Path) -> str:
    """A random secret made on first use and kept in `path` (git-ignored, like all of .local)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def main() -> int:
    from order_agent.db.dataset import count_dataset, load_dataset, read_dataset
    from order_agent.db.migrate import migrate
    from order_agent.db.pool import get_database
    from order_agent.settings import get_settings
    from order_agent_dev.local.aws import LocalAws
    from order_agent_dev.local.postgres import EmbeddedPostgres
    from order_agent_dev.local.stack import start_gateway

    began = time.monotonic()
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    started = []
    try:
        if "DATABASE_URL" not in os.environ:
            data_dir = ROOT / ".local" / "postgres"
            already_running = (data_dir / "postmaster.pid").exists()
            postgres = EmbeddedPostgres(data_dir, keep_running=already_running)
            os.environ["DATABASE_URL"] = postgres.url
            if not already_running:
                started.append(("PostgreSQL", postgres.stop))
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        if chosen_stack() == "deployed":
            websocket_url, aws_url, timings, resumed = start_deployed(started, os.environ["DATABASE_URL"])
            applied = "what changed since the last start" if resumed else "everything, on an empty emulator"
            took = f"packages {timings['build_s']:.0f} s, apply {timings['apply_s']:.0f} s: {applied}"
            site = serve_site(websocket_url)
            if site is not None:
                started.append(("chat site", site.stop))
            print(
                f"""
order-support agent, the Terraform system on the emulator (model: {os.environ.get("MODEL_PROVIDER", "offline")})
  Chat site  {site.url if site else "(not served)"}
  WebSocket  {websocket_url}
  Chat       .venv/bin/order-agent chat --url {websocket_url}
  AWS        {aws_url}   (ministack: functions, API Gateway, DynamoDB, ...)
  Handoffs   each handoff event is printed here as it arrives ([handoff event] ...)
  Started in {time.monotonic() - began:.0f} s ({took})
Ctrl-C stops everything.""",
                flush=True,
            )
            while not stopping.wait(timeout=1.0):
                pass
            return 0
        aws = LocalAws(int(os.environ.get("DEV_AWS_PORT", "4566")))
        started.append(("AWS emulator", aws.stop))
        os.environ["AWS_ENDPOINT_URL"] = aws.url
        environment, inbox_url = provision_emulator(aws.url)
        os.environ.update(environment)
        print_handoffs(aws.url, inbox_url, started)
        mlflow_url = start_mlflow(started)
        get_settings.cache_clear()
        settings = get_settings()

        db = get_database(settings)
        migrate(db)
        if count_dataset(db).users == 0:
            print(f"loading the τ retail data set: {load_dataset(db, read_dataset('tau-retail', settings))}")

        port = int(os.environ.get("DEV_GATEWAY_PORT", "8765"))
        gateway, _ = start_gateway(settings, ROOT / "lambdas", port=port)
        started.append(("gateway", gateway.stop))
        site = serve_site(gateway.url)
        if site is not None:
            started.append(("chat site", site.stop))
        print(
            f"""
order-support agent, local stack (model: {settings.model_provider})
  Chat site  {site.url if site else "(not served)"}
  WebSocket  {gateway.url}
  Chat       .venv/bin/order-agent chat --url {gateway.url}
  PostgreSQL {settings.database_url}
  AWS        {aws.url}   (DynamoDB table {settings.checkpoint_table})
  MLflow     {mlflow_url}   (traces: experiment {settings.mlflow_experiment_name}, grouped by session)
  Handoffs   each handoff event is printed here as it arrives ([handoff event] ...)
Ctrl-C stops everything.""",
            flush=True,
        )
        while not stopping.wait(timeout=1.0):
            pass
        return 0
    finally:
        for name, stop in reversed(started):
            try:
                stop()
                print(f"stopped {name}", file=sys.stderr)
            except Exception as exc:  # keep stopping the rest
                print(f"could not stop {name}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
