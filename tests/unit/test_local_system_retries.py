"""LocalSystem's one retry of a failed apply (on the emulator it resets) or destroy: what runs in
between, and that a second failure is raised, not swallowed. The Terraform runs themselves are exercised in tests/deployed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from order_agent_dev.local.system import ExternalDatabase, LocalSystem
from order_agent_dev.local.terraform import TerraformFailed, TerraformUnavailable


class ScriptedTerraform:
    """Stands in for LocalTerraform: each command fails its first `failures[command]` runs."""

    def __init__(self, **failures: int) -> None:
        self.failures = dict(failures)
        self.runs: list[str] = []

    def _run(self, command: str, shown: str) -> None:
        self.runs.append(shown)
        if self.failures.get(command, 0) > 0:
            self.failures[command] -= 1
            raise TerraformFailed(f"terraform {command} failed")

    def apply(self, *, fresh: bool) -> dict:
        self._run("apply", f"apply fresh={fresh}")
        return {"websocket_url": "ws://127.0.0.1:1/local"}

    def destroy(self) -> None:
        self._run("destroy", "destroy")


@pytest.fixture
def system(tmp_path) -> LocalSystem:
    emulator = SimpleNamespace(url="http://127.0.0.1:1", resets=0)
    emulator.reset = lambda: setattr(emulator, "resets", emulator.resets + 1)
    database = ExternalDatabase("127.0.0.1", 1, "agent", "secret", name="orders")
    try:
        return LocalSystem(tmp_path, tmp_path / "terraform", emulator, database)
    except TerraformUnavailable as exc:
        pytest.skip(f"LocalSystem needs the terraform CLI and provider mirror: {exc}")


def test_a_failed_apply_starts_over_on_an_empty_emulator(system, capsys):
    system.terraform = ScriptedTerraform(apply=1)
    outputs = system.apply(fresh=False)
    assert outputs == {"websocket_url": "ws://127.0.0.1:1/local"}
    assert system.terraform.runs == ["apply fresh=False", "apply fresh=True"]
    assert system.emulator.resets == 1
    assert "terraform apply failed (attempt 1 of 2)" in capsys.readouterr().out
    assert "apply_s" in system.timings


def test_a_failed_destroy_runs_once_more_on_what_is_left(system, capsys):
    system.terraform = ScriptedTerraform(destroy=1)
    system.destroy()
    assert system.terraform.runs == ["destroy", "destroy"]
    assert "terraform destroy failed (attempt 1 of 2)" in capsys.readouterr().out


def test_a_second_failure_is_raised(system):
    system.terraform = ScriptedTerraform(destroy=2)
    with pytest.raises(TerraformFailed):
        system.destroy()
    assert system.terraform.runs == ["destroy", "destroy"]
    system.terraform = ScriptedTerraform(apply=2)
    with pytest.raises(TerraformFailed):
        system.apply()
    assert system.terraform.runs == ["apply fresh=True", "apply fresh=True"]


def test_one_attempt_means_no_retry(system):
    system.terraform = ScriptedTerraform(destroy=1)
    with pytest.raises(TerraformFailed):
        system.destroy(attempts=1)
    assert system.terraform.runs == ["destroy"]
