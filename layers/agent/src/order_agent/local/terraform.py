"""Applies `terraform/envs/local` to the AWS emulator: the same modules as in AWS, for the parts an
emulator can serve (the conversation store), so `make dev` and the tests use Terraform-made
resources. Uses the `terraform` CLI and the provider mirror (TF_PLUGIN_DIR, default
/opt/tf-plugins); without them it says so, and the caller falls back to the bootstrap function."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")


class TerraformUnavailable(RuntimeError):
    pass


class LocalTerraform:
    def __init__(self, env_dir: Path, state_dir: Path, endpoint_url: str) -> None:
        self.env_dir = Path(env_dir)
        self.state_dir = Path(state_dir)
        self.endpoint_url = endpoint_url
        self.binary = shutil.which("terraform")
        self.plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR", DEFAULT_PLUGIN_DIR))
        if self.binary is None:
            raise TerraformUnavailable("no terraform CLI on PATH")
        if not (self.plugin_dir / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            raise TerraformUnavailable(f"no hashicorp/aws provider mirror at {self.plugin_dir} (TF_PLUGIN_DIR)")

    def _run(self, *args: str, timeout: int = 600) -> str:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "TF_DATA_DIR": str(self.state_dir / ".terraform"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "TF_VAR_aws_endpoint_url": self.endpoint_url,
        }
        done = subprocess.run(
            [self.binary, *args], cwd=self.env_dir, env=env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return done.stdout

    def _state(self) -> str:
        return f"-state={self.state_dir / 'terraform.tfstate'}"

    def apply(self, fresh: bool = True) -> dict[str, str]:
        """init + apply; returns the outputs (name → value). `fresh` forgets an earlier state: a new
        emulator process starts empty, so the old state would only describe resources that are gone."""
        state = self.state_dir / "terraform.tfstate"
        if fresh:
            state.unlink(missing_ok=True)
            Path(f"{state}.backup").unlink(missing_ok=True)
        self._run("init", "-backend=false", "-input=false", f"-plugin-dir={self.plugin_dir}")
        self.last_apply_log = self._run("apply", "-auto-approve", "-input=false", "-lock=false", self._state())
        outputs = json.loads(self._run("output", "-json", self._state()))
        return {name: item["value"] for name, item in outputs.items()}

    def destroy(self) -> None:
        self._run("destroy", "-auto-approve", "-input=false", "-lock=false", self._state())
