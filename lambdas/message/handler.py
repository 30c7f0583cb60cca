"""The `sendMessage` and `$default` Lambda of the WebSocket API. Thin on purpose: the logic is in order_agent.edge."""

from order_agent.edge import snapstart
from order_agent.edge.handlers import message_handler as handler

# LangGraph and the agent are loaded before the SnapStart snapshot (or at an on-demand init), not
# by this import: see order_agent/edge/snapstart.py.
snapstart.prepare()

__all__ = ["handler"]
