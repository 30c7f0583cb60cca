"""The `sendMessage` and `$default` Lambda of the WebSocket API. Thin on purpose: the logic is in order_agent.edge."""

# The agent (LangGraph, the checkpointer, the tools) is loaded at init, not on the first message: init
# is where SnapStart snapshots and where Lambda gives a burst of CPU. order_agent.edge itself loads it
# lazily because $connect and $disconnect never need it.
import order_agent.agent.service  # noqa: F401
from order_agent.edge.handlers import message_handler as handler

__all__ = ["handler"]
