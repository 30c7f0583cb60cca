data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  topic_arn        = var.create_sns_topic ? aws_sns_topic.this[0].arn : var.sns_topic_arn
  alarm_actions    = [local.topic_arn]
  metric_namespace = coalesce(var.metric_namespace, var.name)

  # The turn records the message function logs (order_agent.edge.handlers.turn_record), as CloudWatch
  # metrics: they cost nothing while no turn is logged.
  turn_metrics = {
    Turns        = { pattern = "{ $.message = \"turn\" }", value = "1", unit = "Count" }
    TurnErrors   = { pattern = "{ $.message = \"turn\" && $.outcome = \"error\" }", value = "1", unit = "Count" }
    ModelCostUSD = { pattern = "{ $.message = \"turn\" && $.cost_usd >= 0 }", value = "$.cost_usd", unit = "None" }
    InputTokens  = { pattern = "{ $.message = \"turn\" && $.input_tokens >= 0 }", value = "$.input_tokens", unit = "Count" }
    OutputTokens = { pattern = "{ $.message = \"turn\" && $.output_tokens >= 0 }", value = "$.output_tokens", unit = "Count" }
  }

  api_dimensions = { ApiId = var.websocket_api_id, Stage = var.websocket_stage_name }
}

################################################################################
# The topic every alarm notifies, encrypted with a key of its own
################################################################################

data "aws_iam_policy_document" "key" {
  count = var.create_sns_topic ? 1 : 0

  # checkov:skip=CKV_AWS_109:Key policy: its "*" resource is this key only; the account root statement is AWS's default key policy, delegating key administration to IAM so the key cannot become unmanageable.
  # checkov:skip=CKV_AWS_111:Key policy: its "*" resource is this key only; write actions go to the account root (AWS's default key policy); CloudWatch and Budgets get only GenerateDataKey*/Decrypt to publish to the topic.
  # checkov:skip=CKV_AWS_356:Key policy: a key policy's resource is always "*" (this key); it cannot name another resource.
  statement {
    sid       = "EnableIamPolicies"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch alarms and AWS Budgets publish to an encrypted topic only if they may use its key
  # (AWS's documented statement for SNS encryption with AWS service event sources).
  statement {
    sid       = "AllowAlarmAndBudgetPublishers"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_sns_topic ? 1 : 0

  description             = "${var.name}: the alarm notification topic"
  deletion_window_in_days = var.kms_key_deletion_window_days
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.key[0].json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_sns_topic ? 1 : 0

  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.this[0].key_id
}

resource "aws_sns_topic" "this" {
  count = var.create_sns_topic ? 1 : 0

  name              = "${var.name}-alarms"
  display_name      = "${var.name} alarms"
  kms_master_key_id = aws_kms_key.this[0].arn

  tags = var.tags
}

data "aws_iam_policy_document" "topic" {
  count = var.create_sns_topic ? 1 : 0

  statement {
    sid       = "OwnerAccount"
    effect    = "Allow"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.this[0].arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "BudgetsOfThisAccount"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]

    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:budgets::${local.account_id}:*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  count = var.create_sns_topic ? 1 : 0

  arn    = aws_sns_topic.this[0].arn
  policy = data.aws_iam_policy_document.topic[0].json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.create_sns_topic ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = aws_sns_topic.this[0].arn
  protocol  = "email"
  endpoint  = each.value
}

################################################################################
# Metrics from the message function's turn records
################################################################################

resource "aws_cloudwatch_log_metric_filter" "turn" {
  for_each = local.turn_metrics

  name           = "${var.name}-${each.key}"
  log_group_name = var.message_log_group_name
  pattern        = each.value.pattern

  metric_transformation {
    name      = each.key
    namespace = local.metric_namespace
    value     = each.value.value
    unit      = each.value.unit
  }
}

################################################################################
# Alarms the per-function ones (agent, database modules) do not cover
################################################################################

locals {
  db_dimensions    = { DBInstanceIdentifier = var.db_instance_id }
  proxy_dimensions = { ProxyName = var.db_proxy_name }

  # Every alarm, keyed by its name after var.name. `when`: whether it applies to this system.
  alarm_definitions = {
    # API Gateway could not run a route's integration (IntegrationError: the Lambda failed or returned an
    # error; ExecutionError: it could not be invoked at all, e.g. a missing permission or throttling).
    "api-integrationerror" = {
      when        = true
      description = "WebSocket routes whose Lambda integration failed or answered with an error: at least ${var.api_errors_alarm_threshold} in ${var.alarm_period_seconds} s. Runbook: docs/runbook.md#api-gateway-errors."
      namespace   = "AWS/ApiGateway", metric_name = "IntegrationError", dimensions = local.api_dimensions
      statistic   = "Sum", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanOrEqualToThreshold", threshold = var.api_errors_alarm_threshold, missing = "notBreaching"
    }
    "api-executionerror" = {
      when        = true
      description = "WebSocket messages API Gateway could not deliver to their integration (permission, throttling, timeout): at least ${var.api_errors_alarm_threshold} in ${var.alarm_period_seconds} s. Runbook: docs/runbook.md#api-gateway-errors."
      namespace   = "AWS/ApiGateway", metric_name = "ExecutionError", dimensions = local.api_dimensions
      statistic   = "Sum", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanOrEqualToThreshold", threshold = var.api_errors_alarm_threshold, missing = "notBreaching"
    }
    "db-cpu" = {
      when        = var.db_instance_id != null
      description = "The database instance's CPU averaged over ${var.db_cpu_alarm_threshold_percent}% for three periods. Runbook: docs/runbook.md#database-cpu."
      namespace   = "AWS/RDS", metric_name = "CPUUtilization", dimensions = local.db_dimensions
      statistic   = "Average", period = var.alarm_period_seconds, evaluation_periods = 3
      comparison  = "GreaterThanThreshold", threshold = var.db_cpu_alarm_threshold_percent, missing = "missing"
    }
    "db-free-storage" = {
      when        = var.db_instance_id != null
      description = "The database instance has less than ${var.db_free_storage_alarm_threshold_gib} GiB of free storage (autoscaling did not grow it). Runbook: docs/runbook.md#database-free-storage."
      namespace   = "AWS/RDS", metric_name = "FreeStorageSpace", dimensions = local.db_dimensions
      statistic   = "Minimum", period = var.alarm_period_seconds, evaluation_periods = 1
      comparison  = "LessThanThreshold", threshold = var.db_free_storage_alarm_threshold_gib * 1024 * 1024 * 1024, missing = "missing"
    }
    "db-connections" = {
      when        = var.db_instance_id != null
      description = "The database instance holds more than ${var.db_connections_alarm_threshold} connections (near max_connections). Runbook: docs/runbook.md#database-connections."
      namespace   = "AWS/RDS", metric_name = "DatabaseConnections", dimensions = local.db_dimensions
      statistic   = "Maximum", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanThreshold", threshold = var.db_connections_alarm_threshold, missing = "missing"
    }
    "db-proxy-auth-failures" = {
      when        = var.db_proxy_name != null
      description = "Clients could not authenticate to the RDS Proxy (ClientConnectionsSetupFailedAuth): wrong or rotated credentials, or a missing IAM permission. Runbook: docs/runbook.md#rds-proxy-authentication-failures."
      namespace   = "AWS/RDS", metric_name = "ClientConnectionsSetupFailedAuth", dimensions = local.proxy_dimensions
      statistic   = "Sum", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanOrEqualToThreshold", threshold = 1, missing = "notBreaching"
    }
    "db-proxy-borrow-latency" = {
      when        = var.db_proxy_name != null
      description = "The RDS Proxy took over ${var.db_proxy_borrow_latency_alarm_ms} ms on average to hand out a database connection (pool exhausted or database slow). Runbook: docs/runbook.md#rds-proxy-borrow-latency."
      namespace   = "AWS/RDS", metric_name = "DatabaseConnectionsBorrowLatency", dimensions = local.proxy_dimensions
      statistic   = "Average", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanThreshold", threshold = var.db_proxy_borrow_latency_alarm_ms * 1000, missing = "notBreaching" # the metric is in microseconds
    }
    "dynamodb-read-throttles" = {
      when        = true
      description = "DynamoDB throttled reads of the conversation table ${var.table_name}. Runbook: docs/runbook.md#dynamodb-throttles."
      namespace   = "AWS/DynamoDB", metric_name = "ReadThrottleEvents", dimensions = { TableName = var.table_name }
      statistic   = "Sum", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanOrEqualToThreshold", threshold = 1, missing = "notBreaching"
    }
    "dynamodb-write-throttles" = {
      when        = true
      description = "DynamoDB throttled writes of the conversation table ${var.table_name}. Runbook: docs/runbook.md#dynamodb-throttles."
      namespace   = "AWS/DynamoDB", metric_name = "WriteThrottleEvents", dimensions = { TableName = var.table_name }
      statistic   = "Sum", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanOrEqualToThreshold", threshold = 1, missing = "notBreaching"
    }
    "bedrock-throttles" = {
      when        = var.bedrock_model_id != null
      description = "Bedrock throttled at least ${var.bedrock_throttles_alarm_threshold} calls to ${coalesce(var.bedrock_model_id, "-")} in ${var.alarm_period_seconds} s (account quota; the metric counts every caller of the model in the account). Runbook: docs/runbook.md#bedrock-throttling."
      namespace   = "AWS/Bedrock", metric_name = "InvocationThrottles", dimensions = { ModelId = var.bedrock_model_id }
      statistic   = "Sum", period = var.alarm_period_seconds, evaluation_periods = var.alarm_evaluation_periods
      comparison  = "GreaterThanOrEqualToThreshold", threshold = var.bedrock_throttles_alarm_threshold, missing = "notBreaching"
    }
    "traces-dead-letters" = {
      when        = var.trace_dead_letter_queue_name != null
      description = "Traces the trace forwarder could not deliver to MLflow after every attempt wait in ${coalesce(var.trace_dead_letter_queue_name, "-")} (kept 14 days). Runbook: docs/runbook.md#traces-not-delivered."
      namespace   = "AWS/SQS", metric_name = "ApproximateNumberOfMessagesVisible", dimensions = { QueueName = var.trace_dead_letter_queue_name }
      statistic   = "Maximum", period = var.alarm_period_seconds, evaluation_periods = 1
      comparison  = "GreaterThanOrEqualToThreshold", threshold = 1, missing = "notBreaching"
    }
    "lambda-account-concurrency" = {
      when        = true
      description = "Lambda functions of the whole account and region ran ${var.account_concurrency_alarm_threshold} or more executions at once: near the account quota, when every unreserved function is throttled. Runbook: docs/runbook.md#lambda-account-concurrency."
      namespace   = "AWS/Lambda", metric_name = "ConcurrentExecutions", dimensions = null
      statistic   = "Maximum", period = 60, evaluation_periods = 3
      comparison  = "GreaterThanOrEqualToThreshold", threshold = var.account_concurrency_alarm_threshold, missing = "notBreaching"
    }
  }
}

# The alarms the per-function ones (agent, database modules) do not cover.
resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = { for key, alarm in local.alarm_definitions : key => alarm if alarm.when }

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.create_sns_topic || var.sns_topic_arn != null
      error_message = "create_sns_topic = false needs sns_topic_arn: every alarm notifies a topic."
    }
  }
}

locals {
  alarm_arns = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.arn }
}

# The alarms had a resource each before they became one with for_each: a deployment from then keeps them.
moved {
  from = aws_cloudwatch_metric_alarm.api["IntegrationError"]
  to   = aws_cloudwatch_metric_alarm.this["api-integrationerror"]
}

moved {
  from = aws_cloudwatch_metric_alarm.api["ExecutionError"]
  to   = aws_cloudwatch_metric_alarm.this["api-executionerror"]
}

moved {
  from = aws_cloudwatch_metric_alarm.db_cpu[0]
  to   = aws_cloudwatch_metric_alarm.this["db-cpu"]
}

moved {
  from = aws_cloudwatch_metric_alarm.db_free_storage[0]
  to   = aws_cloudwatch_metric_alarm.this["db-free-storage"]
}

moved {
  from = aws_cloudwatch_metric_alarm.db_connections[0]
  to   = aws_cloudwatch_metric_alarm.this["db-connections"]
}

moved {
  from = aws_cloudwatch_metric_alarm.db_proxy_auth_failures[0]
  to   = aws_cloudwatch_metric_alarm.this["db-proxy-auth-failures"]
}

moved {
  from = aws_cloudwatch_metric_alarm.db_proxy_borrow_latency[0]
  to   = aws_cloudwatch_metric_alarm.this["db-proxy-borrow-latency"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_throttles["ReadThrottleEvents"]
  to   = aws_cloudwatch_metric_alarm.this["dynamodb-read-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_throttles["WriteThrottleEvents"]
  to   = aws_cloudwatch_metric_alarm.this["dynamodb-write-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.bedrock_throttles[0]
  to   = aws_cloudwatch_metric_alarm.this["bedrock-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.account_concurrency
  to   = aws_cloudwatch_metric_alarm.this["lambda-account-concurrency"]
}

################################################################################
# Budget
################################################################################

resource "aws_budgets_budget" "this" {
  count = var.monthly_budget_usd == null ? 0 : 1

  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  dynamic "cost_filter" {
    for_each = var.budget_cost_filters

    content {
      name   = cost_filter.key
      values = cost_filter.value
    }
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_sns_topic_arns  = [local.topic_arn]
    subscriber_email_addresses = var.budget_email_addresses
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_sns_topic_arns  = [local.topic_arn]
    subscriber_email_addresses = var.budget_email_addresses
  }

  tags = var.tags

  # AWS Budgets publishes only to a topic whose policy (and key) already allow it.
  depends_on = [aws_sns_topic_policy.this]
}
