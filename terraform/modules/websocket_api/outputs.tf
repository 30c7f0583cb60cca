output "api_id" {
  description = "ID of the WebSocket API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_arn" {
  description = "ARN of the WebSocket API (management plane)."
  value       = aws_apigatewayv2_api.this.arn
}

output "api_endpoint" {
  description = "wss:// endpoint of the API, without the stage (wss://{api_id}.execute-api.{region}.amazonaws.com)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.this.name
}

output "stage_arn" {
  description = "ARN of the stage."
  value       = aws_apigatewayv2_stage.this.arn
}

output "stage_invoke_url" {
  description = "The URL clients connect to: wss://{api_id}.execute-api.{region}.amazonaws.com/{stage}."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "execution_arn" {
  description = "Execution ARN of the API (arn:aws:execute-api:{region}:{account}:{api_id}), the prefix of route and @connections ARNs."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "management_endpoint" {
  description = "The @connections management endpoint: https://{api_id}.execute-api.{region}.amazonaws.com/{stage} (the apigatewaymanagementapi endpoint_url)."
  value       = "https://${aws_apigatewayv2_api.this.id}.execute-api.${local.region}.${local.dns_suffix}/${aws_apigatewayv2_stage.this.name}"
}

output "connections_arn" {
  description = "ARN the message function needs execute-api:ManageConnections on to post replies: arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/POST/@connections/*."
  value       = "arn:${local.partition}:execute-api:${local.region}:${local.account_id}:${aws_apigatewayv2_api.this.id}/${var.stage_name}/POST/@connections/*"
}

output "authorizer_id" {
  description = "ID of the $connect REQUEST authorizer (null without one)."
  value       = one(aws_apigatewayv2_authorizer.this[*].id)
}

output "route_ids" {
  description = "Route IDs by route key ($connect, $disconnect, sendMessage, $default)."
  value       = { for k, r in aws_apigatewayv2_route.this : r.route_key => r.id }
}

output "deployment_id" {
  description = "ID of the deployment the stage serves."
  value       = aws_apigatewayv2_deployment.this.id
}

output "access_log_group_name" {
  description = "CloudWatch log group of the JSON access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "access_log_group_arn" {
  description = "ARN of the access log group."
  value       = aws_cloudwatch_log_group.access.arn
}

output "execution_log_group_name" {
  description = "CloudWatch log group of the execution logs (API-Gateway-Execution-Logs_{api_id}/{stage}), created here with retention and encryption."
  value       = aws_cloudwatch_log_group.execution.name
}

output "log_kms_key_arn" {
  description = "ARN of the KMS key encrypting the log groups (created here, or the one given)."
  value       = local.log_kms_key_arn
}

output "logging_enabled" {
  description = "Whether the stage writes execution and access logs (the account's CloudWatch role is managed here or declared to exist)."
  value       = local.logging_enabled
}

output "account_logging_role_arn" {
  description = "ARN of API Gateway's account CloudWatch role when manage_account_logging_role is true, else null."
  value       = one(aws_iam_role.account_logging[*].arn)
}
