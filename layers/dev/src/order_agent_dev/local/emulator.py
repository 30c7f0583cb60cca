"""ministack, the LocalStack-compatible AWS emulator the local stack deploys the Terraform system to.

ministack pins botocore exactly, so it lives in a virtualenv of its own (`requirements/emulator.txt`),
made on first use. Its Lambda workers run the deployed packages with that virtualenv's interpreter
(whatever runtime a function declares), so the virtualenv is made with the functions' Python minor
version where the machine has it (`python3.13` for the `python3.13` runtime) and the packages are
built for `python_version` and the host's architecture.

    emulator = Ministack.start(venv_dir=Path(".cache/ministack"), requirements=Path("requirements/emulator.txt"),
                               state_dir=Path(".local/emulator"))
    emulator.url            # http://127.0.0.1:<port>, the edge URL every AWS client uses (AWS_ENDPOINT_URL)
    emulator.stop()         # the server and every Lambda worker it started

It binds to loopback only. Its state (Lambda code, Cognito signing keys) lives in `state_dir`, and its
Lambda workers are its child processes: `stop` ends its whole process group. With `persist=True`
(`make dev`) it saves every service's resources into `state_dir` when stopped and loads them on the next
start (`restored` says whether there was anything to load), so what Terraform applied survives a restart.
"""

from __future__ import annotations

import fcntl
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from order_agent_dev.local.aws import free_port

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 5
PERSIST_STOP_TIMEOUT_S = 60
# The interpreter of the Lambda functions' runtime (terraform: runtime = "python3.13").
FUNCTION_PYTHON = "python3.13"


class EmulatorError(RuntimeError):
    pass


def lambda_architecture() -> str:
    """The Lambda architecture whose packages run on this host (the emulator runs them natively)."""
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]


def _interpreter() -> str:
    """EMULATOR_PYTHON, else an installed interpreter of the functions' runtime version (on PATH or
    under pyenv, whose shims exist for versions that are not enabled), else this interpreter."""
    if os.environ.get("EMULATOR_PYTHON"):
        return os.environ["EMULATOR_PYTHON"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(FUNCTION_PYTHON), *sorted(pyenv_root.glob(f"versions/*/bin/{FUNCTION_PYTHON}"))]
    for candidate in filter(None, candidates):
        if subprocess.run([str(candidate), "-c", "import venv"], capture_output=True, timeout=60).returncode == 0:
            return str(candidate)
    return sys.executable


def ensure_venv(venv_dir: Path, requirements: Path) -> Path:
    """The emulator's virtualenv with the pinned requirements; made (or remade when the lock changed).
    Processes that need it at once (test workers, a bench beside them) wait for the one making it."""
    venv_dir = Path(venv_dir).resolve()
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(venv_dir.parent / f"{venv_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _made_venv(venv_dir, requirements)


def _made_venv(venv_dir: Path, requirements: Path) -> Path:
    stamp = venv_dir / ".installed"
    wanted = Path(requirements).read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return venv_dir
    shutil.rmtree(venv_dir, ignore_errors=True)
    subprocess.run([_interpreter(), "-m", "venv", str(venv_dir)], check=True, timeout=300)
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "--no-deps", "-r", str(requirements)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise EmulatorError(f"could not install the emulator from {requirements}:\n{done.stderr[-3000:]}")
    stamp.write_text(wanted)
    return venv_dir


def venv_python_version(venv_dir: Path) -> str:
    """`3.13`: the minor version the emulator runs Lambda code with (build the packages for it)."""
    out = subprocess.run(
        [str(Path(venv_dir) / "bin" / "python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout.strip()


class Ministack:
    def __init__(self, venv_dir: Path, state_dir: Path, port: int, *, persist: bool = False) -> None:
        self.venv_dir = venv_dir
        self.state_dir = state_dir
        self.port = port
        self.persist = persist
        self.log_path = state_dir / "ministack.log"
        self.restored = False
        self._process: subprocess.Popen | None = None

    @classmethod
    def start(
        cls,
        *,
        venv_dir: Path,
        requirements: Path,
        state_dir: Path,
        port: int | None = None,
        persist: bool = False,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> Ministack:
        state_dir = Path(state_dir).resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        emulator = cls(ensure_venv(venv_dir, requirements), state_dir, port or free_port(), persist=persist)
        emulator._launch(start_timeout_s)
        return emulator

    def restart(self, start_timeout_s: float = START_TIMEOUT_S) -> None:
        """Stop, then start on the same port and state directory: a persisting emulator comes back with
        what it held (as a second `make dev` does)."""
        self.stop()
        self._launch(start_timeout_s)

    def _launch(self, start_timeout_s: float) -> None:
        _check_port_free(self.port)
        env = {
            **os.environ,
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "MINISTACK_HOST": "127.0.0.1",
            "STATE_DIR": str(self.state_dir / "state"),
            "TMPDIR": str(self.state_dir),  # Lambda code and workers' scratch directories
            "LOG_LEVEL": os.environ.get("EMULATOR_LOG_LEVEL", "WARNING"),
            "LAMBDA_EXECUTOR": "local",  # no Docker here: workers are processes of the emulator's interpreter
            # Listeners that ignore BIND_HOST: IoT's MQTT mTLS one is on by default on 0.0.0.0:8883 (and a
            # second emulator's fails to bind); SFTP (Transfer Family) would bind 0.0.0.0:2222. Not used here.
            "IOT_MTLS_ENABLED": "0",
            "SFTP_ENABLED": "0",
        }
        if self.persist:
            # Saved on a graceful stop (SIGTERM), loaded at start; S3 objects are kept apart from the rest.
            env.update({"PERSIST_STATE": "1", "S3_PERSIST": "1", "S3_DATA_DIR": str(self.state_dir / "s3")})
        self.restored = self.persist and any((self.state_dir / "state").glob("*.json"))
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):  # the emulator is the endpoint, not a client of one
            env.pop(name, None)
        with open(self.log_path, "ab") as log:
            # A process group of its own: stop() ends the server and the Lambda workers it forked.
            self._process = subprocess.Popen(
                [str(self.venv_dir / "bin" / "ministack")], stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=self.state_dir, start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_healthy(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def python_version(self) -> str:
        return venv_python_version(self.venv_dir)

    def websocket_url(self, api_id: str, stage: str) -> str:
        """The WebSocket API's data plane on the emulator (wss://<api>.execute-api…/<stage> in AWS)."""
        return f"ws://127.0.0.1:{self.port}/_aws/execute-api/{api_id}/{stage}"

    def connections_url(self, api_id: str, stage: str) -> str:
        """Its @connections endpoint (the events' `domainName` carries no port, so it cannot be derived)."""
        return f"{self.url}/_aws/execute-api/{api_id}/{stage}"

    def reset(self, timeout_s: float = 120) -> None:
        """Forget every resource (and a persisting emulator's saved state): empty, as a first start is."""
        try:
            response = httpx.post(f"{self.url}/_ministack/reset", timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise EmulatorError(f"ministack did not reset: {exc}; see {self.log_path}") from exc
        if response.status_code != 200:
            raise EmulatorError(f"ministack did not reset ({response.status_code}): {response.text[:300]}")

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmulatorError(f"ministack exited with {self._process.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/_localstack/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise EmulatorError(f"ministack not healthy after {timeout_s:.0f} s; see {self.log_path}")

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM, then SIGKILL: ministack does not always exit on SIGTERM, and its Lambda workers
        outlive it unless their process group is ended too. A persisting emulator is given longer,
        as it writes its state (Lambda code and layers included) before it exits."""
        if self._process is None:
            return
        if timeout_s is None:
            timeout_s = PERSIST_STOP_TIMEOUT_S if self.persist else STOP_TIMEOUT_S
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self._process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self._process.wait(timeout=timeout_s)
                if sig == signal.SIGTERM:
                    os.killpg(self._process.pid, signal.SIGKILL)  # workers left in the group
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                pass
            break
        if self._process.poll() is None:
            self._process.wait(timeout=timeout_s)
        self._process = None  # a second stop must not signal a process group that reused the id

    def __enter__(self) -> Ministack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_port_free(port: int) -> None:
    """Fails fast with a clear message when the port is taken (ministack would exit with a hint)."""
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise EmulatorError(f"127.0.0.1:{port} is in use: another emulator? Pick another port.")
