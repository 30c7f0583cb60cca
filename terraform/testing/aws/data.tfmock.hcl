# Data sources every module test reads, with the values the tests assert: one account, one region.
# Shared by the tests of the modules, the environments and bootstrap through
# `mock_provider "aws" { source = "../../testing/aws" }` (bootstrap: "../testing/aws")
# (Terraform 1.7+ loads every *.tfmock.hcl file of that directory); a test file's own mock_data or
# mock_resource blocks inside the mock_provider block take precedence over these.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_data "aws_region" {
  defaults = {
    id     = "us-east-1"
    name   = "us-east-1"
    region = "us-east-1"
  }
}

mock_data "aws_availability_zones" {
  defaults = {
    names = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }
}

mock_data "aws_vpc_endpoint_service" {
  defaults = {
    service_name                  = "com.amazonaws.us-east-1.mock"
    availability_zones            = ["us-east-1a", "us-east-1b", "us-east-1c"]
    vpc_endpoint_policy_supported = true
  }
}

# Mocked strings are random; a policy document must be JSON wherever a resource's policy is validated.
mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}
