variable "bucket" {
  description = "Exact name of the bucket. Give this or `bucket_prefix`, not both."
  type        = string
  default     = null

  validation {
    condition     = var.bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket))
    error_message = "bucket must be a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)."
  }
}

variable "bucket_prefix" {
  description = "Start of a unique name Terraform generates (at most 37 characters). Give this or `bucket`, not both."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_prefix == null || can(regex("^[a-z0-9][a-z0-9.-]{0,36}$", var.bucket_prefix))
    error_message = "bucket_prefix must be at most 37 lower-case letters, digits, dots and hyphens."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket while it still holds objects (all versions)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key for the default encryption (SSE-KMS, with an S3 Bucket Key). Null uses SSE-S3."
  type        = string
  default     = null
}

variable "object_ownership" {
  description = "Object ownership: `BucketOwnerEnforced` (ACLs off), or `BucketOwnerPreferred` for a bucket that a service writes to through an ACL grant (CloudFront standard logs)."
  type        = string
  default     = "BucketOwnerEnforced"

  validation {
    condition     = contains(["BucketOwnerEnforced", "BucketOwnerPreferred"], var.object_ownership)
    error_message = "object_ownership must be BucketOwnerEnforced or BucketOwnerPreferred (ObjectWriter would let writers own objects in this bucket)."
  }
}

variable "lifecycle_rule_id" {
  description = "ID of the lifecycle rule (expiry, noncurrent versions, incomplete uploads)."
  type        = string
  default     = "expire-old-versions"
}

variable "expiration_days" {
  description = "Days after which current objects expire (become noncurrent behind a delete marker); a second rule then removes the expired delete markers. Null keeps objects."
  type        = number
  default     = null

  validation {
    condition     = var.expiration_days == null ? true : var.expiration_days >= 1 && floor(var.expiration_days) == var.expiration_days
    error_message = "expiration_days must be null or a whole number of at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which replaced or deleted (noncurrent) object versions are removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted (their parts deleted)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be a whole number of at least 1."
  }
}

variable "logging_target_bucket" {
  description = "Existing bucket receiving this bucket's S3 server access logs. Null turns access logging off. Must be known at plan time (it decides whether the logging resource exists)."
  type        = string
  default     = null
}

variable "logging_target_prefix" {
  description = "Key prefix of the access logs in `logging_target_bucket`."
  type        = string
  default     = ""
}

variable "policy_statements" {
  description = "Further bucket policy statements (IAM JSON shape: Sid, Effect, Principal, Action, Resource, Condition), placed before the DenyInsecureTransport and DenyOutdatedTls statements every bucket has."
  type        = any
  default     = []
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
