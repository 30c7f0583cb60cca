variable "name" {
  type        = string
  description = "Name prefix of the topic, key alias, alarms, dashboard and budget (the system's name, e.g. order-agent-prod)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

################################################################################
# Where alarms go
################################################################################

variable "create_sns_topic" {
  type        = bool
  description = "Create the KMS-encrypted SNS topic every alarm notifies. false: use sns_topic_arn (e.g. an organisation's on-call topic)."
  default     = true
}

variable "sns_topic_arn" {
  type        = string
  description = "With create_sns_topic = false: the existing SNS topic every alarm (and the budget) notifies. It must allow cloudwatch.amazonaws.com (and budgets.amazonaws.com) to publish, and their use of its KMS key."
  default     = null

  validation {
    condition     = var.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", var.sns_topic_arn))
    error_message = "sns_topic_arn must be an SNS topic ARN."
  }
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Email addresses subscribed to the created topic (each must confirm the subscription from the email AWS sends). Empty: subscribe someone (email, chat, pager) outside Terraform."
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_email_addresses must be email addresses."
  }
}

variable "kms_key_deletion_window_days" {
  type        = number
  description = "Waiting period before a scheduled deletion of the topic's KMS key completes (7-30)."
  default     = 30
}

################################################################################
# What is watched
################################################################################

variable "websocket_api_id" {
  type        = string
  description = "ID of the WebSocket API (metrics dimension ApiId)."
}

variable "websocket_stage_name" {
  type        = string
  description = "Stage of the WebSocket API (metrics dimension Stage)."
}

variable "function_names" {
  type        = map(string)
  description = "Lambda function names by role; `message` is the turn-handling function (its log group carries the turn records)."

  validation {
    condition     = contains(keys(var.function_names), "message")
    error_message = "function_names must contain the message function."
  }
}

variable "message_log_group_name" {
  type        = string
  description = "Log group of the message function: its \"turn\" records feed the metric filters and the dashboard's Logs Insights widgets."
}

variable "table_name" {
  type        = string
  description = "DynamoDB table of the conversations (throttle alarms, dashboard)."
}

variable "db_instance_id" {
  type        = string
  description = "RDS DB instance identifier (CPU, storage and connection alarms). null: no database alarms or widgets."
  default     = null
}

variable "db_proxy_name" {
  type        = string
  description = "RDS Proxy name (authentication-failure and borrow-latency alarms). null: none."
  default     = null
}

variable "trace_dead_letter_queue_name" {
  type        = string
  description = "The trace pipeline's dead-letter queue: an alarm when it holds a trace. null: no trace pipeline."
  default     = null
}

variable "bedrock_model_id" {
  type        = string
  description = "The model or inference-profile id the agent calls, as the AWS/Bedrock metrics name it (dimension ModelId). null: no Bedrock alarm or widgets."
  default     = null
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the metrics derived from the turn records. null: the name."
  default     = null
}

################################################################################
# Thresholds
################################################################################

variable "alarm_period_seconds" {
  type        = number
  description = "Period of the alarms' metrics, in seconds (60 or a multiple of 60)."
  default     = 300

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0
    error_message = "alarm_period_seconds must be 60 or a multiple of 60."
  }
}

variable "alarm_evaluation_periods" {
  type        = number
  description = "Consecutive periods over the threshold before an error or throttle alarm fires (the RDS CPU alarm takes three)."
  default     = 1

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be a whole number of at least 1."
  }
}

variable "api_errors_alarm_threshold" {
  type        = number
  description = "IntegrationError (or ExecutionError) count of the WebSocket stage in one period that fires its alarm."
  default     = 5
}

variable "db_cpu_alarm_threshold_percent" {
  type        = number
  description = "Average CPU of the DB instance (percent, three periods) that fires its alarm."
  default     = 80
}

variable "db_free_storage_alarm_threshold_gib" {
  type        = number
  description = "Free storage of the DB instance (GiB) under which its alarm fires. Storage autoscaling grows the volume at 10% free; this fires when it could not (maximum reached, or its 6-hour cool-down)."
  default     = 1
}

variable "db_connections_alarm_threshold" {
  type        = number
  description = "DatabaseConnections of the DB instance that fires its alarm: about 80% of its max_connections (PostgreSQL on RDS: LEAST(DBInstanceClassMemory/9531392, 5000); about 80 on db.t4g.micro, 400 on db.t4g.medium)."
  default     = 60
}

variable "db_proxy_borrow_latency_alarm_ms" {
  type        = number
  description = "Average time (ms) the RDS Proxy takes to hand a client a database connection (DatabaseConnectionsBorrowLatency) that fires its alarm."
  default     = 100
}

variable "bedrock_throttles_alarm_threshold" {
  type        = number
  description = "Bedrock InvocationThrottles of the model in one period that fire its alarm (the SDK retries each; a few are absorbed)."
  default     = 5
}

variable "account_concurrency_alarm_threshold" {
  type        = number
  description = "Account-wide Lambda ConcurrentExecutions (maximum in a period) that fires its alarm: about 80% of the account's concurrency quota in the region (1,000 by default; new accounts may have less — see Service Quotas)."
  default     = 800
}

################################################################################
# Dashboard and budget
################################################################################

variable "create_dashboard" {
  type        = bool
  description = "Create the system's CloudWatch dashboard (free for the account's first three; US$3/month each after)."
  default     = true
}

variable "dashboard_alarm_arns" {
  type        = list(string)
  description = "Alarms of other modules (the functions' errors, throttles and duration) shown on the dashboard's alarm status widget, besides this module's own."
  default     = []
}

variable "monthly_budget_usd" {
  type        = number
  description = "An AWS Budgets cost budget for the month, in USD: notifies the topic (and budget_email_addresses) at 80% of actual and 100% of forecast spend. It covers the whole account unless budget_cost_filters narrows it. null: no budget."
  default     = null

  validation {
    condition     = var.monthly_budget_usd == null || try(var.monthly_budget_usd > 0, false)
    error_message = "monthly_budget_usd must be a positive amount or null."
  }
}

variable "budget_email_addresses" {
  type        = list(string)
  description = "Email addresses the budget notifies directly (besides the topic)."
  default     = []
}

variable "budget_cost_filters" {
  type        = map(list(string))
  description = "Cost filters of the budget (AWS Budgets CostFilters), e.g. { TagKeyValue = [\"user:system$order-agent-prod\"] } once the `system` tag is activated as a cost allocation tag. Empty: the whole account."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource."
  default     = {}
}
