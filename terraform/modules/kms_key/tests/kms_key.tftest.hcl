mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  description = "CloudWatch Logs of the test functions"
  log_group_arns = [
    "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/b",
    "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/a*",
  ]
}

run "log_key_lets_cloudwatch_logs_use_it_for_the_listed_groups_only" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.deletion_window_in_days == 30
    error_message = "The key must rotate and keep the 30-day deletion window by default."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.sid] == ["EnableIamPolicies", "AllowCloudWatchLogsForListedLogGroups"]
    error_message = "The policy must have the account statement and the CloudWatch Logs statement."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.this.statement : s if s.sid == "AllowCloudWatchLogsForListedLogGroups"
    ]).principals == toset([{ type = "Service", identifiers = toset(["logs.us-east-1.amazonaws.com"]) }])
    error_message = "Only the regional CloudWatch Logs service may use the key."
  }

  assert {
    condition = jsonencode([
      for c in one([for s in data.aws_iam_policy_document.this.statement : s if s.sid == "AllowCloudWatchLogsForListedLogGroups"]).condition :
      [c.test, c.variable, tolist(c.values)]
      ]) == jsonencode([["ArnLike", "kms:EncryptionContext:aws:logs:arn", [
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/a*",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/b",
    ]]])
    error_message = "CloudWatch Logs must be limited to the listed log groups (sorted, so the plan is stable)."
  }

  assert {
    condition     = length(aws_kms_alias.this) == 0
    error_message = "No alias unless alias_name is set."
  }
}

run "data_key_has_no_cloudwatch_statement_and_an_alias" {
  command = plan

  variables {
    log_group_arns          = []
    alias_name              = "orders-conversation-store"
    deletion_window_in_days = 7
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.sid] == ["EnableIamPolicies"]
    error_message = "Without log groups the policy must only delegate to IAM."
  }

  assert {
    condition     = aws_kms_alias.this[0].name == "alias/orders-conversation-store" && aws_kms_key.this.deletion_window_in_days == 7
    error_message = "The alias and the deletion window must follow the inputs."
  }
}

run "rejects_what_is_not_a_log_group_arn" {
  command = plan

  variables {
    log_group_arns = ["arn:aws:s3:::a-bucket"]
  }

  expect_failures = [var.log_group_arns]
}

run "rejects_an_aws_reserved_alias" {
  command = plan

  variables {
    alias_name = "aws/logs"
  }

  expect_failures = [var.alias_name]
}

run "a_publisher_service_may_use_the_key_for_its_listed_sources_only" {
  command = plan

  variables {
    log_group_arns     = []
    service_publishers = { "events.amazonaws.com" = ["arn:aws:events:us-east-1:123456789012:rule/bus/handoffs"] }
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.sid] == ["EnableIamPolicies", "AllowPublisherEvents"]
    error_message = "The policy must have the account statement and one statement per publishing service."
  }

  assert {
    condition = jsonencode([
      for s in data.aws_iam_policy_document.this.statement : [s.actions, s.principals, s.condition] if s.sid == "AllowPublisherEvents"
      ]) == jsonencode([[
        toset(["kms:Decrypt", "kms:GenerateDataKey*"]),
        toset([{ type = "Service", identifiers = toset(["events.amazonaws.com"]) }]),
        toset([{ test = "ArnEquals", variable = "aws:SourceArn", values = ["arn:aws:events:us-east-1:123456789012:rule/bus/handoffs"] }]),
    ]])
    error_message = "EventBridge may only make and read data keys, and only for the listed rule."
  }
}

run "a_publisher_needs_a_source_arn" {
  command = plan

  variables {
    service_publishers = { "events.amazonaws.com" = [] }
  }

  expect_failures = [var.service_publishers]
}
