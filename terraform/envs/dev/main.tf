# The dev environment: the whole system, small and cheap, easy to tear down.

provider "aws" {
  region = var.region

  default_tags {
    tags = { project = "order-agent", environment = "dev" }
  }
}

module "system" {
  source = "../../modules/system"

  name                = "order-agent-dev"
  stage_name          = "dev"
  build_dir           = var.build_dir
  single_nat_gateway  = true
  deletion_protection = false
  db_instance_class   = "db.t4g.micro"
  db_multi_az         = false
  dataset             = var.dataset
  bedrock_model_id    = var.bedrock_model_id
  auth_mode           = var.jwt == null ? "none" : "jwt"
  jwt                 = var.jwt
  enable_mlflow       = var.enable_mlflow
  log_retention_days  = 14
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

  # Anonymous chat only when asked for by name; the limits and reservations: variables.tf.
  allow_anonymous_chat           = var.allow_anonymous_chat
  chat_limits                    = var.chat_limits
  reserved_concurrent_executions = var.reserved_concurrent_executions
  account_concurrent_executions  = var.account_concurrent_executions
}
