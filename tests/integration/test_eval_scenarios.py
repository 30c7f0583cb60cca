"""The scenario harness over the CI suite (offline model where a scenario allows, else its script),
scored like τ-bench; a deliberately broken tool must make the suite fail; results land in MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from order_agent.tools.changes import OrderToChange
from order_agent_dev.evals.scenarios import (
    SuiteReport,
    load_scenarios,
    log_to_mlflow,
    provider_for,
    replay_expected,
    run_scenario,
    run_suite,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "evals" / "scenarios"


@pytest.fixture(scope="module")
def ci_suite():
    scenarios = [s for s in load_scenarios([SCENARIOS]) if s.ci]
    assert any(s.source == "tau-retail" for s in scenarios) and any(s.offline for s in scenarios)
    return scenarios


def test_the_ci_suite_passes(ci_suite, agent_settings, tau_db, mlflow_server):
    report = run_suite(ci_suite, tau_db, agent_settings)
    print("\n" + report.table())
    print(f"pass rate {report.pass_rate:.1%}")
    print("\n".join(report.failures()))
    assert report.failures() == []
    assert {r.provider for r in report.runs} == {"offline", "scripted"}
    assert len(report.runs) == len(ci_suite)

    run_id = log_to_mlflow(report, mlflow_server.url, "test-eval", "ci-suite")
    run = MlflowClient(tracking_uri=mlflow_server.url).get_run(run_id)
    assert run.data.metrics["pass_hat_1"] == 1.0
    assert any(key.startswith("final_state") for key in run.data.metrics), run.data.metrics


def test_a_refund_that_is_not_recorded_fails_the_suite(ci_suite, agent_settings, tau_db, monkeypatch):
    """Cancellations stop recording their refund in the order's payment history. The expected
    states come from the working tools (computed first); the conversations run with the broken one."""
    cancelling = [s for s in ci_suite if any(a.name == "cancel_pending_order" for a in s.expected.actions)]
    assert len(cancelling) >= 2
    expected = {s.id: replay_expected(tau_db, agent_settings, s.expected.actions) for s in cancelling}
    change = OrderToChange.change

    def refunds_lost(order, call, columns=None, *, payments=(), **changes):
        return change(order, call, columns, payments=[entry for entry in payments if entry[0] != "refund"], **changes)

    monkeypatch.setattr(OrderToChange, "change", refunds_lost)
    runs = [
        run_scenario(s, provider_for(s, "auto"), tau_db, agent_settings, expected=expected[s.id]) for s in cancelling
    ]
    report = SuiteReport(runs, trials=1)
    print("\n" + report.table())
    assert report.pass_rate == 0.0
    assert all(not r.checks["final_state"] and r.checks["facts"] for r in runs)  # it looks fine in the replies


def test_pass_hat_k_is_taus_estimate():
    from order_agent_dev.evals.scenarios import ScenarioRun

    def runs(scenario, outcomes):
        return [ScenarioRun(scenario, "scripted", i, checks={"final_state": ok}) for i, ok in enumerate(outcomes)]

    report = SuiteReport(runs("a", [True, True, False]) + runs("b", [True, True, True]), trials=3)
    assert report.pass_hat(1) == pytest.approx((2 / 3 + 1) / 2)
    assert report.pass_hat(2) == pytest.approx((1 / 3 + 1) / 2)  # C(2,2)/C(3,2) for a
    assert report.pass_hat(3) == pytest.approx((0 + 1) / 2)
