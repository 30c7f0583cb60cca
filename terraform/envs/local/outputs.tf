output "websocket_api_id" {
  description = "ID of the WebSocket API: its data plane is <aws_endpoint_url>/_aws/execute-api/<id>/<stage> on the emulator."
  value       = module.system.websocket_api_id
}

output "stage_name" {
  description = "Stage of the WebSocket API."
  value       = "local"
}

output "websocket_url" {
  description = "The WebSocket URL the chat connects to, on the emulator's edge port."
  value       = "${replace(var.aws_endpoint_url, "http", "ws")}/_aws/execute-api/${module.system.websocket_api_id}/local"
}

output "checkpoint_table_name" {
  description = "CHECKPOINT_TABLE of the functions."
  value       = module.system.checkpoint_table_name
}

output "function_names" {
  description = "The Lambda functions by role."
  value       = module.system.function_names
}

output "user_pool_id" {
  description = "The Cognito user pool issuing the tokens of auth_mode = jwt."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_client_id" {
  description = "Its app client (USER_PASSWORD_AUTH), the tokens' audience."
  value       = aws_cognito_user_pool_client.this.id
}

output "handoff_event_bus_name" {
  description = "The bus every handoff is published on."
  value       = module.system.handoff_event_bus_name
}

output "handoff_inbox_queue_url" {
  description = "The queue every handoff event is delivered to (make dev prints what arrives)."
  value       = module.system.handoff_inbox_queue_url
}

output "trace_queue_url" {
  description = "The trace queue (null: no local MLflow server): the emulator's event source mapping runs the forwarder on it."
  value       = module.system.trace_queue_url
}
