mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn = "arn:aws:dynamodb:us-east-1:123456789012:table/order-agent-checkpoints"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::order-agent-checkpoints-offload-20250101000000000000000001"
    }
  }
}

variables {
  name = "order-agent-checkpoints"
  tags = { project = "order-agent" }
}

run "table_has_the_checkpointer_schema" {
  command = apply

  assert {
    condition     = aws_dynamodb_table.this.hash_key == "PK" && aws_dynamodb_table.this.range_key == "SK"
    error_message = "The table must have hash key PK and range key SK."
  }

  assert {
    condition     = alltrue([for a in aws_dynamodb_table.this.attribute : a.type == "S"]) && length(aws_dynamodb_table.this.attribute) == 2
    error_message = "PK and SK must be strings, and no other attribute is declared."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.ttl).attribute_name == "ttl" && one(aws_dynamodb_table.this.ttl).enabled
    error_message = "TTL must be on, on the attribute ttl."
  }

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST"
    error_message = "The table must be on demand."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.point_in_time_recovery).enabled
    error_message = "Point-in-time recovery must be on by default."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "Deletion protection must be on by default."
  }

  assert {
    condition     = output.ttl_attribute_name == "ttl"
    error_message = "ttl_attribute_name must say ttl."
  }
}

run "one_customer_managed_key_encrypts_table_and_bucket" {
  command = apply

  assert {
    condition     = length(module.kms_key) == 1
    error_message = "Without kms_key_arn the module must create a key (rotation on: modules/kms_key)."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.server_side_encryption).enabled && one(aws_dynamodb_table.this.server_side_encryption).kms_key_arn == module.kms_key[0].key_arn
    error_message = "The table must be encrypted with the module's key."
  }

  assert {
    condition     = module.offload_bucket.sse_algorithm == "aws:kms" && module.offload_bucket.kms_key_arn == module.kms_key[0].key_arn
    error_message = "The bucket must use SSE-KMS with the same key."
  }

  assert {
    condition     = output.kms_key_arn == module.kms_key[0].key_arn
    error_message = "kms_key_arn must be the created key."
  }
}

run "a_given_key_is_used_and_none_created" {
  command = apply

  variables {
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  assert {
    condition     = length(module.kms_key) == 0
    error_message = "No key may be created when kms_key_arn is given."
  }

  assert {
    condition     = one(aws_dynamodb_table.this.server_side_encryption).kms_key_arn == var.kms_key_arn && output.kms_key_arn == var.kms_key_arn
    error_message = "The given key must encrypt the table and be the output."
  }
}

run "bucket_is_private_versioned_and_expires_objects" {
  command = apply

  variables {
    offload_expiration_days = 3
  }

  # Public access block, ownership, versioning: the s3_bucket module (its tests).
  assert {
    condition     = module.offload_bucket.sse_algorithm == "aws:kms"
    error_message = "The bucket must be encrypted with the conversation store's KMS key."
  }

  assert {
    condition = (
      module.offload_bucket.lifecycle_rules["expire-offloaded-checkpoints"].expiration_days == 3 &&
      module.offload_bucket.lifecycle_rules["expire-offloaded-checkpoints"].abort_incomplete_multipart_upload_days >= 1 &&
      module.offload_bucket.lifecycle_rules["remove-expired-delete-markers"].expired_object_delete_marker
    )
    error_message = "A lifecycle rule must expire objects after offload_expiration_days and abort incomplete uploads."
  }

  assert {
    condition     = local.bucket_prefix == "order-agent-checkpoints-offload-" && !var.force_destroy
    error_message = "The bucket name must start with <name>-offload- and objects must survive destroy by default."
  }
}

run "bucket_policy_refuses_plain_http_and_old_tls" {
  command = apply

  assert {
    condition     = toset([for s in jsondecode(module.offload_bucket.policy).Statement : s.Sid if s.Effect == "Deny"]) == toset(["DenyInsecureTransport", "DenyOutdatedTls"])
    error_message = "The bucket policy must deny requests without TLS, or with TLS before 1.2, and allow nothing."
  }

  assert {
    condition     = length([for s in jsondecode(module.offload_bucket.policy).Statement : s if s.Effect == "Allow"]) == 0
    error_message = "The bucket policy grants nothing: the functions' roles have IAM permissions."
  }
}

run "explicit_bucket_name_and_unprotected_table" {
  command = apply

  variables {
    bucket_name         = "my-offload-bucket"
    deletion_protection = false
  }

  assert {
    condition     = output.bucket_name == "my-offload-bucket" && !aws_dynamodb_table.this.deletion_protection_enabled
    error_message = "bucket_name and deletion_protection must be honoured."
  }
}

run "no_key_needs_a_key_arn" {
  command = plan

  variables {
    create_kms_key = false
  }

  expect_failures = [aws_dynamodb_table.this]
}

run "rejects_a_bad_table_name" {
  command = plan

  variables {
    name = "no spaces allowed"
  }

  expect_failures = [var.name]
}
