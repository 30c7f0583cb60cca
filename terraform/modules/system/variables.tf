variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. order-agent-dev."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,24}$", var.name))
    error_message = "name must be 3-25 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "stage_name" {
  type        = string
  description = "API Gateway stage of the WebSocket API (part of its URL)."
  default     = "prod"
}

variable "build_dir" {
  type        = string
  description = "Where `make layers` wrote layer-*.zip and function-*.zip."
}

variable "runtime" {
  type        = string
  description = "Lambda Python runtime: python3.12 or python3.13 (the layers must be built for it)."
  default     = "python3.13"
}

variable "architecture" {
  type        = string
  description = "Lambda architecture: arm64 (cheaper per GB-second) or x86_64 (the layers must be built for it)."
  default     = "arm64"
}

variable "az_count" {
  type        = number
  description = "Availability zones of the private subnets (at least 2)."
  default     = 2
}

variable "interface_endpoints" {
  type        = list(string)
  description = "Services that get an interface VPC endpoint (see the network module); null: the network module's default. An emulator offers fewer endpoint services: give it only those."
  default     = null
}

variable "mlflow_vpc_endpoint" {
  type        = bool
  description = "With enable_mlflow: the interface endpoint of SageMaker managed MLflow, so traces reach the tracking server privately. An emulator offers no such endpoint service."
  default     = true
}

variable "egress_mode" {
  type        = string
  description = "How the Lambdas reach the public @connections endpoint: nat (default) or ipv6; see the network module."
  default     = "nat"
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all AZs (cheaper, one AZ of failure) instead of one per AZ."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the database and the conversation table from deletion (turn off to destroy)."
  default     = true
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class."
  default     = "db.t4g.micro"
}

variable "db_multi_az" {
  type        = bool
  description = "A standby database instance in a second AZ."
  default     = false
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated database backups."
  default     = 7
}

variable "dataset" {
  type        = string
  description = "Data set the migrate Lambda loads into an empty database: tau-retail or demo."
  default     = "tau-retail"
}

variable "model_provider" {
  type        = string
  description = "MODEL_PROVIDER of the message function: bedrock (Claude on Amazon Bedrock), or offline (rules, no model; emulators only: its code ships in the development layer, emulator.dev_layer_packages), or anthropic or openai (the Anthropic API, an OpenAI-compatible endpoint; emulators only so far: their settings and key come from emulator.model_environment)."
  default     = "bedrock"

  validation {
    condition     = contains(["bedrock", "offline", "anthropic", "openai"], var.model_provider)
    error_message = "model_provider must be bedrock, offline, anthropic or openai."
  }
}

variable "bedrock_model_id" {
  type        = string
  description = "Bedrock model or inference-profile id the agent uses (BEDROCK_MODEL_ID): a cross-region inference profile id (`us.`, `eu.`, `apac.`, `global.`, … followed by the model id), a model id, or an application inference profile ARN. The agent's Bedrock permissions are derived from it (see bedrock_model_arns)."
  default     = "us.anthropic.claude-sonnet-4-6"
}

variable "bedrock_model_arns" {
  type        = list(string)
  description = "ARNs the agent may invoke directly. null: derived from bedrock_model_id — its inference profile in this region and account for a profile id, the foundation model in this region for a model id, the ARN itself for an ARN. No wildcards."
  default     = null
}

variable "bedrock_profile_model_arns" {
  type        = list(string)
  description = "Foundation-model ARNs the agent may invoke only through an inference profile in bedrock_model_arns (IAM condition bedrock:InferenceProfileArn). null: derived from a profile id — `arn:aws:bedrock:*::foundation-model/<model id>`, any region, since AWS routes the profile's requests to regions it may extend; none for a model id. Set it for an application inference profile (its underlying model)."
  default     = null
}

variable "auth_mode" {
  type        = string
  description = "WebSocket $connect authorization: jwt (production) or none (anonymous chat: needs allow_anonymous_chat = true)."
  default     = "jwt"
}

variable "allow_anonymous_chat" {
  type        = bool
  description = "Required, set to true, for auth_mode = \"none\": anyone with the URL can chat (and spend model tokens) without signing in; each conversation is bound to a token the server issues to the browser tab that started it, and the abuse limits apply per source IP. Without it a plan with auth_mode = \"none\" fails, so an environment is never deployed open by accident. For a public demo or an emulator, never for customers' orders."
  default     = false
  nullable    = false
}

variable "chat_limits" {
  type = object({
    rate_limit_window_s         = optional(number, 60)
    max_messages_per_connection = optional(number, 20)
    max_messages_per_principal  = optional(number, 60)
    max_turns_per_conversation  = optional(number, 50)
    max_tokens_per_conversation = optional(number, 500000)
  })
  description = "Abuse and cost limits the message function enforces (the agent module's limits; README \"Security\"): customer messages per connection and per principal in a window of rate_limit_window_s seconds, turns and model tokens per conversation; 0 turns one off."
  default     = {}
  nullable    = false
}

variable "jwt" {
  type = object({
    jwks_url       = string
    issuer         = string
    audience       = string
    cognito_domain = optional(string)
  })
  description = "Token issuer for auth_mode = jwt (e.g. a Cognito user pool and its app client)."
  default     = null
}

variable "enable_mlflow" {
  type        = bool
  description = "Create the SageMaker managed MLflow tracking server (billed per hour) and trace to it."
  default     = true
}

variable "api_gateway_cloudwatch_role" {
  type        = string
  description = "API Gateway's CloudWatch Logs role, which the WebSocket stage's execution and access logs need; one setting per account and region, shared by every REST and WebSocket API there. \"none\" (default): the stage logs nothing, so a first apply succeeds in an account or region without the role (API Gateway refuses a logging stage there) and nothing account-wide is changed. \"existing\": the account already has it (`aws apigateway get-account` shows a cloudwatchRoleArn); the stage logs. \"managed\": this configuration creates the role, sets it account-wide and logs; only in one long-lived configuration per account and region, never where another one manages the setting, since destroying this one deletes the role while the setting keeps naming it."
  default     = "none"

  validation {
    condition     = contains(["none", "existing", "managed"], var.api_gateway_cloudwatch_role)
    error_message = "api_gateway_cloudwatch_role must be none, existing or managed."
  }
}

variable "throttling_burst_limit" {
  type        = number
  description = "WebSocket API stage burst limit (messages)."
  default     = 100
}

variable "throttling_rate_limit" {
  type        = number
  description = "WebSocket API stage steady rate limit (messages per second)."
  default     = 50
}

variable "reserved_concurrent_executions" {
  type        = map(number)
  description = "Reserved concurrency per function (connect, disconnect, message, authorizer), over the agent module's defaults (25, 10, 100, 25 with jwt); null leaves a function unreserved. See the agent module."
  default     = {}
}

variable "account_concurrent_executions" {
  type        = number
  description = "The account's Lambda concurrency quota in the region (1,000 by default): the reservations must leave 100 of it unreserved, or the plan fails."
  default     = 1000
}

variable "route_throttling" {
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  description = "Per-route throttling of the WebSocket stage by route key ($connect, sendMessage, $default); null: the websocket_api module's defaults."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group."
  default     = 30
}

variable "alarm_sns_topic_arn" {
  type        = string
  description = "An existing SNS topic every CloudWatch alarm (and the budget) notifies, e.g. an organisation's on-call topic; it must let CloudWatch and AWS Budgets publish. null (default): the observability module creates a KMS-encrypted topic `<name>-alarms`."
  default     = null
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "Email addresses subscribed to the alarm topic (each confirms once from AWS's email). Empty: subscribe someone outside Terraform (see the observability module)."
  default     = []
}

variable "handoff_notification_email" {
  type        = string
  description = "An address (e.g. the helpdesk's inbox) that gets every handoff event by email through a KMS-encrypted SNS topic; it confirms the subscription once. Null: no topic (subscribe to the handoff bus otherwise: docs/deployment.md)."
  default     = null
}

variable "handoff_inbox_queue" {
  type        = bool
  description = "Also deliver every handoff event to an SQS queue a helpdesk integration polls (<name>-handoff-inbox)."
  default     = false
}

variable "db_connections_alarm_threshold" {
  type        = number
  description = "DatabaseConnections of the DB instance that fires its alarm: about 80% of its max_connections (about 80 on db.t4g.micro, 400 on db.t4g.medium)."
  default     = 60
}

variable "account_concurrency_alarm_threshold" {
  type        = number
  description = "Account-wide Lambda ConcurrentExecutions that fires its alarm: about 80% of the account's concurrency quota in the region (1,000 by default)."
  default     = 800
}

variable "monthly_budget_usd" {
  type        = number
  description = "A monthly AWS Budgets cost budget (USD) notifying the alarm topic and budget_email_addresses at 80% of actual and 100% of forecast spend; it covers the whole account. null: no budget."
  default     = null
}

variable "budget_email_addresses" {
  type        = list(string)
  description = "Email addresses the budget notifies directly, besides the alarm topic."
  default     = []
}

variable "site_dir" {
  type        = string
  description = "The built chat site (web/dist) to upload; null uploads only config.json."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource."
  default     = {}
}

################################################################################
# Hardening: what checkov's skipped checks name, for environments that want it (prod sets the first ones)
################################################################################

variable "create_access_logs_bucket" {
  type        = bool
  description = "Create an access log bucket (modules/access_logs) for the S3 server access logs of the system's buckets and the chat site's CloudFront standard logs. Ignored names: access_logs_bucket_name is used only when this is false."
  default     = false
}

variable "access_logs_bucket_name" {
  type        = string
  description = "Existing bucket for the access logs (e.g. an organisation's log archive; SSE-S3, ACLs enabled for CloudFront, a policy letting logging.s3.amazonaws.com write); null with create_access_logs_bucket = false: no access logs."
  default     = null
}

variable "access_logs_retention_days" {
  type        = number
  description = "Days the created access log bucket keeps logs."
  default     = 90
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days the VPC flow logs are kept; null: log_retention_days, like every other log group."
  default     = null
}

variable "flow_log_kms_key_arn" {
  type        = string
  description = "KMS key for the VPC flow log group (its key policy must allow logs.<region>.amazonaws.com for that group); null: CloudWatch Logs' own encryption."
  default     = null
}

variable "db_performance_insights_enabled" {
  type        = bool
  description = "Performance Insights on the database, encrypted with the database's KMS key (7 days of history are free)."
  default     = false
}

variable "db_performance_insights_retention_days" {
  type        = number
  description = "Days of Performance Insights history: 7 (free), a multiple of 31 up to 713, or 731."
  default     = 7
}

variable "db_monitoring_interval" {
  type        = number
  description = "Enhanced Monitoring interval of the database in seconds (0: off; 60 costs CloudWatch Logs ingestion of the OS metrics)."
  default     = 0
}

variable "mlflow_kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for the MLflow artifact bucket (SSE-KMS); null: SSE-S3."
  default     = null
}

variable "site_web_acl_arn" {
  type        = string
  description = "WAFv2 web ACL (scope CLOUDFRONT, us-east-1) for the chat site's distribution; null: none."
  default     = null
}

variable "site_acm_certificate_arn" {
  type        = string
  description = "ACM certificate (us-east-1) for site_aliases; with it CloudFront serves the custom names with TLSv1.2_2021 as the minimum protocol. null: the default *.cloudfront.net certificate."
  default     = null
}

variable "site_aliases" {
  type        = list(string)
  description = "Custom domain names of the chat site (need site_acm_certificate_arn and a DNS record pointing at chat_site_domain_name)."
  default     = []
}

variable "site_geo_restriction" {
  type = object({
    restriction_type = string
    locations        = optional(list(string), [])
  })
  description = "Country restriction of the chat site: none, whitelist or blacklist with ISO 3166-1 alpha-2 codes."
  default     = { restriction_type = "none" }
}

variable "site_kms_key_arn" {
  type        = string
  description = "KMS key for the chat site bucket (SSE-KMS; its key policy must let cloudfront.amazonaws.com decrypt for the distribution); null: SSE-S3."
  default     = null
}

################################################################################
# For emulators only (a LocalStack-compatible emulator such as ministack): null in AWS
################################################################################

variable "emulator" {
  type = object({
    endpoint_url = string
    database = object({
      host     = string
      port     = number
      username = string
      password = string
      sslmode  = optional(string, "require")
      name     = optional(string)
      # the application role the agent's functions connect as (null name: the database module's default)
      app_username = optional(string)
      app_password = optional(string)
    })
    mlflow_tracking_uri = optional(string)
    # development layers for the agent's functions, e.g. { dev-providers = ".../layer-dev-providers.zip" }
    dev_layer_packages = optional(map(string), {})
    # the settings of a model provider outside Bedrock, e.g. { OPENAI_BASE_URL = "...", OPENAI_MODEL = "..." }
    model_environment = optional(map(string), {})
  })
  description = <<-EOT
    For emulators only; leave null in AWS (dev and prod never set it). What an emulator cannot serve, replaced:
    `endpoint_url`, its edge URL (the functions post to the WebSocket API's @connections under it: its events name
    no host that serves them); `database`, a real PostgreSQL outside it, e.g. behind a local pooler standing in for
    RDS Proxy (the instance and proxy are still created; the master credentials go into the secret the migrate
    function reads, `app_username`/`app_password` into the application role's secret the agent's functions read);
    `mlflow_tracking_uri`, a tracking server outside it
    (it has no SageMaker MLflow; null: no tracing); `dev_layer_packages`, layers of development code the agent's
    functions get besides the production ones (the offline model provider: `make layers` builds
    layer-dev-providers.zip; never the migrate function); `model_environment`, the settings (and key) of the
    anthropic or openai provider, as environment variables of the agent's functions (`make dev` passes its own).
  EOT
  default     = null
}
