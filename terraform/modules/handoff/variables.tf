variable "name" {
  type        = string
  description = "Name prefix of the bus, rule, topic, queues, key alias and alarms (the system's name, e.g. order-agent-prod)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "notification_email" {
  type        = string
  description = "An address (e.g. the helpdesk's inbox) that gets every handoff event by email, through a KMS-encrypted SNS topic; it confirms the subscription once from AWS's email. Null: no topic."
  default     = null

  validation {
    condition     = var.notification_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.notification_email))
    error_message = "notification_email must be an email address."
  }
}

variable "create_inbox_queue" {
  type        = bool
  description = "Also deliver every handoff event to an SQS queue (<name>-handoff-inbox) that a helpdesk integration polls. The local environment turns it on to show the events."
  default     = false
}

variable "inbox_retention_seconds" {
  type        = number
  description = "How long an unread event stays in the inbox queue (60 to 1209600 seconds)."
  default     = 1209600

  validation {
    condition     = var.inbox_retention_seconds >= 60 && var.inbox_retention_seconds <= 1209600
    error_message = "inbox_retention_seconds must be from 60 to 1209600 (14 days)."
  }
}

variable "kms_key_deletion_window_days" {
  type        = number
  description = "Waiting period before a scheduled deletion of the topic's and queues' KMS key completes (7-30)."
  default     = 30
}

variable "message_log_group_name" {
  type        = string
  description = "Log group of the message function, whose turn records count handoffs whose event could not be published. Null: no such alarm."
  default     = null
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the HandoffsNotPublished metric (default: name, as the observability module's turn metrics)."
  default     = null
}

variable "alarm_sns_topic_arn" {
  type        = string
  description = "SNS topic the alarms notify (the system's alarm topic). Null: the alarms notify nobody."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
