locals {
  kms_key_arn = var.create_kms_key ? module.kms_key[0].key_arn : var.kms_key_arn

  # S3 bucket names: lower case letters, digits and hyphens. bucket_prefix allows 37 characters,
  # of which "-offload-" takes 9.
  bucket_slug   = trim(substr(replace(lower(var.name), "/[^a-z0-9-]/", "-"), 0, 28), "-")
  bucket_prefix = var.bucket_name == null ? "${local.bucket_slug}-offload-" : null
}

################################################################################
# KMS key (table, bucket) unless one is given (create_kms_key = false)
################################################################################

module "kms_key" {
  source = "../kms_key"
  count  = var.create_kms_key ? 1 : 0

  # The functions' roles get kms:Decrypt/GenerateDataKey on this key through IAM, via DynamoDB and
  # S3 only (the agent module); the key policy itself only delegates to IAM.
  description             = "Conversation store ${var.name}: DynamoDB table and S3 offload bucket"
  alias_name              = "${replace(var.name, ".", "-")}-conversation-store"
  deletion_window_in_days = var.kms_key_deletion_window_in_days

  tags = var.tags
}

moved {
  from = aws_kms_key.this[0]
  to   = module.kms_key[0].aws_kms_key.this
}

moved {
  from = aws_kms_alias.this[0]
  to   = module.kms_key[0].aws_kms_alias.this[0]
}

################################################################################
# DynamoDB table: LangGraph checkpoints, session locks, the edge's records
################################################################################

resource "aws_dynamodb_table" "this" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "PK"
  range_key    = "SK"

  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.create_kms_key || var.kms_key_arn != null
      error_message = "create_kms_key = false needs kms_key_arn."
    }
  }
}

################################################################################
# S3 bucket: checkpoints over 350 KB
################################################################################

module "offload_bucket" {
  source = "../s3_bucket"

  bucket        = var.bucket_name
  bucket_prefix = local.bucket_prefix
  force_destroy = var.force_destroy
  kms_key_arn   = local.kms_key_arn

  # Offloaded checkpoints expire with their conversation; their noncurrent versions hold personal data.
  lifecycle_rule_id                      = "expire-offloaded-checkpoints"
  expiration_days                        = var.offload_expiration_days
  noncurrent_version_expiration_days     = var.noncurrent_version_expiration_days
  abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days

  logging_target_bucket = var.access_log_bucket_name
  logging_target_prefix = var.access_log_prefix

  tags = var.tags
}

# The bucket's resources were declared here before the s3_bucket module: state moves, no bucket is replaced.
moved {
  from = aws_s3_bucket.this
  to   = module.offload_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.this
  to   = module.offload_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.this
  to   = module.offload_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this
  to   = module.offload_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.this
  to   = module.offload_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this
  to   = module.offload_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.this
  to   = module.offload_bucket.aws_s3_bucket_logging.this
}

moved {
  from = aws_s3_bucket_policy.this
  to   = module.offload_bucket.aws_s3_bucket_policy.this
}
