locals {
  create = var.enabled
  count  = local.create ? 1 : 0

  account_id = one(data.aws_caller_identity.current[*].account_id)
  region     = one(data.aws_region.current[*].id)

  bucket_arn         = one(module.artifact_bucket[*].arn)
  artifact_store_uri = local.create ? "s3://${one(module.artifact_bucket[*].bucket)}/${var.artifact_prefix}" : null
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

module "artifact_bucket" {
  source = "../s3_bucket"
  count  = local.count

  bucket_prefix = "${var.name}-mlflow-"
  force_destroy = var.force_destroy
  kms_key_arn   = var.kms_key_arn

  lifecycle_rule_id                  = "artifacts"
  expiration_days                    = var.artifact_expiration_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days

  logging_target_bucket = var.logging_bucket_name
  logging_target_prefix = var.logging_prefix

  tags = var.tags
}

# The bucket's resources were declared here before the s3_bucket module: state moves, no bucket is replaced.
moved {
  from = aws_s3_bucket.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_logging.artifacts[0]
  to   = module.artifact_bucket[0].aws_s3_bucket_logging.this[0]
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
  depends_on = [aws_iam_role_policy.this, module.artifact_bucket]
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
