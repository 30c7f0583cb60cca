"""Runs Terraform against the local AWS emulator: `terraform/envs/local` applied (the same `system`
module as dev and prod), and plans of the AWS environments with every provider endpoint pointed at the
emulator. Uses the `terraform` CLI and the provider mirror (TF_PLUGIN_DIR, default /opt/tf-plugins);
without them it raises `TerraformUnavailable`, and callers say so (tests skip with the reason)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")
# Services the modules use; a plan or apply against the emulator points each of them at its edge URL.
EMULATED_SERVICES = (
    "apigateway", "apigatewayv2", "cloudfront", "cloudwatch", "cloudwatchlogs", "cognitoidp", "dynamodb", "ec2",
    "events", "iam", "kms", "lambda", "rds", "s3", "sagemaker", "secretsmanager", "sns", "sqs", "sts",
)  # fmt: skip


class TerraformUnavailable(RuntimeError):
    pass


class TerraformFailed(RuntimeError):
    pass


def terraform_and_plugin_dir() -> tuple[str, Path]:
    """The terraform CLI and the directory of its provider mirror; TerraformUnavailable says which is missing."""
    binary = shutil.which("terraform")
    plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR", DEFAULT_PLUGIN_DIR))
    if binary is None:
        raise TerraformUnavailable("no terraform CLI on PATH")
    if not (plugin_dir / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        raise TerraformUnavailable(f"no hashicorp/aws provider mirror at {plugin_dir} (TF_PLUGIN_DIR)")
    return binary, plugin_dir


class LocalTerraform:
    """`terraform` in `env_dir` with its data and state in `state_dir`; `variables` become TF_VAR_*."""

    def __init__(
        self, env_dir: Path, state_dir: Path, endpoint_url: str, variables: Mapping[str, Any] | None = None
    ) -> None:
        self.env_dir = Path(env_dir)
        self.state_dir = Path(state_dir).resolve()
        self.endpoint_url = endpoint_url
        self.variables = {"aws_endpoint_url": endpoint_url, **(variables or {})}
        self.binary, self.plugin_dir = terraform_and_plugin_dir()

    def _environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "TF_DATA_DIR": str(self.state_dir / ".terraform"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        for name, value in self.variables.items():
            if value is not None:
                env[f"TF_VAR_{name}"] = value if isinstance(value, str) else json.dumps(value)
        return env

    def run(self, *args: str, timeout: int = 900) -> str:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [self.binary, *args], cwd=self.env_dir, env=self._environment(), capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        (self.state_dir / f"{args[0]}.log").write_text(done.stdout + done.stderr)  # the whole story, for a failure
        if done.returncode != 0:
            raise TerraformFailed(
                f"terraform {args[0]} failed (whole log: {self.state_dir / args[0]}.log):\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def _state(self) -> str:
        return f"-state={self.state_dir / 'terraform.tfstate'}"

    def init(self) -> None:
        self.run("init", "-backend=false", "-input=false", f"-plugin-dir={self.plugin_dir}")

    def apply(self, fresh: bool = True) -> dict[str, Any]:
        """init + apply; returns the outputs (name → value). `fresh` forgets an earlier state: a new
        emulator process starts empty, so the old state would only describe resources that are gone.
        Without it (an emulator that restored what this state describes), only what the configuration
        or the packages changed is applied."""
        state = self.state_dir / "terraform.tfstate"
        if fresh:
            state.unlink(missing_ok=True)
            Path(f"{state}.backup").unlink(missing_ok=True)
        self.init()
        # -refresh=false, as for destroy (below): the state is what was applied to this emulator.
        self.last_apply_log = self.run(
            "apply", "-auto-approve", "-input=false", "-lock=false", "-refresh=false", self._state()
        )
        return self.outputs()

    def has_state(self) -> bool:
        return (self.state_dir / "terraform.tfstate").is_file()

    def outputs(self) -> dict[str, Any]:
        outputs = json.loads(self.run("output", "-json", self._state()))
        return {name: item["value"] for name, item in outputs.items()}

    def destroy(self) -> None:
        # -refresh=false: ministack's answers for VPC security group rules make the provider plan an
        # impossible replacement on refresh ("Provider produced invalid plan"); the state is what this
        # process applied, so there is nothing to refresh.
        self.run("destroy", "-auto-approve", "-input=false", "-lock=false", "-refresh=false", self._state())


def emulator_provider_override(endpoint_url: str) -> str:
    """A Terraform override file (`*_override.tf`) pointing every provider endpoint the modules use at
    the emulator, with its dummy credentials: an AWS environment planned against the emulator."""
    endpoints = "\n".join(f"    {service} = {json.dumps(endpoint_url)}" for service in EMULATED_SERVICES)
    return f"""provider "aws" {{
  access_key                  = "local"
  secret_key                  = "local"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""
