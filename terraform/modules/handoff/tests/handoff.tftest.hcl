mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_cloudwatch_event_bus" {
    defaults = {
      arn = "arn:aws:events:us-east-1:123456789012:event-bus/order-agent-test-handoffs"
    }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:us-east-1:123456789012:rule/order-agent-test-handoffs/order-agent-test-handoffs"
    }
  }

  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:us-east-1:123456789012:order-agent-test-handoffs"
    }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-east-1:123456789012:order-agent-test-queue"
      url = "https://sqs.us-east-1.amazonaws.com/123456789012/order-agent-test-queue"
    }
  }
}

variables {
  name                   = "order-agent-test"
  message_log_group_name = "/aws/lambda/order-agent-test-message"
  alarm_sns_topic_arn    = "arn:aws:sns:us-east-1:123456789012:order-agent-test-alarms"
}

run "by_default_a_bus_and_a_rule_and_nothing_to_deliver_to" {
  command = apply

  assert {
    condition     = aws_cloudwatch_event_bus.this.name == "order-agent-test-handoffs"
    error_message = "The bus must be <name>-handoffs."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this.event_pattern) == { source = ["order-agent"], "detail-type" = ["Conversation handed off"] }
    error_message = "The rule must match exactly what order_agent/handoff.py publishes."
  }

  assert {
    condition     = aws_cloudwatch_event_rule.this.event_bus_name == aws_cloudwatch_event_bus.this.name
    error_message = "The rule must be on the handoff bus."
  }

  assert {
    condition     = length(aws_sns_topic.this) == 0 && length(aws_sqs_queue.inbox) == 0 && length(aws_sqs_queue.undelivered) == 0 && length(module.kms_key) == 0
    error_message = "Without an email or an inbox, no topic, queue or key is made."
  }

  assert {
    condition     = output.sns_topic_arn == null && output.inbox_queue_url == null
    error_message = "No topic and no inbox: their outputs are null."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.not_published) == 1 && strcontains(aws_cloudwatch_log_metric_filter.not_published[0].pattern, "$.handoff_published IS FALSE")
    error_message = "A handoff that could not be published (the turn record's handoff_published = false) must be alarmed."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.not_published[0].alarm_actions == toset([var.alarm_sns_topic_arn])
    error_message = "The alarm must notify the alarm topic."
  }
}

run "email_and_inbox_are_encrypted_targets_with_a_dead_letter_queue" {
  command = apply

  variables {
    notification_email = "helpdesk@example.com"
    create_inbox_queue = true
  }

  assert {
    condition     = aws_sns_topic.this[0].kms_master_key_id == module.kms_key[0].key_arn
    error_message = "The topic must be encrypted with the module's key."
  }

  assert {
    condition     = aws_sqs_queue.inbox[0].kms_master_key_id == module.kms_key[0].key_arn && aws_sqs_queue.undelivered[0].kms_master_key_id == module.kms_key[0].key_arn
    error_message = "The queues must be encrypted with the module's key."
  }

  assert {
    condition     = aws_sns_topic_subscription.email[0].protocol == "email" && aws_sns_topic_subscription.email[0].endpoint == "helpdesk@example.com"
    error_message = "notification_email must be subscribed by email."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_event_target.this)) == toset(["email", "inbox"])
    error_message = "The rule must target the topic and the inbox."
  }

  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.this : one(t.dead_letter_config).arn == aws_sqs_queue.undelivered[0].arn])
    error_message = "Every target must send what it could not deliver to the dead-letter queue."
  }

  assert {
    condition = alltrue([
      for d in data.aws_iam_policy_document.queue : length(d.statement) == 1 &&
      toset(one(d.statement[0].principals).identifiers) == toset(["events.amazonaws.com"]) &&
      tolist(one(d.statement[0].condition).values) == tolist([aws_cloudwatch_event_rule.this.arn])
    ]) && toset(keys(data.aws_iam_policy_document.queue)) == toset(["inbox", "undelivered"])
    error_message = "Only EventBridge, for this rule, may send into the queues."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.topic[0].statement : tolist(one(s.condition).values) if s.sid == "HandoffRule"][0] == tolist([aws_cloudwatch_event_rule.this.arn])
    error_message = "Only this rule may publish to the topic."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.undelivered) == 1
    error_message = "Events in the dead-letter queue must be alarmed."
  }

  assert {
    condition     = output.inbox_queue_url != null && output.sns_topic_arn != null
    error_message = "The inbox and topic outputs must be set."
  }
}

run "a_bad_email_is_refused" {
  command = plan

  variables {
    notification_email = "not an address"
  }

  expect_failures = [var.notification_email]
}
