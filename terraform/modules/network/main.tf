data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  count = var.availability_zones == null ? 1 : 0

  state = "available"
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition

  az_candidates = var.availability_zones != null ? var.availability_zones : data.aws_availability_zones.available[0].names
  azs           = slice(local.az_candidates, 0, min(var.az_count, length(local.az_candidates)))

  nat  = var.egress_mode == "nat"
  ipv6 = var.egress_mode == "ipv6"
  # Public subnets exist only to hold NAT gateways: one per NAT gateway.
  nat_gateway_count = local.nat ? (var.single_nat_gateway ? 1 : var.az_count) : 0

  gateway_endpoints = toset(["dynamodb", "s3"])
  interface_endpoints = merge(
    { for s in var.interface_endpoints : s => "com.amazonaws.${local.region}.${s}" },
    # SageMaker managed MLflow's PrivateLink service is named outside the com.amazonaws namespace
    # (AWS CDK: InterfaceVpcEndpointAwsService.SAGEMAKER_EXPERIMENTS = ('experiments', 'aws.sagemaker')).
    var.enable_mlflow_endpoint ? { mlflow = "aws.sagemaker.${local.region}.experiments" } : {},
  )

  # Endpoint policies. An endpoint policy does not grant anything (IAM does); it bounds what may pass
  # through the endpoint at all, so that credentials of another account, or a call to another
  # account's bucket, table or secret, cannot use this VPC's private path to move data out. Every
  # endpoint gets one: the defaults below allow only what the code calls, on resources of this account
  # and region, to principals of this account; `endpoint_policies` replaces any of them with a
  # narrower document (the system module scopes bedrock-runtime and mlflow to exact ARNs).
  this_account = { StringEquals = { "aws:PrincipalAccount" = local.account } }
  default_endpoint_statements = {
    # The functions' conversation store (DynamoDBSaver, the edge's connection records): the same
    # actions their IAM policies grant, on this account's tables in this region.
    dynamodb = [{
      Sid       = "ThisAccountTables"
      Effect    = "Allow"
      Principal = "*"
      Action = [
        "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
        "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
      ]
      Resource  = ["arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/*"]
      Condition = local.this_account
    }]
    # Checkpoint offload objects and MLflow trace artifacts, in buckets this account owns.
    s3 = [{
      Sid       = "ThisAccountBuckets"
      Effect    = "Allow"
      Principal = "*"
      Action = [
        "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject", "s3:AbortMultipartUpload",
        "s3:ListBucket", "s3:GetBucketLocation",
      ]
      Resource  = ["*"]
      Condition = { StringEquals = { "aws:PrincipalAccount" = local.account, "s3:ResourceAccount" = local.account } }
    }]
    # The database credentials: the functions and RDS Proxy read them, the migrate function writes
    # and rotates the application role's (the four rotation steps); this account's secrets only.
    secretsmanager = [{
      Sid       = "ThisAccountSecrets"
      Effect    = "Allow"
      Principal = "*"
      Action = [
        "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
      ]
      Resource  = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:*"]
      Condition = local.this_account
    }]
    # Converse and ConverseStream are authorised as InvokeModel and InvokeModelWithResponseStream.
    bedrock-runtime = [{
      Sid       = "InvokeModels"
      Effect    = "Allow"
      Principal = "*"
      Action    = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
      Resource = [
        "arn:${local.partition}:bedrock:*::foundation-model/*",
        "arn:${local.partition}:bedrock:${local.region}:${local.account}:inference-profile/*",
        "arn:${local.partition}:bedrock:${local.region}:${local.account}:application-inference-profile/*",
      ]
      Condition = local.this_account
    }]
    # Traces to this account's tracking servers.
    mlflow = [{
      Sid       = "ThisAccountTrackingServers"
      Effect    = "Allow"
      Principal = "*"
      Action    = ["sagemaker-mlflow:*"]
      Resource  = ["arn:${local.partition}:sagemaker:${local.region}:${local.account}:mlflow-tracking-server/*"]
      Condition = local.this_account
    }]
  }
  # Any other service in interface_endpoints: everything, but only for this account's principals.
  fallback_endpoint_statements = [{
    Sid       = "ThisAccountOnly"
    Effect    = "Allow"
    Principal = "*"
    Action    = "*"
    Resource  = "*"
    Condition = local.this_account
  }]
  endpoint_policies = {
    for service in concat(tolist(local.gateway_endpoints), keys(local.interface_endpoints)) : service => lookup(
      var.endpoint_policies, service,
      jsonencode({ Version = "2012-10-17", Statement = lookup(local.default_endpoint_statements, service, local.fallback_endpoint_statements) })
    )
  }
}

################################################################################
# VPC and subnets
################################################################################

resource "aws_vpc" "this" {
  cidr_block                       = var.cidr_block
  enable_dns_support               = true
  enable_dns_hostnames             = true
  assign_generated_ipv6_cidr_block = local.ipv6

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = length(local.az_candidates) >= var.az_count
      error_message = "az_count is ${var.az_count} but only ${length(local.az_candidates)} availability zones are available."
    }
  }
}

# The default security group allows all traffic between its members: strip every rule so
# nothing can use it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id                          = aws_vpc.this.id
  availability_zone               = local.azs[count.index]
  cidr_block                      = cidrsubnet(var.cidr_block, 4, count.index)
  map_public_ip_on_launch         = false
  ipv6_cidr_block                 = local.ipv6 ? cidrsubnet(aws_vpc.this.ipv6_cidr_block, 8, count.index) : null
  assign_ipv6_address_on_creation = local.ipv6

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}", Tier = "private" })
}

resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

################################################################################
# Egress for the @connections calls: NAT (IPv4) ...
################################################################################

resource "aws_internet_gateway" "this" {
  count = local.nat ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = local.nat_gateway_count

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 8, 240 + count.index)
  # Only the NAT gateways live here, with their Elastic IPs; nothing gets a public IP by default.
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" })
}

resource "aws_route_table" "public" {
  count = local.nat ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count = local.nat ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.nat_gateway_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route" "private_nat" {
  count = local.nat ? var.az_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
}

################################################################################
# ... or IPv6 through an egress-only internet gateway (outbound only, no hourly charge)
################################################################################

resource "aws_egress_only_internet_gateway" "this" {
  count = local.ipv6 ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_route" "private_ipv6_egress" {
  count = local.ipv6 ? var.az_count : 0

  route_table_id              = aws_route_table.private[count.index].id
  destination_ipv6_cidr_block = "::/0"
  egress_only_gateway_id      = aws_egress_only_internet_gateway.this[0].id
}

################################################################################
# VPC endpoints
################################################################################

resource "aws_vpc_endpoint" "gateway" {
  for_each = local.gateway_endpoints

  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
  policy            = local.endpoint_policies[each.key]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Looks each service up at plan time: a service missing in the region fails the plan, not the
# apply, and subnets in AZs the service does not serve are left out of its endpoint.
data "aws_vpc_endpoint_service" "interface" {
  for_each = local.interface_endpoints

  service_name = each.value
  service_type = "Interface"
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoints

  vpc_id              = aws_vpc.this.id
  service_name        = each.value
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids = [
    for s in aws_subnet.private : s.id
    if contains(data.aws_vpc_endpoint_service.interface[each.key].availability_zones, s.availability_zone)
  ]
  security_group_ids = [aws_security_group.endpoints.id]
  # A service that takes no endpoint policy (the lookup says so) would refuse one.
  policy = data.aws_vpc_endpoint_service.interface[each.key].vpc_endpoint_policy_supported ? local.endpoint_policies[each.key] : null

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })

  lifecycle {
    precondition {
      condition     = length(setintersection(data.aws_vpc_endpoint_service.interface[each.key].availability_zones, local.azs)) > 0
      error_message = "${each.value} is not offered in any of the availability zones ${join(", ", local.azs)}; choose availability_zones it serves."
    }
  }
}

################################################################################
# Security groups
################################################################################

resource "aws_security_group" "lambda" {
  # checkov:skip=CKV2_AWS_5:This group is attached by the Lambda functions in other modules (output lambda_security_group_id).
  name_prefix = "${var.name}-lambda-"
  description = "Lambda functions of ${var.name}: HTTPS to VPC endpoints and @connections, PostgreSQL in the VPC"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-lambda" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "lambda_https_vpc" {
  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to the interface VPC endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = aws_vpc.this.cidr_block

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "lambda_postgres_vpc" {
  security_group_id = aws_security_group.lambda.id
  description       = "PostgreSQL to RDS Proxy in the VPC"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = aws_vpc.this.cidr_block

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "lambda_https_gateway_endpoints" {
  for_each = local.gateway_endpoints

  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to ${each.key} through its gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.gateway[each.key].prefix_list_id

  tags = var.tags
}

# The one rule that leaves the VPC: HTTPS to anywhere, through the NAT gateway (or, below, the
# egress-only internet gateway). It is needed because the message function streams replies with
# `post_to_connection` on the WebSocket API's management endpoint,
# https://{api-id}.execute-api.{region}.amazonaws.com/{stage}/@connections/{id}, and that endpoint has
# no VPC endpoint: an execute-api interface endpoint reaches private REST APIs only, WebSocket APIs
# are Regional (public) only, and a call sent through such an endpoint is refused (ForbiddenException).
# Its addresses are API Gateway's public, regional ranges, which change and are not published per
# API, so no narrower CIDR or prefix list names them. The same path serves the authorizer's JWKS
# fetch (a token issuer such as Cognito is public). Every AWS service the code calls has a VPC
# endpoint above, so with private DNS their traffic never takes this rule.
resource "aws_vpc_security_group_egress_rule" "lambda_https_internet_ipv4" {
  count = local.nat ? 1 : 0

  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to the public API Gateway @connections endpoint through NAT"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "lambda_https_internet_ipv6" {
  count = local.ipv6 ? 1 : 0

  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to the public API Gateway @connections endpoint over IPv6"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv6         = "::/0"

  tags = var.tags
}

resource "aws_security_group" "endpoints" {
  name_prefix = "${var.name}-endpoints-"
  description = "Interface VPC endpoints of ${var.name}: HTTPS from the Lambda functions only"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-endpoints" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https_from_lambda" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the Lambda functions"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.lambda.id

  tags = var.tags
}

################################################################################
# Flow logs
################################################################################

resource "aws_cloudwatch_log_group" "flow_logs" {
  # checkov:skip=CKV_AWS_338:Retention is a per-environment variable (flow_log_retention_days; the system module sets it to the environment's log_retention_days, 14 days in dev and 90 in prod); no environment here needs a year of flow logs.
  # checkov:skip=CKV_AWS_158:KMS is optional (flow_log_kms_key_arn); without it CloudWatch Logs still encrypts the data at rest with its own keys.
  name              = "/aws/vpc-flow-logs/${var.name}"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.flow_log_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    sid     = "VpcFlowLogsService"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ec2:${local.region}:${local.account}:vpc-flow-log/*"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name_prefix        = "${substr(var.name, 0, 27)}-flow-logs-"
  description        = "Lets VPC Flow Logs write the flow logs of ${var.name} to their log group"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    sid = "WriteFlowLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = [
      aws_cloudwatch_log_group.flow_logs.arn,
      "${aws_cloudwatch_log_group.flow_logs.arn}:*",
    ]
  }

  statement {
    sid     = "FindLogGroup"
    actions = ["logs:DescribeLogGroups"]
    # DescribeLogGroups lists groups and is authorised on the account's log-group namespace,
    # not on one group; scoped to this account and region.
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = var.flow_log_traffic_type
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = var.flow_log_max_aggregation_interval

  tags = merge(var.tags, { Name = var.name })
}
