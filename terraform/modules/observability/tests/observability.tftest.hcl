mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:us-east-1:123456789012:order-agent-test-alarms"
    }
  }

  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = {
      arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:order-agent-test"
    }
  }
}

variables {
  name                   = "order-agent-test"
  websocket_api_id       = "abc123"
  websocket_stage_name   = "prod"
  function_names         = { connect = "order-agent-test-connect", message = "order-agent-test-message" }
  message_log_group_name = "/aws/lambda/order-agent-test-message"
  table_name             = "order-agent-test-conversations"
  db_instance_id         = "order-agent-test"
  db_proxy_name          = "order-agent-test"
  bedrock_model_id       = "us.anthropic.claude-sonnet-4-6"
}

run "every_alarm_notifies_the_encrypted_topic" {
  command = apply

  assert {
    condition     = aws_sns_topic.this[0].kms_master_key_id == aws_kms_key.this[0].arn && aws_kms_key.this[0].enable_key_rotation
    error_message = "The topic must be encrypted with its own rotating KMS key."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : a.alarm_actions == toset([output.sns_topic_arn]) && a.ok_actions == toset([output.sns_topic_arn])])
    error_message = "Every alarm must notify the topic when it fires and when it clears."
  }

  assert {
    condition     = length(output.alarm_arns) == 11
    error_message = "With a database, a proxy and a Bedrock model every alarm is created (11)."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 0 && length(aws_budgets_budget.this) == 0
    error_message = "No email subscription and no budget unless asked for."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["db-free-storage"].threshold == 1073741824 && aws_cloudwatch_metric_alarm.this["db-proxy-borrow-latency"].threshold == 100000
    error_message = "Thresholds are converted to the metrics' units (bytes, microseconds)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["api-integrationerror"].dimensions["ApiId"] == "abc123" && aws_cloudwatch_metric_alarm.this["api-integrationerror"].dimensions["Stage"] == "prod"
    error_message = "The API alarms watch the WebSocket stage."
  }
}

run "metric_filters_read_the_turn_records" {
  command = plan

  assert {
    condition     = alltrue([for f in aws_cloudwatch_log_metric_filter.turn : f.log_group_name == "/aws/lambda/order-agent-test-message" && strcontains(f.pattern, "$.message = \"turn\"")])
    error_message = "The metric filters must read the message function's turn records."
  }

  assert {
    condition     = aws_cloudwatch_log_metric_filter.turn["ModelCostUSD"].metric_transformation[0].value == "$.cost_usd" && aws_cloudwatch_log_metric_filter.turn["ModelCostUSD"].metric_transformation[0].namespace == "order-agent-test"
    error_message = "The model cost metric is the turn record's cost_usd, in the system's namespace."
  }
}

run "the_dashboard_shows_turns_cost_and_health" {
  command = plan

  assert {
    condition = alltrue([for t in ["Turns", "ModelCostUSD", "conversation_cost_usd", "p99", "AWS/DynamoDB", "AWS/RDS", "InvocationThrottles", "ConcurrentExecutions"] :
    strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, t)])
    error_message = "The dashboard must show turns, cost per conversation, latency percentiles, DynamoDB, RDS, Bedrock and concurrency."
  }
}

run "email_subscriptions_and_a_budget" {
  command = apply

  variables {
    alarm_email_addresses  = ["oncall@example.com"]
    monthly_budget_usd     = 250
    budget_email_addresses = ["finance@example.com"]
  }

  assert {
    condition     = aws_sns_topic_subscription.email["oncall@example.com"].protocol == "email"
    error_message = "Each alarm email address gets an email subscription."
  }

  assert {
    condition     = aws_budgets_budget.this[0].limit_amount == "250.00" && aws_budgets_budget.this[0].time_unit == "MONTHLY"
    error_message = "The budget is the monthly amount given."
  }

  assert {
    condition     = alltrue([for n in aws_budgets_budget.this[0].notification : n.subscriber_sns_topic_arns == toset([output.sns_topic_arn])])
    error_message = "The budget notifies the alarm topic."
  }
}

run "an_existing_topic_and_no_database" {
  command = plan

  variables {
    create_sns_topic = false
    sns_topic_arn    = "arn:aws:sns:us-east-1:123456789012:oncall"
    db_instance_id   = null
    db_proxy_name    = null
    bedrock_model_id = null
  }

  assert {
    condition     = length(aws_sns_topic.this) == 0 && length(aws_kms_key.this) == 0 && output.sns_topic_arn == "arn:aws:sns:us-east-1:123456789012:oncall"
    error_message = "With create_sns_topic = false the given topic is used and none is created."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["lambda-account-concurrency"].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:oncall"])
    error_message = "Alarms notify the given topic."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 5 && !contains(keys(aws_cloudwatch_metric_alarm.this), "db-cpu")
    error_message = "No database or Bedrock alarms without a database or a model."
  }
}
