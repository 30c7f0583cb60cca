output "function_arns" {
  description = "Unqualified ARNs of the functions, keyed connect, disconnect, message, authorizer (websocket_api takes these, and message_alias_arn for message)."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "function_names" {
  description = "Names of the functions, keyed connect, disconnect, message, authorizer."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "invoke_arns" {
  description = "API Gateway invoke ARNs, keyed by function; message's invokes the alias (SnapStart)."
  value       = merge({ for k, f in aws_lambda_function.this : k => f.invoke_arn }, { message = aws_lambda_alias.message.invoke_arn })
}

output "role_arns" {
  description = "Execution role ARNs, keyed by function."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "role_names" {
  description = "Execution role names, keyed by function (to attach more policies outside the module)."
  value       = { for k, r in aws_iam_role.this : k => r.name }
}

output "layer_arns" {
  description = "Layer version ARNs, keyed by layer name."
  value       = { for k, l in aws_lambda_layer_version.this : k => l.arn }
}

output "message_alias_arn" {
  description = "ARN of the message function's alias (pointing at its latest published, SnapStart-enabled version): the websocket_api module's message_function_arn."
  value       = aws_lambda_alias.message.arn
}

output "message_version" {
  description = "The message function's latest published version."
  value       = aws_lambda_function.this["message"].version
}

output "log_group_names" {
  description = "CloudWatch log group names, keyed by function."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "log_kms_key_arn" {
  description = "ARN of the KMS key encrypting the log groups (created here, or the one given)."
  value       = local.log_kms_key_arn
}

output "alarm_arns" {
  description = "CloudWatch alarm ARNs, keyed <function>-errors, <function>-throttles and <function>-duration-p99."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.errors : "${k}-errors" => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.throttles : "${k}-throttles" => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.duration : "${k}-duration-p99" => a.arn },
  )
}
