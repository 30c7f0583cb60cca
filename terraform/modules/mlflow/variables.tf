variable "enabled" {
  description = "Create the tracking server and its bucket and role. False creates nothing (every output is null): environments without managed MLflow, e.g. the local emulator, which has no SageMaker."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the tracking server; also the prefix of its bucket and IAM role. Lower-case letters, digits and hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](-?[a-z0-9])*$", var.name)) && length(var.name) <= 29
    error_message = "name must be at most 29 lower-case letters and digits, single hyphens between them (the bucket prefix <name>-mlflow- may have 37 characters)."
  }
}

variable "tracking_server_size" {
  description = "Size of the tracking server (load it can serve; price grows with it)."
  type        = string
  default     = "Small"

  validation {
    condition     = contains(["Small", "Medium", "Large"], var.tracking_server_size)
    error_message = "tracking_server_size must be Small, Medium or Large."
  }
}

variable "mlflow_version" {
  description = "MLflow version of the tracking server. Keep it compatible with the agent's mlflow-tracing client (3.x speaks the V3 trace API, which needs a 3.x server)."
  type        = string
  default     = "3.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+(\\.[0-9]+)?$", var.mlflow_version))
    error_message = "mlflow_version must look like 3.0 or 2.16.2."
  }
}

variable "weekly_maintenance_window_start" {
  description = "Start of the weekly maintenance window (UTC), as Ddd:HH:MM, e.g. Sun:03:00."
  type        = string
  default     = "Sun:03:00"

  validation {
    condition     = can(regex("^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.weekly_maintenance_window_start))
    error_message = "weekly_maintenance_window_start must be Ddd:HH:MM (Mon..Sun, 24-hour UTC), e.g. Sun:03:00."
  }
}

variable "artifact_prefix" {
  description = "Key prefix of the MLflow artifact store inside the bucket (artifact store URI s3://<bucket>/<prefix>)."
  type        = string
  default     = "mlflow"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$", var.artifact_prefix))
    error_message = "artifact_prefix must be non-empty path segments of letters, digits, _ and -, separated by single slashes, without leading or trailing slash."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the artifact bucket (SSE-KMS). Null uses SSE-S3. With a key, the tracking server role and the agent policy get the kms permissions S3 needs on it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "artifact_expiration_days" {
  description = "Days after which artifacts (trace span data) are deleted. Null keeps them; traces whose span data has expired show without spans in the UI."
  type        = number
  default     = null

  validation {
    condition     = var.artifact_expiration_days == null ? true : var.artifact_expiration_days >= 1 && floor(var.artifact_expiration_days) == var.artifact_expiration_days
    error_message = "artifact_expiration_days must be null or a whole number of at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted artifact versions are removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "logging_bucket_name" {
  description = "Existing bucket receiving the artifact bucket's S3 server access logs. Null turns access logging off."
  type        = string
  default     = null
}

variable "logging_prefix" {
  description = "Key prefix of the access logs in `logging_bucket_name`."
  type        = string
  default     = "mlflow-artifacts/"
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the artifact bucket while it still holds objects."
  type        = bool
  default     = false
}

variable "agent_additional_actions" {
  description = "Further sagemaker-mlflow actions for the agent policy, beyond those that logging traces needs (e.g. sagemaker-mlflow:SearchTraces for an evaluation job sharing the role)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.agent_additional_actions : can(regex("^sagemaker-mlflow:[A-Za-z]+$", a))])
    error_message = "agent_additional_actions must be sagemaker-mlflow:<Action> names without wildcards."
  }
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
