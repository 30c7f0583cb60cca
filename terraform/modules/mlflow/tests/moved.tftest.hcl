# A deployment made before the s3_bucket module: its bucket resources sit at this module's old
# addresses. Applying the module to that state must move each of them (the moved blocks in
# main.tf), not destroy it and create another: with a mock provider a created resource gets a new
# random id, so every id must be the one the old resource had.

mock_provider "aws" {
  source = "../../testing/aws"
}

variables {
  name = "agent"
}

run "deployed_before_the_s3_bucket_module" {
  state_key = "main"

  module {
    source = "../s3_bucket/tests/fixtures/before_mlflow"
  }
}

run "the_bucket_resources_move_into_the_module" {
  state_key = "main"

  variables {
    logging_bucket_name = "central-logs"
  }

  assert {
    condition     = module.artifact_bucket[0].resource_ids == run.deployed_before_the_s3_bucket_module.resource_ids
    error_message = "A bucket resource was replaced rather than moved: a moved block is missing or wrong."
  }
}
