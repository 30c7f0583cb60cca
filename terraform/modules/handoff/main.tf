# Handoffs to the support team: the message function puts one event per handoff on this bus
# (order_agent/handoff.py); a rule sends the handoff events to the targets asked for, and anyone
# else (a helpdesk integration) can add rules of their own to the bus.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # What order_agent/handoff.py puts on the bus (EVENT_SOURCE, DETAIL_TYPE); a unit test compares them.
  event_source = "order-agent"
  detail_type  = "Conversation handed off"

  create_topic = var.notification_email != null
  any_target   = local.create_topic || var.create_inbox_queue
  # EventBridge delivers to a target for 24 hours; what it could not deliver goes to this queue.
  target_retry_seconds = 86400
}

resource "aws_cloudwatch_event_bus" "this" {
  name = "${var.name}-handoffs"

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  name           = "${var.name}-handoffs"
  description    = "Conversations the agent handed to the support team"
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = jsonencode({ source = [local.event_source], "detail-type" = [local.detail_type] })

  tags = var.tags
}

################################################################################
# The key of the topic and queues: EventBridge may use it for this rule's deliveries only
################################################################################

module "kms_key" {
  source = "../kms_key"
  count  = local.any_target ? 1 : 0

  description             = "${var.name}: handoff notifications (SNS topic, SQS queues)"
  alias_name              = "${var.name}-handoffs"
  deletion_window_in_days = var.kms_key_deletion_window_days
  service_publishers      = { "events.amazonaws.com" = [aws_cloudwatch_event_rule.this.arn] }

  tags = var.tags
}

# Who may send into a queue of this module: EventBridge, for this rule only.
data "aws_iam_policy_document" "queue" {
  for_each = local.queues

  statement {
    sid       = "HandoffRule"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this.arn]
    }
  }
}

locals {
  queues = merge(
    var.create_inbox_queue ? { inbox = aws_sqs_queue.inbox[0].arn } : {},
    local.any_target ? { undelivered = aws_sqs_queue.undelivered[0].arn } : {},
  )
  queue_urls = merge(
    var.create_inbox_queue ? { inbox = aws_sqs_queue.inbox[0].url } : {},
    local.any_target ? { undelivered = aws_sqs_queue.undelivered[0].url } : {},
  )
}

resource "aws_sqs_queue_policy" "this" {
  for_each = local.queues

  queue_url = local.queue_urls[each.key]
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

################################################################################
# Targets: an email topic, an inbox queue; a dead-letter queue for what neither received
################################################################################

resource "aws_sns_topic" "this" {
  count = local.create_topic ? 1 : 0

  name              = "${var.name}-handoffs"
  display_name      = "${var.name} handoffs"
  kms_master_key_id = module.kms_key[0].key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "topic" {
  count = local.create_topic ? 1 : 0

  statement {
    sid       = "HandoffRule"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this[0].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this.arn]
    }
  }

  statement {
    sid       = "OwnerAccount"
    effect    = "Allow"
    actions   = ["sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.this[0].arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  count = local.create_topic ? 1 : 0

  arn    = aws_sns_topic.this[0].arn
  policy = data.aws_iam_policy_document.topic[0].json
}

resource "aws_sns_topic_subscription" "email" {
  count = local.create_topic ? 1 : 0

  topic_arn = aws_sns_topic.this[0].arn
  protocol  = "email"
  endpoint  = var.notification_email
}

resource "aws_sqs_queue" "inbox" {
  count = var.create_inbox_queue ? 1 : 0

  name                      = "${var.name}-handoff-inbox"
  kms_master_key_id         = module.kms_key[0].key_arn
  message_retention_seconds = var.inbox_retention_seconds

  tags = var.tags
}

resource "aws_sqs_queue" "undelivered" {
  count = local.any_target ? 1 : 0

  name                      = "${var.name}-handoffs-undelivered"
  kms_master_key_id         = module.kms_key[0].key_arn
  message_retention_seconds = 1209600 # 14 days, SQS's longest: time to find out why and deliver by hand

  tags = var.tags
}

locals {
  targets = merge(
    local.create_topic ? { email = aws_sns_topic.this[0].arn } : {},
    var.create_inbox_queue ? { inbox = aws_sqs_queue.inbox[0].arn } : {},
  )
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.targets

  rule           = aws_cloudwatch_event_rule.this.name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = each.key
  arn            = each.value

  retry_policy {
    maximum_event_age_in_seconds = local.target_retry_seconds
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.undelivered[0].arn
  }

  depends_on = [aws_sqs_queue_policy.this, aws_sns_topic_policy.this]
}

################################################################################
# Alarms: a handoff the helpdesk was not told about
################################################################################

resource "aws_cloudwatch_metric_alarm" "undelivered" {
  count = local.any_target ? 1 : 0

  alarm_name          = "${var.name}-handoffs-undelivered"
  alarm_description   = "EventBridge could not deliver a handoff event to its target within 24 hours; it is in ${aws_sqs_queue.undelivered[0].name} (docs/runbook.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.undelivered[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions          = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]

  tags = var.tags
}

# The message function's turn record says `handoff_published: false` when PutEvents failed.
resource "aws_cloudwatch_log_metric_filter" "not_published" {
  count = var.message_log_group_name == null ? 0 : 1

  name           = "${var.name}-handoffs-not-published"
  log_group_name = var.message_log_group_name
  pattern        = "{ $.message = \"turn\" && $.handoff_published IS FALSE }"

  metric_transformation {
    name      = "HandoffsNotPublished"
    namespace = coalesce(var.metric_namespace, var.name)
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "not_published" {
  count = var.message_log_group_name == null ? 0 : 1

  alarm_name          = "${var.name}-handoffs-not-published"
  alarm_description   = "A conversation was handed off but its event could not be put on ${aws_cloudwatch_event_bus.this.name}: the helpdesk was not told (docs/runbook.md)."
  namespace           = coalesce(var.metric_namespace, var.name)
  metric_name         = "HandoffsNotPublished"
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
