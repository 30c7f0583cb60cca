mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      id            = "abc123defg"
      arn           = "arn:aws:apigateway:us-east-1::/apis/abc123defg"
      execution_arn = "arn:aws:execute-api:us-east-1:123456789012:abc123defg"
      api_endpoint  = "wss://abc123defg.execute-api.us-east-1.amazonaws.com"
    }
  }

  mock_resource "aws_apigatewayv2_stage" {
    defaults = {
      arn        = "arn:aws:apigateway:us-east-1::/apis/abc123defg/stages/prod"
      invoke_url = "wss://abc123defg.execute-api.us-east-1.amazonaws.com/prod"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/order-agent/prod/access"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-mock"
    }
  }
}

variables {
  name                    = "order-agent"
  connect_function_arn    = "arn:aws:lambda:us-east-1:123456789012:function:order-agent-connect"
  disconnect_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:order-agent-disconnect"
  message_function_arn    = "arn:aws:lambda:us-east-1:123456789012:function:order-agent-message:live"
  authorizer_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:order-agent-authorizer"
  throttling_burst_limit  = 40
  throttling_rate_limit   = 20
  tags                    = { project = "order-agent" }
}

# Everything the defaults must give, on one apply (each run costs a plan; these groups were
# separate runs with the same inputs).
run "defaults" {
  command = apply

  # api routes on the action field
  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "WEBSOCKET" && aws_apigatewayv2_api.this.route_selection_expression == "$request.body.action"
    error_message = "A WebSocket API routing on $request.body.action is expected."
  }

  assert {
    condition     = toset([for r in aws_apigatewayv2_route.this : r.route_key]) == toset(["$connect", "$disconnect", "sendMessage", "$default"])
    error_message = "Routes $connect, $disconnect, sendMessage and $default are expected, and no others."
  }

  assert {
    condition     = alltrue([for i in aws_apigatewayv2_integration.this : i.integration_type == "AWS_PROXY" && i.integration_method == "POST"])
    error_message = "Every integration must be a Lambda proxy integration."
  }

  assert {
    condition     = aws_apigatewayv2_integration.this["message"].integration_uri == "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:order-agent-message:live/invocations"
    error_message = "The message integration must invoke the given (alias-qualified) function ARN."
  }

  assert {
    condition = (
      aws_apigatewayv2_route.this["send_message"].target == "integrations/${aws_apigatewayv2_integration.this["message"].id}" &&
      aws_apigatewayv2_route.this["default"].target == "integrations/${aws_apigatewayv2_integration.this["message"].id}"
    )
    error_message = "sendMessage and $default must both go to the message function."
  }

  # only connect is authorized
  assert {
    condition     = aws_apigatewayv2_route.this["connect"].authorization_type == "CUSTOM" && aws_apigatewayv2_route.this["connect"].authorizer_id == aws_apigatewayv2_authorizer.this[0].id
    error_message = "$connect must use the REQUEST authorizer."
  }

  assert {
    condition     = alltrue([for k, r in aws_apigatewayv2_route.this : r.authorization_type == "NONE" if k != "connect"])
    error_message = "Only $connect can carry an authorizer on a WebSocket API."
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this[0].authorizer_type == "REQUEST" && aws_apigatewayv2_authorizer.this[0].identity_sources == toset(["route.request.querystring.token"])
    error_message = "The authorizer must be a REQUEST authorizer that API Gateway invokes only when ?token= is present (junk $connect costs no invocation)."
  }

  # route throttling under the stage
  assert {
    condition = {
      for r in aws_apigatewayv2_stage.this.route_settings : r.route_key => [r.throttling_burst_limit, r.throttling_rate_limit]
      } == {
      "$connect"  = [50, 25]
      sendMessage = [50, 25]
      "$default"  = [100, 50]
    }
    error_message = "$connect, sendMessage and $default must each have their own throttling by default."
  }

  assert {
    condition     = alltrue([for r in aws_apigatewayv2_stage.this.route_settings : r.logging_level == "OFF" && r.detailed_metrics_enabled])
    error_message = "A route's settings must not log where the stage cannot (no account role)."
  }

  # stage throttles and measures
  assert {
    condition = (
      one(aws_apigatewayv2_stage.this.default_route_settings).throttling_burst_limit == 40 &&
      one(aws_apigatewayv2_stage.this.default_route_settings).throttling_rate_limit == 20
    )
    error_message = "The stage's default route throttling must come from the variables."
  }

  assert {
    condition     = one(aws_apigatewayv2_stage.this.default_route_settings).detailed_metrics_enabled
    error_message = "Detailed per-route metrics on by default (CloudWatch metrics need no account role)."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.name == "prod" && aws_apigatewayv2_stage.this.deployment_id == aws_apigatewayv2_deployment.this.id
    error_message = "The stage (default prod) must serve the module's deployment."
  }

  assert {
    condition     = length(aws_apigatewayv2_deployment.this.triggers["redeployment"]) == 40
    error_message = "The deployment must be triggered by a hash of the routes and integrations."
  }

  # permissions are scoped to this api stage and route
  assert {
    condition = alltrue([
      for k, p in aws_lambda_permission.route :
      p.principal == "apigateway.amazonaws.com" && p.action == "lambda:InvokeFunction" &&
      p.source_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/${aws_apigatewayv2_route.this[k].route_key}"
    ])
    error_message = "Each route's permission must name this API, this stage and that route."
  }

  assert {
    condition     = aws_lambda_permission.authorizer[0].source_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123defg/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
    error_message = "The authorizer's permission must name this API's authorizer."
  }

  assert {
    condition = (
      aws_lambda_permission.route["send_message"].function_name == "arn:aws:lambda:us-east-1:123456789012:function:order-agent-message" &&
      aws_lambda_permission.route["send_message"].qualifier == "live" &&
      aws_lambda_permission.route["connect"].qualifier == null
    )
    error_message = "A qualified ARN must become function name + qualifier."
  }

  assert {
    condition     = length(aws_lambda_permission.route) == 4
    error_message = "One permission per route is expected."
  }

  # outputs for the agent and the site
  assert {
    condition     = output.management_endpoint == "https://abc123defg.execute-api.us-east-1.amazonaws.com/prod"
    error_message = "management_endpoint must be the https @connections endpoint with the stage."
  }

  assert {
    condition     = output.connections_arn == "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/POST/@connections/*"
    error_message = "connections_arn must cover POST @connections of this stage only."
  }

  assert {
    condition     = output.stage_invoke_url == "wss://abc123defg.execute-api.us-east-1.amazonaws.com/prod" && output.api_endpoint == "wss://abc123defg.execute-api.us-east-1.amazonaws.com"
    error_message = "The wss URLs must be passed through."
  }

  # log groups keep and encrypt
  assert {
    condition = (
      aws_cloudwatch_log_group.access.retention_in_days == 365 && aws_cloudwatch_log_group.access.kms_key_id == module.log_kms_key[0].key_arn &&
      aws_cloudwatch_log_group.execution.retention_in_days == 365 && aws_cloudwatch_log_group.execution.kms_key_id == module.log_kms_key[0].key_arn
    )
    error_message = "Both log groups need retention and the KMS key."
  }

  assert {
    condition     = aws_cloudwatch_log_group.execution.name == "API-Gateway-Execution-Logs_abc123defg/prod"
    error_message = "The execution log group must have the name API Gateway writes to."
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_iam_role.account_logging) == 0
    error_message = "The account-level CloudWatch role is not managed by default."
  }
}

run "route_throttling_can_be_set_per_route" {
  command = apply

  variables {
    route_throttling = { sendMessage = { burst_limit = 5, rate_limit = 1 } }
  }

  assert {
    condition     = length(aws_apigatewayv2_stage.this.route_settings) == 1 && one(aws_apigatewayv2_stage.this.route_settings).throttling_rate_limit == 1
    error_message = "route_throttling replaces the default per-route settings."
  }
}

run "route_throttling_names_routes_of_this_api" {
  command = plan

  variables {
    route_throttling = { resume = { burst_limit = 5, rate_limit = 1 } }
  }

  expect_failures = [var.route_throttling]
}

# A first apply in an account and region where API Gateway has no CloudWatch role fails with
# "CloudWatch Logs role ARN must be set in account settings to enable logging" if the stage has
# execution or access logging. Whatever logging is asked for, the stage must not log unless the role
# is managed here or declared to exist.
run "the_stage_never_logs_without_the_account_role" {
  command = apply

  variables {
    logging_level      = "INFO"
    data_trace_enabled = true
  }

  assert {
    condition = (
      one(aws_apigatewayv2_stage.this.default_route_settings).logging_level == "OFF" &&
      !one(aws_apigatewayv2_stage.this.default_route_settings).data_trace_enabled &&
      length(aws_apigatewayv2_stage.this.access_log_settings) == 0 &&
      !output.logging_enabled
    )
    error_message = "Without manage_account_logging_role or account_has_logging_role the stage must have neither execution nor access logging."
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_iam_role.account_logging) == 0
    error_message = "The account-wide setting is not touched unless asked for."
  }
}

run "the_stage_logs_where_the_account_has_the_role" {
  command = apply

  variables {
    account_has_logging_role = true
  }

  assert {
    condition = (
      one(aws_apigatewayv2_stage.this.default_route_settings).logging_level == "ERROR" &&
      !one(aws_apigatewayv2_stage.this.default_route_settings).data_trace_enabled &&
      output.logging_enabled
    )
    error_message = "Execution logging at ERROR and no message bodies in logs by default."
  }

  assert {
    condition = (
      one(aws_apigatewayv2_stage.this.access_log_settings).destination_arn == aws_cloudwatch_log_group.access.arn &&
      jsondecode(one(aws_apigatewayv2_stage.this.access_log_settings).format).connectionId == "$context.connectionId"
    )
    error_message = "JSON access logs must go to the module's log group."
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_iam_role.account_logging) == 0
    error_message = "A role that already exists is used, not replaced."
  }
}

run "without_authorizer_and_with_account_role" {
  command = apply

  variables {
    create_authorizer           = false
    authorizer_function_arn     = null
    manage_account_logging_role = true
    log_retention_days          = 30
  }

  assert {
    condition     = length(aws_apigatewayv2_authorizer.this) == 0 && length(aws_lambda_permission.authorizer) == 0 && aws_apigatewayv2_route.this["connect"].authorization_type == "NONE"
    error_message = "Without authorizer_function_arn there is no authorizer."
  }

  assert {
    condition     = aws_api_gateway_account.this[0].cloudwatch_role_arn == aws_iam_role.account_logging[0].arn && output.account_logging_role_arn == aws_iam_role.account_logging[0].arn
    error_message = "manage_account_logging_role must set the account's CloudWatch role."
  }

  assert {
    condition     = one(aws_apigatewayv2_stage.this.default_route_settings).logging_level == "ERROR" && length(aws_apigatewayv2_stage.this.access_log_settings) == 1
    error_message = "With the role managed here the stage logs."
  }

  assert {
    condition     = aws_cloudwatch_log_group.access.retention_in_days == 30
    error_message = "log_retention_days must apply."
  }
}

run "no_identity_source_on_request" {
  command = apply

  variables {
    authorizer_identity_sources = []
    create_log_kms_key          = false
    log_kms_key_arn             = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.this[0].identity_sources == null
    error_message = "Without identity sources the authorizer runs on every $connect (and reads a header token too)."
  }

  assert {
    condition     = length(module.log_kms_key) == 0 && aws_cloudwatch_log_group.access.kms_key_id == var.log_kms_key_arn
    error_message = "A given log key must be used and none created."
  }
}

run "an_authorizer_needs_its_function" {
  command = plan

  variables {
    authorizer_function_arn = null
  }

  expect_failures = [aws_apigatewayv2_authorizer.this]
}

run "rejects_an_invoke_arn" {
  command = plan

  variables {
    connect_function_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:x/invocations"
  }

  expect_failures = [var.connect_function_arn]
}
