"""A real MLflow tracking server on loopback, for `make dev` and the tests.

`mlflow server` comes from full `mlflow`, a development dependency (never in the Lambda layer).
Its backend is local: an SQLite database and an artifact directory under `data_dir`, so traces
survive restarts of `make dev` and a test's server is gone with its temporary directory.

    with MlflowServer(Path(".local/mlflow")) as server:
        print(server.url)   # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from order_agent_dev.local.aws import free_port

START_TIMEOUT_S = 120  # the first start migrates the SQLite schema (~10 s on a busy 2-core machine)


class MlflowServerError(RuntimeError):
    pass


class MlflowServer:
    def __init__(self, data_dir: Path, *, port: int | None = None, start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.data_dir / "server.log"
        env = {
            **os.environ,
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no background job workers
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.data_dir / 'mlflow.db'}",
            "--artifacts-destination", str(self.data_dir / "artifacts"),
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            # A process group of its own: the server forks workers, and stop() ends them all.
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self._wait_healthy(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MlflowServerError(f"mlflow server exited with {self._process.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise MlflowServerError(f"mlflow server not healthy after {timeout_s:.0f} s; see {self.log_path}")

    def stop(self, timeout_s: float = 15) -> None:
        if self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=timeout_s)

    def __enter__(self) -> MlflowServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
