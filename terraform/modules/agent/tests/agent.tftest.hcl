mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mock"
    }
  }

  mock_resource "aws_lambda_layer_version" {
    defaults = {
      arn = "arn:aws:lambda:us-east-1:123456789012:layer:order-agent-deps:1"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn           = "arn:aws:lambda:us-east-1:123456789012:function:mock"
      invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:mock/invocations"
      qualified_arn = "arn:aws:lambda:us-east-1:123456789012:function:mock:3"
      version       = "3"
    }
  }

  mock_resource "aws_lambda_alias" {
    defaults = {
      arn        = "arn:aws:lambda:us-east-1:123456789012:function:order-agent-message:live"
      invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:order-agent-message:live/invocations"
    }
  }
}

override_resource {
  target = aws_cloudwatch_log_group.this["message"]
  values = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/order-agent-message"
  }
}

variables {
  name = "order-agent"
  function_packages = {
    connect    = "tests/fixtures/package.txt"
    disconnect = "tests/fixtures/package.txt"
    message    = "tests/fixtures/package.txt"
    authorizer = "tests/fixtures/package.txt"
  }
  layer_packages = {
    agent = "tests/fixtures/package.txt"
    deps  = "tests/fixtures/package.txt"
  }
  table_arn                   = "arn:aws:dynamodb:us-east-1:123456789012:table/order-agent-checkpoints"
  bucket_arn                  = "arn:aws:s3:::order-agent-offload-1"
  kms_key_arn                 = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  connections_arn             = "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/POST/@connections/*"
  bedrock_model_arns          = ["arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6"]
  bedrock_profile_model_arns  = ["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6"]
  database_secret_arn         = "arn:aws:secretsmanager:us-east-1:123456789012:secret:order-agent-db-AbCdEf"
  database_secret_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/12121212-3434-5656-7878-909090909090"
  attach_extra_policy         = true
  extra_policy_json           = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sagemaker-mlflow:LogMetric\",\"Resource\":\"arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/order-agent\"}]}"
  auth_mode                   = "jwt"
  jwt_jwks_url                = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json"
  jwt_issuer                  = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"
  jwt_audience                = "client-id"
  alarm_sns_topic_arn         = "arn:aws:sns:us-east-1:123456789012:order-agent-alarms"
  tags                        = { project = "order-agent" }
}

run "four_functions_with_the_expected_shape" {
  command = apply

  assert {
    condition     = toset(keys(aws_lambda_function.this)) == toset(["connect", "disconnect", "message", "authorizer"])
    error_message = "connect, disconnect, message and authorizer functions are expected."
  }

  assert {
    condition = alltrue([
      for f in aws_lambda_function.this :
      f.runtime == "python3.13" && f.architectures == tolist(["arm64"]) && f.handler == "handler.handler" && one(f.tracing_config).mode == "Active"
    ])
    error_message = "python3.13 on arm64, handler.handler and active X-Ray tracing by default."
  }

  assert {
    condition     = aws_lambda_function.this["message"].memory_size == 1024 && aws_lambda_function.this["message"].timeout == 120
    error_message = "The message function needs 1024 MB and 120 s."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : length(f.layers) == 2])
    error_message = "Every function gets every layer."
  }

  assert {
    condition = {
      for k, f in aws_lambda_function.this : k => f.reserved_concurrent_executions
    } == { connect = 25, disconnect = 10, message = 100, authorizer = 25 }
    error_message = "By default message turns are capped at 100 and $connect and the authorizer keep 25 each (160 reserved, 100 of 1,000 left unreserved)."
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : f.role == aws_iam_role.this[k].arn]) && length(aws_iam_role.this) == 4
    error_message = "One role per function."
  }
}

run "message_is_published_with_snapstart_behind_an_alias" {
  command = apply

  assert {
    condition     = one(aws_lambda_function.this["message"].snap_start).apply_on == "PublishedVersions" && aws_lambda_function.this["message"].publish
    error_message = "The message function must publish versions with SnapStart."
  }

  assert {
    condition     = alltrue([for k, f in aws_lambda_function.this : length(f.snap_start) == 0 && !f.publish if k != "message"])
    error_message = "Only the message function is published with SnapStart."
  }

  assert {
    condition     = aws_lambda_alias.message.function_version == aws_lambda_function.this["message"].version && aws_lambda_alias.message.name == "live"
    error_message = "The alias must point at the published version."
  }

  assert {
    condition     = output.message_alias_arn == aws_lambda_alias.message.arn && output.invoke_arns["message"] == aws_lambda_alias.message.invoke_arn
    error_message = "The alias is what API Gateway must invoke."
  }
}

run "every_function_logs_to_its_own_group_and_has_alarms" {
  command = apply

  assert {
    condition = alltrue([
      for k, f in aws_lambda_function.this :
      one(f.logging_config).log_group == aws_cloudwatch_log_group.this[k].name &&
      aws_cloudwatch_log_group.this[k].name == "/aws/lambda/order-agent-${k}" &&
      aws_cloudwatch_log_group.this[k].retention_in_days == 365 &&
      aws_cloudwatch_log_group.this[k].kms_key_id == module.log_kms_key[0].key_arn
    ])
    error_message = "Every function needs its own log group with retention and the KMS key."
  }

  assert {
    condition = alltrue([
      for k in keys(aws_lambda_function.this) :
      aws_cloudwatch_metric_alarm.errors[k].metric_name == "Errors" &&
      aws_cloudwatch_metric_alarm.throttles[k].metric_name == "Throttles" &&
      aws_cloudwatch_metric_alarm.duration[k].metric_name == "Duration" &&
      aws_cloudwatch_metric_alarm.errors[k].dimensions["FunctionName"] == aws_lambda_function.this[k].function_name &&
      aws_cloudwatch_metric_alarm.errors[k].alarm_actions == toset([var.alarm_sns_topic_arn])
    ])
    error_message = "Every function needs errors, throttles and duration alarms notifying the topic."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.duration["message"].extended_statistic == "p99" && aws_cloudwatch_metric_alarm.duration["message"].threshold == 96000
    error_message = "The duration alarm must watch p99 at 80% of the timeout (120 s -> 96000 ms)."
  }

  assert {
    condition = alltrue([
      for k, d in data.aws_iam_policy_document.this :
      length([for s in d.statement : s if s.sid == "WriteOwnLogGroup" && s.resources == toset(["${aws_cloudwatch_log_group.this[k].arn}:log-stream:*"])]) == 1
    ])
    error_message = "Each role may write to its own log group only."
  }

  assert {
    condition     = data.aws_iam_policy_document.this["message"].statement[0].resources == toset(["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/order-agent-message:log-stream:*"])
    error_message = "The message role's log statement must name the message log group."
  }
}

run "no_wildcard_actions_anywhere" {
  command = apply

  assert {
    condition = alltrue(flatten([
      for d in data.aws_iam_policy_document.this : [
        for s in d.statement : [for a in s.actions : a != "*" && !endswith(a, ":*") && !endswith(a, "*")]
      ]
    ]))
    error_message = "No IAM statement may allow a wildcard action."
  }

  assert {
    condition = alltrue(flatten([
      for d in data.aws_iam_policy_document.this : [
        for s in d.statement : s.resources != toset(["*"]) if !contains(["XRayTraces", "VpcNetworkInterfaces"], s.sid)
      ]
    ]))
    error_message = "Only X-Ray and the VPC ENI statements may use a \"*\" resource."
  }
}

run "message_manages_connections_only_on_the_given_arn" {
  command = apply

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.this["message"].statement :
      s.resources == toset([var.connections_arn]) if contains(s.actions, "execute-api:ManageConnections")
    ]) && length([for s in data.aws_iam_policy_document.this["message"].statement : s if contains(s.actions, "execute-api:ManageConnections")]) == 1
    error_message = "The message role must manage connections on connections_arn and nothing else."
  }

  assert {
    condition = alltrue(flatten([
      for k, d in data.aws_iam_policy_document.this : [
        for s in d.statement : !anytrue([for a in s.actions : startswith(a, "execute-api:")])
      ] if k != "message"
    ]))
    error_message = "Only the message role may call execute-api."
  }
}

run "each_role_gets_only_what_its_code_uses" {
  command = apply

  assert {
    condition = alltrue(flatten([
      for k, d in data.aws_iam_policy_document.this : [
        for s in d.statement : s.resources == toset([var.table_arn]) if anytrue([for a in s.actions : startswith(a, "dynamodb:")])
      ]
    ]))
    error_message = "DynamoDB actions only on the table."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this["connect"].statement : s.actions if s.sid == "ConversationTable"][0] == toset(["dynamodb:PutItem"])
    error_message = "connect only puts its connection item."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.this["authorizer"].statement : contains(["WriteOwnLogGroup", "XRayTraces"], s.sid)
    ])
    error_message = "The authorizer may only write logs (and traces)."
  }

  assert {
    condition = (
      [for s in data.aws_iam_policy_document.this["message"].statement : s.resources if s.sid == "InvokeModels"][0] == toset(var.bedrock_model_arns) &&
      [for s in data.aws_iam_policy_document.this["message"].statement : s.resources if s.sid == "DatabaseSecret"][0] == toset([var.database_secret_arn]) &&
      [for s in data.aws_iam_policy_document.this["message"].statement : s.resources if s.sid == "DatabaseSecretKey"][0] == toset([var.database_secret_kms_key_arn]) &&
      [for s in data.aws_iam_policy_document.this["message"].statement : s.resources if s.sid == "CheckpointOffloadObjects"][0] == toset(["${var.bucket_arn}/*"]) &&
      [for s in data.aws_iam_policy_document.this["message"].statement : s.resources if s.sid == "ConversationStoreKey"][0] == toset([var.kms_key_arn])
    )
    error_message = "Bedrock, the secret, the bucket's objects and the key: each on the given ARN only."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.this["message"].statement :
      s.resources == toset(var.bedrock_profile_model_arns) && length(s.condition) == 1 && alltrue([
        for c in s.condition :
        c.test == "StringEquals" && c.variable == "bedrock:InferenceProfileArn" && toset(c.values) == toset(var.bedrock_model_arns)
      ]) if s.sid == "InvokeModelsThroughProfile"
    ]) && length([for s in data.aws_iam_policy_document.this["message"].statement : s if s.sid == "InvokeModelsThroughProfile"]) == 1
    error_message = "The region-wildcard foundation models only through the inference profile (condition bedrock:InferenceProfileArn), as AWS documents for cross-region inference."
  }

  assert {
    condition = alltrue(flatten([
      for k, d in data.aws_iam_policy_document.this : [
        for s in d.statement : !anytrue([for a in s.actions : startswith(a, "bedrock:")])
      ] if k != "message"
    ]))
    error_message = "Only the message role may invoke models."
  }

  assert {
    condition     = length(aws_iam_role_policy.extra) == 1 && aws_iam_role_policy.extra[0].role == aws_iam_role.this["message"].id
    error_message = "extra_policy_json goes to the message role only."
  }
}

run "environment_wires_the_settings" {
  command = apply

  variables {
    environment = { MAX_MESSAGE_CHARS = "2000" }
    timeouts    = { message = 90 }
  }

  assert {
    condition     = aws_lambda_function.this["message"].environment[0].variables["SESSION_LOCK_SECONDS"] == "100"
    error_message = "A turn's session lock must outlast the message function's timeout (90 s here)."
  }

  assert {
    condition = (
      aws_lambda_function.this["message"].environment[0].variables["CHECKPOINT_TABLE"] == "order-agent-checkpoints" &&
      aws_lambda_function.this["message"].environment[0].variables["CHECKPOINT_BUCKET"] == "order-agent-offload-1" &&
      aws_lambda_function.this["message"].environment[0].variables["MODEL_PROVIDER"] == "bedrock" &&
      aws_lambda_function.this["message"].environment[0].variables["BEDROCK_REGION"] == "us-east-1" &&
      aws_lambda_function.this["message"].environment[0].variables["MAX_MESSAGE_CHARS"] == "2000" &&
      aws_lambda_function.this["message"].environment[0].variables["DATABASE_SECRET_ARN"] == var.database_secret_arn
    )
    error_message = "The message function must get the store, model and extra settings."
  }

  assert {
    condition = (
      aws_lambda_function.this["message"].environment[0].variables["RATE_LIMIT_WINDOW_S"] == "60" &&
      aws_lambda_function.this["message"].environment[0].variables["MAX_MESSAGES_PER_CONNECTION"] == "20" &&
      aws_lambda_function.this["message"].environment[0].variables["MAX_MESSAGES_PER_PRINCIPAL"] == "60" &&
      aws_lambda_function.this["message"].environment[0].variables["MAX_TURNS_PER_CONVERSATION"] == "50" &&
      aws_lambda_function.this["message"].environment[0].variables["MAX_TOKENS_PER_CONVERSATION"] == "500000"
    )
    error_message = "The message function must get the limits' defaults."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : !contains(keys(f.environment[0].variables), "AWS_REGION")])
    error_message = "AWS_REGION is Lambda's own and must not be set."
  }

  assert {
    condition = (
      aws_lambda_function.this["authorizer"].environment[0].variables["AUTH_MODE"] == "jwt" &&
      aws_lambda_function.this["authorizer"].environment[0].variables["JWT_ISSUER"] == var.jwt_issuer &&
      !contains(keys(aws_lambda_function.this["authorizer"].environment[0].variables), "CHECKPOINT_TABLE")
    )
    error_message = "The authorizer gets the JWT settings and not the store."
  }
}

run "each_function_gets_its_own_layers_and_the_message_function_the_trace_queue" {
  command = apply

  variables {
    layer_packages = {
      agent = "tests/fixtures/package.txt"
      auth  = "tests/fixtures/package.txt"
      deps  = "tests/fixtures/package.txt"
    }
    function_layers = { authorizer = ["deps", "auth", "agent"], message = ["deps", "agent"] }
    trace_queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/order-agent-traces"
    trace_bucket    = "order-agent-traces-1"
  }

  assert {
    condition     = length(aws_lambda_function.this["authorizer"].layers) == 3 && length(aws_lambda_function.this["message"].layers) == 2
    error_message = "The authorizer gets its auth layer; the message function only deps and agent."
  }

  assert {
    condition     = length(aws_lambda_function.this["connect"].layers) == 3
    error_message = "A function function_layers does not name gets every layer."
  }

  assert {
    condition = (
      aws_lambda_function.this["message"].environment[0].variables["TRACE_QUEUE_URL"] == var.trace_queue_url &&
      aws_lambda_function.this["message"].environment[0].variables["TRACE_BUCKET"] == var.trace_bucket &&
      !contains(keys(aws_lambda_function.this["message"].environment[0].variables), "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING")
    )
    error_message = "The message function hands traces to the queue and exports nothing itself."
  }
}

run "vpc_reserved_concurrency_and_no_key" {
  command = apply

  variables {
    subnet_ids                     = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    security_group_ids             = ["sg-0123456789abcdef0"]
    vpc_function_names             = ["message"]
    reserved_concurrent_executions = { message = 50, connect = null }
    kms_key_arn                    = null
    create_log_kms_key             = false
    log_kms_key_arn                = "arn:aws:kms:us-east-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
  }

  assert {
    condition     = length(aws_lambda_function.this["message"].vpc_config) == 1 && length(aws_lambda_function.this["authorizer"].vpc_config) == 0
    error_message = "Only the functions in vpc_function_names join the VPC."
  }

  assert {
    condition = (
      length([for s in data.aws_iam_policy_document.this["message"].statement : s if s.sid == "VpcNetworkInterfaces"]) == 1 &&
      length([for s in data.aws_iam_policy_document.this["connect"].statement : s if s.sid == "VpcNetworkInterfaces"]) == 0
    )
    error_message = "Only functions in the VPC get the ENI permissions."
  }

  assert {
    condition     = aws_lambda_function.this["message"].reserved_concurrent_executions == 50 && aws_lambda_function.this["connect"].reserved_concurrent_executions == -1 && aws_lambda_function.this["disconnect"].reserved_concurrent_executions == 10
    error_message = "Reserved concurrency per function over the defaults, null meaning unreserved."
  }

  assert {
    condition     = length(module.log_kms_key) == 0 && length([for s in data.aws_iam_policy_document.this["message"].statement : s if s.sid == "ConversationStoreKey"]) == 0
    error_message = "A given log key means no key created; no store key means no KMS statement."
  }
}

run "limits_are_set_one_by_one" {
  command = apply

  variables {
    limits = { max_turns_per_conversation = 10, max_messages_per_principal = 0 }
  }

  assert {
    condition = (
      aws_lambda_function.this["message"].environment[0].variables["MAX_TURNS_PER_CONVERSATION"] == "10" &&
      aws_lambda_function.this["message"].environment[0].variables["MAX_MESSAGES_PER_PRINCIPAL"] == "0" &&
      aws_lambda_function.this["message"].environment[0].variables["MAX_MESSAGES_PER_CONNECTION"] == "20"
    )
    error_message = "A limit given replaces its default; the others keep theirs."
  }
}

run "rejects_a_fractional_limit" {
  command = plan

  variables {
    limits = { max_tokens_per_conversation = 0.5 }
  }

  expect_failures = [var.limits]
}

run "without_jwt_nothing_is_reserved_for_the_authorizer" {
  command = plan

  variables {
    auth_mode = "none"
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].reserved_concurrent_executions == -1 && local.reserved_total == 135
    error_message = "The authorizer runs only with JWT: nothing is set aside for it otherwise."
  }
}

run "reservations_leave_100_of_the_account_unreserved" {
  command = plan

  variables {
    account_concurrent_executions = 200
  }

  expect_failures = [aws_lambda_function.this]
}

run "a_small_account_plans_with_nothing_reserved" {
  command = plan

  variables {
    account_concurrent_executions  = 10
    reserved_concurrent_executions = { connect = null, disconnect = null, message = null, authorizer = null }
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.reserved_concurrent_executions == -1])
    error_message = "null leaves every function unreserved."
  }
}

run "jwt_mode_needs_its_settings" {
  command = plan

  variables {
    jwt_issuer = null
  }

  expect_failures = [aws_lambda_function.this]
}

run "rejects_reserved_environment_names" {
  command = plan

  variables {
    environment = { AWS_REGION = "eu-west-1" }
  }

  expect_failures = [var.environment]
}

run "rejects_an_old_runtime" {
  command = plan

  variables {
    runtime = "python3.11"
  }

  expect_failures = [var.runtime]
}

run "rejects_a_package_that_was_not_built" {
  command = plan

  variables {
    function_packages = {
      connect    = "tests/fixtures/package.txt"
      disconnect = "tests/fixtures/package.txt"
      message    = "build/lambda/function-message.zip"
      authorizer = "tests/fixtures/package.txt"
    }
  }

  expect_failures = [var.function_packages]
}

run "rejects_a_region_wildcard_without_the_profile_condition" {
  command = plan

  # A wildcard region is allowed only in bedrock_profile_model_arns, which the profile condition guards.
  variables {
    bedrock_model_arns = ["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6"]
  }

  expect_failures = [var.bedrock_model_arns]
}

run "rejects_a_wildcard_model" {
  command = plan

  variables {
    bedrock_profile_model_arns = ["arn:aws:bedrock:*::foundation-model/*"]
  }

  expect_failures = [var.bedrock_profile_model_arns]
}

run "profile_models_need_a_profile" {
  command = plan

  variables {
    bedrock_model_arns = ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6"]
  }

  expect_failures = [aws_lambda_function.this]
}
