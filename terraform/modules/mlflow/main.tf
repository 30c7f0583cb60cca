locals {
  create = var.enabled
  count  = local.create ? 1 : 0

  account_id = one(data.aws_caller_identity.current[*].account_id)
  region     = one(data.aws_region.current[*].id)

  bucket_arn         = one(aws_s3_bucket.artifacts[*].arn)
  artifact_store_uri = local.create ? "s3://${one(aws_s3_bucket.artifacts[*].id)}/${var.artifact_prefix}" : null
  artifact_objects   = local.create ? "${local.bucket_arn}/${var.artifact_prefix}/*" : null
  kms                = var.kms_key_arn != null

  # What the agent's MLflow client (mlflow-tracing 3.x with the sagemaker-mlflow plugin; tracking
  # URI = the server ARN, requests signed with SigV4) calls on the tracking server to log traces:
  #   - GetExperimentByName, CreateExperiment, GetExperiment: find (first start: create) the
  #     application's one experiment, mlflow.set_experiment(); with MLFLOW_EXPERIMENT_ID set the
  #     client needs none of them, but whichever process starts first may have to create it;
  #   - StartTrace: registering a finished trace (StartTraceV3 on 3.x servers: info, tags and
  #     metadata such as mlflow.trace.session/user), which answers where its span data goes;
  #   - EndTrace, SetTraceTag: the V2 trace API (2.x servers: start, end, tags after the fact).
  # No runs, metrics, models or registry actions: tracing creates none. No sagemaker:* action: the
  # plugin derives the endpoint from the ARN (https://<region>.experiments.sagemaker.<dns suffix>)
  # and never calls DescribeMlflowTrackingServer; sagemaker:CallMlflowAppApi is for serverless
  # MLflow Apps, not tracking servers.
  # Based on: the Service Authorization Reference, "Actions, resources, and condition keys for
  # Amazon SageMaker with MLflow" (prefix sagemaker-mlflow, resource type mlflow-tracking-server),
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerwithmlflow.html;
  # "Set up IAM permissions for MLflow" (action-specific authorization controls),
  # https://docs.aws.amazon.com/sagemaker/latest/dg/mlflow-create-tracking-server-iam.html;
  # and the client side, aws/sagemaker-mlflow 0.3.0 (auth_provider.py, mlflow_sagemaker_helpers.py).
  agent_mlflow_actions = distinct(concat([
    "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:StartTrace",
    "sagemaker-mlflow:EndTrace",
    "sagemaker-mlflow:SetTraceTag",
  ], var.agent_additional_actions))

  kms_via_s3 = local.create ? {
    StringEquals = { "kms:ViaService" = "s3.${local.region}.amazonaws.com" }
  } : null
}

data "aws_caller_identity" "current" {
  count = local.count
}

data "aws_region" "current" {
  count = local.count
}

################################################################################
# Artifact bucket
################################################################################

resource "aws_s3_bucket" "artifacts" {
  # checkov:skip=CKV_AWS_144:Cross-region replication is not needed for trace span data; losing it loses history, not service.
  # checkov:skip=CKV2_AWS_62:No consumer of object events for MLflow artifacts.
  # checkov:skip=CKV_AWS_145:SSE-KMS with a customer key is available through kms_key_arn; the default is SSE-S3.
  # checkov:skip=CKV_AWS_18:Access logging is optional (logging_bucket_name); aws_s3_bucket_logging.artifacts turns it on when a log bucket is given.
  count = local.count

  bucket_prefix = "${var.name}-mlflow-"
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  count = local.count

  bucket = aws_s3_bucket.artifacts[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  count = local.count

  bucket = aws_s3_bucket.artifacts[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  count = local.count

  bucket = aws_s3_bucket.artifacts[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.kms
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  count = local.count

  bucket = aws_s3_bucket.artifacts[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  count = local.count

  bucket = aws_s3_bucket.artifacts[0].id

  rule {
    id     = "artifacts"
    status = "Enabled"

    filter {}

    dynamic "expiration" {
      for_each = var.artifact_expiration_days == null ? [] : [var.artifact_expiration_days]

      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

resource "aws_s3_bucket_logging" "artifacts" {
  count = local.create && var.logging_bucket_name != null ? 1 : 0

  bucket        = aws_s3_bucket.artifacts[0].id
  target_bucket = var.logging_bucket_name
  target_prefix = var.logging_prefix
}

resource "aws_s3_bucket_policy" "artifacts" {
  count = local.count

  bucket = aws_s3_bucket.artifacts[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.artifacts, aws_s3_bucket_ownership_controls.artifacts]
}

################################################################################
# Tracking server role (SageMaker reads and writes the artifact store with it)
################################################################################

resource "aws_iam_role" "this" {
  count = local.count

  name        = "${var.name}-mlflow-server"
  description = "SageMaker MLflow tracking server ${var.name}: access to its artifact store"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "sagemaker.amazonaws.com" }
        Action    = "sts:AssumeRole"
        # Confused-deputy protection: only SageMaker acting for this account.
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  count = local.count

  name = "artifact-store"
  role = aws_iam_role.this[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "ListArtifactStore"
          Effect   = "Allow"
          Action   = ["s3:ListBucket", "s3:GetBucketLocation"]
          Resource = local.bucket_arn
        },
        {
          Sid      = "ReadWriteArtifacts"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
          Resource = local.artifact_objects
        },
      ],
      local.kms ? [
        {
          Sid       = "ArtifactStoreKey"
          Effect    = "Allow"
          Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource  = var.kms_key_arn
          Condition = local.kms_via_s3
        },
      ] : [],
    )
  })
}

################################################################################
# Tracking server
################################################################################

resource "aws_sagemaker_mlflow_tracking_server" "this" {
  count = local.count

  tracking_server_name            = var.name
  tracking_server_size            = var.tracking_server_size
  mlflow_version                  = var.mlflow_version
  role_arn                        = aws_iam_role.this[0].arn
  artifact_store_uri              = local.artifact_store_uri
  automatic_model_registration    = false
  weekly_maintenance_window_start = var.weekly_maintenance_window_start

  tags = var.tags

  # The server checks its role's access to the artifact store when it starts.
  depends_on = [aws_iam_role_policy.this, aws_s3_bucket_policy.artifacts]
}

################################################################################
# Policy for the agent's role (attached by the caller, e.g. to the Lambda role)
################################################################################

# The span data of a trace is an artifact (<experiment artifact location>/traces/<trace id>/
# artifacts/traces.json) that the client writes to the artifact store itself, with its own
# credentials (MLflow's S3 artifact repository; the plugin's presigned-URL upload is opt-in through
# SAGEMAKER_PRESIGNED_URL_UPLOAD_ENABLED): hence s3:PutObject under the artifact prefix, no reads.
locals {
  agent_policy_json = local.create ? jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "LogTracesToTrackingServer"
          Effect   = "Allow"
          Action   = local.agent_mlflow_actions
          Resource = aws_sagemaker_mlflow_tracking_server.this[0].arn
        },
        {
          Sid      = "WriteTraceSpanData"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = local.artifact_objects
        },
      ],
      local.kms ? [
        {
          Sid       = "EncryptTraceSpanData"
          Effect    = "Allow"
          Action    = ["kms:GenerateDataKey", "kms:Decrypt"]
          Resource  = var.kms_key_arn
          Condition = local.kms_via_s3
        },
      ] : [],
    )
  }) : null
}
