"""Model providers behind one interface, chosen by the MODEL_PROVIDER setting.

`bedrock` is the production provider and lives here, as do `anthropic` (the Anthropic API, through the
`anthropic` package, which the production layer carries only when built with `--providers anthropic`) and
`openai` (any OpenAI-compatible endpoint, over httpx: nothing extra to install). `offline` and `scripted`
are for development and tests: they ship in the development package (`order_agent_dev.providers`,
layers/dev), which reaches a deployed function only as the emulator's development-providers layer, so they
are imported on demand.
"""

from __future__ import annotations

import importlib

from order_agent.model.base import ModelError, ModelProvider, ModelRequest, ModelResponse, Usage
from order_agent.settings import Settings

__all__ = [
    "PROVIDER_PACKAGES",
    "DevelopmentProviderMissing",
    "ModelError",
    "ModelProvider",
    "ModelRequest",
    "ModelResponse",
    "ProviderPackageMissing",
    "Usage",
    "make_provider",
]

DEVELOPMENT_PROVIDERS_MODULE = "order_agent_dev.providers"
# Providers whose SDK the production deps layer leaves out unless a build asks for it.
PROVIDER_PACKAGES = {"anthropic": "anthropic"}


class DevelopmentProviderMissing(RuntimeError):
    """MODEL_PROVIDER names a development provider, and the development package is not installed."""


class ProviderPackageMissing(RuntimeError):
    """MODEL_PROVIDER names a provider whose SDK is not installed here."""


def _require_package(provider: str) -> None:
    package = PROVIDER_PACKAGES[provider]
    try:
        importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name != package:
            raise  # the package is there but something it imports is not: that error says what
        raise ProviderPackageMissing(
            f"provider {provider} needs package {package}, which is not installed here: build the layers with"
            f" `scripts/build_layers.py --providers {provider}` (or EXTRA_PROVIDERS={provider} make layers), which adds"
            f" layer-providers.zip; locally `make setup` installs requirements/providers.txt."
        ) from None


def make_provider(settings: Settings) -> ModelProvider:
    if settings.model_provider == "bedrock":
        from order_agent.model.bedrock import BedrockProvider

        return BedrockProvider(settings)
    if settings.model_provider == "anthropic":
        _require_package("anthropic")
        from order_agent.model.anthropic_api import AnthropicProvider

        return AnthropicProvider(settings)
    if settings.model_provider == "openai":
        from order_agent.model.openai_compatible import OpenAICompatibleProvider

        return OpenAICompatibleProvider(settings)
    try:
        development = importlib.import_module(DEVELOPMENT_PROVIDERS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name not in ("order_agent_dev", DEVELOPMENT_PROVIDERS_MODULE):
            raise  # the development package is there but something it imports is not: that error says what
        raise DevelopmentProviderMissing(
            f"the {settings.model_provider} provider ships in the development layer: {DEVELOPMENT_PROVIDERS_MODULE}"
            " is not installed here. Locally `make setup` installs it (layers/dev); terraform/envs/local attaches"
            " it to the emulator's functions as the dev-providers layer; in AWS use MODEL_PROVIDER=bedrock."
        ) from None
    return development.make_provider(settings)
