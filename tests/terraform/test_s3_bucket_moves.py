"""The s3_bucket module replaced the bucket resources chat_site, conversation_store and access_logs
declared themselves. A deployment made before it must move into it, not be destroyed: this applies
those three modules as they were (git, BEFORE) to the emulator, then plans the same root with the
modules of this tree on that state, and checks that the plan destroys and replaces nothing and moves
every bucket resource. (mlflow needs SageMaker, which the emulator lacks: its moved blocks are
checked by terraform/modules/mlflow/tests/moved.tftest.hcl, as are the other three's.)"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from order_agent_dev.local.terraform import LocalTerraform, TerraformUnavailable, emulator_provider_override

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "09e7db7403a9bdcbfaa30e82d125de7a34e206b2"  # the last commit with the buckets written three times
MODULES = ["access_logs", "chat_site", "conversation_store", "kms_key"]

ROOT_CONFIGURATION = """
module "access_logs" {
  source = "./modules/access_logs"

  name          = "moves-logs"
  force_destroy = true
}

module "conversation_store" {
  source = "./modules/conversation_store"

  name                   = "moves-store"
  deletion_protection    = false
  force_destroy          = true
  access_log_bucket_name = module.access_logs.bucket_name
}

module "chat_site" {
  source = "./modules/chat_site"

  name                = "moves-site"
  websocket_url       = "wss://moves.execute-api.us-east-1.amazonaws.com/local"
  force_destroy       = true
  wait_for_deployment = false
  logging_bucket_name = module.access_logs.bucket_name
}
"""


def _old_modules(destination: Path) -> None:
    git = shutil.which("git")
    if git is None or subprocess.run([git, "cat-file", "-e", BEFORE], cwd=ROOT).returncode != 0:
        pytest.skip(f"no git history with {BEFORE[:7]} here (an exported tree or a shallow clone)")
    archive = subprocess.run(
        [git, "archive", BEFORE, *(f"terraform/modules/{m}" for m in MODULES)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    shutil.move(destination / "terraform" / "modules", destination / "modules")


def _new_modules(destination: Path) -> None:
    shutil.rmtree(destination / "modules")
    for module in [*MODULES, "s3_bucket"]:
        shutil.copytree(ROOT / "terraform/modules" / module, destination / "modules" / module,
                        ignore=shutil.ignore_patterns(".terraform", "tests"))  # fmt: skip


def test_a_deployment_from_before_the_s3_bucket_module_moves_without_destroying(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    work = tmp_path / "root"
    work.mkdir()
    _old_modules(work)
    (work / "main.tf").write_text(ROOT_CONFIGURATION)
    (work / "provider.tf").write_text(emulator_provider_override(emulator.url))
    try:
        terraform = LocalTerraform(work, tmp_path / "state", emulator.url)
    except TerraformUnavailable as exc:
        pytest.skip(f"cannot apply here: {exc}")
    terraform.apply()

    _new_modules(work)
    terraform.init()
    state = f"-state={tmp_path / 'state' / 'terraform.tfstate'}"
    terraform.run("plan", "-input=false", "-lock=false", state, "-out=tfplan")
    plan = json.loads(terraform.run("show", "-json", "tfplan"))
    changes = [c for c in plan["resource_changes"] if c["mode"] == "managed"]

    destroyed = [c["address"] for c in changes if "delete" in c["change"]["actions"]]
    assert not destroyed, f"the plan destroys or replaces {destroyed}"
    assert not [c["address"] for c in changes if c["change"]["actions"] == ["create"]]

    moved = {c["previous_address"]: c["address"] for c in changes if c.get("previous_address")}
    buckets = {c["address"] for c in changes if c["type"].startswith("aws_s3_bucket")}
    # 7 resources for the log bucket (it does not log itself), 8 for each of the other two
    assert len(buckets) == 23 and buckets == set(moved.values()), sorted(buckets - set(moved.values()))
    assert moved["module.chat_site.aws_s3_bucket.this"] == "module.chat_site.module.site_bucket.aws_s3_bucket.this"
    assert all(".module." in address for address in buckets)
