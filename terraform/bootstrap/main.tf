# The S3 bucket that holds the Terraform state of every environment (terraform/envs/dev, prod), made
# once per account, before any environment: the state is the only record of what Terraform manages,
# so it gets versioning (every earlier state can be restored), encryption with a KMS key, no public
# access, TLS only, and protection from `terraform destroy`. Locking needs nothing here: the
# environments' backends use S3-native lock files (`use_lockfile = true`, Terraform >= 1.11), objects
# next to the state, so there is no DynamoDB lock table.
#
# This root keeps its own (small) state locally: see README.md for where to keep it.

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

locals {
  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? module.kms_key[0].key_arn : var.kms_key_arn
}

module "kms_key" {
  source = "../modules/kms_key"
  count  = local.create_kms_key ? 1 : 0

  description = "Terraform state of order-agent"
  alias_name  = "order-agent-terraform-state"
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_144:Versioning keeps every state version in this region; a copy in a second region is an organisation's choice (add a replication rule to this bucket).
  # checkov:skip=CKV2_AWS_62:Nothing consumes events of the state bucket; Terraform reads and writes it directly.
  bucket        = var.bucket_name
  bucket_prefix = var.bucket_name == null ? var.bucket_prefix : null
  force_destroy = false

  tags = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "keep-state-history"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days           = var.noncurrent_version_retention_days
      newer_noncurrent_versions = var.noncurrent_versions_kept
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = var.logging_bucket_name == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.logging_bucket_name
  target_prefix = "terraform-state/"
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        # An object that asks for SSE-S3 (a backend configured with encrypt = true but no kms_key_id)
        # is refused rather than stored outside the state key; objects that ask for nothing get the
        # bucket's default, the state key (the S3 backend's lock files among them).
        Sid       = "DenySseS3Objects"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.this.arn}/*"
        Condition = { StringEquals = { "s3:x-amz-server-side-encryption" = "AES256" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.this, aws_s3_bucket_ownership_controls.this]
}
