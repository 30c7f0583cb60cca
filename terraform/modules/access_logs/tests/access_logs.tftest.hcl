mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
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

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls, aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls, aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "Every public access block setting is on."
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "SSE-S3: log delivery refuses SSE-KMS buckets."
  }

  assert {
    condition     = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership == "BucketOwnerPreferred"
    error_message = "ACLs stay enabled for CloudFront standard logs, the bucket owner owns the objects."
  }

  assert {
    condition     = one([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : s if s.Sid == "S3ServerAccessLogs"]).Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "Only this account's buckets may deliver server access logs."
  }

  assert {
    condition     = one([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : s if s.Sid == "DenyInsecureTransport"]).Effect == "Deny"
    error_message = "The bucket refuses plain HTTP."
  }

  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.this.rule : one(r.expiration).days if r.id == "expire-logs"]) == 90
    error_message = "Logs expire after retention_days."
  }

  assert {
    condition     = output.bucket_name == "order-agent-prod-logs-123456789012-us-east-1" && aws_s3_bucket.this.bucket == output.bucket_name
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
