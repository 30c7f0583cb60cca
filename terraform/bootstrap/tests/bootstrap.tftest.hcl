# The state bucket, planned with a mock provider: what keeps the state from being lost or read.

mock_provider "aws" {
  source = "../testing/aws"

  # plan only (prevent_destroy would stop the test from cleaning up after an apply); mocked values at plan time
  override_during = plan

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "order-agent-tfstate-abc"
      arn = "arn:aws:s3:::order-agent-tfstate-abc"
    }
  }
}

run "versioned_kms_encrypted_private_bucket" {
  command = plan

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "Versioning keeps every earlier state."
  }

  assert {
    condition = (
      one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
      && one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == module.kms_key[0].key_arn
    )
    error_message = "State objects are encrypted with the state key by default."
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls, aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls, aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "Every public access block setting is on."
  }

  assert {
    condition     = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs are off."
  }

  assert {
    condition     = !aws_s3_bucket.this.force_destroy
    error_message = "The bucket is never emptied by a destroy."
  }

  assert {
    condition     = toset([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : s.Sid if s.Effect == "Deny"]) == toset(["DenyInsecureTransport", "DenySseS3Objects"])
    error_message = "The bucket policy refuses plain HTTP and SSE-S3 objects."
  }

  assert {
    condition     = one(one(aws_s3_bucket_lifecycle_configuration.this.rule).noncurrent_version_expiration).noncurrent_days == 365
    error_message = "Replaced state versions are kept for a year."
  }

  assert {
    condition     = length(aws_s3_bucket_logging.this) == 0
    error_message = "No access logging without a log bucket."
  }
}

run "backend_configs_lock_with_s3_and_name_the_key" {
  command = plan

  assert {
    condition     = toset(keys(output.backend_configs)) == toset(["dev", "prod"])
    error_message = "One backend configuration per environment."
  }

  assert {
    condition = alltrue([
      strcontains(output.backend_configs["prod"], "use_lockfile = true"),
      strcontains(output.backend_configs["prod"], "key          = \"order-agent/prod/terraform.tfstate\""),
      strcontains(output.backend_configs["prod"], "bucket       = \"order-agent-tfstate-abc\""),
      strcontains(output.backend_configs["prod"], "kms_key_id   = \"arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555\""),
      strcontains(output.backend_configs["dev"], "order-agent/dev/terraform.tfstate"),
    ])
    error_message = "The backend configuration names the bucket, the environment's key, the state key and S3 locking."
  }
}

run "an_existing_key_and_a_log_bucket" {
  command = plan

  variables {
    kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"
    logging_bucket_name = "org-access-logs"
  }

  assert {
    condition     = length(module.kms_key) == 0 && output.kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555"
    error_message = "A given key is used, none is created."
  }

  assert {
    condition     = aws_s3_bucket_logging.this[0].target_bucket == "org-access-logs"
    error_message = "Server access logs go to the given bucket."
  }
}

run "bucket_name_is_validated" {
  command = plan

  variables {
    bucket_name = "Not_A_Bucket"
  }

  expect_failures = [var.bucket_name]
}
