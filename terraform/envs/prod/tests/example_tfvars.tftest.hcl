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
