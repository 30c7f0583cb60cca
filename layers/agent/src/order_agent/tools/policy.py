"""The store policy the model is given (tools/policy.md), kept beside the tools that enforce it.

Each rule in the file ends with an HTML comment naming it (`<!-- rule: cancel-reason -->`); the
names let a test map every rule to the check that enforces it, and are stripped before the text
reaches the model.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_RULE_MARK = re.compile(r"\s*<!--\s*rule:\s*([a-z0-9-]+)\s*-->")


def _source() -> str:
    return (resources.files("order_agent.tools") / "policy.md").read_text(encoding="utf-8")


@cache
def policy_prompt() -> str:
    """The policy as the model reads it: the rules without their names."""
    return _RULE_MARK.sub("", _source())


def rule_names() -> list[str]:
    """Every rule's name, in the order the policy states them."""
    return _RULE_MARK.findall(_source())
