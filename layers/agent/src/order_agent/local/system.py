"""The deployed system on one machine: the Lambda packages built for the emulator, then
`terraform/envs/local` (the `system` module of dev and prod) applied to ministack, with a real
PostgreSQL behind PgBouncer standing in for RDS behind RDS Proxy. `make dev` and the deployed-system
tests use it; the functions run from the packages Terraform deployed, with the environment it wrote.

    system = LocalSystem(root, work_dir, emulator, database, name="order-agent-local")
    system.build_packages()   # make layers for the emulator's Python and this machine's architecture
    outputs = system.apply()  # websocket_url, websocket_api_id, function_names, user_pool_id, ...
    system.destroy()
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_agent.local.emulator import Ministack, lambda_architecture
from order_agent.local.terraform import LocalTerraform, TerraformFailed


@dataclass(frozen=True)
class ExternalDatabase:
    """The PostgreSQL the deployed functions reach (through the pooler), as the system module takes it."""

    host: str
    port: int
    username: str
    password: str
    name: str
    sslmode: str = "disable"  # the local pooler speaks no TLS; RDS Proxy requires it

    def terraform_value(self) -> dict[str, Any]:
        return {
            "host": self.host, "port": self.port, "username": self.username, "password": self.password,
            "sslmode": self.sslmode, "name": self.name,
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
        dataset: str = "tau-retail",
        mlflow_tracking_uri: str | None = None,
        build_dir: Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.emulator = emulator
        self.build_dir = Path(build_dir or self.root / "build" / "lambda-local").resolve()
        self.timings: dict[str, float] = {}
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
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            raise PackageBuildFailed(f"building the Lambda packages failed:\n{output}")
        self.timings["build_s"] = time.monotonic() - started

    def apply(self, *, fresh: bool = True, attempts: int = 2) -> dict[str, Any]:
        """Apply; after a failed apply, destroy what it made and apply once more. ministack has been
        seen to stall a request for minutes (an AddPermission here) until Terraform's retry meets
        the first request's result (409); the failure is printed, never hidden."""
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            try:
                outputs = self.terraform.apply(fresh=fresh)
                break
            except TerraformFailed as exc:
                if attempt == attempts:
                    raise
                print(f"terraform apply failed (attempt {attempt} of {attempts}); destroying, applying again:\n{exc}")
                self.terraform.destroy()
                fresh = True
        self.timings["apply_s"] = time.monotonic() - started
        return outputs

    def destroy(self) -> None:
        started = time.monotonic()
        self.terraform.destroy()
        self.timings["destroy_s"] = time.monotonic() - started
