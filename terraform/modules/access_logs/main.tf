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

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_18:This is the access log bucket; logging its own accesses into itself would log every log delivery.
  # checkov:skip=CKV_AWS_144:Access logs are evidence kept for retention_days; a second copy in another region is an organisation's choice (replicate to its central log archive).
  # checkov:skip=CKV2_AWS_62:Nothing consumes events of the log bucket; logs are read on demand (Athena, downloads).
  # checkov:skip=CKV_AWS_145:S3 server access logging and CloudFront standard logs deliver only to buckets encrypted with SSE-S3, not SSE-KMS.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  # checkov:skip=CKV2_AWS_65:CloudFront standard logs need bucket ACLs (it grants the awslogsdelivery account through them); BucketOwnerPreferred makes the bucket owner own every delivered object.
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # S3 server access logs of this account's buckets (the service principal, as AWS recommends
        # over the log-delivery group ACL).
        Sid       = "S3ServerAccessLogs"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.this.arn}/*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:s3:::*" }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.this, aws_s3_bucket_ownership_controls.this]
}
