output "bucket_name" {
  description = "Name of the state bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the state bucket."
  value       = aws_s3_bucket.this.arn
}

output "kms_key_arn" {
  description = "KMS key that encrypts the state objects."
  value       = local.kms_key_arn
}

output "backend_configs" {
  description = "Per environment, the partial backend configuration to save as terraform/envs/<env>/backend.hcl (`terraform output -json backend_configs | jq -r .dev > ../envs/dev/backend.hcl`)."
  value = {
    for env in var.environments : env => <<-EOT
      bucket       = "${aws_s3_bucket.this.id}"
      key          = "${var.key_prefix}/${env}/terraform.tfstate"
      region       = "${var.region}"
      encrypt      = true
      kms_key_id   = "${local.kms_key_arn}"
      use_lockfile = true
    EOT
  }
}
