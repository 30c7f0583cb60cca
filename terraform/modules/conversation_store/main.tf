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

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_144:Offloaded checkpoints are conversation state that expires after days; replicating them would copy personal data to a second region for no recovery need (a lost checkpoint ends one conversation).
  # checkov:skip=CKV2_AWS_62:Nothing consumes events of this bucket: the agent reads the objects it wrote through the DynamoDB item that points at them.
  bucket        = var.bucket_name
  bucket_prefix = local.bucket_prefix
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
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
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

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-offloaded-checkpoints"
    status = "Enabled"

    filter {}

    expiration {
      days = var.offload_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Lifecycle rules on a bucket whose versioning is still being enabled may not apply to noncurrent versions.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_log_bucket_name == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket_name
  target_prefix = var.access_log_prefix
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    # A Deny: every S3 action must be refused over plain HTTP, so the wildcard is the point.
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  # One bucket configuration change at a time: S3 answers concurrent ones with OperationAborted.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
