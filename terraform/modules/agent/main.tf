data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  dns_suffix = data.aws_partition.current.dns_suffix

  function_keys = toset(["connect", "disconnect", "message", "authorizer"])

  memory_sizes = merge({ connect = 256, disconnect = 256, message = 1024, authorizer = 256 }, var.memory_sizes)
  timeouts     = merge({ connect = 10, disconnect = 10, message = 120, authorizer = 10 }, var.timeouts)
  # Reserved concurrency (variables.tf, reserved_concurrent_executions): a floor and a ceiling per
  # function. -1 = unreserved (the account's shared pool). The authorizer exists in every mode but
  # runs only with JWT: nothing is set aside for it otherwise.
  reserved_defaults = { connect = 25, disconnect = 10, message = 100, authorizer = var.auth_mode == "jwt" ? 25 : null }
  reserved = {
    for k in local.function_keys :
    k => coalesce(lookup(merge(local.reserved_defaults, var.reserved_concurrent_executions), k, null), -1)
  }
  reserved_total = sum([for k in local.function_keys : max(local.reserved[k], 0)])

  function_names = { for k in local.function_keys : k => "${var.name}-${k}" }
  log_group_names = {
    for k in local.function_keys : k => "/aws/lambda/${local.function_names[k]}"
  }

  # Names derived from the conversation store's ARNs:
  # arn:aws:dynamodb:<region>:<account>:table/<name> and arn:aws:s3:::<bucket>.
  table_name  = split("/", var.table_arn)[1]
  bucket_name = var.bucket_arn == null ? null : split(":::", var.bucket_arn)[1]
  # arn:aws:events:<region>:<account>:event-bus/<name>
  handoff_event_bus = var.handoff_event_bus_arn == null ? null : split("/", var.handoff_event_bus_arn)[1]

  log_kms_key_arn = var.create_log_kms_key ? module.log_kms_key[0].key_arn : var.log_kms_key_arn

  in_vpc = { for k in local.function_keys : k => var.subnet_ids != null && contains(var.vpc_function_names, k) }

  # Each function's layers, in key order (a later layer wins on a path both contain): function_layers', else all.
  function_layers = {
    for k in local.function_keys : k => sort(lookup(var.function_layers, k, keys(var.layer_packages)))
  }

  snap_start = var.snap_start_enabled && contains(["python3.12", "python3.13"], var.runtime)

  # The inference profiles among bedrock_model_arns: the only way to bedrock_profile_model_arns.
  bedrock_profile_arns = [for a in var.bedrock_model_arns : a if can(regex(":(application-)?inference-profile/", a))]

  ##############################################################################
  # Environment: the order_agent settings each function reads (README "Settings").
  # AWS_REGION is set by Lambda itself (reserved) and is never set here.
  ##############################################################################

  auth_environment = merge(
    { AUTH_MODE = var.auth_mode },
    var.auth_mode == "jwt" ? {
      JWT_JWKS_URL = var.jwt_jwks_url
      JWT_ISSUER   = var.jwt_issuer
      JWT_AUDIENCE = var.jwt_audience
    } : {},
  )

  common_environment = merge(local.auth_environment, {
    POWERTOOLS_SERVICE_NAME = var.name
    POWERTOOLS_LOG_LEVEL    = var.log_level
  })

  store_environment = {
    CHECKPOINT_TABLE       = local.table_name
    CHECKPOINT_TTL_SECONDS = tostring(var.checkpoint_ttl_seconds)
  }

  message_environment = {
    # A turn's session lock must outlast the turn: a turn cannot run past the function's timeout,
    # and one still running when its lease expires loses its writes to the next message's turn.
    # The 10 s cover the whole-second lease times and the clocks of two hosts.
    SESSION_LOCK_SECONDS = tostring(local.timeouts["message"] + 10)
    CHECKPOINT_BUCKET    = local.bucket_name
    MODEL_PROVIDER       = var.model_provider
    BEDROCK_MODEL_ID     = var.bedrock_model_id
    BEDROCK_REGION       = coalesce(var.bedrock_region, local.region)
    DATABASE_URL         = var.database_url
    # With DATABASE_HOST set, the app reads user and password from this secret instead of DATABASE_URL.
    DATABASE_SECRET_ARN = var.database_secret_arn
    DATABASE_HOST       = var.database_host
    DATABASE_NAME       = var.database_name
    # The proxy's certificate is verified against the CA bundle in the order_agent package.
    DATABASE_SSLMODE = var.database_host == null ? null : "verify-full"
    # Tracing (order_agent.tracing; unset queue: no tracing): each turn's trace is handed to the
    # trace queue (the trace_pipeline module's forwarder takes it to MLflow); big ones go through
    # the bucket. The MLflow location only names where a handoff's traces are (order_agent.handoff):
    # this function never calls MLflow.
    TRACE_QUEUE_URL      = var.trace_queue_url
    TRACE_BUCKET         = var.trace_bucket
    MLFLOW_TRACKING_URI  = var.mlflow_tracking_uri
    MLFLOW_EXPERIMENT_ID = var.mlflow_experiment_id
    # Where handoffs are published for the support team (order_agent.handoff).
    HANDOFF_EVENT_BUS = local.handoff_event_bus
  }

  # The abuse and cost limits the message function enforces (README "Security").
  limits_environment = {
    RATE_LIMIT_WINDOW_S         = tostring(var.limits.rate_limit_window_s)
    MAX_MESSAGES_PER_CONNECTION = tostring(var.limits.max_messages_per_connection)
    MAX_MESSAGES_PER_PRINCIPAL  = tostring(var.limits.max_messages_per_principal)
    MAX_TURNS_PER_CONVERSATION  = tostring(var.limits.max_turns_per_conversation)
    MAX_TOKENS_PER_CONVERSATION = tostring(var.limits.max_tokens_per_conversation)
  }

  module_environment = {
    connect    = merge(local.common_environment, local.store_environment)
    disconnect = merge(local.common_environment, local.store_environment)
    message    = merge(local.common_environment, local.store_environment, local.message_environment, local.limits_environment)
    authorizer = local.common_environment
  }

  environment = {
    for k in local.function_keys : k => {
      for name, value in merge(local.module_environment[k], var.environment) : name => value if value != null
    }
  }

  ##############################################################################
  # What each function may do. DynamoDB actions are the ones its code calls
  # (order_agent.conversations, langgraph-checkpoint-aws).
  ##############################################################################

  dynamodb_actions = {
    connect    = ["dynamodb:PutItem"]
    disconnect = ["dynamodb:DeleteItem"]
    message = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    authorizer = []
  }

  kms_via_services = {
    connect    = ["dynamodb.${local.region}.${local.dns_suffix}"]
    disconnect = ["dynamodb.${local.region}.${local.dns_suffix}"]
    message    = ["dynamodb.${local.region}.${local.dns_suffix}", "s3.${local.region}.${local.dns_suffix}"]
    authorizer = []
  }
}

################################################################################
# Layers
################################################################################

resource "aws_lambda_layer_version" "this" {
  for_each = var.layer_packages

  layer_name               = "${var.name}-${each.key}"
  description              = "${var.name}: ${each.key}"
  filename                 = each.value
  source_code_hash         = filebase64sha256(each.value)
  compatible_runtimes      = [var.runtime]
  compatible_architectures = [var.architecture]
}

################################################################################
# Logs
################################################################################

module "log_kms_key" {
  source = "../kms_key"
  count  = var.create_log_kms_key ? 1 : 0

  description             = "CloudWatch Logs of the ${var.name} Lambda functions"
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  log_group_arns = [
    for k in sort(tolist(local.function_keys)) :
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_names[k]}"
  ]

  tags = var.tags
}

moved {
  from = aws_kms_key.logs[0]
  to   = module.log_kms_key[0].aws_kms_key.this
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.function_keys

  name              = local.log_group_names[each.key]
  retention_in_days = var.log_retention_days
  kms_key_id        = local.log_kms_key_arn

  tags = var.tags
}

################################################################################
# IAM: one role per function
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.function_keys

  name               = local.function_names[each.key]
  description        = "Execution role of the ${local.function_names[each.key]} Lambda function"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  for_each = local.function_keys

  statement {
    sid       = "WriteOwnLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []

    content {
      sid    = "XRayTraces"
      effect = "Allow"
      # X-Ray's write actions have no resource-level permissions: "*" is the only resource they accept.
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.in_vpc[each.key] ? [1] : []

    content {
      sid    = "VpcNetworkInterfaces"
      effect = "Allow"
      # The ENI actions Lambda needs to attach the function to its subnets (the same set as
      # AWSLambdaVPCAccessExecutionRole); the Describe actions support no resource-level
      # permissions and the interfaces' ARNs do not exist before Lambda creates them.
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = length(local.dynamodb_actions[each.key]) > 0 ? [1] : []

    content {
      sid       = "ConversationTable"
      effect    = "Allow"
      actions   = local.dynamodb_actions[each.key]
      resources = [var.table_arn]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null && length(local.kms_via_services[each.key]) > 0 ? [1] : []

    content {
      sid       = "ConversationStoreKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = local.kms_via_services[each.key]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "message" && var.bucket_arn != null ? [1] : []

    content {
      sid    = "CheckpointOffloadObjects"
      effect = "Allow"
      # PutObjectTagging: the checkpointer tags each object (ttl-days) in the same PutObject call.
      actions   = ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"]
      resources = ["${var.bucket_arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "message" ? [1] : []

    content {
      sid       = "PostToConnections"
      effect    = "Allow"
      actions   = ["execute-api:ManageConnections"]
      resources = [var.connections_arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "message" && var.handoff_event_bus_arn != null ? [1] : []

    content {
      sid       = "PublishHandoffs"
      effect    = "Allow"
      actions   = ["events:PutEvents"]
      resources = [var.handoff_event_bus_arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "message" && length(var.bedrock_model_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeModels"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = var.bedrock_model_arns
    }
  }

  # AWS's pattern for cross-region inference: the profile's foundation model in any region
  # (Bedrock authorizes the call against the model in the destination region it picks), but only
  # when the request came through one of the profiles above.
  dynamic "statement" {
    for_each = each.key == "message" && length(var.bedrock_profile_model_arns) > 0 ? [1] : []

    content {
      sid       = "InvokeModelsThroughProfile"
      effect    = "Allow"
      actions   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      resources = var.bedrock_profile_model_arns

      condition {
        test     = "StringEquals"
        variable = "bedrock:InferenceProfileArn"
        values   = local.bedrock_profile_arns
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "message" && var.database_secret_arn != null ? [1] : []

    content {
      sid       = "DatabaseSecret"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.database_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "message" && var.database_secret_arn != null && var.database_secret_kms_key_arn != null ? [1] : []

    content {
      sid       = "DatabaseSecretKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.database_secret_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.${local.dns_suffix}"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "message" && var.database_iam_auth ? [1] : []

    content {
      sid       = "DatabaseIamAuth"
      effect    = "Allow"
      actions   = ["rds-db:connect"]
      resources = var.database_iam_connect_arns
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.function_keys

  name   = "least-privilege"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.this[each.key].json
}

resource "aws_iam_role_policy" "extra" {
  count = var.attach_extra_policy ? 1 : 0

  name   = "extra"
  role   = aws_iam_role.this["message"].id
  policy = var.extra_policy_json
}

################################################################################
# Functions
################################################################################

resource "aws_lambda_function" "this" {
  for_each = local.function_keys

  # checkov:skip=CKV_AWS_116:API Gateway invokes these functions synchronously; a dead-letter queue only receives failed asynchronous invocations.
  # checkov:skip=CKV_AWS_272:Packages are built and hashed by the project's own build (make layers) and deployed by Terraform from that path; Lambda code signing needs a Signer profile and signed S3 uploads, which this deployment path does not have.
  # checkov:skip=CKV_AWS_173:The environment holds configuration (names, URLs, modes), no secrets: the database password comes from Secrets Manager or IAM auth; Lambda encrypts it at rest with an AWS managed key.
  function_name = local.function_names[each.key]
  description   = "Order-support agent: ${each.key} (${each.key == "authorizer" ? "$connect REQUEST authorizer" : "WebSocket route handler"})"
  role          = aws_iam_role.this[each.key].arn

  filename         = var.function_packages[each.key]
  source_code_hash = filebase64sha256(var.function_packages[each.key])
  handler          = var.handler
  runtime          = var.runtime
  architectures    = [var.architecture]
  layers           = [for k in local.function_layers[each.key] : aws_lambda_layer_version.this[k].arn]

  memory_size                    = local.memory_sizes[each.key]
  timeout                        = local.timeouts[each.key]
  reserved_concurrent_executions = local.reserved[each.key]

  # A published version (for SnapStart and the alias) only for the message function.
  publish = each.key == "message"

  environment {
    variables = local.environment[each.key]
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  dynamic "snap_start" {
    for_each = each.key == "message" && local.snap_start ? [1] : []

    content {
      apply_on = "PublishedVersions"
    }
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc[each.key] ? [1] : []

    content {
      subnet_ids                  = var.subnet_ids
      security_group_ids          = var.security_group_ids
      ipv6_allowed_for_dual_stack = var.ipv6_allowed_for_dual_stack
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.auth_mode != "jwt" || (var.jwt_jwks_url != null && var.jwt_issuer != null && var.jwt_audience != null)
      error_message = "auth_mode = \"jwt\" needs jwt_jwks_url, jwt_issuer and jwt_audience."
    }

    precondition {
      condition     = alltrue([for layer in local.function_layers[each.key] : contains(keys(var.layer_packages), layer)])
      error_message = "function_layers names a layer that layer_packages does not have."
    }

    precondition {
      condition     = var.subnet_ids == null || length(coalesce(var.security_group_ids, [])) > 0
      error_message = "subnet_ids needs security_group_ids."
    }

    precondition {
      condition     = !var.attach_extra_policy || var.extra_policy_json != null
      error_message = "attach_extra_policy needs extra_policy_json."
    }

    precondition {
      condition     = var.create_log_kms_key || var.log_kms_key_arn != null
      error_message = "create_log_kms_key = false needs log_kms_key_arn."
    }

    precondition {
      condition     = length(var.bedrock_profile_model_arns) == 0 || length(local.bedrock_profile_arns) > 0
      error_message = "bedrock_profile_model_arns needs an inference profile in bedrock_model_arns (the models are allowed only through one)."
    }

    precondition {
      condition     = local.reserved_total == 0 || local.reserved_total <= var.account_concurrent_executions - 100
      error_message = "The functions reserve ${local.reserved_total} concurrent executions, but Lambda keeps at least 100 of the account's concurrency (account_concurrent_executions = ${var.account_concurrent_executions}) unreserved: lower reserved_concurrent_executions (null = unreserved), or raise the account's quota and account_concurrent_executions."
    }

    precondition {
      condition     = !var.database_iam_auth || length(var.database_iam_connect_arns) > 0
      error_message = "database_iam_auth needs database_iam_connect_arns (arn:aws:rds-db:<region>:<account>:dbuser:<proxy or db resource id>/<user>)."
    }
  }

  # The role must be able to write logs (and create ENIs) before the first invocation or VPC attachment.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_alias" "message" {
  name             = var.message_alias_name
  description      = "What API Gateway invokes for sendMessage and $default (SnapStart applies to published versions)"
  function_name    = aws_lambda_function.this["message"].function_name
  function_version = aws_lambda_function.this["message"].version
}

################################################################################
# Alarms: errors, throttles, p99 duration near the timeout
################################################################################

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each = local.function_keys

  alarm_name          = "${local.function_names[each.key]}-errors"
  alarm_description   = "${local.function_names[each.key]} raised errors (unhandled exceptions, timeouts)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.errors_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions          = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each = local.function_keys

  alarm_name          = "${local.function_names[each.key]}-throttles"
  alarm_description   = "${local.function_names[each.key]} was throttled (reserved or account concurrency exhausted)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions          = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "duration" {
  for_each = local.function_keys

  alarm_name          = "${local.function_names[each.key]}-duration-p99"
  alarm_description   = "p99 duration of ${local.function_names[each.key]} is above ${var.duration_alarm_threshold_percent}% of its ${local.timeouts[each.key]} s timeout."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  extended_statistic  = "p99"
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = local.timeouts[each.key] * 1000 * var.duration_alarm_threshold_percent / 100
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions          = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  tags = var.tags
}
