variable "name" {
  type        = string
  description = "Name of the WebSocket API; also the start of its log group and authorizer names."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", var.name))
    error_message = "name must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-' (it goes into Lambda statement ids and log group names)."
  }
}

variable "description" {
  type        = string
  description = "Description of the API."
  default     = "Order-support agent: customer chat over WebSocket"
}

variable "stage_name" {
  type        = string
  description = "Name of the stage (the last path segment of the wss URL and of the @connections endpoint)."
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1-128 characters of A-Z, a-z, 0-9, '_' and '-'."
  }
}

variable "connect_function_arn" {
  type        = string
  description = "ARN of the $connect Lambda function (the function ARN, optionally qualified with an alias or version; not an invoke ARN)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.connect_function_arn))
    error_message = "connect_function_arn must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>])."
  }
}

variable "disconnect_function_arn" {
  type        = string
  description = "ARN of the $disconnect Lambda function (function ARN, optionally qualified)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.disconnect_function_arn))
    error_message = "disconnect_function_arn must be a Lambda function ARN."
  }
}

variable "message_function_arn" {
  type        = string
  description = "ARN of the Lambda function serving sendMessage and $default (function ARN, optionally qualified: pass the agent module's message_alias_arn so SnapStart applies)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.message_function_arn))
    error_message = "message_function_arn must be a Lambda function ARN."
  }
}

variable "create_authorizer" {
  type        = bool
  description = "Put a REQUEST authorizer (authorizer_function_arn) on $connect. false: no authorizer (local and test environments only). A flag rather than a null check, so the ARN may come from a function created in the same apply."
  default     = true
}

variable "authorizer_function_arn" {
  type        = string
  description = "ARN of the REQUEST authorizer Lambda function for $connect (function ARN, optionally qualified); required when create_authorizer."
  default     = null

  validation {
    condition     = var.authorizer_function_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$", var.authorizer_function_arn))
    error_message = "authorizer_function_arn must be null or a Lambda function ARN."
  }
}

variable "authorizer_identity_sources" {
  type        = list(string)
  description = "Identity sources of the authorizer; all must be present and non-empty, or API Gateway answers 401 without invoking it. Default [\"route.request.querystring.token\"]: junk $connect attempts without ?token= (where the chat site puts its token, since browsers cannot set headers on a WebSocket) cost no invocation; a client sending only an Authorization header is refused. Empty: the authorizer runs on every $connect and reads the token itself from the query string or the Authorization header. There is no result caching to configure: API Gateway caches authorizer results for HTTP APIs only (AuthorizerResultTtlInSeconds), never for WebSocket APIs."
  default     = ["route.request.querystring.token"]

  validation {
    condition     = alltrue([for s in var.authorizer_identity_sources : can(regex("^(route\\.request\\.(header|querystring)\\.[A-Za-z0-9_.-]+|stageVariables\\.[A-Za-z0-9_]+|context\\.[A-Za-z0-9_.]+)$", s))])
    error_message = "Each identity source must be route.request.header.<name>, route.request.querystring.<name>, stageVariables.<name> or context.<name>."
  }
}

variable "integration_timeout_milliseconds" {
  type        = number
  description = "Integration timeout (50-29000 ms). The message function keeps running after it and streams its reply through @connections."
  default     = 29000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 29000
    error_message = "integration_timeout_milliseconds must be from 50 to 29000."
  }
}

variable "throttling_burst_limit" {
  type        = number
  description = "Default route throttling: burst (requests) per route of the stage."
  default     = 100

  validation {
    condition     = var.throttling_burst_limit >= 0 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a whole number, 0 or more."
  }
}

variable "throttling_rate_limit" {
  type        = number
  description = "Default route throttling: steady-state requests per second per route of the stage."
  default     = 50

  validation {
    condition     = var.throttling_rate_limit >= 0
    error_message = "throttling_rate_limit must be 0 or more."
  }
}

variable "route_throttling" {
  type = map(object({
    burst_limit = number
    rate_limit  = number
  }))
  description = "Throttling of single routes, by route key ($connect, sendMessage, $default), within the stage's default (throttling_burst_limit and throttling_rate_limit, which apply to every route without an entry): burst (requests) and steady rate (requests per second), over all clients. The defaults keep new connections (each one a $connect and an authorizer invocation) and customer messages (each one a model turn) well inside the stage's limits, and leave the most to $default (ping and resume, which are cheap). API Gateway counts per account and region too: 500 new connections per second."
  default = {
    "$connect"  = { burst_limit = 50, rate_limit = 25 }
    sendMessage = { burst_limit = 50, rate_limit = 25 }
    "$default"  = { burst_limit = 100, rate_limit = 50 }
  }
  nullable = false

  validation {
    condition     = alltrue([for k, v in var.route_throttling : contains(["$connect", "$disconnect", "sendMessage", "$default"], k) && v.burst_limit >= 0 && floor(v.burst_limit) == v.burst_limit && v.rate_limit >= 0])
    error_message = "route_throttling keys must be route keys of this API ($connect, $disconnect, sendMessage, $default), each with a whole burst_limit and a rate_limit, 0 or more."
  }
}

variable "detailed_metrics_enabled" {
  type        = bool
  description = "Per-route CloudWatch metrics."
  default     = true
}

variable "logging_level" {
  type        = string
  description = "Execution logging level: ERROR, INFO or OFF. Applies only when the account has API Gateway's CloudWatch role (account_has_logging_role or manage_account_logging_role); without it the stage logs nothing."
  default     = "ERROR"

  validation {
    condition     = contains(["ERROR", "INFO", "OFF"], var.logging_level)
    error_message = "logging_level must be ERROR, INFO or OFF."
  }
}

variable "data_trace_enabled" {
  type        = bool
  description = "Log full message bodies in execution logs (only with execution logging on). Off by default: bodies carry customers' personal data."
  default     = false
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the access and execution log groups, in days."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "create_log_kms_key" {
  type        = bool
  description = "Create a KMS key (rotation on) for the log groups, usable by CloudWatch Logs for this API's log groups only. false: use log_kms_key_arn."
  default     = true
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of a KMS key for the log groups when create_log_kms_key is false (its key policy must let CloudWatch Logs use it)."
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN."
  }
}

variable "kms_key_deletion_window_in_days" {
  type        = number
  description = "Waiting period before a key the module created is deleted (7-30 days)."
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30 && floor(var.kms_key_deletion_window_in_days) == var.kms_key_deletion_window_in_days
    error_message = "kms_key_deletion_window_in_days must be a whole number from 7 to 30."
  }
}

variable "manage_account_logging_role" {
  type        = bool
  description = "Create the IAM role API Gateway uses to write CloudWatch Logs and set it in the account settings (aws_api_gateway_account), then log. That setting is one per account and region, shared by every REST and WebSocket API there: turn this on in exactly one long-lived configuration, never where the account already has a role (it would be replaced). Destroying the module deletes the role while the account setting keeps naming it, which stops other APIs' logging."
  default     = false
}

variable "account_has_logging_role" {
  type        = bool
  description = "The account already has API Gateway's CloudWatch role in this region, set up outside this module (`aws apigateway get-account` shows a cloudwatchRoleArn): the stage writes execution logs at logging_level and JSON access logs. false, with manage_account_logging_role false: the stage logs nothing, because API Gateway refuses a stage with execution or access logging in an account and region without that role."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags for every taggable resource of the module."
  default     = {}
}
