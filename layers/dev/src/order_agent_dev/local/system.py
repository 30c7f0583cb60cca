"""The deployed system on one machine: the Lambda packages built for the emulator, then
`terraform/envs/local` (the `system` module of dev and prod) applied to ministack, with a real
PostgreSQL behind PgBouncer standing in for RDS behind RDS Proxy. `make dev` and the deployed-system
tests use it; the functions run from the packages Terraform deployed, with the environment it wrote.

    system = LocalSystem(root, work_dir, emulator, database, name="order-agent-local")
    system.build_packages()   # make layers for the emulator's Python and this machine's architecture
    outputs = system.apply()  # websocket_url, websocket_api_id, function_names, user_pool_id, ...
    system.destroy()

On an emulator that restored its saved state (`Ministack.start(persist=True)`, as `make dev` runs it),
`system.apply(fresh=not system.is_deployed())` applies only what changed since the last start.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from order_agent.model import PROVIDER_PACKAGES
from order_agent_dev.local.emulator import Ministack, lambda_architecture
from order_agent_dev.local.terraform import LocalTerraform, TerraformFailed

T = TypeVar("T")
# terraform/envs/local's provider region.
EMULATOR_REGION = "us-east-1"


@dataclass(frozen=True)
class ExternalDatabase:
    """The PostgreSQL the deployed functions reach (through the pooler), as the system module takes it."""

    host: str
    port: int
    username: str
    password: str
    name: str
    sslmode: str = "disable"  # the local pooler speaks no TLS; RDS Proxy requires it
    # The application role the agent's functions connect as (the migrate function creates it and sets
    # this password; the pooler must list it). `username` above is the master user, for migrate only.
    app_username: str | None = None
    app_password: str | None = None

    def terraform_value(self) -> dict[str, Any]:
        return {
            "host": self.host, "port": self.port, "username": self.username, "password": self.password,
            "sslmode": self.sslmode, "name": self.name,
            "app_username": self.app_username, "app_password": self.app_password,
        }  # fmt: skip


class PackageBuildFailed(RuntimeError):
    pass


class LocalSystem:
    def __init__(
        self,
        root: Path,
        work_dir: Path,
        emulator: Ministack,
        database: ExternalDatabase,
        *,
        name: str = "order-agent-local",
        auth_mode: str = "none",
        model_provider: str = "offline",
        model_environment: Mapping[str, str] | None = None,
        dataset: str = "tau-retail",
        mlflow_tracking_uri: str | None = None,
        build_dir: Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.emulator = emulator
        self.build_dir = Path(build_dir or self.root / "build" / "lambda-local").resolve()
        self.timings: dict[str, float] = {}
        self.model_provider = model_provider
        self.terraform = LocalTerraform(
            self.root / "terraform" / "envs" / "local",
            Path(work_dir),
            emulator.url,
            {
                "name": name,
                "build_dir": str(self.build_dir),
                "architecture": lambda_architecture(),
                "database": database.terraform_value(),
                "dataset": dataset,
                "auth_mode": auth_mode,
                "model_provider": model_provider,
                # anthropic/openai settings and key, for the agent's functions (TF_VAR_*, never written to a file)
                "model_environment": dict(model_environment or {}),
                "mlflow_tracking_uri": mlflow_tracking_uri,
            },
        )

    def build_packages(self) -> None:
        """The layers and function packages for the interpreter the emulator runs Lambda code with and
        this machine's architecture; deterministic, so Terraform redeploys only what changed."""
        started = time.monotonic()
        command = [
            sys.executable, str(self.root / "scripts" / "build_layers.py"),
            "--arch", lambda_architecture(), "--python", self.emulator.python_version, "--out", str(self.build_dir),
        ]  # fmt: skip
        if self.model_provider in PROVIDER_PACKAGES:  # its SDK goes into the deps layer, as a deployment would build it
            command += ["--providers", self.model_provider]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            raise PackageBuildFailed(f"building the Lambda packages failed:\n{output}")
        self.timings["build_s"] = time.monotonic() - started

    def is_deployed(self) -> bool:
        """Whether the emulator holds what the Terraform state describes: it restored its saved state and
        has the state's WebSocket API and functions (an emulator killed before it could save has not)."""
        if not (self.emulator.restored and self.terraform.has_state()):
            return False
        try:
            outputs = self.terraform.outputs()
            client_options = {
                "endpoint_url": self.emulator.url, "region_name": EMULATOR_REGION,
                "aws_access_key_id": "local", "aws_secret_access_key": "local",
            }  # fmt: skip
            boto3.client("apigatewayv2", **client_options).get_api(ApiId=outputs["websocket_api_id"])
            functions = boto3.client("lambda", **client_options)
            for function_name in outputs["function_names"].values():
                functions.get_function_configuration(FunctionName=function_name)
        except (TerraformFailed, KeyError, BotoCoreError, ClientError):
            return False
        return True

    def apply(self, *, fresh: bool = True, attempts: int = 2) -> dict[str, Any]:
        """Apply; after a failed apply, empty the emulator and apply afresh. ministack has been seen to
        stall a request for minutes until Terraform's retry met the first request's result (409), and
        to fail a create it had carried out; a destroy of what the failed apply recorded then leaves
        what it made but never recorded, which the next apply collides with ("already exists"). The
        emulator is this system's own (make dev's, or a test module's), so it is reset instead."""
        started = time.monotonic()
        # A retry starts from nothing: the emulator was reset, so the old state describes nothing.
        outputs = _retried(
            "apply", lambda attempt: self.terraform.apply(fresh=fresh or attempt > 1), attempts,
            before_retry=self.emulator.reset,
        )  # fmt: skip
        self.timings["apply_s"] = time.monotonic() - started
        return outputs

    def destroy(self, *, attempts: int = 2) -> None:
        """Destroy; after a failed destroy, destroy what is left. A CI run saw ministack answer the
        CloudFront distribution's disable with 412 PreconditionFailed although the provider had just
        read its ETag; the next destroy reads it again."""
        started = time.monotonic()
        _retried("destroy", lambda attempt: self.terraform.destroy(), attempts)
        self.timings["destroy_s"] = time.monotonic() - started


def _retried(
    command: str, run: Callable[[int], T], attempts: int, before_retry: Callable[[], object] | None = None
) -> T:
    """Run a Terraform command up to `attempts` times; every failure but the last is printed, never hidden."""
    for attempt in range(1, attempts + 1):
        try:
            return run(attempt)
        except TerraformFailed as exc:
            if attempt == attempts:
                raise
            print(f"terraform {command} failed (attempt {attempt} of {attempts}); trying again:\n{exc}")
            if before_retry is not None:
                before_retry()
    raise ValueError(f"attempts must be at least 1, not {attempts}")
