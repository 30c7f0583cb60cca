"""`make dev`: the whole system on one machine, offline, until Ctrl-C.

Starts the embedded PostgreSQL (.local/postgres) with the τ retail data loaded, an AWS emulator
(moto) with the conversation table, a local MLflow tracking server (.local/mlflow; every turn's
trace, grouped by session), the local API Gateway running the handlers in lambdas/, and the chat site
(web/dist, built first if needed) with its config.json, then prints the URLs. Ctrl-C stops everything
it started.
MODEL_PROVIDER picks the model (default: offline; `bedrock` with AWS credentials for Claude).
DEV_STACK=deployed runs instead the Terraform system (terraform/envs/local) on ministack: the functions from
their packages behind the emulator's API Gateway, PostgreSQL behind PgBouncer (README, Deployment).
Ports: DEV_GATEWAY_PORT (default 8765), DEV_WEB_PORT (default 8766), DEV_MLFLOW_PORT (default 5000) and
DEV_AWS_PORT (default 4566, LocalStack's edge port).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def provision_emulator(endpoint_url: str) -> dict[str, str]:
    """The conversation table (and offload bucket) on the emulator, as the conversation_store module
    defines them. The whole Terraform system on ministack is `make test-deployed` (see README)."""
    from order_agent.local.aws import create_conversation_store
    from order_agent.settings import Settings

    settings = Settings(aws_endpoint_url=endpoint_url)
    create_conversation_store(settings)
    return {"CHECKPOINT_TABLE": settings.checkpoint_table}


def serve_site(websocket_url: str):
    """The chat site on DEV_WEB_PORT, built first if needed; None (and why) when it cannot be."""
    from order_agent.local.site import SiteNotBuilt, SiteServer, build_site

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
    from order_agent.local.mlflow_server import MlflowServer

    print("starting the MLflow tracking server (.local/mlflow) ...", flush=True)
    server = MlflowServer(ROOT / ".local" / "mlflow", port=int(os.environ.get("DEV_MLFLOW_PORT", "5000")))
    started.append(("MLflow", server.stop))
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    return server.url


def start_deployed(started: list, postgres_url: str) -> tuple[str, str, dict]:
    """DEV_STACK=deployed: the Terraform system (terraform/envs/local) applied to ministack, the functions
    running from their packages, PostgreSQL behind PgBouncer. Returns the WebSocket URL, the emulator's
    URL and the timings."""
    from order_agent.local.emulator import Ministack
    from order_agent.local.pooler import Pooler
    from order_agent.local.system import ExternalDatabase, LocalSystem

    local = ROOT / ".local"
    pooler = Pooler(postgres_url, local / "pgbouncer")
    started.append(("PgBouncer", pooler.stop))
    print("starting the AWS emulator (ministack; its virtualenv is made on first use) ...", flush=True)
    emulator = Ministack.start(
        venv_dir=ROOT / ".cache" / "ministack", requirements=ROOT / "requirements" / "emulator.txt",
        state_dir=local / "emulator", port=int(os.environ.get("DEV_AWS_PORT", "4566")),
    )  # fmt: skip
    started.append(("AWS emulator", emulator.stop))
    mlflow_url = start_mlflow(started)
    database = ExternalDatabase("127.0.0.1", pooler.port, pooler.user, pooler.password, pooler.database)
    system = LocalSystem(
        ROOT, local / "terraform", emulator, database, auth_mode="none", mlflow_tracking_uri=mlflow_url,
        model_provider=os.environ.get("MODEL_PROVIDER", "offline"),
    )  # fmt: skip
    print("building the Lambda packages for the emulator ...", flush=True)
    system.build_packages()
    print("applying terraform/envs/local to the emulator (about three minutes) ...", flush=True)
    outputs = system.apply()
    return outputs["websocket_url"], emulator.url, system.timings


def main() -> int:
    from order_agent.db.dataset import count_dataset, load_dataset, read_dataset
    from order_agent.db.migrate import migrate
    from order_agent.db.pool import get_database
    from order_agent.local.aws import LocalAws
    from order_agent.local.postgres import EmbeddedPostgres
    from order_agent.local.stack import start_gateway
    from order_agent.settings import get_settings

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
        if os.environ.get("DEV_STACK") == "deployed":
            websocket_url, aws_url, timings = start_deployed(started, os.environ["DATABASE_URL"])
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
  Started in {time.monotonic() - began:.0f} s (packages {timings["build_s"]:.0f} s, apply {timings["apply_s"]:.0f} s)
Ctrl-C stops everything.""",
                flush=True,
            )
            while not stopping.wait(timeout=1.0):
                pass
            return 0
        aws = LocalAws(int(os.environ.get("DEV_AWS_PORT", "4566")))
        started.append(("AWS emulator", aws.stop))
        os.environ["AWS_ENDPOINT_URL"] = aws.url
        os.environ.update(provision_emulator(aws.url))
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
