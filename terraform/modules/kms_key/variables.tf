variable "description" {
  description = "What the key encrypts (shown in the KMS console)."
  type        = string
}

variable "alias_name" {
  description = "Alias of the key, without the \"alias/\" prefix. Null: no alias."
  type        = string
  default     = null

  validation {
    condition     = var.alias_name == null || can(regex("^[A-Za-z0-9/_-]{1,250}$", var.alias_name)) && !startswith(coalesce(var.alias_name, "x"), "aws/")
    error_message = "alias_name may contain letters, digits, '/', '_' and '-', and must not start with \"aws/\"."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled deletion of the key completes."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30 && floor(var.deletion_window_in_days) == var.deletion_window_in_days
    error_message = "deletion_window_in_days must be a whole number from 7 to 30."
  }
}

variable "log_group_arns" {
  description = "CloudWatch Logs log group ARNs (`*` wildcards allowed) whose logs the key may encrypt. Empty: CloudWatch Logs gets no access."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.log_group_arns : can(regex("^arn:[^:]+:logs:[^:]+:[^:]+:log-group:.+$", arn))])
    error_message = "log_group_arns must be CloudWatch Logs log group ARNs (arn:aws:logs:<region>:<account>:log-group:<name>)."
  }
}

variable "service_publishers" {
  description = "AWS service principals (e.g. events.amazonaws.com) that may use the key to deliver messages into an SNS topic or SQS queue it encrypts (kms:GenerateDataKey*, kms:Decrypt), each only for the listed source ARNs (aws:SourceArn, e.g. an EventBridge rule). Empty: none."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for service, arns in var.service_publishers : can(regex("^[a-z0-9-]+\\.amazonaws\\.com$", service)) && length(arns) > 0])
    error_message = "service_publishers maps a service principal (<service>.amazonaws.com) to at least one source ARN."
  }
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
}
