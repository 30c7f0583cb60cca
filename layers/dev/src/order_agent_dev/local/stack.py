"""The WebSocket edge on one machine: the local gateway invoking the very Lambda handler files
in `lambdas/` (loaded by path, as Lambda loads them), wired to local services."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from order_agent.agent.service import Agent
from order_agent.edge.handlers import Edge, use_edge
from order_agent.settings import Settings
from order_agent_dev.local.aws import free_port

Handler = Callable[[dict[str, Any], Any], Any]


def load_lambda(lambdas_dir: Path, name: str) -> Handler:
    """`handler` from lambdas/<name>/handler.py, imported from its file like the Lambda runtime does."""
    path = Path(lambdas_dir) / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"lambda_{name}_handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def start_gateway(
    settings: Settings,
    lambdas_dir: Path,
    *,
    port: int | None = None,
    agent: Agent | None = None,
    authorizer: Handler | None = None,
    **timers: float,
) -> tuple[Any, Settings]:
    """Start the gateway on 127.0.0.1; returns it and the settings the handlers run with."""
    from order_agent_dev.local.gateway import GatewayConfig, LocalGateway

    port = port or free_port()
    config = GatewayConfig(
        routes={
            "$connect": load_lambda(lambdas_dir, "connect"),
            "$disconnect": load_lambda(lambdas_dir, "disconnect"),
            "sendMessage": load_lambda(lambdas_dir, "message"),
            "$default": load_lambda(lambdas_dir, "message"),
        },
        authorizer=authorizer or load_lambda(lambdas_dir, "authorizer"),
        **timers,
    )
    gateway = LocalGateway(config)
    edge_settings = settings.model_copy(update={"websocket_management_url": f"http://127.0.0.1:{port}/{config.stage}"})
    use_edge(Edge(edge_settings, agent=agent))
    gateway.start(host="127.0.0.1", port=port)
    return gateway, edge_settings
