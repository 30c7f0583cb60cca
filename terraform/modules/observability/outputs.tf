output "sns_topic_arn" {
  description = "The SNS topic every alarm (and the budget) notifies: the created one, or sns_topic_arn."
  value       = local.topic_arn
}

output "sns_topic_name" {
  description = "Name of the created topic; null with create_sns_topic = false."
  value       = try(aws_sns_topic.this[0].name, null)
}

output "kms_key_arn" {
  description = "KMS key of the created topic; null with create_sns_topic = false."
  value       = try(aws_kms_key.this[0].arn, null)
}

output "alarm_arns" {
  description = "This module's alarm ARNs, keyed api-integrationerror, api-executionerror, db-cpu, db-free-storage, db-connections, db-proxy-auth-failures, db-proxy-borrow-latency, dynamodb-read-throttles, dynamodb-write-throttles, bedrock-throttles, lambda-account-concurrency (those created)."
  value       = local.alarm_arns
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard; null with create_dashboard = false."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}

output "metric_namespace" {
  description = "CloudWatch namespace of the metrics derived from the turn records (Turns, TurnErrors, ModelCostUSD, InputTokens, OutputTokens)."
  value       = local.metric_namespace
}

output "budget_name" {
  description = "Name of the AWS Budgets budget; null without monthly_budget_usd."
  value       = try(aws_budgets_budget.this[0].name, null)
}
