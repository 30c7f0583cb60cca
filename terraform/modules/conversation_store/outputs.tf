output "table_name" {
  description = "Name of the DynamoDB table (CHECKPOINT_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table (the agent module's table_arn)."
  value       = aws_dynamodb_table.this.arn
}

output "bucket_name" {
  description = "Name of the S3 offload bucket (CHECKPOINT_BUCKET)."
  value       = module.offload_bucket.bucket
}

output "bucket_arn" {
  description = "ARN of the S3 offload bucket (the agent module's bucket_arn)."
  value       = module.offload_bucket.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the table and the bucket (created here, or the one given)."
  value       = local.kms_key_arn
}

output "ttl_attribute_name" {
  description = "Item attribute holding the expiry time (epoch seconds) for DynamoDB TTL."
  value       = one(aws_dynamodb_table.this.ttl).attribute_name
}
