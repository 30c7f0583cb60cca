# The whole system planned with a mock provider: every module for real, nothing overridden, so
# that the wiring is checked with the values a first `terraform plan` has. Resource IDs and ARNs
# created in the same apply are unknown at plan time here as in AWS (e.g. the Lambda security
# group the database's proxy admits), so a for_each over them fails this test as it would fail
# the plan. The build artifacts are stand-ins (tests/fixtures/packages, written by tests/terraform/conftest.py
# before `make test` runs this file); Terraform only hashes them.

mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  name      = "order-agent-test"
  build_dir = "tests/fixtures/packages"
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

run "anonymous_chat_needs_the_loudly_named_input" {
  command = plan

  variables {
    auth_mode = "none"
  }

  expect_failures = [output.auth_mode]
}

run "anonymous_chat_plans_when_allowed_with_limits_and_route_throttling" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
    chat_limits          = { max_turns_per_conversation = 20 }
    route_throttling     = { sendMessage = { burst_limit = 10, rate_limit = 5 } }
  }

  assert {
    condition     = length(module.websocket_api.route_ids) == 4 && output.auth_mode == "none"
    error_message = "Anonymous chat deploys when allowed explicitly."
  }
}

# The offline model's code ships only in the development layer (make layers: layer-dev-providers.zip),
# which an emulator passes in; dev and prod never do.
run "the_offline_model_needs_the_development_layer" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
    model_provider       = "offline"
  }

  expect_failures = [output.model_provider]
}

run "an_emulator_gives_the_development_layer_to_the_agents_functions" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
    model_provider       = "offline"
    emulator = {
      endpoint_url       = "http://127.0.0.1:4566"
      database           = { host = "127.0.0.1", port = 6432, username = "postgres", password = "local", sslmode = "disable", app_password = "local-app" }
      dev_layer_packages = { dev-providers = "tests/fixtures/packages/layer-dev-providers.zip" }
    }
  }

  assert {
    condition     = keys(module.agent.layer_arns) == ["agent", "auth", "deps", "dev-providers"] && output.model_provider == "offline"
    error_message = "The agent's functions get the production layers and the emulator's development layer."
  }
}

run "tracing_goes_through_the_trace_pipeline_and_the_message_function_carries_no_mlflow" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
    model_provider       = "offline"
    emulator = {
      endpoint_url        = "http://127.0.0.1:4566"
      database            = { host = "127.0.0.1", port = 6432, username = "postgres", password = "local", sslmode = "disable", app_password = "local-app" }
      mlflow_tracking_uri = "http://127.0.0.1:5000"
      dev_layer_packages  = { dev-providers = "tests/fixtures/packages/layer-dev-providers.zip" }
    }
  }

  assert {
    condition     = length(module.trace_pipeline) == 1 && module.observability.alarm_arns != null
    error_message = "A tracking server gets the trace pipeline."
  }

  assert {
    condition     = join(",", local.function_layers["message"]) == "agent,deps,dev-providers" && join(",", local.function_layers["authorizer"]) == "agent,deps,auth,dev-providers"
    error_message = "The message function gets neither the tracing nor the auth layer."
  }
}

# The anthropic and openai providers are wired for emulators only: their key has no Secrets Manager input yet.
run "a_provider_outside_bedrock_is_refused_in_aws" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
    model_provider       = "anthropic"
  }

  expect_failures = [output.model_provider]
}

run "an_emulator_passes_the_providers_settings_to_the_agents_functions" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
    model_provider       = "openai"
    emulator = {
      endpoint_url      = "http://127.0.0.1:4566"
      database          = { host = "127.0.0.1", port = 6432, username = "postgres", password = "local", sslmode = "disable", app_password = "local-app" }
      model_environment = { OPENAI_BASE_URL = "http://127.0.0.1:11434/v1", OPENAI_MODEL = "qwen3:8b" }
    }
  }

  assert {
    condition     = output.model_provider == "openai"
    error_message = "The emulator runs the openai provider."
  }
}

# One plan with the defaults of an anonymous chat checks what those defaults must give.
run "defaults_of_a_first_plan" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
  }

  # The plan itself is the check: the Lambda security group's ID is unknown until apply, and the
  # database's proxy admits it (issue: `for_each = toset(var.client_security_group_ids)` made the
  # first plan of every environment fail with "Invalid for_each argument").
  assert {
    condition     = module.database.database_name == "orders"
    error_message = "The database module must plan with client security groups created in the same apply."
  }

  # The default model id is the US cross-region profile: the profile in this region and account,
  # and its foundation model in any region only through it (AWS's pattern for cross-region inference).
  assert {
    condition     = local.bedrock_model_arns == tolist(["arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6"])
    error_message = "The agent may invoke the inference profile of bedrock_model_id in the deployment region and account."
  }

  assert {
    condition     = local.bedrock_profile_model_arns == tolist(["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6"])
    error_message = "The profile's foundation model, in any region, is allowed (through the profile only)."
  }

  # A first apply must work in an account and region without API Gateway's CloudWatch role.
  assert {
    condition     = !module.websocket_api.logging_enabled && module.websocket_api.account_logging_role_arn == null
    error_message = "By default the stage must not log (it would fail where the account has no CloudWatch role) and nothing account-wide is managed."
  }
}

# Inputs that change unrelated parts are combined, one plan per pair (each plan costs seconds).
run "without_mlflow_and_with_a_model_without_profile" {
  command = plan

  variables {
    auth_mode            = "none"
    allow_anonymous_chat = true
    enable_mlflow        = false
    bedrock_model_id     = "amazon.nova-pro-v1:0"
  }

  assert {
    condition     = module.mlflow.tracking_server_arn == null
    error_message = "MLflow off must create no tracking server"
  }

  assert {
    condition     = length(module.trace_pipeline) == 0
    error_message = "Without a tracking server there is no trace pipeline (and no tracing)."
  }

  assert {
    condition     = local.bedrock_model_arns == tolist(["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"]) && length(local.bedrock_profile_model_arns) == 0
    error_message = "A model id without a profile prefix is invoked in the deployment region only, with no wildcard."
  }
}

run "given_bedrock_access_and_the_accounts_logging_role" {
  command = plan

  variables {
    auth_mode                   = "none"
    allow_anonymous_chat        = true
    bedrock_model_id            = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    bedrock_profile_model_arns  = ["arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6"]
    api_gateway_cloudwatch_role = "existing"
  }

  assert {
    condition     = local.bedrock_model_arns == tolist(["arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"])
    error_message = "An application inference profile ARN is allowed as given."
  }

  assert {
    condition     = module.websocket_api.logging_enabled
    error_message = "With the account's role declared, the stage logs."
  }
}
