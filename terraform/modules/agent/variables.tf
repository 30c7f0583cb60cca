################################################################################
# Functions and their code
################################################################################

variable "name" {
  type        = string
  description = "Name prefix: the functions are <name>-connect, <name>-disconnect, <name>-message and <name>-authorizer (also their roles, log groups and alarms)."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,50}$", var.name))
    error_message = "name must be 1-51 characters of A-Z, a-z, 0-9, '_' and '-' (function and role names are at most 64 characters)."
  }
}

variable "function_packages" {
  type        = map(string)
  description = "Path of the prebuilt zip of each function (handler.py at the zip's root), keyed connect, disconnect, message and authorizer; e.g. the output of `make layers` under build/lambda/."

  validation {
    condition     = toset(keys(var.function_packages)) == toset(["connect", "disconnect", "message", "authorizer"])
    error_message = "function_packages must have exactly the keys connect, disconnect, message and authorizer."
  }

  validation {
    condition     = alltrue([for p in values(var.function_packages) : fileexists(p)])
    error_message = "Each function package must be an existing file: build them first (make layers)."
  }
}

variable "function_layers" {
  type        = map(list(string))
  description = "The layer_packages keys each function gets, by function (connect, disconnect, message, authorizer); a function not named gets every layer. E.g. `{ authorizer = [\"agent\", \"auth\", \"deps\"], message = [\"agent\", \"deps\"] }`: the build's FUNCTION_LAYERS (scripts/build_layers.py)."
  default     = {}

  validation {
    condition     = alltrue([for f, layers in var.function_layers : contains(["connect", "disconnect", "message", "authorizer"], f) && length(layers) <= 5])
    error_message = "function_layers names connect, disconnect, message or authorizer, with at most 5 layers each."
  }
}

variable "layer_packages" {
  type        = map(string)
  description = "Path of the prebuilt zip of each layer (python/ at the zip's root), keyed by layer name, e.g. { agent = \"build/lambda/agent-layer.zip\", deps = \"build/lambda/deps-layer.zip\" }. Every function gets every layer (unless function_layers names its own), in key order (a later layer wins on a path both contain)."
  default     = {}

  validation {
    condition     = length(var.layer_packages) <= 5
    error_message = "A Lambda function takes at most 5 layers."
  }

  validation {
    condition     = alltrue([for k, p in var.layer_packages : can(regex("^[A-Za-z0-9_-]+$", k)) && fileexists(p)])
    error_message = "Layer keys must be made of A-Z, a-z, 0-9, '_' and '-', and each package must be an existing file: build them first (make layers)."
  }
}

variable "handler" {
  type        = string
  description = "Handler of every function (module.function in the package)."
  default     = "handler.handler"
}

variable "runtime" {
  type        = string
  description = "Lambda runtime of the functions and layers: python3.12 or python3.13 (both support SnapStart)."
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "architecture" {
  type        = string
  description = "Instruction set of the functions and layers: arm64 or x86_64 (the layers must be built for it)."
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_sizes" {
  type        = map(number)
  description = "Memory (MB) per function, merged over the defaults { connect = 256, disconnect = 256, message = 1024, authorizer = 256 }."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.memory_sizes : contains(["connect", "disconnect", "message", "authorizer"], k) && v >= 128 && v <= 10240 && floor(v) == v])
    error_message = "memory_sizes keys must be function names and values whole MB from 128 to 10240."
  }
}

variable "timeouts" {
  type        = map(number)
  description = "Timeout (seconds) per function, merged over the defaults { connect = 10, disconnect = 10, message = 120, authorizer = 10 }. API Gateway stops waiting after 29 s; the message function goes on streaming its reply through @connections."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.timeouts : contains(["connect", "disconnect", "message", "authorizer"], k) && v >= 1 && v <= 900 && floor(v) == v])
    error_message = "timeouts keys must be function names and values whole seconds from 1 to 900."
  }
}

variable "reserved_concurrent_executions" {
  type        = map(number)
  description = "Reserved concurrency per function, merged over the defaults { connect = 25, disconnect = 10, message = 100, authorizer = 25 (with auth_mode = \"jwt\"; otherwise unreserved) }; null leaves a function unreserved (the account's shared pool), 0 stops it. A reservation is both a floor and a ceiling: message turns (seconds each) can never take more than 100, so they cannot starve $connect and the authorizer, which keep 25 each (about 50 ms per call: 500 new connections per second, API Gateway's account limit). The sum (160 by default) must leave 100 of the account's concurrency unreserved (account_concurrent_executions)."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.reserved_concurrent_executions : contains(["connect", "disconnect", "message", "authorizer"], k) && (v == null ? true : v >= 0 && floor(v) == v)])
    error_message = "reserved_concurrent_executions keys must be function names and values null or whole numbers, 0 or more."
  }
}

variable "account_concurrent_executions" {
  type        = number
  description = "The account's Lambda concurrency quota in this region (Service Quotas: \"Concurrent executions\"; 1,000 by default, often 10 in new accounts). Planning fails unless the functions' reservations leave 100 of it unreserved, as Lambda requires; other functions of the account share what is left."
  default     = 1000

  validation {
    condition     = var.account_concurrent_executions >= 10 && floor(var.account_concurrent_executions) == var.account_concurrent_executions
    error_message = "account_concurrent_executions must be a whole number, at least 10."
  }
}

variable "snap_start_enabled" {
  type        = bool
  description = "Lambda SnapStart (PublishedVersions) on the message function, whose alias API Gateway invokes. Applies on python3.12+ only; check the region offers SnapStart for Python."
  default     = true
}

variable "message_alias_name" {
  type        = string
  description = "Name of the message function's alias (pointing at the latest published version)."
  default     = "live"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,127}$", var.message_alias_name))
    error_message = "message_alias_name must start with a letter and contain only A-Z, a-z, 0-9, '_' and '-'."
  }
}

variable "tracing_mode" {
  type        = string
  description = "X-Ray tracing mode: Active or PassThrough."
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

################################################################################
# Network
################################################################################

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the functions in vpc_function_names. null: no VPC. They need a NAT gateway or IPv6 egress: the @connections endpoint, Bedrock, the JWKS URL and MLflow are public endpoints (an execute-api VPC endpoint serves private APIs only)."
  default     = null
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the functions in the VPC (required with subnet_ids)."
  default     = null
}

variable "ipv6_allowed_for_dual_stack" {
  type        = bool
  description = "Let the functions in the VPC use IPv6 on dual-stack subnets (the network module's ipv6_egress_enabled, for egress without a NAT gateway)."
  default     = false
}

variable "vpc_function_names" {
  type        = set(string)
  description = "Which functions join the VPC when subnet_ids is set. The message function must (it reaches the database); the others only need AWS APIs and the JWKS URL."
  default     = ["connect", "disconnect", "message", "authorizer"]

  validation {
    condition     = alltrue([for k in var.vpc_function_names : contains(["connect", "disconnect", "message", "authorizer"], k)])
    error_message = "vpc_function_names may contain only connect, disconnect, message and authorizer."
  }
}

################################################################################
# What the functions use (and may use, nothing more)
################################################################################

variable "table_arn" {
  type        = string
  description = "ARN of the conversation store's DynamoDB table (conversation_store.table_arn); its name becomes CHECKPOINT_TABLE."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN."
  }
}

variable "bucket_arn" {
  type        = string
  description = "ARN of the checkpoint offload bucket (conversation_store.bucket_arn); its name becomes CHECKPOINT_BUCKET. null: no offload."
  default     = null

  validation {
    condition     = var.bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the customer managed key of the table and bucket (conversation_store.kms_key_arn): kms:Decrypt and kms:GenerateDataKey through DynamoDB and S3 only. null: the store uses an AWS managed key."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "connections_arn" {
  type        = string
  description = "The only ARN the message function may call execute-api:ManageConnections on: websocket_api.connections_arn (arn:aws:execute-api:<region>:<account>:<api_id>/<stage>/POST/@connections/*)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:execute-api:[a-z0-9-]+:[0-9]{12}:[a-z0-9]+/[A-Za-z0-9_-]+/[A-Z*]+/@connections/.+$", var.connections_arn))
    error_message = "connections_arn must be an execute-api @connections ARN (arn:aws:execute-api:<region>:<account>:<api_id>/<stage>/POST/@connections/*)."
  }
}

variable "handoff_event_bus_arn" {
  type        = string
  description = "EventBridge bus the message function publishes handoffs on (events:PutEvents on it only; HANDOFF_EVENT_BUS). Null: handoffs are only recorded in the database."
  default     = null

  validation {
    condition     = var.handoff_event_bus_arn == null || can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._-]+$", var.handoff_event_bus_arn))
    error_message = "handoff_event_bus_arn must be an EventBridge event bus ARN."
  }
}

variable "bedrock_model_arns" {
  type        = list(string)
  description = "ARNs the message function may invoke directly (bedrock:InvokeModel, InvokeModelWithResponseStream): the inference profile of BEDROCK_MODEL_ID, e.g. arn:aws:bedrock:us-east-1:<account>:inference-profile/us.anthropic.claude-sonnet-4-6, or for a model invoked without a profile the foundation model in BEDROCK_REGION. No wildcards: the foundation models a cross-region profile routes to go into bedrock_profile_model_arns."
  default     = []

  validation {
    condition     = alltrue([for a in var.bedrock_model_arns : can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{0,12}:(foundation-model|inference-profile|application-inference-profile|provisioned-model)/.+$", a))])
    error_message = "Each bedrock_model_arns entry must be a Bedrock foundation-model, inference-profile or provisioned-model ARN (no wildcard region or account)."
  }
}

variable "bedrock_profile_model_arns" {
  type        = list(string)
  description = "Foundation-model ARNs the message function may invoke only through an inference profile listed in bedrock_model_arns (condition bedrock:InferenceProfileArn): a cross-region profile's foundation model in every region it routes to, with the region as `*` since AWS may add destination regions, e.g. arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6. A direct call to these models (no profile) is denied."
  default     = []

  validation {
    condition     = alltrue([for a in var.bedrock_profile_model_arns : can(regex("^arn:aws[a-z-]*:bedrock:(\\*|[a-z0-9-]*)::foundation-model/[A-Za-z0-9._:-]+$", a))])
    error_message = "Each bedrock_profile_model_arns entry must be a foundation-model ARN; only its region may be a wildcard (arn:aws:bedrock:*::foundation-model/<model id>)."
  }
}

variable "database_host" {
  type        = string
  description = "DATABASE_HOST of the message function: the RDS Proxy endpoint. With database_secret_arn it replaces DATABASE_URL (the app reads user and password from the secret). null: unset."
  default     = null
}

variable "database_name" {
  type        = string
  description = "DATABASE_NAME of the message function (the database on DATABASE_HOST). null: the app's default (orders)."
  default     = null
}

variable "database_url" {
  type        = string
  description = "DATABASE_URL of the message function (libpq URL or key=value form), for a database without a secret. Keep passwords out of it: use database_secret_arn + database_host."
  default     = null
  sensitive   = true
}

variable "database_secret_arn" {
  type        = string
  description = "DATABASE_SECRET_ARN: the Secrets Manager secret with the database credentials: the application role's own secret (database module's app_secret_arn), never the master user's; the message function may read this secret only. null: none."
  default     = null

  validation {
    condition     = var.database_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.database_secret_arn))
    error_message = "database_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "database_secret_kms_key_arn" {
  type        = string
  description = "ARN of the customer managed key that encrypts database_secret_arn (e.g. an RDS-managed master secret's key): kms:Decrypt through Secrets Manager only. null: the secret uses the AWS managed key."
  default     = null

  validation {
    condition     = var.database_secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.database_secret_kms_key_arn))
    error_message = "database_secret_kms_key_arn must be a KMS key ARN."
  }
}

variable "database_iam_auth" {
  type        = bool
  description = "Let the message function connect with IAM database authentication (rds-db:connect on database_iam_connect_arns)."
  default     = false
}

variable "database_iam_connect_arns" {
  type        = list(string)
  description = "rds-db:connect resources when database_iam_auth: arn:aws:rds-db:<region>:<account>:dbuser:<proxy or DB resource id>/<user>."
  default     = []

  validation {
    condition     = alltrue([for a in var.database_iam_connect_arns : can(regex("^arn:aws[a-z-]*:rds-db:[a-z0-9-]+:[0-9]{12}:dbuser:[^*/]+/[^*]+$", a))])
    error_message = "Each database_iam_connect_arns entry must be arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/<user>, without wildcards."
  }
}

variable "attach_extra_policy" {
  type        = bool
  description = "Attach extra_policy_json to the message function's role. A flag rather than a null check, so the JSON may name resources created in the same apply."
  default     = false
}

variable "extra_policy_json" {
  type        = string
  description = "An additional IAM policy (JSON) for the message function's role when attach_extra_policy, e.g. the trace pipeline's message_policy_json (send to its queue, put big traces)."
  default     = null

  validation {
    condition     = var.extra_policy_json == null || can(jsondecode(var.extra_policy_json))
    error_message = "extra_policy_json must be a JSON policy document."
  }
}

################################################################################
# Settings (README "Settings"); AWS_REGION is Lambda's own and never set here
################################################################################

variable "model_provider" {
  type        = string
  description = "MODEL_PROVIDER: bedrock, anthropic, openai, scripted or offline."
  default     = "bedrock"

  validation {
    condition     = contains(["bedrock", "anthropic", "openai", "scripted", "offline"], var.model_provider)
    error_message = "model_provider must be bedrock, anthropic, openai, scripted or offline."
  }
}

variable "bedrock_model_id" {
  type        = string
  description = "BEDROCK_MODEL_ID: Bedrock model or inference-profile id (Converse API)."
  default     = "us.anthropic.claude-sonnet-4-6"
}

variable "bedrock_region" {
  type        = string
  description = "BEDROCK_REGION: region of the Bedrock runtime endpoint. null: the functions' region."
  default     = null
}

variable "auth_mode" {
  type        = string
  description = "AUTH_MODE of the authorizer and $connect: jwt (needs jwt_jwks_url, jwt_issuer, jwt_audience) or none (everyone is anonymous; not for customers)."
  default     = "jwt"

  validation {
    condition     = contains(["jwt", "none"], var.auth_mode)
    error_message = "auth_mode must be jwt or none."
  }
}

variable "jwt_jwks_url" {
  type        = string
  description = "JWT_JWKS_URL: JWKS of the token issuer, e.g. https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json."
  default     = null
}

variable "jwt_issuer" {
  type        = string
  description = "JWT_ISSUER: required iss of the token."
  default     = null
}

variable "jwt_audience" {
  type        = string
  description = "JWT_AUDIENCE: required aud of the token (or a Cognito access token's client_id)."
  default     = null
}

variable "limits" {
  type = object({
    rate_limit_window_s         = optional(number, 60)
    max_messages_per_connection = optional(number, 20)
    max_messages_per_principal  = optional(number, 60)
    max_turns_per_conversation  = optional(number, 50)
    max_tokens_per_conversation = optional(number, 500000)
  })
  description = "Abuse and cost limits of the message function (settings RATE_LIMIT_WINDOW_S, MAX_MESSAGES_PER_CONNECTION, MAX_MESSAGES_PER_PRINCIPAL, MAX_TURNS_PER_CONVERSATION, MAX_TOKENS_PER_CONVERSATION): customer messages per connection and per principal (token subject; source IP for anonymous chat) in a fixed window of rate_limit_window_s seconds, turns and model tokens per conversation. 0 turns a limit off. An attribute left out keeps its default."
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for v in values(var.limits) : v >= 0 && floor(v) == v]) && var.limits.rate_limit_window_s >= 1
    error_message = "limits must be whole numbers, 0 or more (0: no limit), and rate_limit_window_s at least 1."
  }
}

variable "checkpoint_ttl_seconds" {
  type        = number
  description = "CHECKPOINT_TTL_SECONDS: how long a conversation's state is kept (keep the store's offload_expiration_days at least this long)."
  default     = 604800

  validation {
    condition     = var.checkpoint_ttl_seconds >= 1 && floor(var.checkpoint_ttl_seconds) == var.checkpoint_ttl_seconds
    error_message = "checkpoint_ttl_seconds must be a whole number of seconds, at least 1."
  }
}

variable "mlflow_tracking_uri" {
  type        = string
  description = "MLFLOW_TRACKING_URI of the message function: where its traces end up (named in handoffs; it never calls MLflow). null: unset."
  default     = null
}

variable "trace_queue_url" {
  type        = string
  description = "TRACE_QUEUE_URL of the message function: the trace pipeline's queue it hands each turn's trace to. null: no tracing."
  default     = null
}

variable "trace_bucket" {
  type        = string
  description = "TRACE_BUCKET of the message function: the trace pipeline's bucket for traces over the SQS limit."
  default     = null
}

variable "mlflow_experiment_id" {
  type        = string
  description = "MLFLOW_EXPERIMENT_ID of the message function. null: unset."
  default     = null
}

variable "log_level" {
  type        = string
  description = "POWERTOOLS_LOG_LEVEL of every function."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "environment" {
  type        = map(string)
  description = "More environment variables for every function, merged last (they override the module's). Lambda's reserved names (AWS_REGION, AWS_LAMBDA_*, _HANDLER, ...) are refused."
  default     = {}

  validation {
    condition = alltrue([
      for k in keys(var.environment) :
      !contains([
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
      ], upper(k))
    ])
    error_message = "environment must not set a variable Lambda reserves (AWS_REGION, AWS_DEFAULT_REGION, AWS_LAMBDA_*, AWS credentials, _HANDLER, LAMBDA_TASK_ROOT, ...)."
  }
}

################################################################################
# Logs and alarms
################################################################################

variable "log_retention_days" {
  type        = number
  description = "Retention of the functions' log groups, in days."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "create_log_kms_key" {
  type        = bool
  description = "Create a KMS key (rotation on) for the log groups, usable by CloudWatch Logs for these functions' log groups only. false: use log_kms_key_arn."
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

variable "alarm_sns_topic_arn" {
  type        = string
  description = "SNS topic notified when an alarm fires and clears. null: alarms without actions (visible in CloudWatch only)."
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN."
  }
}

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
  description = "Consecutive periods over the threshold before an alarm fires."
  default     = 1

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be a whole number of at least 1."
  }
}

variable "errors_alarm_threshold" {
  type        = number
  description = "Errors in one period that fire a function's errors alarm."
  default     = 1

  validation {
    condition     = var.errors_alarm_threshold >= 1
    error_message = "errors_alarm_threshold must be at least 1."
  }
}

variable "duration_alarm_threshold_percent" {
  type        = number
  description = "The p99 duration alarm fires at this percentage of the function's timeout."
  default     = 80

  validation {
    condition     = var.duration_alarm_threshold_percent > 0 && var.duration_alarm_threshold_percent <= 100
    error_message = "duration_alarm_threshold_percent must be over 0 and at most 100."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every taggable resource of the module."
  default     = {}
}
