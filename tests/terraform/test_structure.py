"""Structural checks across the Terraform tree that fmt, validate, the module tests and checkov do
not make: every Lambda function has a log group with retention and an error alarm, and every
`module.<name>.<output>` an environment or a composition uses is an output that exists."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2] / "terraform"
OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
MODULES = sorted(p for p in (ROOT / "modules").iterdir() if (p / "main.tf").exists())


def _resources(module: Path) -> dict[str, dict[str, dict]]:
    """resource type → name → body, for every .tf file of the module."""
    found: dict[str, dict[str, dict]] = {}
    for path in module.glob("*.tf"):
        with path.open(encoding="utf-8") as handle:
            for block in hcl2.load(handle, serialization_options=OPTIONS).get("resource", []):
                for kind, named in block.items():
                    found.setdefault(kind, {}).update(named)
    return found


LAMBDA_MODULES = [m for m in MODULES if "aws_lambda_function" in _resources(m)]


def test_the_lambda_modules_are_found():
    assert {m.name for m in LAMBDA_MODULES} >= {"agent", "database"}


@pytest.mark.parametrize("module", LAMBDA_MODULES, ids=[m.name for m in LAMBDA_MODULES])
def test_every_lambda_has_a_log_group_with_retention_and_an_error_alarm(module):
    resources = _resources(module)
    log_groups = resources.get("aws_cloudwatch_log_group", {})
    alarms = resources.get("aws_cloudwatch_metric_alarm", {})
    text = "\n".join(p.read_text(encoding="utf-8") for p in module.glob("*.tf"))
    for name, function in resources["aws_lambda_function"].items():
        reference = f"aws_lambda_function.{name}"
        # its log group: named in logging_config, or the /aws/lambda/<name> group it depends on
        depends = " ".join(map(str, function.get("depends_on", []))) + str(function.get("logging_config", ""))
        groups = [g for g in log_groups if f"aws_cloudwatch_log_group.{g}" in depends]
        assert groups, f"{module.name}: {reference} has no log group of its own"
        for group in groups:
            assert "retention_in_days" in log_groups[group], f"{module.name}: log group {group} keeps logs forever"
        error_alarms = [
            a for a, body in alarms.items()
            if body.get("metric_name") == "Errors" and (reference in str(body.get("dimensions")) or
                                                          "aws_lambda_function.this" in str(body.get("dimensions")))
        ]  # fmt: skip
        assert error_alarms, f"{module.name}: {reference} has no Errors alarm"
    assert text  # the module was read


def _outputs(module: Path) -> set[str]:
    with (module / "outputs.tf").open(encoding="utf-8") as handle:
        return {name for block in hcl2.load(handle, serialization_options=OPTIONS).get("output", []) for name in block}


CALLERS = sorted(ROOT.glob("envs/*/*.tf")) + sorted(ROOT.glob("modules/system/*.tf"))


@pytest.mark.parametrize("caller", CALLERS, ids=[f"{p.parent.name}/{p.name}" for p in CALLERS])
def test_module_outputs_used_exist(caller):
    text = caller.read_text(encoding="utf-8")
    # a file may refer to the modules any file of its directory declares (outputs.tf to main.tf's, ...)
    sources = {
        name: source
        for sibling in sorted(caller.parent.glob("*.tf"))
        for name, source in re.findall(r'module\s+"(\w+)"\s*\{\s*source\s*=\s*"([^"]+)"',
                                       sibling.read_text(encoding="utf-8"))
    }  # fmt: skip
    for module_name, output in set(re.findall(r"\bmodule\.(\w+)\.(\w+)", text)):
        assert module_name in sources, f"{caller}: module.{module_name} is not declared"
        module_dir = (caller.parent / sources[module_name]).resolve()
        assert output in _outputs(module_dir), f"{caller}: module.{module_name}.{output} is not an output"


ALARM_MODULES = [m for m in MODULES if "aws_cloudwatch_metric_alarm" in _resources(m)]


def _system_module_blocks() -> dict[str, dict]:
    """module name → body, as the system module composes them."""
    found: dict[str, dict] = {}
    for path in (ROOT / "modules" / "system").glob("*.tf"):
        with path.open(encoding="utf-8") as handle:
            for block in hcl2.load(handle, serialization_options=OPTIONS).get("module", []):
                found.update(block)
    return found


def test_the_alarm_modules_are_found():
    assert {m.name for m in ALARM_MODULES} >= {"agent", "database", "observability"}


@pytest.mark.parametrize("module", ALARM_MODULES, ids=[m.name for m in ALARM_MODULES])
def test_every_alarm_notifies_when_it_fires_and_when_it_clears(module):
    """Each alarm has alarm_actions and ok_actions, and the system module gives the module the topic
    its actions name: no alarm that only turns red in a console nobody watches."""
    composed = {Path(body["source"]).name: body for body in _system_module_blocks().values()}
    assert module.name in composed, f"{module.name} has alarms but the system module does not compose it"
    for name, alarm in _resources(module)["aws_cloudwatch_metric_alarm"].items():
        for key in ("alarm_actions", "ok_actions"):
            actions = str(alarm.get(key, ""))
            assert actions and actions not in ("[]", "None"), f"{module.name}: alarm {name} has no {key}"
            for variable in set(re.findall(r"\bvar\.(\w+)", actions)):
                given = str(composed[module.name].get(variable))
                assert "module.observability.sns_topic_arn" in given, (
                    f"{module.name}: alarm {name} notifies var.{variable}, which the system module sets to {given}"
                )


def test_the_observability_topic_is_always_there():
    """The topic the alarms notify is created, or given: never null."""
    outputs = (ROOT / "modules" / "observability" / "outputs.tf").read_text(encoding="utf-8")
    main = (ROOT / "modules" / "observability" / "main.tf").read_text(encoding="utf-8")
    assert re.search(
        r"topic_arn\s+=\s+var\.create_sns_topic \? aws_sns_topic\.this\[0\]\.arn : var\.sns_topic_arn", main
    )
    assert re.search(r"alarm_actions\s+=\s+\[local\.topic_arn\]", main)
    assert "value       = local.topic_arn" in outputs
    system = _system_module_blocks()["observability"]
    assert "var.alarm_sns_topic_arn == null" in str(system["create_sns_topic"])
