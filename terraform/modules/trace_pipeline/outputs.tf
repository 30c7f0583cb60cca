output "queue_url" {
  description = "URL of the trace queue (the message function's TRACE_QUEUE_URL)."
  value       = aws_sqs_queue.traces.url
}

output "queue_arn" {
  description = "ARN of the trace queue."
  value       = aws_sqs_queue.traces.arn
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue: what the forwarder could not deliver after max_receive_count attempts."
  value       = aws_sqs_queue.dead_letters.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue (the source of `aws sqs start-message-move-task`, make trace-replay)."
  value       = aws_sqs_queue.dead_letters.arn
}

output "dead_letter_queue_name" {
  description = "Name of the dead-letter queue (its depth alarm's dimension)."
  value       = aws_sqs_queue.dead_letters.name
}

output "bucket" {
  description = "The bucket of traces over the SQS limit (the message function's TRACE_BUCKET)."
  value       = module.bucket.bucket
}

output "bucket_arn" {
  description = "ARN of the big-trace bucket."
  value       = module.bucket.arn
}

output "function_name" {
  description = "Name of the trace forwarder function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the trace forwarder function."
  value       = aws_lambda_function.this.arn
}

output "log_group_name" {
  description = "The forwarder's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "event_source_mapping_uuid" {
  description = "The event source mapping from the trace queue to the forwarder."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "message_policy_json" {
  description = "What the message function needs to hand traces off: sqs:SendMessage on the queue, s3:PutObject under traces/ in the bucket (and the bucket key's GenerateDataKey)."
  value       = data.aws_iam_policy_document.handoff.json
}

output "message_environment" {
  description = "The message function's environment for the hand-off: TRACE_QUEUE_URL and TRACE_BUCKET."
  value       = { TRACE_QUEUE_URL = aws_sqs_queue.traces.url, TRACE_BUCKET = module.bucket.bucket }
}
