mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  bucket_prefix = "order-agent-test-"
}

run "private_versioned_encrypted_and_tls_only_by_default" {
  command = apply

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls, aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls, aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "Every public access block setting is on."
  }

  assert {
    condition     = output.object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs are off unless a caller needs them."
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "Versioning is on."
  }

  assert {
    condition = (
      output.sse_algorithm == "AES256" && output.kms_key_arn == null &&
      !one(aws_s3_bucket_server_side_encryption_configuration.this.rule).bucket_key_enabled
    )
    error_message = "Without a key: SSE-S3, no bucket key."
  }

  assert {
    condition = {
      for s in jsondecode(output.policy).Statement : s.Sid => [s.Effect, s.Principal, s.Action, s.Condition]
      } == {
      DenyInsecureTransport = ["Deny", "*", "s3:*", { Bool = { "aws:SecureTransport" = "false" } }]
      DenyOutdatedTls       = ["Deny", "*", "s3:*", { NumericLessThan = { "s3:TlsVersion" = "1.2" } }]
    }
    error_message = "The policy refuses plain HTTP and TLS before 1.2, and grants nothing."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.policy).Statement : s.Resource == ["arn:aws:s3:::mock-bucket", "arn:aws:s3:::mock-bucket/*"]
    ])
    error_message = "The deny statements cover the bucket and every object."
  }

  assert {
    condition     = aws_s3_bucket_policy.this.policy == output.policy && aws_s3_bucket_policy.this.bucket == aws_s3_bucket.this.id
    error_message = "The policy is attached to the bucket."
  }

  assert {
    condition = output.lifecycle_rules == {
      expire-old-versions = {
        expiration_days                        = null
        expired_object_delete_marker           = false
        noncurrent_version_expiration_days     = 30
        abort_incomplete_multipart_upload_days = 7
      }
    }
    error_message = "One rule by default: noncurrent versions after 30 days, incomplete uploads after 7; nothing expires."
  }

  assert {
    condition     = output.logging == null && output.resource_ids.aws_s3_bucket_logging == null
    error_message = "No access logging without a target bucket."
  }

  assert {
    condition     = startswith(aws_s3_bucket.this.bucket_prefix, "order-agent-test-") && aws_s3_bucket.this.bucket_prefix == "order-agent-test-" && !aws_s3_bucket.this.force_destroy
    error_message = "The name comes from bucket_prefix; objects survive destroy by default."
  }
}

run "a_key_expiry_logging_and_caller_statements" {
  command = apply

  variables {
    bucket                                 = "order-agent-test-logs"
    bucket_prefix                          = null
    kms_key_arn                            = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
    object_ownership                       = "BucketOwnerPreferred"
    lifecycle_rule_id                      = "expire-logs"
    expiration_days                        = 90
    noncurrent_version_expiration_days     = 1
    abort_incomplete_multipart_upload_days = 1
    logging_target_bucket                  = "central-logs"
    logging_target_prefix                  = "test/"
    policy_statements = [{
      Sid       = "S3ServerAccessLogs"
      Effect    = "Allow"
      Principal = { Service = "logging.s3.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "arn:aws:s3:::order-agent-test-logs/*"
    }]
  }

  assert {
    condition     = output.bucket == "order-agent-test-logs"
    error_message = "bucket names the bucket."
  }

  assert {
    condition = (
      output.sse_algorithm == "aws:kms" && output.kms_key_arn == var.kms_key_arn &&
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).bucket_key_enabled
    )
    error_message = "With a key: SSE-KMS with an S3 Bucket Key (fewer KMS requests)."
  }

  assert {
    condition     = output.object_ownership == "BucketOwnerPreferred"
    error_message = "object_ownership is honoured."
  }

  assert {
    condition = output.lifecycle_rules == {
      expire-logs = {
        expiration_days                        = 90
        expired_object_delete_marker           = false
        noncurrent_version_expiration_days     = 1
        abort_incomplete_multipart_upload_days = 1
      }
      remove-expired-delete-markers = {
        expiration_days                        = null
        expired_object_delete_marker           = true
        noncurrent_version_expiration_days     = null
        abort_incomplete_multipart_upload_days = null
      }
    }
    error_message = "Expiry adds a rule that removes the delete markers it leaves."
  }

  assert {
    condition     = output.logging == { target_bucket = "central-logs", target_prefix = "test/" }
    error_message = "Server access logs go to the target bucket under the prefix."
  }

  assert {
    condition     = [for s in jsondecode(output.policy).Statement : s.Sid] == ["S3ServerAccessLogs", "DenyInsecureTransport", "DenyOutdatedTls"]
    error_message = "The caller's statements come first, then the transport rules."
  }
}

run "exactly_one_of_bucket_and_bucket_prefix" {
  command = plan

  variables {
    bucket = "order-agent-test-both"
  }

  expect_failures = [aws_s3_bucket.this]
}

run "object_writer_ownership_is_refused" {
  command = plan

  variables {
    object_ownership = "ObjectWriter"
  }

  expect_failures = [var.object_ownership]
}

run "expiration_days_is_validated" {
  command = plan

  variables {
    expiration_days = 0
  }

  expect_failures = [var.expiration_days]
}
