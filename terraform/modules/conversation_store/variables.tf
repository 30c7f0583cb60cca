variable "name" {
  type        = string
  description = "Name of the DynamoDB table (CHECKPOINT_TABLE); also the start of the offload bucket's name and of the KMS key's alias."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.name))
    error_message = "name must be a DynamoDB table name: 3-255 characters of A-Z, a-z, 0-9, '_', '-', '.'."
  }
}

variable "bucket_name" {
  type        = string
  description = "Name of the S3 bucket for checkpoints over 350 KB (CHECKPOINT_BUCKET). null: a unique name starting with \"<name>-offload-\"."
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (no dots: they break virtual-hosted TLS)."
  }
}

variable "create_kms_key" {
  type        = bool
  description = "Create a customer managed KMS key (rotation on) for the table and the bucket. false: use kms_key_arn. (A flag rather than a null check, so kms_key_arn may come from a resource created in the same apply.)"
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of an existing customer managed KMS key for the table and the bucket, used when create_kms_key is false."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
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

variable "deletion_protection" {
  type        = bool
  description = "DynamoDB deletion protection: the table cannot be deleted (also not by terraform destroy) while on."
  default     = true
}

variable "point_in_time_recovery_enabled" {
  type        = bool
  description = "DynamoDB point-in-time recovery (continuous backups, 35 days)."
  default     = true
}

variable "offload_expiration_days" {
  type        = number
  description = "Days after which an offloaded checkpoint object expires; match CHECKPOINT_TTL_SECONDS (default 604800 s = 7 days)."
  default     = 7

  validation {
    condition     = var.offload_expiration_days >= 1 && floor(var.offload_expiration_days) == var.offload_expiration_days
    error_message = "offload_expiration_days must be a whole number of at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days a replaced or expired (noncurrent) object version is kept before it is deleted; versions hold personal data, keep this short."
  default     = 1

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  type        = number
  description = "Days after which incomplete multipart uploads are aborted (their parts deleted)."
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be a whole number of at least 1."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy delete the bucket with its objects (all versions). Development environments only."
  default     = false
}

variable "access_log_bucket_name" {
  type        = string
  description = "Bucket that receives S3 server access logs of the offload bucket. null: no access logging."
  default     = null
}

variable "access_log_prefix" {
  type        = string
  description = "Key prefix of the access logs in access_log_bucket_name."
  default     = "conversation-store/"
}

variable "tags" {
  type        = map(string)
  description = "Tags for every taggable resource of the module."
  default     = {}
}
