output "bucket_name" {
  description = "Name of the access log bucket (`<name>-<account>-<region>`, known at plan time): pass it as `logging_bucket_name` / `access_log_bucket_name` of the other modules. Available once the bucket and its policy exist."
  value       = local.bucket_name

  # Known before the bucket exists, but whoever uses it waits until log delivery can write.
  depends_on = [module.bucket]
}

output "bucket_arn" {
  description = "ARN of the access log bucket."
  value       = module.bucket.arn
}
