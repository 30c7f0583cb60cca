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

variable "jwt" {
  type = object({
    jwks_url       = string
    issuer         = string
    audience       = string
    cognito_domain = optional(string)
  })
  description = "Token issuer (e.g. a Cognito user pool and app client); prod always authenticates."
}

variable "enable_mlflow" {
  type        = bool
  description = "Create the SageMaker MLflow tracking server (billed per hour)."
  default     = true
}

variable "site_dir" {
  type        = string
  description = "Built chat site to upload (web/dist); null: config.json only."
  default     = null
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the database and the conversation table; set false and apply before `make destroy ENV=prod`."
  default     = true
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

variable "access_logs_bucket_name" {
  type        = string
  description = "Existing bucket for the access logs (an organisation's log archive); null creates one for this environment."
  default     = null
}

variable "site_web_acl_arn" {
  type        = string
  description = "WAFv2 web ACL (scope CLOUDFRONT, us-east-1) for the chat site, e.g. with AWS managed rule groups and a rate rule; null: none."
  default     = null
}

variable "site_acm_certificate_arn" {
  type        = string
  description = "ACM certificate in us-east-1 for site_aliases (CloudFront then requires TLS 1.2 or newer, TLSv1.2_2021); null: the *.cloudfront.net name."
  default     = null
}

variable "site_aliases" {
  type        = list(string)
  description = "Custom domain names of the chat site (need site_acm_certificate_arn)."
  default     = []
}

variable "mlflow_kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for the MLflow artifact bucket; null: SSE-S3."
  default     = null
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
  description = "Reserved concurrency per function over the defaults { connect = 25, disconnect = 10, message = 100, authorizer = 25 }; null leaves one unreserved. The sum must leave 100 of the account's quota unreserved."
  default     = {}
}

variable "account_concurrent_executions" {
  type        = number
  description = "The account's Lambda concurrency quota in this region (Service Quotas); the reservations must leave 100 of it unreserved."
  default     = 1000
}
