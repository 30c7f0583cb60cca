output "bucket_name" {
  description = "Name of the access log bucket (`<name>-<account>-<region>`, known at plan time): pass it as `logging_bucket_name` / `access_log_bucket_name` of the other modules. Available once the bucket and its policy exist."
  value       = local.bucket_name

  # Known before the bucket exists, but whoever uses it waits until log delivery can write.
  depends_on = [aws_s3_bucket_policy.this, aws_s3_bucket_ownership_controls.this, aws_s3_bucket_server_side_encryption_configuration.this]
}

output "bucket_arn" {
  description = "ARN of the access log bucket."
  value       = aws_s3_bucket.this.arn
}
