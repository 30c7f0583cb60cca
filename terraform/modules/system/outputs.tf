output "chat_site_url" {
  description = "The chat page customers open."
  value       = module.chat_site.site_url
}

output "websocket_url" {
  description = "The WebSocket URL (wss://…/<stage>) the chat page connects to."
  value       = module.websocket_api.stage_invoke_url
}

output "management_endpoint" {
  description = "The @connections endpoint the message Lambda posts to."
  value       = module.websocket_api.management_endpoint
}

output "checkpoint_table_name" {
  description = "DynamoDB table of conversation checkpoints, locks and outbox."
  value       = module.conversation_store.table_name
}

output "database_proxy_endpoint" {
  description = "RDS Proxy endpoint (TLS required)."
  value       = module.database.proxy_endpoint
}

output "websocket_api_id" {
  description = "ID of the WebSocket API."
  value       = module.websocket_api.api_id
}

output "function_names" {
  description = "Lambda function names by role."
  value       = module.agent.function_names
}

output "mlflow_tracking_server_arn" {
  description = "MLFLOW tracking URI (the tracking server ARN), null when MLflow is off."
  value       = module.mlflow.tracking_server_arn
}

output "auth_mode" {
  description = "How $connect is authorized: jwt, or none (anonymous chat, allowed only with allow_anonymous_chat)."
  value       = var.auth_mode

  precondition {
    condition     = var.auth_mode != "none" || var.allow_anonymous_chat
    error_message = "auth_mode = \"none\" opens the chat to anyone with the URL, without signing in. Set allow_anonymous_chat = true to deploy it that way on purpose (a public demo, an emulator), or configure a token issuer (jwt) for customers."
  }
}

output "model_provider" {
  description = "MODEL_PROVIDER of the message function: bedrock, or offline (only with an emulator's development layer), or anthropic or openai (emulators only so far)."
  value       = var.model_provider

  precondition {
    condition     = !contains(["anthropic", "openai"], var.model_provider) || var.emulator != null
    error_message = "model_provider = \"${var.model_provider}\" is wired for emulators only so far: its key would have to come from Secrets Manager, which the functions do not read yet (docs/deployment.md, Model providers outside Bedrock). Use bedrock."
  }

  precondition {
    condition     = var.model_provider != "offline" || length(local.dev_layer_packages) > 0
    error_message = "model_provider = \"offline\" needs the development layer, which only an emulator gets (emulator.dev_layer_packages): the offline provider is not in the production layers. Use bedrock."
  }
}

output "handoff_event_bus_name" {
  description = "The EventBridge bus every handoff is published on (source order-agent, detail-type \"Conversation handed off\")."
  value       = module.handoff.event_bus_name
}

output "handoff_inbox_queue_url" {
  description = "The SQS queue every handoff event is delivered to, or null (handoff_inbox_queue = false)."
  value       = module.handoff.inbox_queue_url
}

output "handoff_sns_topic_arn" {
  description = "The email topic of handoff events, or null (no handoff_notification_email)."
  value       = module.handoff.sns_topic_arn
}

output "trace_queue_url" {
  description = "The queue the message function hands each turn's trace to, or null (no tracking server)."
  value       = one(module.trace_pipeline[*].queue_url)
}

output "trace_dead_letter_queue_arn" {
  description = "The traces the forwarder could not deliver to MLflow, or null (no tracking server): `make trace-replay` moves them back."
  value       = one(module.trace_pipeline[*].dead_letter_queue_arn)
}
