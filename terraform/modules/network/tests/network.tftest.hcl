mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_vpc" {
    defaults = { ipv6_cidr_block = "2600:1f18:1234:5600::/56" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vpc-flow-logs/test" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/test-flow-logs" }
  }

  mock_resource "aws_vpc_endpoint" {
    defaults = { prefix_list_id = "pl-12345678" }
  }
}

variables {
  name = "test"
  tags = { Project = "order-agent" }
}

run "az_count_below_two_is_rejected" {
  command = plan

  variables {
    az_count = 1
  }

  expect_failures = [var.az_count]
}

run "az_count_beyond_available_zones_is_rejected" {
  command = plan

  variables {
    az_count           = 3
    availability_zones = ["eu-west-1a", "eu-west-1b"]
  }

  expect_failures = [aws_vpc.this]
}

run "nat_mode_single_nat_gateway" {
  command = apply

  assert {
    condition     = aws_vpc.this.enable_dns_support && aws_vpc.this.enable_dns_hostnames
    error_message = "The VPC must have DNS support and hostnames (private DNS of interface endpoints)."
  }

  assert {
    condition     = length(aws_subnet.private) == 2 && length(distinct(aws_subnet.private[*].availability_zone)) == 2
    error_message = "One private subnet per AZ, in distinct AZs."
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_subnet.public) == 1 && length(aws_internet_gateway.this) == 1
    error_message = "single_nat_gateway: one NAT gateway, one public subnet, one internet gateway."
  }

  assert {
    condition     = length(aws_route.private_nat) == 2 && alltrue([for r in aws_route.private_nat : r.nat_gateway_id == aws_nat_gateway.this[0].id])
    error_message = "Every private route table sends 0.0.0.0/0 to the single NAT gateway."
  }

  assert {
    condition     = length(aws_egress_only_internet_gateway.this) == 0 && length(aws_route.private_ipv6_egress) == 0 && !aws_vpc.this.assign_generated_ipv6_cidr_block
    error_message = "NAT mode creates no IPv6 egress."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.private : !s.map_public_ip_on_launch]) && alltrue([for s in aws_subnet.public : !s.map_public_ip_on_launch])
    error_message = "No subnet hands out public IPs."
  }

  assert {
    condition     = length(output.nat_gateway_ids) == 1 && length(output.private_subnet_ids) == 2
    error_message = "Outputs list the NAT gateway and the private subnets."
  }

  assert {
    condition     = length(aws_vpc_security_group_egress_rule.lambda_https_internet_ipv4) == 1 && length(aws_vpc_security_group_egress_rule.lambda_https_internet_ipv6) == 0
    error_message = "NAT mode: the Lambda group may reach HTTPS on the IPv4 internet only."
  }
}

run "nat_mode_one_nat_gateway_per_az" {
  command = apply

  variables {
    az_count           = 3
    single_nat_gateway = false
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_subnet.public) == 3 && length(aws_eip.nat) == 3
    error_message = "One NAT gateway (with its public subnet and EIP) per AZ."
  }

  assert {
    condition     = alltrue([for i, r in aws_route.private_nat : r.nat_gateway_id == aws_nat_gateway.this[i].id])
    error_message = "Each private route table uses the NAT gateway of its own AZ."
  }

  assert {
    condition     = alltrue([for i, s in aws_subnet.public : s.availability_zone == aws_subnet.private[i].availability_zone])
    error_message = "NAT gateway i sits in the AZ of private subnet i."
  }
}

run "ipv6_mode_has_no_nat" {
  command = apply

  variables {
    egress_mode = "ipv6"
  }

  assert {
    condition     = aws_vpc.this.assign_generated_ipv6_cidr_block
    error_message = "IPv6 mode asks Amazon for an IPv6 block."
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_eip.nat) == 0 && length(aws_internet_gateway.this) == 0 && length(aws_subnet.public) == 0
    error_message = "IPv6 mode creates no NAT gateway, EIP, internet gateway or public subnet."
  }

  assert {
    condition     = length(aws_egress_only_internet_gateway.this) == 1 && length(aws_route.private_ipv6_egress) == 2
    error_message = "IPv6 mode routes ::/0 from every private route table to an egress-only internet gateway."
  }

  assert {
    condition     = alltrue([for r in aws_route.private_ipv6_egress : r.destination_ipv6_cidr_block == "::/0"])
    error_message = "The IPv6 egress route is ::/0."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.private : s.assign_ipv6_address_on_creation && s.ipv6_cidr_block != null])
    error_message = "Private subnets are dual-stack."
  }

  assert {
    condition     = length(aws_vpc_security_group_egress_rule.lambda_https_internet_ipv6) == 1 && length(aws_vpc_security_group_egress_rule.lambda_https_internet_ipv4) == 0
    error_message = "IPv6 mode: HTTPS to the internet over IPv6 only."
  }

  assert {
    condition     = output.ipv6_egress_enabled && length(output.nat_gateway_ids) == 0
    error_message = "Outputs tell the Lambda module to allow dual-stack and list no NAT gateway."
  }
}

run "flow_logs_on" {
  command = apply

  variables {
    flow_log_retention_days = 14
  }

  assert {
    condition     = aws_flow_log.this.vpc_id == aws_vpc.this.id && aws_flow_log.this.traffic_type == "ALL"
    error_message = "The VPC has a flow log of all traffic."
  }

  assert {
    condition     = aws_flow_log.this.log_destination == aws_cloudwatch_log_group.flow_logs.arn && aws_flow_log.this.iam_role_arn == aws_iam_role.flow_logs.arn
    error_message = "Flow logs go to the module's log group with the module's role."
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs.retention_in_days == 14
    error_message = "Flow log retention follows the variable."
  }
}

run "endpoints_listed_are_present" {
  command = plan

  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["bedrock-runtime", "secretsmanager", "mlflow"])
    error_message = "Only the services the code calls (Bedrock Runtime, Secrets Manager, MLflow) get an interface endpoint."
  }

  assert {
    condition     = aws_vpc_endpoint.interface["bedrock-runtime"].service_name == "com.amazonaws.us-east-1.bedrock-runtime"
    error_message = "Interface endpoints use com.amazonaws.<region>.<service>."
  }

  assert {
    condition     = aws_vpc_endpoint.interface["mlflow"].service_name == "aws.sagemaker.us-east-1.experiments"
    error_message = "The MLflow endpoint uses the SageMaker experiments service."
  }

  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : e.private_dns_enabled && e.vpc_endpoint_type == "Interface"])
    error_message = "Interface endpoints have private DNS."
  }

  assert {
    condition     = toset(keys(aws_vpc_endpoint.gateway)) == toset(["dynamodb", "s3"]) && alltrue([for e in aws_vpc_endpoint.gateway : e.vpc_endpoint_type == "Gateway"])
    error_message = "DynamoDB and S3 have gateway endpoints."
  }
}

run "endpoint_list_is_configurable" {
  command = plan

  variables {
    interface_endpoints    = ["bedrock-runtime", "secretsmanager"]
    enable_mlflow_endpoint = false
  }

  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["bedrock-runtime", "secretsmanager"])
    error_message = "Only the listed interface endpoints exist when MLflow is off."
  }
}

run "endpoint_group_admits_only_the_lambda_group" {
  command = apply

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.endpoints_https_from_lambda.referenced_security_group_id == aws_security_group.lambda.id
      && aws_vpc_security_group_ingress_rule.endpoints_https_from_lambda.from_port == 443
      && aws_vpc_security_group_ingress_rule.endpoints_https_from_lambda.to_port == 443
    )
    error_message = "The endpoint group admits HTTPS from the Lambda group only."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.lambda_postgres_vpc.cidr_ipv4 == "10.20.0.0/16" && aws_vpc_security_group_egress_rule.lambda_postgres_vpc.from_port == 5432
    error_message = "Lambdas reach PostgreSQL only within the VPC."
  }

  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : contains(e.security_group_ids, aws_security_group.endpoints.id)])
    error_message = "Every interface endpoint uses the endpoint group."
  }

  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : length(e.subnet_ids) == 2])
    error_message = "Interface endpoints sit in every private subnet whose AZ the service serves."
  }
}

run "endpoint_skips_azs_the_service_does_not_serve" {
  command = apply

  override_data {
    target = data.aws_vpc_endpoint_service.interface["bedrock-runtime"]
    values = { availability_zones = ["us-east-1b"] }
  }

  assert {
    condition     = aws_vpc_endpoint.interface["bedrock-runtime"].subnet_ids == toset([aws_subnet.private[1].id])
    error_message = "The bedrock-runtime endpoint only uses the subnet in the AZ it serves."
  }

  assert {
    condition     = length(aws_vpc_endpoint.interface["secretsmanager"].subnet_ids) == 2
    error_message = "Other endpoints keep every private subnet."
  }
}

run "endpoint_service_missing_from_every_az_fails_the_plan" {
  command = plan

  override_data {
    target = data.aws_vpc_endpoint_service.interface["mlflow"]
    values = { availability_zones = ["us-east-1f"] }
  }

  expect_failures = [aws_vpc_endpoint.interface["mlflow"]]
}

run "every_endpoint_has_a_policy_for_this_account_only" {
  command = plan

  variables {
    interface_endpoints = ["bedrock-runtime", "secretsmanager", "sts"]
  }

  assert {
    condition = alltrue([
      for e in merge(aws_vpc_endpoint.interface, aws_vpc_endpoint.gateway) : alltrue([
        for s in jsondecode(e.policy).Statement : s.Effect == "Allow" && s.Condition.StringEquals["aws:PrincipalAccount"] == "123456789012"
      ])
    ])
    error_message = "Every endpoint has a policy that admits only this account's principals."
  }

  assert {
    condition = (
      toset(jsondecode(aws_vpc_endpoint.interface["secretsmanager"].policy).Statement[0].Action) == toset([
        "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
      ])
      && jsondecode(aws_vpc_endpoint.interface["secretsmanager"].policy).Statement[0].Resource == ["arn:aws:secretsmanager:us-east-1:123456789012:secret:*"]
    )
    error_message = "Secrets Manager: read, and the rotation steps, on this account's secrets only."
  }

  assert {
    condition     = toset(jsondecode(aws_vpc_endpoint.interface["bedrock-runtime"].policy).Statement[0].Action) == toset(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"])
    error_message = "Bedrock Runtime: model invocation only."
  }

  assert {
    condition     = jsondecode(aws_vpc_endpoint.interface["mlflow"].policy).Statement[0].Resource == ["arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/*"]
    error_message = "MLflow: this account's tracking servers only."
  }

  assert {
    condition     = jsondecode(aws_vpc_endpoint.gateway["s3"].policy).Statement[0].Condition.StringEquals["s3:ResourceAccount"] == "123456789012"
    error_message = "S3: buckets of this account only."
  }

  assert {
    condition     = jsondecode(aws_vpc_endpoint.gateway["dynamodb"].policy).Statement[0].Resource == ["arn:aws:dynamodb:us-east-1:123456789012:table/*"]
    error_message = "DynamoDB: tables of this account only."
  }

  assert {
    condition     = jsondecode(aws_vpc_endpoint.interface["sts"].policy).Statement[0].Sid == "ThisAccountOnly"
    error_message = "A service without a policy of its own gets the this-account-only policy."
  }
}

run "endpoint_policies_replace_the_module_policy" {
  command = plan

  variables {
    endpoint_policies = {
      dynamodb = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"dynamodb:GetItem\",\"Resource\":\"arn:aws:dynamodb:us-east-1:123456789012:table/one\"}]}"
    }
  }

  assert {
    condition     = jsondecode(aws_vpc_endpoint.gateway["dynamodb"].policy).Statement[0].Resource == "arn:aws:dynamodb:us-east-1:123456789012:table/one"
    error_message = "A given policy replaces the module's."
  }
}

run "internet_https_egress_exists_only_for_the_egress_path" {
  command = plan

  variables {
    egress_mode = "ipv6"
  }

  assert {
    condition     = length(aws_vpc_security_group_egress_rule.lambda_https_internet_ipv4) == 0 && aws_vpc_security_group_egress_rule.lambda_https_internet_ipv6[0].cidr_ipv6 == "::/0" && aws_vpc_security_group_egress_rule.lambda_https_internet_ipv6[0].from_port == 443
    error_message = "Only HTTPS leaves the VPC, on the path egress_mode chooses."
  }
}
