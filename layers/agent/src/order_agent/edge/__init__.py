"""The WebSocket edge: protocol, connection and session records, and the Lambda handlers logic."""
