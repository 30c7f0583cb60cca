"""The customer-service tools: definitions, policy context and the runner the agent calls."""

from order_agent.tools.context import ConversationContext
from order_agent.tools.registry import ToolError, ToolKind
from order_agent.tools.runner import ToolResult, ToolRunner, request_hash

__all__ = ["ConversationContext", "ToolError", "ToolKind", "ToolResult", "ToolRunner", "request_hash"]
