# The prod environment: one NAT gateway per AZ, Multi-AZ database, deletion protection, JWT auth.

provider "aws" {
  region = var.region

  default_tags {
    tags = { project = "order-agent", environment = "prod" }
  }
}

module "system" {
  source = "../../modules/system"

  name                = "order-agent-prod"
  stage_name          = "prod"
  build_dir           = var.build_dir
  single_nat_gateway  = false
  deletion_protection = var.deletion_protection
  db_instance_class   = "db.t4g.medium"
  db_multi_az         = true
  dataset             = var.dataset
  bedrock_model_id    = var.bedrock_model_id
  auth_mode           = "jwt"
  jwt                 = var.jwt
  enable_mlflow       = var.enable_mlflow
  log_retention_days  = 90
  site_dir            = var.site_dir

  bedrock_model_arns          = var.bedrock_model_arns
  bedrock_profile_model_arns  = var.bedrock_profile_model_arns
  api_gateway_cloudwatch_role = var.api_gateway_cloudwatch_role

  alarm_email_addresses = var.alarm_email_addresses
  # Handoffs: who hears of them (docs/deployment.md, "Handoffs to the helpdesk").
  handoff_notification_email = var.handoff_notification_email
  handoff_inbox_queue        = var.handoff_inbox_queue
  monthly_budget_usd         = var.monthly_budget_usd
  budget_email_addresses     = var.budget_email_addresses
  # about 80% of max_connections on db.t4g.medium (PostgreSQL: DBInstanceClassMemory/9531392, about 410)
  db_connections_alarm_threshold = 320

  # Hardening a production site has: access logs of every bucket and of CloudFront (a bucket of its
  # own unless the organisation's log archive is given), flow logs kept as long as every other log
  # (log_retention_days), Performance Insights encrypted with the database's KMS key, Enhanced
  # Monitoring. WAF and a custom domain with TLS 1.2 need resources made outside (a web ACL, an
  # ACM certificate): set them in terraform.tfvars.
  create_access_logs_bucket       = var.access_logs_bucket_name == null
  access_logs_bucket_name         = var.access_logs_bucket_name
  access_logs_retention_days      = 90
  db_performance_insights_enabled = true
  db_monitoring_interval          = 60
  site_web_acl_arn                = var.site_web_acl_arn
  site_acm_certificate_arn        = var.site_acm_certificate_arn
  site_aliases                    = var.site_aliases
  mlflow_kms_key_arn              = var.mlflow_kms_key_arn

  # Abuse and cost limits, reserved concurrency: variables.tf (docs/security.md).
  chat_limits                    = var.chat_limits
  reserved_concurrent_executions = var.reserved_concurrent_executions
  account_concurrent_executions  = var.account_concurrent_executions
}
