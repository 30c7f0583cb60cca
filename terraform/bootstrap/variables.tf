variable "region" {
  type        = string
  description = "AWS region of the state bucket (the environments' backend configuration names it)."
  default     = "us-east-1"
}

variable "bucket_name" {
  type        = string
  description = "Exact name of the state bucket; null generates a unique one from `bucket_prefix`."
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.bucket_name, "x")))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)."
  }
}

variable "bucket_prefix" {
  type        = string
  description = "Prefix of the generated bucket name when bucket_name is null."
  default     = "order-agent-tfstate-"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{0,36}$", var.bucket_prefix))
    error_message = "bucket_prefix must be at most 37 lower-case letters, digits, dots or hyphens."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Existing KMS key that encrypts the state objects (SSE-KMS); null creates one (rotated yearly). Whoever runs Terraform needs kms:Encrypt, kms:Decrypt and kms:GenerateDataKey on it."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "environments" {
  type        = list(string)
  description = "Environments whose backend configuration is written to the outputs (state key `<key_prefix>/<env>/terraform.tfstate`)."
  default     = ["dev", "prod"]
}

variable "key_prefix" {
  type        = string
  description = "First part of every state key in the bucket."
  default     = "order-agent"
}

variable "noncurrent_version_retention_days" {
  type        = number
  description = "Days a replaced state version is kept (versioning is the undo of a bad apply or a deleted state)."
  default     = 365

  validation {
    condition     = var.noncurrent_version_retention_days >= 30 && floor(var.noncurrent_version_retention_days) == var.noncurrent_version_retention_days
    error_message = "noncurrent_version_retention_days must be a whole number of at least 30."
  }
}

variable "noncurrent_versions_kept" {
  type        = number
  description = "Replaced state versions kept regardless of age (the newest ones)."
  default     = 50
}

variable "logging_bucket_name" {
  type        = string
  description = "Existing bucket for the state bucket's S3 server access logs (who read or wrote state); null: none."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource."
  default     = { project = "order-agent", purpose = "terraform-state" }
}
