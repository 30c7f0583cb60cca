# The trace pipeline: the message function hands each turn's trace to a queue (one SendMessage; the
# trace in the bucket when it is over the SQS limit), and the trace forwarder takes it from there to
# MLflow, in batches, acknowledging only what MLflow took (ReportBatchItemFailures). What keeps
# failing goes to the dead-letter queue after max_receive_count attempts; its depth alarms
# (observability module) and `make trace-replay` moves it back (docs/observability.md).

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  function_name  = "${var.name}-trace-forwarder"
  log_group_name = "/aws/lambda/${local.function_name}"
  # SQS's advice for a Lambda event source: at least six times the function's timeout, so a message
  # is not offered again while a retried invocation may still hold it.
  visibility_timeout_s = 6 * var.timeout_s
  trace_prefix         = "traces/" # order_agent.tracing.S3_PREFIX
  in_vpc               = var.subnet_ids != null
}

################################################################################
# Queues
################################################################################

resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-traces-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600 # 14 days, SQS's longest: time to bring MLflow back and replay

  tags = var.tags
}

resource "aws_sqs_queue" "traces" {
  name                       = "${var.name}-traces"
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = local.visibility_timeout_s
  message_retention_seconds  = var.message_retention_s
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.traces.arn]
  })
}

################################################################################
# Bucket for traces over the SQS limit
################################################################################

module "bucket" {
  source = "../s3_bucket"

  bucket_prefix         = "${var.name}-traces-"
  force_destroy         = var.force_destroy
  kms_key_arn           = var.kms_key_arn
  expiration_days       = var.big_trace_expiration_days # longer than the queues keep the message naming it
  logging_target_bucket = var.logging_bucket_name
  logging_target_prefix = "traces/"

  tags = var.tags
}

################################################################################
# The forwarder
################################################################################

resource "aws_lambda_layer_version" "tracing" {
  layer_name               = "${var.name}-tracing"
  description              = "${var.name}: mlflow-tracing and the SageMaker plugin, the trace forwarder's alone"
  filename                 = var.tracing_layer_package
  source_code_hash         = filebase64sha256(var.tracing_layer_package)
  compatible_runtimes      = [var.runtime]
  compatible_architectures = [var.architecture]
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

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
  name               = local.function_name
  description        = "Execution role of the ${local.function_name} Lambda function"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }

  statement {
    sid       = "ConsumeTraceQueue"
    effect    = "Allow"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.traces.arn]
  }

  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []

    content {
      sid    = "VpcNetworkInterfaces"
      effect = "Allow"
      # What Lambda needs to attach the function to its subnets (AWSLambdaVPCAccessExecutionRole's set); the
      # Describe actions support no resource-level permissions and the interfaces do not exist beforehand.
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

  statement {
    sid       = "ReadBigTraces"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket.arn}/${local.trace_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]

    content {
      sid       = "DecryptBigTraces"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# The tracking server's API (the mlflow module's policy), when there is a SageMaker one.
resource "aws_iam_role_policy" "mlflow" {
  count = var.attach_mlflow_policy ? 1 : 0

  name   = "mlflow"
  role   = aws_iam_role.this.id
  policy = var.mlflow_policy_json

  lifecycle {
    precondition {
      condition     = var.mlflow_policy_json != null
      error_message = "attach_mlflow_policy needs mlflow_policy_json."
    }
  }
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:The SQS event source mapping invokes it synchronously; what it cannot deliver goes to the queue's dead-letter queue (redrive policy), not to a function DLQ.
  # checkov:skip=CKV_AWS_117:In the VPC when subnet_ids is given (the system gives its private subnets, for the MLflow interface endpoint); otherwise it reaches S3 and the tracking server through their public AWS endpoints with SigV4.
  # checkov:skip=CKV_AWS_272:Packages are built and hashed by the project's own build (make layers) and deployed by Terraform from that path; Lambda code signing needs a Signer profile and signed S3 uploads, which this deployment path does not have.
  # checkov:skip=CKV_AWS_173:The environment holds configuration (names, URLs), no secrets; Lambda encrypts it at rest with an AWS managed key.
  # checkov:skip=CKV_AWS_50:X-Ray would add xray:Put* permissions on "*" for a background function with its own logs.
  function_name = local.function_name
  description   = "Order-support agent: trace forwarder (trace queue -> MLflow)"
  role          = aws_iam_role.this.arn

  filename         = var.function_package
  source_code_hash = filebase64sha256(var.function_package)
  handler          = "handler.handler"
  runtime          = var.runtime
  architectures    = [var.architecture]
  # The shared layers (deps, agent) and its own, in the order the build lists them (FUNCTION_LAYERS).
  layers = [var.shared_layer_arns["deps"], aws_lambda_layer_version.tracing.arn, var.shared_layer_arns["agent"]]

  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = { for k, v in merge({
      POWERTOOLS_SERVICE_NAME           = var.name
      POWERTOOLS_LOG_LEVEL              = var.log_level
      MLFLOW_TRACKING_URI               = var.mlflow_tracking_uri
      MLFLOW_EXPERIMENT_ID              = var.mlflow_experiment_id
      MLFLOW_EXPERIMENT_NAME            = var.mlflow_experiment_name
      MLFLOW_DISABLE_TELEMETRY          = "true"
      TRACE_EXPORT_TIMEOUT_S            = tostring(var.export_timeout_s)
      MLFLOW_ENABLE_ASYNC_TRACE_LOGGING = "false"
    }, var.environment) : k => v if v != null }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []

    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  # The role must be able to write logs and create ENIs before the first invocation or VPC attachment.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = aws_sqs_queue.traces.arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_s
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }
}

################################################################################
# Alarm: the forwarder's own errors (the dead-letter queue's depth is the observability module's)
################################################################################

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${local.function_name}-errors"
  alarm_description   = "${local.function_name} raised errors (a whole batch comes back to the queue). Runbook: docs/runbook.md#traces-not-delivered."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions          = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  tags = var.tags
}

# The message function's permissions on the pipeline, for the agent module's role.
data "aws_iam_policy_document" "handoff" {
  statement {
    sid       = "HandOffTraces"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.traces.arn]
  }

  statement {
    sid       = "HandOffBigTraces"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${module.bucket.arn}/${local.trace_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]

    content {
      sid       = "EncryptBigTraces"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}
