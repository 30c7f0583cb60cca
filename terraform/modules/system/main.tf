# The whole system in one AWS account: the modules wired together. The environments in
# terraform/envs/ differ only in the values they give this module.

locals {
  functions = ["connect", "disconnect", "message", "authorizer"]
  tags      = merge(var.tags, { system = var.name })

  # For emulators (var.emulator): what the functions need to reach what stands in for AWS. The
  # emulator's events name no host it serves @connections on, so the functions are told; the external
  # database's port and TLS mode. Empty in AWS, so dev and prod plans never change because of it.
  # The settings of a model provider outside Bedrock come the same way (anthropic, openai: emulators only so far).
  emulator_environment = var.emulator == null ? {} : merge(var.emulator.model_environment, {
    WEBSOCKET_MANAGEMENT_URL = "${trimsuffix(var.emulator.endpoint_url, "/")}/_aws/execute-api/${module.websocket_api.api_id}/${var.stage_name}"
    DATABASE_PORT            = tostring(var.emulator.database.port)
    DATABASE_SSLMODE         = var.emulator.database.sslmode
  })
  mlflow_tracking_uri = var.emulator == null ? module.mlflow.tracking_server_arn : var.emulator.mlflow_tracking_uri
  # Tracing: the trace pipeline exists when there is a tracking server (known at plan time, unlike its ARN).
  tracing = var.enable_mlflow || try(var.emulator.mlflow_tracking_uri, null) != null

  # The layers the agent module deploys, and which function gets which (scripts/build_layers.py FUNCTION_LAYERS):
  # deps and agent for all, the migrate function included; auth (cryptography) for the authorizer alone. The
  # trace forwarder's own layer (tracing: MLflow) is the trace_pipeline module's. An emulator's development
  # layers go to the agent's functions only.
  production_layers  = ["agent", "deps"]
  agent_layers       = concat(local.production_layers, ["auth"])
  dev_layer_packages = try(var.emulator.dev_layer_packages, {})
  function_layers = {
    for f in local.functions : f => concat(f == "authorizer" ? local.agent_layers : local.production_layers, keys(local.dev_layer_packages))
  }
}

module "network" {
  source = "../network"

  name                   = var.name
  az_count               = var.az_count
  egress_mode            = var.egress_mode
  single_nat_gateway     = var.single_nat_gateway
  enable_mlflow_endpoint = var.enable_mlflow && var.mlflow_vpc_endpoint
  interface_endpoints    = var.interface_endpoints
  endpoint_policies      = local.endpoint_policies # hardening.tf

  flow_log_retention_days = coalesce(var.flow_log_retention_days, var.log_retention_days)
  flow_log_kms_key_arn    = var.flow_log_kms_key_arn

  tags = local.tags
}

module "conversation_store" {
  source = "../conversation_store"

  name                   = "${var.name}-conversations"
  deletion_protection    = var.deletion_protection
  access_log_bucket_name = local.access_logs_bucket_name
  tags                   = local.tags
}

module "mlflow" {
  source = "../mlflow"

  enabled             = var.enable_mlflow
  name                = "${var.name}-mlflow"
  kms_key_arn         = var.mlflow_kms_key_arn
  logging_bucket_name = local.access_logs_bucket_name
  tags                = local.tags
}

module "agent" {
  source = "../agent"

  name              = var.name
  runtime           = var.runtime
  architecture      = var.architecture
  function_packages = { for f in local.functions : f => "${var.build_dir}/function-${f}.zip" }
  # The emulator's development-providers layer comes after these in key order and shares no path with them.
  layer_packages = merge(
    { for layer in local.agent_layers : layer => "${var.build_dir}/layer-${layer}.zip" },
    local.dev_layer_packages,
  )
  function_layers                = local.function_layers
  subnet_ids                     = module.network.private_subnet_ids
  security_group_ids             = [module.network.lambda_security_group_id]
  reserved_concurrent_executions = var.reserved_concurrent_executions
  account_concurrent_executions  = var.account_concurrent_executions
  limits                         = var.chat_limits

  table_arn                   = module.conversation_store.table_arn
  bucket_arn                  = module.conversation_store.bucket_arn
  kms_key_arn                 = module.conversation_store.kms_key_arn
  connections_arn             = module.websocket_api.connections_arn
  database_secret_arn         = module.database.app_secret_arn # the application role's, never the master's
  database_secret_kms_key_arn = module.database.kms_key_arn
  database_host               = module.database.client_host
  database_name               = module.database.database_name
  # The trace hand-off (send to the trace queue, put big traces); MLflow's own API is the forwarder's alone.
  attach_extra_policy = local.tracing
  extra_policy_json   = local.tracing ? module.trace_pipeline[0].message_policy_json : null

  model_provider      = var.model_provider
  bedrock_model_id    = var.bedrock_model_id
  auth_mode           = var.auth_mode
  jwt_jwks_url        = try(var.jwt.jwks_url, null)
  jwt_issuer          = try(var.jwt.issuer, null)
  jwt_audience        = try(var.jwt.audience, null)
  mlflow_tracking_uri = local.mlflow_tracking_uri
  trace_queue_url     = local.tracing ? module.trace_pipeline[0].queue_url : null
  trace_bucket        = local.tracing ? module.trace_pipeline[0].bucket : null
  environment         = local.emulator_environment

  handoff_event_bus_arn = module.handoff.event_bus_arn

  # What the agent may invoke on Bedrock (bedrock.tf): the profile, and its models only through it.
  bedrock_model_arns         = local.bedrock_model_arns
  bedrock_profile_model_arns = local.bedrock_profile_model_arns

  log_retention_days  = var.log_retention_days
  alarm_sns_topic_arn = module.observability.sns_topic_arn
  tags                = local.tags
}

# Traces off the turn's path: the queue the message function hands each trace to, the forwarder that
# takes them to MLflow, the dead-letter queue and the bucket for big traces.
module "trace_pipeline" {
  source = "../trace_pipeline"
  count  = local.tracing ? 1 : 0

  name                  = var.name
  runtime               = var.runtime
  architecture          = var.architecture
  function_package      = "${var.build_dir}/function-trace_forwarder.zip"
  tracing_layer_package = "${var.build_dir}/layer-tracing.zip"
  shared_layer_arns     = { for layer in local.production_layers : layer => module.agent.layer_arns[layer] }
  # In the private subnets, where the MLflow interface endpoint is (mlflow_vpc_endpoint).
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.lambda_security_group_id]

  mlflow_tracking_uri  = local.mlflow_tracking_uri
  attach_mlflow_policy = var.enable_mlflow
  mlflow_policy_json   = module.mlflow.agent_policy_json

  force_destroy       = !var.deletion_protection
  logging_bucket_name = local.access_logs_bucket_name
  log_retention_days  = var.log_retention_days
  alarm_sns_topic_arn = module.observability.sns_topic_arn
  tags                = local.tags
}

module "database" {
  source = "../database"

  name                      = var.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = [module.network.lambda_security_group_id]
  instance_class            = var.db_instance_class
  multi_az                  = var.db_multi_az
  backup_retention_days     = var.db_backup_retention_days
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  log_retention_days        = var.log_retention_days

  # Performance Insights (encrypted with the database's key) and Enhanced Monitoring: per environment
  performance_insights_enabled        = var.db_performance_insights_enabled
  performance_insights_retention_days = var.db_performance_insights_retention_days
  monitoring_interval                 = var.db_monitoring_interval

  migrate_package_path       = "${var.build_dir}/function-migrate.zip"
  alarm_sns_topic_arn        = module.observability.sns_topic_arn
  layer_arns                 = [for layer in local.production_layers : module.agent.layer_arns[layer]]
  migrate_runtime            = var.runtime
  migrate_architecture       = var.architecture
  migrate_security_group_ids = [module.network.lambda_security_group_id]
  dataset                    = var.dataset
  external_database          = try(var.emulator.database, null)
  tags                       = local.tags
}

module "websocket_api" {
  source = "../websocket_api"

  name                    = var.name
  stage_name              = var.stage_name
  connect_function_arn    = module.agent.function_arns["connect"]
  disconnect_function_arn = module.agent.function_arns["disconnect"]
  message_function_arn    = module.agent.message_alias_arn
  create_authorizer       = var.auth_mode == "jwt"
  authorizer_function_arn = module.agent.function_arns["authorizer"]
  throttling_burst_limit  = var.throttling_burst_limit
  throttling_rate_limit   = var.throttling_rate_limit
  route_throttling        = var.route_throttling
  log_retention_days      = var.log_retention_days
  tags                    = local.tags

  # API Gateway's CloudWatch role is one per account and region: the stage logs only with it.
  manage_account_logging_role = var.api_gateway_cloudwatch_role == "managed"
  account_has_logging_role    = var.api_gateway_cloudwatch_role == "existing"
}

module "chat_site" {
  source = "../chat_site"

  name          = var.name
  websocket_url = module.websocket_api.stage_invoke_url
  auth_config = {
    mode           = var.auth_mode
    cognito_domain = try(var.jwt.cognito_domain, null)
    client_id      = try(var.jwt.audience, null)
  }
  site_dir = var.site_dir

  # hardening.tf / variables.tf: what a production site adds
  logging_bucket_name = local.access_logs_bucket_name
  web_acl_arn         = var.site_web_acl_arn
  acm_certificate_arn = var.site_acm_certificate_arn
  aliases             = var.site_aliases
  geo_restriction     = var.site_geo_restriction
  kms_key_arn         = var.site_kms_key_arn

  tags = local.tags
}

# Handoffs to the support team: the bus the message function publishes on, and its targets.
module "handoff" {
  source = "../handoff"

  name                   = var.name
  notification_email     = var.handoff_notification_email
  create_inbox_queue     = var.handoff_inbox_queue
  message_log_group_name = module.agent.log_group_names["message"]
  alarm_sns_topic_arn    = module.observability.sns_topic_arn
  tags                   = local.tags
}

# The topic every alarm notifies, the alarms about the system as a whole, the dashboard and the budget.
module "observability" {
  source = "../observability"

  name                  = var.name
  create_sns_topic      = var.alarm_sns_topic_arn == null
  sns_topic_arn         = var.alarm_sns_topic_arn
  alarm_email_addresses = var.alarm_email_addresses
  websocket_api_id      = module.websocket_api.api_id
  websocket_stage_name  = module.websocket_api.stage_name
  function_names = merge(
    module.agent.function_names,
    { migrate = module.database.migrate_function_name },
    local.tracing ? { trace_forwarder = module.trace_pipeline[0].function_name } : {},
  )
  message_log_group_name = module.agent.log_group_names["message"]
  table_name             = module.conversation_store.table_name
  db_instance_id         = module.database.db_instance_id
  db_proxy_name          = module.database.proxy_name
  bedrock_model_id       = var.model_provider == "bedrock" ? var.bedrock_model_id : null
  # The trace pipeline's dead-letter queue name, known at plan time (the module names it so).
  trace_dead_letter_queue_name = local.tracing ? "${var.name}-traces-dlq" : null
  dashboard_alarm_arns         = values(module.agent.alarm_arns)

  db_connections_alarm_threshold      = var.db_connections_alarm_threshold
  account_concurrency_alarm_threshold = var.account_concurrency_alarm_threshold
  monthly_budget_usd                  = var.monthly_budget_usd
  budget_email_addresses              = var.budget_email_addresses
  tags                                = local.tags
}
