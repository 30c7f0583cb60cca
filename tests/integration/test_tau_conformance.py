"""Conformance with τ-bench: every retail task's gold actions, our tools vs the reference tools."""

from __future__ import annotations

import json

import pytest

from order_agent.db.dataset import TAU_RETAIL_TASKS, read_wheel_member, restore_snapshot
from order_agent.settings import get_settings
from order_agent_dev.cli import main
from order_agent_dev.evals import tau_replay


@pytest.fixture
def cli_database(scratch_database, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", scratch_database())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.slow
def test_every_task_replays_to_an_identical_state(cli_database, capsys):
    tasks = json.loads(read_wheel_member(TAU_RETAIL_TASKS))
    assert len(tasks) == 114
    status = main(["eval", "tau-replay"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"tau-replay: {len(tasks)}/{len(tasks)} tasks identical"
    replayed, same = (int(word) for word in lines[-2].replace(",", "").split() if word.isdigit())
    assert replayed == same > 500  # and every action succeeded or failed on both sides alike
    assert status == 0


def test_the_comparison_sees_item_prices(tau_db, tau_settings, monkeypatch):
    """Without the correction of the reference's multi-item bug, task 36 must differ: the replay
    compares item prices and options, and our tool gives each item its own variant's."""
    monkeypatch.setattr(tau_replay, "_call_reference", lambda tools, name, args: getattr(tools, name)(**args))
    report = tau_replay.replay(tau_db, tau_settings, {"36"})
    restore_snapshot(tau_db)  # the data set as loaded, for the tests after this one
    assert report.identical == 0
    assert any("/items[" in line and "/price" in line for line in report.tasks[0].differences)


def test_state_comparison_tolerates_float_noise_only():
    ours = {"orders": {"#1": {"amount": 12.34, "status": "pending"}}}
    assert tau_replay._same_state(ours, {"orders": {"#1": {"amount": 12.340000000000003, "status": "pending"}}})
    assert not tau_replay._same_state(ours, {"orders": {"#1": {"amount": 12.35, "status": "pending"}}})
    assert not tau_replay._same_state(ours, {"orders": {"#1": {"amount": 12.34, "status": "cancelled"}}})
    assert not tau_replay._same_state(ours, {"orders": {"#1": {"amount": 12.34}}})
    assert not tau_replay._same_state(ours, {"orders": {}})
