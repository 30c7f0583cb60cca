output "event_bus_name" {
  description = "Name of the bus the message function puts handoff events on (HANDOFF_EVENT_BUS)."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_bus_arn" {
  description = "ARN of the handoff bus (the message function may PutEvents on it, and nothing else)."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "rule_name" {
  description = "Name of the rule that matches the handoff events."
  value       = aws_cloudwatch_event_rule.this.name
}

output "rule_arn" {
  description = "ARN of the rule that matches the handoff events."
  value       = aws_cloudwatch_event_rule.this.arn
}

output "event_pattern" {
  description = "The event pattern of a handoff event (source and detail-type), for rules of your own on the bus."
  value       = aws_cloudwatch_event_rule.this.event_pattern
}

output "sns_topic_arn" {
  description = "ARN of the email topic, or null (no notification_email)."
  value       = try(aws_sns_topic.this[0].arn, null)
}

output "inbox_queue_url" {
  description = "URL of the inbox queue, or null (create_inbox_queue = false)."
  value       = try(aws_sqs_queue.inbox[0].url, null)
}

output "inbox_queue_arn" {
  description = "ARN of the inbox queue, or null."
  value       = try(aws_sqs_queue.inbox[0].arn, null)
}

output "undelivered_queue_url" {
  description = "URL of the dead-letter queue of the rule's targets, or null (no target)."
  value       = try(aws_sqs_queue.undelivered[0].url, null)
}

output "kms_key_arn" {
  description = "ARN of the key of the topic and queues, or null (no target)."
  value       = try(module.kms_key[0].key_arn, null)
}
