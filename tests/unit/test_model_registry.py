"""order_agent.model's registry: bedrock is production's own; offline and scripted come from the development
package, and without it MODEL_PROVIDER=offline fails saying where they ship."""

from __future__ import annotations

import sys

import pytest

from order_agent.model import DevelopmentProviderMissing, make_provider
from order_agent.settings import Settings
from order_agent_dev.providers.offline import OfflineProvider
from order_agent_dev.providers.scripted import ScriptedProvider


def test_development_providers_come_from_the_development_package(tmp_path):
    assert isinstance(make_provider(Settings(model_provider="offline")), OfflineProvider)
    script = tmp_path / "script.json"
    script.write_text("[]")
    assert isinstance(make_provider(Settings(model_provider="scripted", model_script_path=script)), ScriptedProvider)
    with pytest.raises(ValueError, match="MODEL_SCRIPT_PATH"):
        make_provider(Settings(model_provider="scripted"))


@pytest.mark.parametrize("provider", ["offline", "scripted"])
def test_without_the_development_package_the_error_says_where_the_provider_ships(monkeypatch, provider):
    monkeypatch.setitem(sys.modules, "order_agent_dev.providers", None)  # as if it were not installed
    with pytest.raises(DevelopmentProviderMissing, match=f"the {provider} provider ships in the development layer"):
        make_provider(Settings(model_provider=provider))


def test_bedrock_needs_no_development_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "order_agent_dev.providers", None)
    assert type(make_provider(Settings(model_provider="bedrock"))).__name__ == "BedrockProvider"
