mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::order-agent-prod-logs-123456789012-us-east-1"
    }
  }
}

variables {
  name = "order-agent-prod-logs"
}

run "a_private_sse_s3_bucket_that_log_delivery_can_write" {
  command = apply

  # Public access block, versioning and the TLS-only statements: the s3_bucket module (its tests).
  assert {
    condition     = module.bucket.sse_algorithm == "AES256" && module.bucket.kms_key_arn == null
    error_message = "SSE-S3: log delivery refuses SSE-KMS buckets."
  }

  assert {
    condition     = module.bucket.object_ownership == "BucketOwnerPreferred"
    error_message = "ACLs stay enabled for CloudFront standard logs, the bucket owner owns the objects."
  }

  assert {
    condition     = one([for s in jsondecode(module.bucket.policy).Statement : s if s.Sid == "S3ServerAccessLogs"]).Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "Only this account's buckets may deliver server access logs."
  }

  assert {
    condition     = one([for s in jsondecode(module.bucket.policy).Statement : s if s.Sid == "DenyInsecureTransport"]).Effect == "Deny"
    error_message = "The bucket refuses plain HTTP."
  }

  assert {
    condition     = module.bucket.lifecycle_rules["expire-logs"].expiration_days == 90 && module.bucket.logging == null
    error_message = "Logs expire after retention_days."
  }

  assert {
    condition     = output.bucket_name == "order-agent-prod-logs-123456789012-us-east-1" && module.bucket.bucket == output.bucket_name
    error_message = "The bucket is named <name>-<account>-<region>, an output known at plan time."
  }
}

run "name_is_validated" {
  command = plan

  variables {
    name = "Not A Bucket"
  }

  expect_failures = [var.name]
}
