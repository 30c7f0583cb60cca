output "tracking_server_arn" {
  description = "ARN of the tracking server: the agent's MLFLOW_TRACKING_URI (the sagemaker-mlflow plugin signs requests to it with SigV4). Null when disabled."
  value       = one(aws_sagemaker_mlflow_tracking_server.this[*].arn)
}

output "tracking_server_url" {
  description = "URL of the tracking server's MLflow UI (open it through a presigned URL, `aws sagemaker create-presigned-mlflow-tracking-server-url`). Null when disabled."
  value       = one(aws_sagemaker_mlflow_tracking_server.this[*].tracking_server_url)
}

output "tracking_server_name" {
  description = "Name of the tracking server. Null when disabled."
  value       = one(aws_sagemaker_mlflow_tracking_server.this[*].tracking_server_name)
}

output "tracking_server_role_arn" {
  description = "ARN of the IAM role the tracking server uses for its artifact store. Null when disabled."
  value       = one(aws_iam_role.this[*].arn)
}

output "artifact_bucket_name" {
  description = "Name of the artifact bucket. Null when disabled."
  value       = one(module.artifact_bucket[*].bucket)
}

output "artifact_bucket_arn" {
  description = "ARN of the artifact bucket. Null when disabled."
  value       = one(module.artifact_bucket[*].arn)
}

output "artifact_store_uri" {
  description = "S3 URI of the MLflow artifact store (s3://<bucket>/<prefix>). Null when disabled."
  value       = local.artifact_store_uri
}

output "agent_policy_json" {
  description = "IAM policy document (JSON) for the agent's role: log traces to this tracking server and write their span data to its artifact store, nothing else. Null when disabled."
  value       = local.agent_policy_json
}

output "agent_actions" {
  description = "The sagemaker-mlflow actions the agent's tracing calls (those of agent_policy_json), e.g. for a VPC endpoint policy."
  value       = local.agent_mlflow_actions
}
