# Hardening inputs: what checkov's skipped checks name, reachable from an environment (access logs,
# flow-log retention and KMS, Performance Insights, WAF and a custom domain on CloudFront, the MLflow
# artifact CMK), and the endpoint policies that need the system's own ARNs.

locals {
  # One bucket for the S3 server access logs of every bucket and the CloudFront standard logs:
  # the environment's own (create_access_logs_bucket) or an existing one (access_logs_bucket_name).
  access_logs_bucket_name = var.create_access_logs_bucket ? module.access_logs[0].bucket_name : var.access_logs_bucket_name

  # Endpoint policies narrower than the network module's defaults: Bedrock to the model and profile
  # ARNs the agent may invoke (bedrock.tf), MLflow to this system's tracking server and the actions
  # tracing calls. Both are known at plan time, so the endpoints wait for nothing.
  endpoint_policies = merge(
    {
      bedrock-runtime = jsonencode({
        Version = "2012-10-17"
        Statement = [{
          Sid       = "InvokeTheAgentsModel"
          Effect    = "Allow"
          Principal = "*"
          Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
          Resource  = distinct(concat(local.bedrock_model_arns, local.bedrock_profile_model_arns))
          Condition = { StringEquals = { "aws:PrincipalAccount" = data.aws_caller_identity.bedrock.account_id } }
        }]
      })
    },
    var.enable_mlflow ? {
      mlflow = jsonencode({
        Version = "2012-10-17"
        Statement = [{
          Sid       = "TraceToThisSystemsTrackingServer"
          Effect    = "Allow"
          Principal = "*"
          Action    = module.mlflow.agent_actions
          Resource  = ["arn:${data.aws_partition.bedrock.partition}:sagemaker:${data.aws_region.bedrock.name}:${data.aws_caller_identity.bedrock.account_id}:mlflow-tracking-server/${var.name}-mlflow"]
          Condition = { StringEquals = { "aws:PrincipalAccount" = data.aws_caller_identity.bedrock.account_id } }
        }]
      })
    } : {},
  )
}

module "access_logs" {
  source = "../access_logs"
  count  = var.create_access_logs_bucket ? 1 : 0

  name           = "${var.name}-logs"
  retention_days = var.access_logs_retention_days
  force_destroy  = !var.deletion_protection
  tags           = local.tags
}
