variable "aws_endpoint_url" {
  type        = string
  description = "Edge URL of the LocalStack-compatible emulator (ministack) on loopback."
  default     = "http://127.0.0.1:4566"
}

variable "name" {
  type        = string
  description = "Name prefix of the local resources."
  default     = "order-agent-local"
}

variable "build_dir" {
  type        = string
  description = "The Lambda packages built for the emulator's interpreter and this machine's architecture (make layers-local)."
}

variable "runtime" {
  type        = string
  description = "Lambda runtime the functions declare (the emulator runs them with its own interpreter: build the packages for its version)."
  default     = "python3.13"
}

variable "architecture" {
  type        = string
  description = "Lambda architecture of the packages: this machine's (x86_64 or arm64), as the emulator runs them natively."
  default     = "x86_64"
}

variable "database" {
  type = object({
    host     = string
    port     = number
    username = string
    password = string
    sslmode  = optional(string, "require")
    name     = optional(string)
    # the application role the agent's functions connect as; the pooler must accept it too
    app_username = optional(string)
    app_password = string
  })
  description = "The real PostgreSQL the functions use, behind the local pooler that stands in for RDS Proxy: `username`/`password` for the migrate function (the master user in AWS), `app_username`/`app_password` for the agent's functions (the application role)."
}

variable "dataset" {
  type        = string
  description = "Data set the migrate function loads into an empty database: tau-retail or demo."
  default     = "tau-retail"
}

variable "model_provider" {
  type        = string
  description = "MODEL_PROVIDER of the message function: offline (no model needed), bedrock (the emulator's bedrock-runtime, or AWS credentials), anthropic or openai (settings in model_environment)."
  default     = "offline"
}

variable "model_environment" {
  type        = map(string)
  description = "Settings of the anthropic or openai provider for the agent's functions (ANTHROPIC_API_KEY, ANTHROPIC_MODEL, OPENAI_BASE_URL, OPENAI_MODEL, ...): `make dev` passes those set in its environment. Not marked sensitive: that would mark the functions' whole environment so; the key stays on this machine (the emulator and the local state)."
  default     = {}
}

variable "auth_mode" {
  type        = string
  description = "jwt (tokens from the emulator's Cognito user pool, as in production) or none (anyone may chat: the local chat site)."
  default     = "none"
}

variable "mlflow_tracking_uri" {
  type        = string
  description = "The local MLflow tracking server the traces go to (null: no tracing)."
  default     = null
}

variable "site_dir" {
  type        = string
  description = "The built chat site (web/dist) to upload to the emulator's S3; null uploads only config.json."
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
  description = "Abuse and cost limits of the message function, each optional (the system module's chat_limits; 0 turns one off)."
  default     = {}
}
