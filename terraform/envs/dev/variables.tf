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
  description = "API Gateway's CloudWatch role in this account and region, which the stage's logs need: none (no stage logs), existing (already set) or managed (set here). See the README's Deployment section."
  default     = "none"
}

variable "jwt" {
  type = object({
    jwks_url       = string
    issuer         = string
    audience       = string
    cognito_domain = optional(string)
  })
  description = "Token issuer; null runs dev without authentication (AUTH_MODE=none)."
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
