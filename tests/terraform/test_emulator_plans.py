"""`envs/dev` and `envs/prod` planned with their terraform.tfvars.example against the emulator (a real
provider talking to ministack, not a mock): what a platform team's first `terraform plan` does, with
every data source read and every value the provider computes at plan time.

Overridden, and only this: the provider's endpoints and dummy credentials (an override file), the
package and site paths (stand-ins, as a clean clone has no build), the interface VPC endpoints,
as ministack offers no endpoint service for bedrock-runtime or SageMaker MLflow, and the S3 backend
(the plan keeps local state).

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

from order_agent_dev.local.terraform import (
    EMULATED_SERVICES,
    LocalTerraform,
    TerraformUnavailable,
    emulator_provider_override,
)

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "plans"
EMULATOR_ENDPOINT_SERVICES = ["secretsmanager"]  # the default list minus bedrock-runtime


def _plan(env: str, emulator, tmp_path: Path) -> dict:
    tree = tmp_path / "terraform"
    shutil.copytree(ROOT / "terraform", tree, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "tests"))
    (tmp_path / "layers").symlink_to(ROOT / "layers")  # the database module reads the migrations there
    env_dir = tree / "envs" / env
    (env_dir / "backend.tf").unlink()  # local state here: a plan against the emulator never touches a bucket
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


@pytest.fixture(scope="module")
def planned(emulator, tmp_path_factory):
    """env → its plan, made once per module run (a plan takes tens of seconds)."""
    plans: dict[str, dict] = {}

    def plan(env: str) -> dict:
        if env not in plans:
            plans[env] = _plan(env, emulator, tmp_path_factory.mktemp(f"plan-{env}"))
        return plans[env]

    return plan


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_aws_environment_plans_against_the_emulator(env, planned):
    plan = planned(env)
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


def _after(plan: dict, kind: str) -> dict[str, dict]:
    return {c["address"]: c["change"]["after"] for c in _resources(plan) if c["type"] == kind}


def test_prod_has_the_production_hardening(planned):
    """What a production site has, in prod's plan: access logs of every bucket and of CloudFront into a
    bucket of its own, flow logs kept as long as every other log, Performance Insights encrypted with
    the database's KMS key, Enhanced Monitoring."""
    plan = planned("prod")
    log_buckets = _after(plan, "aws_s3_bucket")
    access_logs = [a for a in log_buckets if a.startswith("module.system.module.access_logs[0].")]
    assert access_logs, "prod creates its access log bucket"
    logged = {a.split(".aws_s3_bucket_logging.")[0] for a in _after(plan, "aws_s3_bucket_logging")}
    buckets = {a.split(".aws_s3_bucket.")[0] for a in log_buckets if "access_logs" not in a}
    assert buckets <= logged, f"buckets without access logs: {sorted(buckets - logged)}"
    (distribution,) = _after(plan, "aws_cloudfront_distribution").values()
    assert distribution["logging_config"], "CloudFront standard logs are on"

    groups = _after(plan, "aws_cloudwatch_log_group")
    retention = {after["retention_in_days"] for after in groups.values()}
    assert retention == {90}, f"every log group, flow logs included, keeps 90 days: {retention}"

    (database,) = [c["change"] for c in _resources(plan) if c["type"] == "aws_db_instance"]
    assert database["after"]["performance_insights_enabled"] and database["after"]["monitoring_interval"] == 60
    # the database's own key, created in the same apply: known only then
    assert database["after"].get("performance_insights_kms_key_id") or database["after_unknown"].get(
        "performance_insights_kms_key_id"
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_vpc_endpoint_has_a_policy_for_this_account(env, planned):
    """Only the interface endpoints the code calls, and a policy on every endpoint, gateway ones too."""
    endpoints = _after(planned(env), "aws_vpc_endpoint")
    services = {address.split('["')[1].rstrip('"]') for address in endpoints}
    assert services == {"dynamodb", "s3", *EMULATOR_ENDPOINT_SERVICES}
    for address, after in endpoints.items():
        statements = json.loads(after["policy"])["Statement"]
        assert statements and all(
            s["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "000000000000" for s in statements
        ), address
