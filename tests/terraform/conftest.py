"""Stand-ins for `make layers` output in the Terraform tests (the system module's test, the envs' example
tfvars plans, the emulator plans): Terraform only hashes the packages at plan time, so their bytes do not
matter, and a clean clone has no build. Written here rather than kept in git (*.zip is ignored)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2] / "terraform/modules/system/tests/fixtures/packages"
NAMES = [
    "layer-deps",
    "layer-agent",
    "layer-dev-providers",
    "layer-auth",
    "layer-tracing",
    *(f"function-{f}" for f in ("authorizer", "connect", "disconnect", "message", "migrate", "trace_forwarder")),
]


@pytest.fixture(scope="session", autouse=True)
def stand_in_packages() -> Path:
    PACKAGES.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        path = PACKAGES / f"{name}.zip"
        if not path.exists():  # written whole, then renamed: another xdist worker may read it meanwhile
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(f"stand-in for {name}.zip (make layers)\n")
            partial.replace(path)
    return PACKAGES
