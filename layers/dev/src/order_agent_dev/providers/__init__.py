"""The model providers of development and tests: `offline` (deterministic rules, so that `make dev` works
with no cloud access) and `scripted` (replays recorded responses). order_agent.model calls
`make_provider` for MODEL_PROVIDER=offline|scripted. The build packs this package alone (with
order_agent_dev/__init__.py) into the dev-providers layer the emulator environment attaches."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from order_agent.model.base import ModelProvider
    from order_agent.settings import Settings


def make_provider(settings: Settings) -> ModelProvider:
    if settings.model_provider == "scripted":
        from order_agent_dev.providers.scripted import ScriptedProvider

        if settings.model_script_path is None:
            raise ValueError("MODEL_PROVIDER=scripted needs MODEL_SCRIPT_PATH")
        return ScriptedProvider.from_file(settings.model_script_path)
    if settings.model_provider == "offline":
        from order_agent_dev.providers.offline import OfflineProvider

        return OfflineProvider(settings)
    raise ValueError(f"{settings.model_provider!r} is not a development model provider (offline, scripted)")
