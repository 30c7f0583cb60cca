output "chat_site_url" {
  description = "The chat page."
  value       = module.system.chat_site_url
}

output "websocket_url" {
  description = "The WebSocket URL."
  value       = module.system.websocket_url
}

output "function_names" {
  description = "Lambda function names."
  value       = module.system.function_names
}

output "handoff_event_bus_name" {
  description = "The EventBridge bus every handoff is published on: subscribe the helpdesk to it."
  value       = module.system.handoff_event_bus_name
}

output "trace_dead_letter_queue_arn" {
  description = "The traces the forwarder could not deliver to MLflow (null: no tracking server): `make trace-replay ENV=...` moves them back to the trace queue."
  value       = module.system.trace_dead_letter_queue_arn
}
