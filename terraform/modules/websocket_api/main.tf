data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  dns_suffix = data.aws_partition.current.dns_suffix

  log_kms_key_arn = var.create_log_kms_key ? module.log_kms_key[0].key_arn : var.log_kms_key_arn

  # The functions API Gateway invokes. An ARN may carry a qualifier (":alias" or ":version",
  # e.g. the message function's SnapStart alias): permissions take it apart.
  functions = merge(
    {
      connect    = var.connect_function_arn
      disconnect = var.disconnect_function_arn
      message    = var.message_function_arn
    },
    var.create_authorizer ? { authorizer = var.authorizer_function_arn } : {},
  )
  # try(): a missing authorizer ARN becomes null here and fails the authorizer's precondition.
  function_names = { for k, arn in local.functions : k => try(join(":", slice(split(":", arn), 0, 7)), null) }
  qualifiers     = { for k, arn in local.functions : k => try(length(split(":", arn)) > 7 ? split(":", arn)[7] : null, null) }
  invoke_arns = {
    for k, arn in local.functions :
    k => try("arn:${local.partition}:apigateway:${local.region}:lambda:path/2015-03-31/functions/${arn}/invocations", null)
  }

  # Route key => the integration (function) that serves it. `resume` and `ping` (and anything
  # else, or a non-JSON body) fall through to $default, which the message function answers.
  routes = {
    connect      = { route_key = "$connect", integration = "connect" }
    disconnect   = { route_key = "$disconnect", integration = "disconnect" }
    send_message = { route_key = "sendMessage", integration = "message" }
    default      = { route_key = "$default", integration = "message" }
  }

  # API Gateway writes execution and access logs with the account's CloudWatch role (one per account
  # and region) and refuses to create a stage that logs while the account has none: log only when
  # the role is managed here or declared to exist.
  logging_enabled = var.manage_account_logging_role || var.account_has_logging_role

  access_log_group_name    = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  execution_log_group_name = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this.id}/${var.stage_name}"

  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTime        = "$context.requestTime"
    requestTimeEpoch   = "$context.requestTimeEpoch"
    apiId              = "$context.apiId"
    stage              = "$context.stage"
    eventType          = "$context.eventType"
    routeKey           = "$context.routeKey"
    connectionId       = "$context.connectionId"
    messageId          = "$context.messageId"
    status             = "$context.status"
    sourceIp           = "$context.identity.sourceIp"
    userAgent          = "$context.identity.userAgent"
    principalId        = "$context.authorizer.principalId"
    authorizerError    = "$context.authorizer.error"
    authorizerStatus   = "$context.authorizer.status"
    authorizerLatency  = "$context.authorizer.latency"
    errorMessage       = "$context.error.message"
    errorResponseType  = "$context.error.responseType"
    integrationError   = "$context.integration.error"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    integrationRequest = "$context.integration.requestId"
  })
}

################################################################################
# API, integrations, authorizer, routes
################################################################################

resource "aws_apigatewayv2_api" "this" {
  name                       = var.name
  description                = var.description
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = toset(["connect", "disconnect", "message"])

  api_id               = aws_apigatewayv2_api.this.id
  description          = "Lambda proxy: ${local.function_names[each.key]}"
  integration_type     = "AWS_PROXY"
  integration_method   = "POST"
  integration_uri      = local.invoke_arns[each.key]
  timeout_milliseconds = var.integration_timeout_milliseconds
}

resource "aws_apigatewayv2_authorizer" "this" {
  count = var.create_authorizer ? 1 : 0

  api_id          = aws_apigatewayv2_api.this.id
  name            = "${var.name}-connect"
  authorizer_type = "REQUEST"
  authorizer_uri  = local.invoke_arns["authorizer"]
  # ?token= by default: API Gateway answers 401 without invoking the Lambda when it is missing, so
  # junk $connect attempts cost no invocation. Empty: the Lambda runs on every $connect and reads
  # the token itself (query string or Authorization header). WebSocket authorizers have no result
  # cache (AuthorizerResultTtlInSeconds is for HTTP APIs only): every $connect that passes the
  # identity check invokes the Lambda, which caches the issuer's keys in-process.
  identity_sources = length(var.authorizer_identity_sources) > 0 ? var.authorizer_identity_sources : null

  lifecycle {
    precondition {
      condition     = var.authorizer_function_arn != null
      error_message = "create_authorizer needs authorizer_function_arn."
    }
  }
}

resource "aws_apigatewayv2_route" "this" {
  for_each = local.routes

  # checkov:skip=CKV_AWS_309:A WebSocket API authorizes only $connect (API Gateway allows no authorizer on other routes); $disconnect and message routes run on a connection $connect already authorized. $connect itself has no authorizer only with create_authorizer = false, which the system module sets only for AUTH_MODE=none, and which it plans only with allow_anonymous_chat = true (an explicit, loudly named input: a public demo, or the emulator): anonymous chat is then deliberately open to anyone with the URL, each conversation bound to a server-issued session token, and every route throttled.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value.route_key
  operation_name     = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this[each.value.integration].id}"
  authorization_type = each.key == "connect" && var.create_authorizer ? "CUSTOM" : "NONE"
  authorizer_id      = each.key == "connect" && var.create_authorizer ? aws_apigatewayv2_authorizer.this[0].id : null
}

################################################################################
# Lambda permissions: this API, this stage, this route only
################################################################################

resource "aws_lambda_permission" "route" {
  for_each = local.routes

  statement_id  = "AllowApiGateway-${var.name}-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = local.function_names[each.value.integration]
  qualifier     = local.qualifiers[each.value.integration]
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/${each.value.route_key}"
}

resource "aws_lambda_permission" "authorizer" {
  count = var.create_authorizer ? 1 : 0

  statement_id  = "AllowApiGateway-${var.name}-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = local.function_names["authorizer"]
  qualifier     = local.qualifiers["authorizer"]
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.this[0].id}"
}

################################################################################
# Deployment and stage
################################################################################

resource "aws_apigatewayv2_deployment" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  description = "Routes, integrations and authorizer of ${var.name}"

  # A WebSocket stage serves a deployment, never the live routes (auto_deploy is HTTP-only):
  # any change to them needs a new deployment. The hash covers what this module configures, not
  # whole resources: an attribute the API reads back differently (as an emulator does for the
  # authorizer's payload format) would otherwise change it mid-apply ("inconsistent final plan").
  triggers = {
    redeployment = sha1(jsonencode({
      routes = {
        for key, route in aws_apigatewayv2_route.this :
        key => [route.id, route.route_key, route.target, route.authorization_type, route.authorizer_id]
      }
      integrations = {
        for key, integration in aws_apigatewayv2_integration.this :
        key => [integration.id, integration.integration_uri, integration.timeout_milliseconds]
      }
      authorizers = [
        for authorizer in aws_apigatewayv2_authorizer.this :
        [authorizer.id, authorizer.authorizer_uri, authorizer.identity_sources]
      ]
    }))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_apigatewayv2_stage" "this" {
  # checkov:skip=CKV2_AWS_51:A stage's client certificate authenticates API Gateway to HTTP backends; every integration here is a Lambda proxy, invoked through IAM (lambda permissions), so there is no backend to present it to.
  api_id        = aws_apigatewayv2_api.this.id
  name          = var.stage_name
  description   = "Stage ${var.stage_name} of ${var.name}"
  deployment_id = aws_apigatewayv2_deployment.this.id

  default_route_settings {
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    detailed_metrics_enabled = var.detailed_metrics_enabled
    logging_level            = local.logging_enabled ? var.logging_level : "OFF"
    data_trace_enabled       = local.logging_enabled && var.data_trace_enabled
  }

  # Per-route throttling under the stage's: new connections ($connect, and with it the authorizer),
  # customer messages (sendMessage: each one a model turn) and the rest ($default: ping, resume).
  dynamic "route_settings" {
    for_each = var.route_throttling

    content {
      route_key                = route_settings.key
      throttling_burst_limit   = route_settings.value.burst_limit
      throttling_rate_limit    = route_settings.value.rate_limit
      detailed_metrics_enabled = var.detailed_metrics_enabled
      logging_level            = local.logging_enabled ? var.logging_level : "OFF"
      data_trace_enabled       = local.logging_enabled && var.data_trace_enabled
    }
  }

  dynamic "access_log_settings" {
    for_each = local.logging_enabled ? [1] : []

    content {
      destination_arn = aws_cloudwatch_log_group.access.arn
      format          = local.access_log_format
    }
  }

  tags = var.tags

  # Execution logging and access logging need the account's CloudWatch role, and the execution
  # log group must exist (with its retention and key) before API Gateway creates one without.
  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.execution]
}

################################################################################
# Logs: access log group, execution log group, KMS key
################################################################################

module "log_kms_key" {
  source = "../kms_key"
  count  = var.create_log_kms_key ? 1 : 0

  description             = "CloudWatch Logs of the WebSocket API ${var.name}"
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  log_group_arns = [
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.access_log_group_name}",
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.execution_log_group_name}",
  ]

  tags = var.tags
}

moved {
  from = aws_kms_key.this[0]
  to   = module.log_kms_key[0].aws_kms_key.this
}

resource "aws_cloudwatch_log_group" "access" {
  name              = local.access_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.log_kms_key_arn

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.create_log_kms_key || var.log_kms_key_arn != null
      error_message = "create_log_kms_key = false needs log_kms_key_arn."
    }
  }
}

resource "aws_cloudwatch_log_group" "execution" {
  name              = local.execution_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.log_kms_key_arn

  tags = var.tags
}

################################################################################
# Account-level CloudWatch role (one per account and region; optional)
################################################################################

data "aws_iam_policy_document" "account_logging_assume" {
  count = var.manage_account_logging_role ? 1 : 0

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "account_logging" {
  count = var.manage_account_logging_role ? 1 : 0

  name_prefix        = "apigateway-cloudwatch-"
  description        = "API Gateway's account-wide role for writing CloudWatch Logs (region ${local.region})"
  assume_role_policy = data.aws_iam_policy_document.account_logging_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "account_logging" {
  count = var.manage_account_logging_role ? 1 : 0

  role = aws_iam_role.account_logging[0].name
  # AWS's managed policy for this role. Its log-group wildcard cannot be narrowed: the setting is
  # account-wide, and every REST and WebSocket API of the account and region logs through it.
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_logging_role ? 1 : 0

  # On destroy the provider only forgets this setting (reset_on_delete, deprecated, is left off);
  # the account then names a deleted role until another configuration sets one (README).
  cloudwatch_role_arn = aws_iam_role.account_logging[0].arn

  depends_on = [aws_iam_role_policy_attachment.account_logging]
}
