output "db_instance_id" {
  description = "Identifier of the DB instance (what the RDS API calls DBInstanceIdentifier)."
  value       = aws_db_instance.this.identifier
}

output "db_instance_arn" {
  description = "ARN of the DB instance."
  value       = aws_db_instance.this.arn
}

output "db_instance_resource_id" {
  description = "Resource ID of the DB instance (db-...), used in rds-db:connect IAM policies and Performance Insights."
  value       = aws_db_instance.this.resource_id
}

output "db_instance_address" {
  description = "Host name of the DB instance itself; applications use proxy_endpoint."
  value       = aws_db_instance.this.address
}

output "db_instance_port" {
  description = "Port of the DB instance and the proxy."
  value       = aws_db_instance.this.port
}

output "proxy_endpoint" {
  description = "Host name of the RDS Proxy: DATABASE_URL host of the Lambdas (TLS required)."
  value       = aws_db_proxy.this.endpoint
}

output "client_host" {
  description = "Host the functions connect to (DATABASE_HOST): the RDS Proxy endpoint, or with external_database its host."
  value       = local.client_host
}

output "client_port" {
  description = "Port the functions connect to: 5432, or with external_database its port."
  value       = local.client_port
}

output "proxy_arn" {
  description = "ARN of the RDS Proxy."
  value       = aws_db_proxy.this.arn
}

output "proxy_name" {
  description = "Name of the RDS Proxy (CloudWatch dimension ProxyName)."
  value       = aws_db_proxy.this.name
}

output "proxy_resource_id" {
  description = "Resource ID of the RDS Proxy (prx-...), for rds-db:connect ARNs when proxy_iam_auth = \"REQUIRED\": arn:aws:rds-db:<region>:<account>:dbuser:<this>/<user>."
  value       = element(split(":", aws_db_proxy.this.arn), 6)
}

output "proxy_security_group_id" {
  description = "ID of the RDS Proxy's security group (PostgreSQL from client_security_group_ids only)."
  value       = aws_security_group.proxy.id
}

output "master_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret holding the master user name and password (rotated by RDS); only the migrate function and the proxy may read it."
  value       = local.master_secret_arn
}

output "app_secret_arn" {
  description = "ARN of the application role's Secrets Manager secret (username, password): what the agent's functions connect with. The migrate function writes its first value and rotates it."
  value       = local.app_secret_arn
}

output "app_username" {
  description = "Name of the application role the agent's functions connect as (only the privileges the tools need)."
  value       = local.app_username
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting storage, the master secret, logs and Performance Insights (created or given)."
  value       = local.kms_key_arn
}

output "database_name" {
  description = "Name of the database the functions use (with external_database, its name when given)."
  value       = local.external ? local.client_database : aws_db_instance.this.db_name
}

output "security_group_id" {
  description = "ID of the DB instance's security group (PostgreSQL from the RDS Proxy only)."
  value       = aws_security_group.this.id
}

output "migrate_function_name" {
  description = "Name of the migrate Lambda function (invoke it again with {\"dataset\": ..., \"load_dataset\": true})."
  value       = aws_lambda_function.migrate.function_name
}

output "migrate_function_arn" {
  description = "ARN of the migrate Lambda function."
  value       = aws_lambda_function.migrate.arn
}

output "migrate_result" {
  description = "What the migrate function reported on its last invocation by Terraform (JSON), or null."
  value       = one(aws_lambda_invocation.migrate[*].result)
}
