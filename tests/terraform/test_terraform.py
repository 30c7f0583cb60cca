"""Terraform checks that run here, with no AWS access: fmt, init + validate of every module and
environment against the local provider mirror, the modules' `terraform test` files (mock
providers), checkov, and the module READMEs' generated tables. Whatever cannot run on this
machine is reported as skipped, with the reason — never as passed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
MODULES = sorted(p for p in (TERRAFORM_DIR / "modules").iterdir() if (p / "main.tf").exists())
ENVS = sorted(p for p in (TERRAFORM_DIR / "envs").iterdir() if (p / "main.tf").exists())
# Root configurations outside envs/: the state bucket every environment keeps its state in.
ROOTS = [TERRAFORM_DIR / "bootstrap"]
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
CHECKOV_VERSION = "3.3.30"

terraform = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(terraform is None, reason="terraform CLI not installed on this machine")
needs_provider = pytest.mark.skipif(
    not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir(),
    reason=f"no hashicorp/aws provider mirror at {PLUGIN_DIR} (set TF_PLUGIN_DIR); the registry is unreachable",
)


def _run(args: list[str], cwd: Path, data_dir: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    return subprocess.run([terraform, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _init(directory: Path, data_dir: Path) -> None:
    done = _run(["init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"], directory, data_dir)
    assert done.returncode == 0, done.stdout + done.stderr


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]


def test_there_is_terraform_to_check():
    assert MODULES, "no modules under terraform/modules"


@needs_terraform
def test_fmt(tmp_path):
    done = _run(["fmt", "-check", "-recursive", "-diff"], TERRAFORM_DIR, tmp_path)
    assert done.returncode == 0, "terraform fmt would change:\n" + done.stdout + done.stderr


def _has_tests(directory: Path) -> bool:
    return bool(list((directory / "tests").glob("*.tftest.hcl")))


MODULES_WITH_TESTS = [m for m in MODULES + ROOTS if _has_tests(m)]
ENVS_WITH_EXAMPLES = [e for e in ENVS if (e / "terraform.tfvars.example").exists()]
# `terraform test` validates the configuration before it runs anything, so a separate validate is
# needed only where no test runs (about 5 s of CPU each: init, then loading the provider's schema).
UNTESTED = [d for d in MODULES + ENVS + ROOTS if d not in MODULES_WITH_TESTS and d not in ENVS_WITH_EXAMPLES]


def test_every_configuration_is_validated():
    assert set(MODULES + ENVS + ROOTS) == set(MODULES_WITH_TESTS) | set(ENVS_WITH_EXAMPLES) | set(UNTESTED)


@needs_terraform
@needs_provider
@pytest.mark.parametrize("directory", UNTESTED, ids=_ids(UNTESTED))
def test_init_and_validate(directory, tmp_path):
    _init(directory, tmp_path)
    done = _run(["validate", "-no-color"], directory, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_terraform
@needs_provider
@pytest.mark.parametrize("module", MODULES_WITH_TESTS, ids=_ids(MODULES_WITH_TESTS))
def test_module_tests(module, tmp_path):
    _init(module, tmp_path)
    done = _run(["test", "-no-color"], module, tmp_path)
    assert done.returncode == 0 and "Success!" in done.stdout, done.stdout + done.stderr


def test_every_example_tfvars_has_a_plan_test():
    for env in ENVS_WITH_EXAMPLES:
        assert list((env / "tests").glob("*.tftest.hcl")), f"envs/{env.name} has no test that plans its example tfvars"


@needs_terraform
@needs_provider
@pytest.mark.parametrize("env", ENVS_WITH_EXAMPLES, ids=_ids(ENVS_WITH_EXAMPLES))
def test_example_tfvars_plan(env, tmp_path):
    """What a platform team copies must plan: the environment's tests/*.tftest.hcl plan it with a mock
    provider and the example tfvars, so every variable validation and precondition of every module
    runs on the example's values (offline, seconds; a plan against an emulator is a separate test)."""
    _init(env, tmp_path)
    done = _run(["test", "-no-color", "-var-file=terraform.tfvars.example"], env, tmp_path)
    assert done.returncode == 0 and "Success!" in done.stdout, done.stdout + done.stderr


def test_every_module_has_tests_and_a_readme():
    for module in MODULES:
        assert list((module / "tests").glob("*.tftest.hcl")), f"{module.name} has no terraform test"
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (module / name).exists(), f"{module.name}/{name} is missing"


def test_every_root_has_tests_and_a_readme():
    for root in ROOTS:
        assert list((root / "tests").glob("*.tftest.hcl")), f"{root.name} has no terraform test"
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md", ".terraform.lock.hcl"):
            assert (root / name).exists(), f"{root.name}/{name} is missing"


ROOT_CONFIGURATIONS = ENVS + ROOTS
TESTED_PROVIDER = "5.100.0"


@pytest.mark.parametrize("root", ROOT_CONFIGURATIONS, ids=_ids(ROOT_CONFIGURATIONS))
def test_root_pins_terraform_and_the_tested_provider(root):
    """Each root records the provider it was tested with (its lock file, committed) and allows no other
    major; it needs the Terraform version whose S3 backend locks with a lock file (use_lockfile, 1.11)."""
    lock = (root / ".terraform.lock.hcl").read_text(encoding="utf-8")
    assert f'version     = "{TESTED_PROVIDER}"' in lock
    assert '"h1:' in lock and '"zh:' in lock, "the lock file needs the local h1 hash and the registry's zh hashes"
    versions = (root / "versions.tf").read_text(encoding="utf-8")
    assert 'required_version = ">= 1.11.0"' in versions
    assert 'version = "~> 5.100"' in versions
    git = shutil.which("git")
    if git:
        ignored = subprocess.run([git, "check-ignore", "-q", str(root / ".terraform.lock.hcl")], cwd=ROOT)
        # 0: ignored; 1: not ignored; 128: not a git checkout (an exported tree), nothing to check
        assert ignored.returncode != 0, f"{root.name}/.terraform.lock.hcl is git-ignored; it must be committed"


@pytest.mark.parametrize("env", [e for e in ENVS if (e / "terraform.tfvars.example").exists()], ids=lambda e: e.name)
def test_aws_environment_keeps_its_state_in_s3_with_a_lock_file(env):
    """dev and prod declare the S3 backend (partial: the bucket comes from backend.hcl); the example
    configuration locks with an S3 lock file and encrypts."""
    backend = (env / "backend.tf").read_text(encoding="utf-8")
    assert 'backend "s3" {}' in backend
    example = (env / "backend.hcl.example").read_text(encoding="utf-8")
    assert "use_lockfile = true" in example and "encrypt      = true" in example
    assert f'key          = "order-agent/{env.name}/terraform.tfstate"' in example


def test_module_readme_tables_are_up_to_date():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "tf_docs.py"), "--check", *map(str, MODULES)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov in a virtualenv of its own: its bc-python-hcl2 replaces python-hcl2's `hcl2` module."""
    venv = ROOT / ".cache" / f"checkov-{CHECKOV_VERSION}"
    binary = venv / "bin" / "checkov"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        install = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert install.returncode == 0, "could not install checkov from PyPI:\n" + install.stderr[-3000:]
    return binary


def test_checkov_has_no_unjustified_failure(checkov):
    done = subprocess.run(
        [str(checkov), "-d", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download", "--compact",
         "--quiet", "--output", "cli"],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, "checkov failures (fix them, or skip inline with a reason):\n" + done.stdout[-20000:]
