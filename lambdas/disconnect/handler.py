"""The `$disconnect` Lambda of the WebSocket API. Thin on purpose: the logic is in order_agent.edge."""

from order_agent.edge.handlers import disconnect_handler as handler

__all__ = ["handler"]
