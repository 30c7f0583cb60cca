"""`envs/dev` and `envs/prod` planned with their terraform.tfvars.example against the emulator (a real
provider talking to ministack, not a mock): what a platform team's first `terraform plan` does, with
every data source read and every value the provider computes at plan time.

Overridden, and only this: the provider's endpoints and dummy credentials (an override file), the
package and site paths (stand-ins, as a clean clone has no build), and the interface VPC endpoints,
as ministack offers no endpoint service for bedrock-runtime, sagemaker.api or SageMaker MLflow.

Each plan's resource list is compared with the one recorded in tests/terraform/plans/<env>.txt, so
a change to what dev or prod deploys is seen in review (the emulator input must change neither):
UPDATE_PLAN_SNAPSHOTS=1 rewrites the files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from order_agent.local.terraform import (
    EMULATED_SERVICES,
    LocalTerraform,
    TerraformUnavailable,
    emulator_provider_override,
)

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "plans"
EMULATOR_ENDPOINT_SERVICES = ["secretsmanager", "logs", "sts", "kms"]


def _plan(env: str, emulator, tmp_path: Path) -> dict:
    tree = tmp_path / "terraform"
    shutil.copytree(ROOT / "terraform", tree, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tests"))
    (tmp_path / "layers").symlink_to(ROOT / "layers")  # the database module reads the migrations there
    env_dir = tree / "envs" / env
    overrides = emulator_provider_override(emulator.url) + (
        '\nmodule "system" {\n  interface_endpoints = '
        + json.dumps(EMULATOR_ENDPOINT_SERVICES)
        + "\n  mlflow_vpc_endpoint = false\n}\n"
    )
    (env_dir / "emulator_override.tf").write_text(overrides)
    variables = {
        "build_dir": str(ROOT / "terraform/modules/system/tests/fixtures/packages"),
        "site_dir": str(ROOT / "terraform/modules/chat_site/tests/fixtures/site"),
    }
    try:
        terraform = LocalTerraform(env_dir, tmp_path / "state", emulator.url, variables)
    except TerraformUnavailable as exc:
        pytest.skip(f"{env} cannot be planned here: {exc}")
    terraform.variables.pop("aws_endpoint_url")  # dev and prod have no such variable
    terraform.init()
    terraform.run("plan", "-input=false", "-lock=false", "-var-file=terraform.tfvars.example", "-out=tfplan")
    return json.loads(terraform.run("show", "-json", "tfplan"))


def _resources(plan: dict) -> list[dict]:
    return [change for change in plan["resource_changes"] if change["mode"] == "managed"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_aws_environment_plans_against_the_emulator(env, emulator, tmp_path):
    plan = _plan(env, emulator, tmp_path)
    resources = _resources(plan)
    assert all(change["change"]["actions"] == ["create"] for change in resources)
    addresses = sorted(change["address"] for change in resources)

    # Nothing of the emulator input reaches an AWS environment.
    assert not [a for a in addresses if "aws_secretsmanager_secret.external" in a]
    for change in resources:
        if change["type"] == "aws_lambda_function":
            environment = (change["change"]["after"].get("environment") or [{}])[0].get("variables") or {}
            assert not {"WEBSOCKET_MANAGEMENT_URL", "DATABASE_PORT", "DATABASE_SSLMODE"} & environment.keys()
            assert environment.get("MODEL_PROVIDER", "bedrock") == "bedrock"

    snapshot = SNAPSHOTS / f"{env}.txt"
    if os.environ.get("UPDATE_PLAN_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text("\n".join(addresses) + "\n")
    recorded = snapshot.read_text().split()
    assert addresses == recorded, (
        f"{env} would deploy other resources than tests/terraform/plans/{env}.txt records "
        f"(added {sorted(set(addresses) - set(recorded))}, gone {sorted(set(recorded) - set(addresses))}); "
        "if that is intended, run with UPDATE_PLAN_SNAPSHOTS=1 and review the diff"
    )


def test_envs_local_points_the_same_services_at_the_emulator():
    """envs/local's provider block and the override of the plans above name the same services."""
    main = (ROOT / "terraform/envs/local/main.tf").read_text()
    endpoints = main[main.index("endpoints {") : main.index("}", main.index("endpoints {"))]
    assert set(re.findall(r"^\s+(\w+)\s+= var\.aws_endpoint_url$", endpoints, re.MULTILINE)) == set(EMULATED_SERVICES)
