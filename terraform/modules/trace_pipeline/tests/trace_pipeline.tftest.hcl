mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-east-1:123456789012:order-agent-traces"
      url = "https://sqs.us-east-1.amazonaws.com/123456789012/order-agent-traces"
    }
  }

  mock_resource "aws_lambda_layer_version" {
    defaults = {
      arn = "arn:aws:lambda:us-east-1:123456789012:layer:order-agent-tracing:1"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn = "arn:aws:lambda:us-east-1:123456789012:function:order-agent-trace-forwarder"
    }
  }
}

variables {
  name                  = "order-agent"
  function_package      = "tests/fixtures/package.txt"
  tracing_layer_package = "tests/fixtures/package.txt"
  shared_layer_arns = {
    deps  = "arn:aws:lambda:us-east-1:123456789012:layer:order-agent-deps:1"
    agent = "arn:aws:lambda:us-east-1:123456789012:layer:order-agent-agent:1"
  }
  mlflow_tracking_uri = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/order-agent"
  alarm_sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:order-agent-alarms"
}

run "a_queue_a_dead_letter_queue_and_a_forwarder_that_reports_partial_batches" {
  command = apply

  assert {
    condition     = jsondecode(aws_sqs_queue.traces.redrive_policy).maxReceiveCount == 5
    error_message = "A trace must go to the dead-letter queue after max_receive_count attempts."
  }

  assert {
    condition     = aws_sqs_queue.traces.visibility_timeout_seconds == 6 * 60
    error_message = "The visibility timeout must be six times the forwarder's timeout."
  }

  assert {
    condition     = aws_sqs_queue.traces.sqs_managed_sse_enabled && aws_sqs_queue.dead_letters.sqs_managed_sse_enabled
    error_message = "Both queues must be encrypted."
  }

  assert {
    condition     = aws_sqs_queue.dead_letters.message_retention_seconds == 1209600
    error_message = "The dead-letter queue must keep what it holds as long as SQS allows (14 days)."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "The mapping must take partial batch responses: one bad trace must not bring its batch back."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.batch_size == 10 && aws_lambda_event_source_mapping.this.scaling_config[0].maximum_concurrency == 2
    error_message = "Batches of 10, at most 2 at once by default."
  }

  assert {
    condition     = length(aws_lambda_function.this.layers) == 3 && aws_lambda_function.this.layers[1] == aws_lambda_layer_version.tracing.arn
    error_message = "The forwarder gets deps, its own tracing layer and agent."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["MLFLOW_TRACKING_URI"] == var.mlflow_tracking_uri
    error_message = "The forwarder writes to the tracking server it is given."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.this.statement : s.actions])) == toset([
      "logs:CreateLogStream", "logs:PutLogEvents", "sqs:ReceiveMessage", "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "s3:GetObject",
    ])
    error_message = "The forwarder's role: its logs, its queue, and reading big traces; nothing else."
  }

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.handoff.statement : s.actions])) == toset(["sqs:SendMessage", "s3:PutObject"])
    error_message = "The message function may only send to the queue and put big traces."
  }

  assert {
    condition     = length(aws_iam_role_policy.mlflow) == 0
    error_message = "No MLflow policy unless asked for."
  }
}

run "a_bucket_key_is_usable_by_both_ends" {
  command = apply

  variables {
    kms_key_arn          = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    attach_mlflow_policy = true
    mlflow_policy_json   = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }

  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.this.statement : s.actions]), "kms:Decrypt")
    error_message = "The forwarder must be able to decrypt big traces."
  }

  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.handoff.statement : s.actions]), "kms:GenerateDataKey")
    error_message = "The message function must be able to encrypt big traces."
  }

  assert {
    condition     = length(aws_iam_role_policy.mlflow) == 1
    error_message = "attach_mlflow_policy attaches the tracking server's policy."
  }
}
