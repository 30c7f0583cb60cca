"""The `sendMessage` and `$default` Lambda of the WebSocket API. Thin on purpose: the logic is in order_agent.edge."""

from order_agent.edge.handlers import message_handler as handler

__all__ = ["handler"]
