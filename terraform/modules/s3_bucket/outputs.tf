output "bucket" {
  description = "Name of the bucket. Available once its default encryption is configured, so objects written through this name are encrypted as configured."
  value       = aws_s3_bucket.this.bucket

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.this]
}

output "arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "bucket_regional_domain_name" {
  description = "Regional domain name of the bucket (e.g. a CloudFront origin)."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "policy" {
  description = "The bucket policy (JSON): the caller's `policy_statements`, then DenyInsecureTransport and DenyOutdatedTls."
  value       = local.policy
}

output "sse_algorithm" {
  description = "Default encryption: `aws:kms` with `kms_key_arn`, `AES256` (SSE-S3) without."
  value       = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm
}

output "kms_key_arn" {
  description = "The KMS key of the default encryption; null with SSE-S3."
  value       = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id
}

output "object_ownership" {
  description = "Object ownership of the bucket."
  value       = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership
}

output "lifecycle_rules" {
  description = "The lifecycle rules, by id: expiration days (null: none), noncurrent version days, incomplete upload days, whether expired delete markers are removed."
  value = {
    for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id => {
      # The provider reads an absent days as 0 and an absent marker flag as false.
      expiration_days                        = try(one(r.expiration).days > 0 ? one(r.expiration).days : null, null)
      expired_object_delete_marker           = try(one(r.expiration).expired_object_delete_marker == true, false)
      noncurrent_version_expiration_days     = try(one(r.noncurrent_version_expiration).noncurrent_days, null)
      abort_incomplete_multipart_upload_days = try(one(r.abort_incomplete_multipart_upload).days_after_initiation, null)
    }
  }
}

output "logging" {
  description = "Server access logging: `{ target_bucket, target_prefix }`, null when off."
  value       = one([for l in aws_s3_bucket_logging.this : { target_bucket = l.target_bucket, target_prefix = l.target_prefix }])
}

output "resource_ids" {
  description = "IDs of the bucket and of its configuration resources, by resource type (logging: null when off; not the lifecycle configuration, whose id the provider deprecates), e.g. for a caller's test that a state move kept them."
  value = {
    aws_s3_bucket                                      = aws_s3_bucket.this.id
    aws_s3_bucket_public_access_block                  = aws_s3_bucket_public_access_block.this.id
    aws_s3_bucket_ownership_controls                   = aws_s3_bucket_ownership_controls.this.id
    aws_s3_bucket_server_side_encryption_configuration = aws_s3_bucket_server_side_encryption_configuration.this.id
    aws_s3_bucket_versioning                           = aws_s3_bucket_versioning.this.id
    aws_s3_bucket_logging                              = one(aws_s3_bucket_logging.this[*].id)
    aws_s3_bucket_policy                               = aws_s3_bucket_policy.this.id
  }
}
