"""Model providers behind one interface, chosen by the MODEL_PROVIDER setting."""

from __future__ import annotations

from order_agent.model.base import ModelError, ModelProvider, ModelRequest, ModelResponse, Usage
from order_agent.settings import Settings

__all__ = ["ModelError", "ModelProvider", "ModelRequest", "ModelResponse", "Usage", "make_provider"]


def make_provider(settings: Settings) -> ModelProvider:
    if settings.model_provider == "bedrock":
        from order_agent.model.bedrock import BedrockProvider

        return BedrockProvider(settings)
    if settings.model_provider == "scripted":
        from order_agent.model.scripted import ScriptedProvider

        if settings.model_script_path is None:
            raise ValueError("MODEL_PROVIDER=scripted needs MODEL_SCRIPT_PATH")
        return ScriptedProvider.from_file(settings.model_script_path)
    from order_agent.model.offline import OfflineProvider

    return OfflineProvider(settings)
