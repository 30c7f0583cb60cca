# A plan of this environment with its terraform.tfvars.example and a mock provider (run by
# tests/terraform/test_terraform.py as `terraform test -var-file=terraform.tfvars.example`): every
# variable validation and precondition of every module is evaluated on the example's values, offline.

mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  # Stand-ins for `make layers` and `make web` output, which a clean clone does not have.
  build_dir = "../../modules/system/tests/fixtures/packages"
  site_dir  = "../../modules/chat_site/tests/fixtures/site"
}

run "the_example_tfvars_plan" {
  command = plan

  assert {
    condition     = length(output.function_names) == 4
    error_message = "The environment must plan with its example tfvars."
  }
}

run "anonymous_chat_needs_allow_anonymous_chat" {
  command = plan

  variables {
    jwt = null
  }

  expect_failures = [var.allow_anonymous_chat]
}

run "anonymous_chat_when_asked_for_by_name" {
  command = plan

  variables {
    jwt                  = null
    allow_anonymous_chat = true
    chat_limits          = { max_turns_per_conversation = 20 }
  }

  assert {
    condition     = length(output.function_names) == 4
    error_message = "dev must plan anonymous chat with allow_anonymous_chat = true."
  }
}
