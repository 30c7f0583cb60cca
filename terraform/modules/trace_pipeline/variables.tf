variable "name" {
  description = "Prefix of every resource name (the system's name)."
  type        = string
}

variable "function_package" {
  description = "Path of the trace forwarder's function package (function-trace_forwarder.zip of `make layers`)."
  type        = string

  validation {
    condition     = fileexists(var.function_package)
    error_message = "The function package must be an existing file: build it first (make layers)."
  }
}

variable "tracing_layer_package" {
  description = "Path of the forwarder's own layer (layer-tracing.zip of `make layers`: mlflow-tracing and the SageMaker plugin)."
  type        = string

  validation {
    condition     = fileexists(var.tracing_layer_package)
    error_message = "The layer package must be an existing file: build it first (make layers)."
  }
}

variable "shared_layer_arns" {
  description = "ARNs of the layers the forwarder shares with the agent's functions, keyed deps and agent (the agent module's layer_arns)."
  type        = map(string)

  validation {
    condition     = contains(keys(var.shared_layer_arns), "deps") && contains(keys(var.shared_layer_arns), "agent")
    error_message = "shared_layer_arns needs deps and agent."
  }
}

variable "runtime" {
  description = "Lambda runtime of the forwarder and its layer (python3.12 or python3.13)."
  type        = string
  default     = "python3.13"
}

variable "architecture" {
  description = "Instruction set of the forwarder and its layer (arm64 or x86_64; the layers must be built for it)."
  type        = string
  default     = "arm64"
}

variable "memory_mb" {
  description = "Memory of the forwarder (MB)."
  type        = number
  default     = 256
}

variable "timeout_s" {
  description = "Timeout of one forwarder invocation (s); the queue's visibility timeout is six times this."
  type        = number
  default     = 60
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the forwarder; -1: unreserved. The event source mapping's maximum_concurrency is what limits it in normal operation."
  type        = number
  default     = -1
}

variable "batch_size" {
  description = "Messages per invocation (the event source mapping's batch size)."
  type        = number
  default     = 10
}

variable "batching_window_s" {
  description = "How long the event source mapping gathers a batch before invoking (s): fewer invocations, traces a few seconds later."
  type        = number
  default     = 5
}

variable "maximum_concurrency" {
  description = "At most this many forwarder invocations at once (the event source mapping's scaling_config; 2 to 1000): what the tracking server sees at most."
  type        = number
  default     = 2
}

variable "max_receive_count" {
  description = "Attempts per trace before it goes to the dead-letter queue."
  type        = number
  default     = 5
}

variable "message_retention_s" {
  description = "How long the trace queue keeps a trace MLflow does not take (s); 4 days by default, 14 at most."
  type        = number
  default     = 345600
}

variable "big_trace_expiration_days" {
  description = "Days a trace over the SQS limit stays in the bucket: longer than the queues keep the message naming it (14 days)."
  type        = number
  default     = 15
}

variable "export_timeout_s" {
  description = "Limit of one request of the forwarder to the tracking server (s)."
  type        = number
  default     = 10
}

variable "mlflow_tracking_uri" {
  description = "The tracking server the forwarder writes to: the SageMaker tracking server's ARN, or a URL."
  type        = string
}

variable "mlflow_experiment_id" {
  description = "The experiment's id, when known (saves a look-up per process)."
  type        = string
  default     = null
}

variable "mlflow_experiment_name" {
  description = "The experiment of the traces (created if absent) when mlflow_experiment_id is null."
  type        = string
  default     = null
}

variable "attach_mlflow_policy" {
  description = "Attach mlflow_policy_json (the SageMaker tracking server's API) to the forwarder's role."
  type        = bool
  default     = false
}

variable "mlflow_policy_json" {
  description = "The policy that lets the forwarder call the tracking server (the mlflow module's agent_policy_json)."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key of the big-trace bucket; null: SSE-S3. The queues use SQS-managed encryption (SSE-SQS)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the big-trace bucket with objects in it."
  type        = bool
  default     = false
}

variable "logging_bucket_name" {
  description = "Bucket of the S3 server access logs of the big-trace bucket; null: no access logging."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the forwarder's log group."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key of the forwarder's log group; null: CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of the forwarder."
  type        = string
  default     = "INFO"
}

variable "environment" {
  description = "Extra environment variables of the forwarder (e.g. an emulator's endpoint); null values are left out."
  type        = map(string)
  default     = {}
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic the forwarder's error alarm notifies; null: no notification."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Subnets of the forwarder (e.g. the private ones, where the MLflow interface endpoint is); null: outside any VPC."
  type        = list(string)
  default     = null
}

variable "security_group_ids" {
  description = "Security groups of the forwarder with subnet_ids."
  type        = list(string)
  default     = null
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
