# The whole system, as dev and prod deploy it, applied to a LocalStack-compatible emulator (ministack by
# default) on loopback. Only what an emulator cannot serve is replaced, through the system module's
# `emulator` input: a real PostgreSQL behind a local pooler instead of the RDS database behind RDS Proxy,
# a local MLflow server, the VPC endpoint services the emulator offers. A Cognito user pool of the
# emulator issues the tokens of auth_mode = "jwt".

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "local"
  secret_key                  = "local"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  # Every service the modules use, at the emulator's one edge port.
  endpoints {
    apigateway     = var.aws_endpoint_url
    apigatewayv2   = var.aws_endpoint_url
    cloudfront     = var.aws_endpoint_url
    cloudwatch     = var.aws_endpoint_url
    cloudwatchlogs = var.aws_endpoint_url
    cognitoidp     = var.aws_endpoint_url
    dynamodb       = var.aws_endpoint_url
    ec2            = var.aws_endpoint_url
    events         = var.aws_endpoint_url
    iam            = var.aws_endpoint_url
    kms            = var.aws_endpoint_url
    lambda         = var.aws_endpoint_url
    rds            = var.aws_endpoint_url
    s3             = var.aws_endpoint_url
    sagemaker      = var.aws_endpoint_url
    secretsmanager = var.aws_endpoint_url
    sns            = var.aws_endpoint_url
    sqs            = var.aws_endpoint_url
    sts            = var.aws_endpoint_url
  }
}

locals {
  auth_mode = var.auth_mode
  region    = "us-east-1"
}

# The token issuer of auth_mode = "jwt", as a deployment would use one in AWS (the emulator signs RS256
# tokens and serves the pool's JWKS).
resource "aws_cognito_user_pool" "this" {
  name = var.name

  password_policy {
    minimum_length = 12
  }
}

resource "aws_cognito_user_pool_client" "this" {
  name                = "${var.name}-chat"
  user_pool_id        = aws_cognito_user_pool.this.id
  explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
}

module "system" {
  source = "../../modules/system"

  name                = var.name
  stage_name          = "local"
  build_dir           = var.build_dir
  runtime             = var.runtime
  architecture        = var.architecture
  deletion_protection = false
  dataset             = var.dataset
  model_provider      = var.model_provider
  bedrock_model_id    = "us.anthropic.claude-sonnet-4-6"
  bedrock_model_arns  = ["arn:aws:bedrock:us-east-1:000000000000:inference-profile/us.anthropic.claude-sonnet-4-6"]
  auth_mode           = local.auth_mode
  # The emulator on loopback: anonymous chat is what `make dev` runs (the local chat site), on purpose.
  allow_anonymous_chat = local.auth_mode == "none"
  chat_limits          = var.chat_limits
  jwt = {
    jwks_url = "${var.aws_endpoint_url}/${aws_cognito_user_pool.this.id}/.well-known/jwks.json"
    issuer   = "https://cognito-idp.${local.region}.amazonaws.com/${aws_cognito_user_pool.this.id}"
    audience = aws_cognito_user_pool_client.this.id
  }
  enable_mlflow      = false
  log_retention_days = 1
  # The default endpoints minus bedrock-runtime, for which ministack offers no endpoint service.
  interface_endpoints = ["secretsmanager"]
  site_dir            = var.site_dir
  # Every handoff event also lands in a queue here, where `make dev` prints it (docs/development.md).
  handoff_inbox_queue = true

  emulator = {
    endpoint_url        = var.aws_endpoint_url
    database            = var.database
    mlflow_tracking_uri = var.mlflow_tracking_uri
    # The offline and scripted model providers (make layers: order_agent_dev/providers alone), which the
    # production layers do not carry.
    # Beside them, when the build made it (MODEL_PROVIDER=anthropic: build_layers.py --providers), the layer of the
    # model providers' SDKs; in AWS no module attaches it yet (docs/deployment.md).
    dev_layer_packages = merge(
      { dev-providers = "${var.build_dir}/layer-dev-providers.zip" },
      fileexists("${var.build_dir}/layer-providers.zip") ? { providers = "${var.build_dir}/layer-providers.zip" } : {},
    )
    model_environment = var.model_environment
  }
}
