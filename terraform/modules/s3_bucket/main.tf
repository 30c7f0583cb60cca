# A private S3 bucket with the settings every bucket of this system shares: versioning, default
# encryption (SSE-KMS with a key, SSE-S3 without), every public access block setting, object
# ownership, a lifecycle (noncurrent versions, incomplete uploads, optional expiry), optional
# server access logging, and a bucket policy refusing plain HTTP and TLS before 1.2 (after any
# statements the caller adds). The callers (chat_site, conversation_store, mlflow, access_logs)
# give only what legitimately differs between them.

locals {
  kms     = var.kms_key_arn != null
  logging = var.logging_target_bucket != null

  # The caller's statements first, then the transport rules every bucket has.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(var.policy_statements, [
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
      {
        Sid       = "DenyOutdatedTls"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
        Condition = {
          NumericLessThan = { "s3:TlsVersion" = "1.2" }
        }
      },
    ])
  })
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_144:Cross-region replication is the caller's choice, none needs it: a site build the pipeline uploads again, checkpoints that expire in days, trace span data, access logs an organisation copies to its own archive.
  # checkov:skip=CKV2_AWS_62:No caller consumes object events: each bucket's objects are read by the one client that wrote them, or on demand.
  # checkov:skip=CKV_AWS_145:SSE-KMS whenever kms_key_arn is given (conversation_store always gives one); SSE-S3 otherwise, because S3 log delivery refuses SSE-KMS buckets and CloudFront would need kms:Decrypt for public static files.
  # checkov:skip=CKV_AWS_18:Access logging is on whenever logging_target_bucket is given (every caller passes the access_logs bucket); the access log bucket itself does not log into itself.
  bucket        = var.bucket
  bucket_prefix = var.bucket_prefix
  force_destroy = var.force_destroy

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.bucket == null) != (var.bucket_prefix == null)
      error_message = "Give exactly one of bucket and bucket_prefix."
    }
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
  # checkov:skip=CKV2_AWS_65:object_ownership defaults to BucketOwnerEnforced (ACLs off); only the access log bucket sets BucketOwnerPreferred, because CloudFront standard logs grant the awslogsdelivery account through an ACL.
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = var.object_ownership
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.kms
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  # checkov:skip=CKV_AWS_300:The first rule, on every object (filter {}), always aborts incomplete uploads; checkov 3.3.30 reads the dynamic second rule (expired delete markers only) as a rule without it.
  bucket = aws_s3_bucket.this.id

  rule {
    id     = var.lifecycle_rule_id
    status = "Enabled"

    filter {}

    dynamic "expiration" {
      for_each = var.expiration_days == null ? [] : [var.expiration_days]

      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  # Once expiry has turned current versions into delete markers and their noncurrent versions are
  # gone, the markers alone remain: remove them (S3 allows this only in a rule of its own).
  dynamic "rule" {
    for_each = var.expiration_days == null ? [] : ["remove-expired-delete-markers"]

    content {
      id     = rule.value
      status = "Enabled"

      filter {}

      expiration {
        expired_object_delete_marker = true
      }
    }
  }

  # Lifecycle rules on a bucket whose versioning is still being enabled may not apply to noncurrent versions.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = local.logging ? 1 : 0

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.logging_target_bucket
  target_prefix = var.logging_target_prefix
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = local.policy

  # One bucket configuration change at a time: S3 answers concurrent ones with OperationAborted.
  depends_on = [aws_s3_bucket_public_access_block.this, aws_s3_bucket_ownership_controls.this]
}
