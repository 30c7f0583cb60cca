mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_s3_bucket" {
    defaults = {
      id     = "agent-mlflow-0001"
      bucket = "agent-mlflow-0001"
      arn    = "arn:aws:s3:::agent-mlflow-0001"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/agent-mlflow-server"
    }
  }

  mock_resource "aws_sagemaker_mlflow_tracking_server" {
    defaults = {
      arn                 = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/agent"
      tracking_server_url = "https://t-mock.us-east-1.experiments.sagemaker.aws"
    }
  }
}

variables {
  name = "agent"
}

run "disabled_creates_nothing" {
  command = apply

  variables {
    enabled = false
  }

  assert {
    condition = (
      length(aws_sagemaker_mlflow_tracking_server.this) == 0 &&
      length(module.artifact_bucket) == 0 &&
      length(aws_iam_role.this) == 0 &&
      length(aws_iam_role_policy.this) == 0 &&
      length(data.aws_caller_identity.current) == 0
    )
    error_message = "enabled = false must create nothing."
  }

  assert {
    condition = alltrue([for v in [
      output.tracking_server_arn, output.tracking_server_url, output.tracking_server_name,
      output.tracking_server_role_arn, output.artifact_bucket_name, output.artifact_bucket_arn,
      output.artifact_store_uri, output.agent_policy_json,
    ] : v == null])
    error_message = "Every output must be null when disabled."
  }
}

run "tracking_server_settings" {
  command = apply

  assert {
    condition = (
      aws_sagemaker_mlflow_tracking_server.this[0].tracking_server_name == "agent" &&
      aws_sagemaker_mlflow_tracking_server.this[0].tracking_server_size == "Small" &&
      aws_sagemaker_mlflow_tracking_server.this[0].automatic_model_registration == false &&
      aws_sagemaker_mlflow_tracking_server.this[0].weekly_maintenance_window_start == "Sun:03:00" &&
      aws_sagemaker_mlflow_tracking_server.this[0].mlflow_version == "3.0"
    )
    error_message = "Defaults: Small, MLflow 3.0, no automatic model registration, Sunday maintenance."
  }

  assert {
    condition     = aws_sagemaker_mlflow_tracking_server.this[0].artifact_store_uri == "s3://agent-mlflow-0001/mlflow"
    error_message = "The artifact store is the module's bucket under the artifact prefix."
  }

  assert {
    condition     = output.tracking_server_arn == "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/agent"
    error_message = "tracking_server_arn (the agent's tracking URI) must be the server's ARN."
  }
}

run "agent_policy_is_scoped_to_the_tracking_server" {
  command = apply

  assert {
    condition = alltrue([
      for s in jsondecode(output.agent_policy_json).Statement :
      s.Resource == "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/agent"
      if anytrue([for a in flatten([s.Action]) : startswith(a, "sagemaker")])
    ])
    error_message = "Every sagemaker-mlflow permission must be on this tracking server's ARN only."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(output.agent_policy_json).Statement : s.Action])) == toset([
      "sagemaker-mlflow:GetExperiment",
      "sagemaker-mlflow:GetExperimentByName",
      "sagemaker-mlflow:CreateExperiment",
      "sagemaker-mlflow:StartTrace",
      "sagemaker-mlflow:EndTrace",
      "sagemaker-mlflow:SetTraceTag",
      "s3:PutObject",
    ])
    error_message = "The agent policy must grant exactly what logging traces needs."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(output.agent_policy_json).Statement :
      s.Effect == "Allow" && !strcontains(jsonencode(s.Action), "*") && s.Resource != "*"
    ])
    error_message = "No wildcard actions or resources."
  }

  assert {
    condition = one([
      for s in jsondecode(output.agent_policy_json).Statement : s.Resource if s.Action == "s3:PutObject"
    ]) == "arn:aws:s3:::agent-mlflow-0001/mlflow/*"
    error_message = "Trace span data may only be written under the artifact prefix."
  }
}

run "kms_key_grants_follow_the_key" {
  command = apply

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-1111-2222-3333-444444444444"
  }

  assert {
    condition     = module.artifact_bucket[0].sse_algorithm == "aws:kms"
    error_message = "With a key the bucket uses SSE-KMS."
  }

  assert {
    condition = one([
      for s in jsondecode(output.agent_policy_json).Statement : s if s.Resource == "arn:aws:kms:us-east-1:123456789012:key/00000000-1111-2222-3333-444444444444"
    ]).Condition == { StringEquals = { "kms:ViaService" = "s3.us-east-1.amazonaws.com" } }
    error_message = "The agent may use the key only through S3."
  }
}

run "artifact_bucket_is_private_tls_only_versioned" {
  command = apply

  variables {
    artifact_expiration_days = 90
  }

  # Public access block, ownership and versioning: the s3_bucket module (its tests).
  assert {
    condition     = module.artifact_bucket[0].sse_algorithm == "AES256"
    error_message = "Without a key the artifact bucket uses SSE-S3."
  }

  assert {
    condition = (
      length([for s in jsondecode(module.artifact_bucket[0].policy).Statement : s if s.Effect == "Allow"]) == 0 &&
      anytrue([for s in jsondecode(module.artifact_bucket[0].policy).Statement : s.Effect == "Deny" && s.Condition == { Bool = { "aws:SecureTransport" = "false" } }])
    )
    error_message = "The bucket policy must grant nothing (the server's role has IAM permissions) and deny requests without TLS."
  }

  assert {
    condition = (
      module.artifact_bucket[0].lifecycle_rules["artifacts"].expiration_days == 90 &&
      module.artifact_bucket[0].lifecycle_rules["artifacts"].noncurrent_version_expiration_days == 30
    )
    error_message = "The lifecycle must expire artifacts when asked and old versions always."
  }
}

run "server_role_trusts_sagemaker_and_reaches_only_its_bucket" {
  command = apply

  assert {
    condition = jsondecode(aws_iam_role.this[0].assume_role_policy).Statement == [{
      Effect    = "Allow"
      Principal = { Service = "sagemaker.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = "123456789012" } }
    }]
    error_message = "Only SageMaker, acting for this account, may assume the tracking server role."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this[0].policy).Statement : [s.Resource]])) == toset([
      "arn:aws:s3:::agent-mlflow-0001",
      "arn:aws:s3:::agent-mlflow-0001/mlflow/*",
    ])
    error_message = "The tracking server role may only reach its own artifact store."
  }
}

run "maintenance_window_is_validated" {
  command = plan

  variables {
    weekly_maintenance_window_start = "Sunday 3am"
  }

  expect_failures = [var.weekly_maintenance_window_start]
}

run "name_must_fit_the_bucket_prefix" {
  command = plan

  variables {
    name = "a-tracking-server-name-too-long"
  }

  expect_failures = [var.name]
}
