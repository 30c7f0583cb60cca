variable "region" {
  type        = string
  description = "AWS region (Bedrock model access must be enabled there)."
  default     = "us-east-1"
}

variable "build_dir" {
  type        = string
  description = "Output of `make layers` (layer-*.zip, function-*.zip)."
  default     = "../../../build/lambda"
}

variable "dataset" {
  type        = string
  description = "Data set loaded into the empty database: tau-retail or demo."
  default     = "tau-retail"
}

variable "bedrock_model_id" {
  type        = string
  description = "Bedrock model or inference-profile id; the agent's Bedrock permissions are derived from it (see the system module)."
  default     = "us.anthropic.claude-sonnet-4-6"
}

variable "bedrock_model_arns" {
  type        = list(string)
  description = "ARNs the agent may invoke directly; null derives them from bedrock_model_id (the inference profile in this region)."
  default     = null
}

variable "bedrock_profile_model_arns" {
  type        = list(string)
  description = "Foundation-model ARNs the agent may invoke only through the inference profile; null derives them from bedrock_model_id (the model in any region)."
  default     = null
}

variable "api_gateway_cloudwatch_role" {
  type        = string
  description = "API Gateway's CloudWatch role in this account and region, which the stage's logs need: none (no stage logs), existing (already set) or managed (set here). See docs/deployment.md."
  default     = "none"
}

variable "allow_anonymous_chat" {
  type        = bool
  description = "Without jwt, dev runs anonymous chat (AUTH_MODE=none): anyone with the URL can chat and spend model tokens. The plan refuses that unless this is true, so dev is never deployed open by accident."
  default     = false

  validation {
    condition     = var.jwt != null || var.allow_anonymous_chat
    error_message = "Without jwt (a token issuer), dev would be open to anyone with the URL (AUTH_MODE=none). Set jwt, or allow_anonymous_chat = true to deploy anonymous chat on purpose."
  }
}

variable "jwt" {
  type = object({
    jwks_url       = string
    issuer         = string
    audience       = string
    cognito_domain = optional(string)
  })
  description = "Token issuer; null runs dev without authentication (AUTH_MODE=none), which needs allow_anonymous_chat = true."
  default     = null
}

variable "enable_mlflow" {
  type        = bool
  description = "Create the SageMaker MLflow tracking server (billed per hour)."
  default     = false
}

variable "site_dir" {
  type        = string
  description = "Built chat site to upload (web/dist); null: config.json only."
  default     = null
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Email addresses subscribed to the alarm topic (each confirms once from AWS's email); empty: subscribe someone outside Terraform."
  default     = []
}

variable "handoff_notification_email" {
  type        = string
  description = "The helpdesk's address: every handoff event by email (through a KMS-encrypted SNS topic; confirm the subscription once). Null: no topic."
  default     = null
}

variable "handoff_inbox_queue" {
  type        = bool
  description = "Also deliver every handoff event to an SQS queue (<name>-handoff-inbox) a helpdesk integration polls."
  default     = false
}

variable "monthly_budget_usd" {
  type        = number
  description = "A monthly AWS Budgets cost budget for the account (USD), notifying the alarm topic at 80% of actual and 100% of forecast spend; null: none."
  default     = null
}

variable "budget_email_addresses" {
  type        = list(string)
  description = "Email addresses the budget notifies directly, besides the alarm topic."
  default     = []
}

variable "chat_limits" {
  type = object({
    rate_limit_window_s         = optional(number)
    max_messages_per_connection = optional(number)
    max_messages_per_principal  = optional(number)
    max_turns_per_conversation  = optional(number)
    max_tokens_per_conversation = optional(number)
  })
  description = "Abuse and cost limits (docs/security.md), each attribute optional: messages per connection and per principal in a window of rate_limit_window_s seconds, turns and model tokens per conversation; 0 turns one off. Defaults: 60 s, 20, 60, 50, 500000."
  default     = {}
}

variable "reserved_concurrent_executions" {
  type        = map(number)
  description = "Reserved concurrency per function over the defaults { connect = 25, disconnect = 10, message = 100, authorizer = 25 with jwt }; null leaves one unreserved. In an account whose Lambda concurrency quota is below 260 (new accounts may have 10), set every one to null, or raise the quota."
  default     = {}
}

variable "account_concurrent_executions" {
  type        = number
  description = "The account's Lambda concurrency quota in this region (Service Quotas); the reservations must leave 100 of it unreserved."
  default     = 1000
}
