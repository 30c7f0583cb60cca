# One bucket that receives the S3 server access logs of the system's buckets and the CloudFront
# standard logs of the chat site. Both delivery services dictate its settings: neither writes to a
# bucket whose default encryption is SSE-KMS (so SSE-S3), and CloudFront's standard logs are written
# with an ACL grant to the awslogsdelivery account (so ACLs stay enabled, with the bucket owner
# owning what is written: BucketOwnerPreferred).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # A name known at plan time (the account and region make it unique), so that the other modules'
  # `count = <log bucket> != null` can be planned before the bucket exists.
  bucket_name = "${var.name}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}

module "bucket" {
  source = "../s3_bucket"

  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  # SSE-S3 (no kms_key_arn): S3 server access logging and CloudFront standard logs deliver only to
  # buckets encrypted with SSE-S3. ACLs stay enabled for CloudFront, the bucket owner owning objects.
  object_ownership = "BucketOwnerPreferred"

  # No logging_target_bucket: logging this bucket's accesses into itself would log every log delivery.
  lifecycle_rule_id                      = "expire-logs"
  expiration_days                        = var.retention_days
  noncurrent_version_expiration_days     = 1
  abort_incomplete_multipart_upload_days = 1

  policy_statements = [
    {
      # S3 server access logs of this account's buckets (the service principal, as AWS recommends
      # over the log-delivery group ACL).
      Sid       = "S3ServerAccessLogs"
      Effect    = "Allow"
      Principal = { Service = "logging.s3.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "${module.bucket.arn}/*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:s3:::*" }
      }
    },
  ]

  tags = var.tags
}

# The bucket's resources were declared here before the s3_bucket module: state moves, no bucket is replaced.
moved {
  from = aws_s3_bucket.this
  to   = module.bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.this
  to   = module.bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.this
  to   = module.bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this
  to   = module.bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.this
  to   = module.bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this
  to   = module.bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.this
  to   = module.bucket.aws_s3_bucket_policy.this
}
