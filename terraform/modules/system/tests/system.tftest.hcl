# The wiring between the modules, with a mock provider. The agent and database modules are
# overridden: they hash their build artifacts, which a plan of the wiring does not need.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1", region = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_vpc_endpoint_service" {
    defaults = { service_name = "com.amazonaws.us-east-1.mock", availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
}

override_module {
  target = module.agent
  outputs = {
    function_arns = {
      connect    = "arn:aws:lambda:us-east-1:123456789012:function:connect"
      disconnect = "arn:aws:lambda:us-east-1:123456789012:function:disconnect"
      message    = "arn:aws:lambda:us-east-1:123456789012:function:message"
      authorizer = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
    }
    function_names    = { connect = "connect", disconnect = "disconnect", message = "message", authorizer = "authorizer" }
    message_alias_arn = "arn:aws:lambda:us-east-1:123456789012:function:message:live"
    layer_arns        = { deps = "arn:aws:lambda:us-east-1:123456789012:layer:deps:1" }
  }
}

override_module {
  target = module.database
  outputs = {
    master_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-master-abc123"
    proxy_endpoint    = "proxy.example.internal"
    kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    database_name     = "orders"
  }
}

variables {
  name               = "order-agent-test"
  build_dir          = "/nonexistent"
  bedrock_model_arns = ["arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6"]
}

run "jwt_mode_puts_the_authorizer_on_connect" {
  command = plan

  variables {
    auth_mode = "jwt"
    jwt       = { jwks_url = "https://issuer.example/jwks.json", issuer = "https://issuer.example", audience = "client" }
  }

  assert {
    condition     = length(module.websocket_api.route_ids) == 4
    error_message = "the WebSocket API needs $connect, $disconnect, sendMessage and $default"
  }
}

run "without_auth_and_mlflow" {
  command = plan

  variables {
    auth_mode     = "none"
    enable_mlflow = false
  }

  assert {
    condition     = module.mlflow.tracking_server_arn == null
    error_message = "MLflow off must create no tracking server"
  }
}
