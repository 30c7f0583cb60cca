output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_arn" {
  description = "ARN of the VPC."
  value       = aws_vpc.this.arn
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "vpc_ipv6_cidr_block" {
  description = "IPv6 CIDR block of the VPC (egress_mode = \"ipv6\"), otherwise null."
  value       = local.ipv6 ? aws_vpc.this.ipv6_cidr_block : null
}

output "availability_zones" {
  description = "Availability zones of the private subnets, in subnet order."
  value       = aws_subnet.private[*].availability_zone
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone (for Lambda, RDS and RDS Proxy)."
  value       = aws_subnet.private[*].id
}

output "private_route_table_ids" {
  description = "IDs of the private route tables, one per availability zone."
  value       = aws_route_table.private[*].id
}

output "public_subnet_ids" {
  description = "IDs of the public subnets that hold the NAT gateways (empty with egress_mode = \"ipv6\")."
  value       = aws_subnet.public[*].id
}

output "lambda_security_group_id" {
  description = "ID of the security group for the Lambda functions (HTTPS out, PostgreSQL within the VPC); pass it as the database's client security group."
  value       = aws_security_group.lambda.id
}

output "endpoint_security_group_id" {
  description = "ID of the security group of the interface VPC endpoints (HTTPS in from the Lambda security group)."
  value       = aws_security_group.endpoints.id
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways (empty with egress_mode = \"ipv6\")."
  value       = aws_nat_gateway.this[*].id
}

output "nat_public_ips" {
  description = "Public IPv4 addresses the Lambdas' outbound traffic leaves from (egress_mode = \"nat\")."
  value       = aws_eip.nat[*].public_ip
}

output "egress_only_internet_gateway_id" {
  description = "ID of the egress-only internet gateway (egress_mode = \"ipv6\"), otherwise null."
  value       = one(aws_egress_only_internet_gateway.this[*].id)
}

output "ipv6_egress_enabled" {
  description = "True when the private subnets are dual-stack with IPv6 egress: set the Lambdas' vpc_config.ipv6_allowed_for_dual_stack to this."
  value       = local.ipv6
}

output "gateway_endpoint_ids" {
  description = "IDs of the gateway VPC endpoints, keyed by service (dynamodb, s3)."
  value       = { for k, e in aws_vpc_endpoint.gateway : k => e.id }
}

output "interface_endpoint_ids" {
  description = "IDs of the interface VPC endpoints, keyed by service (interface_endpoints entries, and mlflow when enabled)."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}

output "interface_endpoint_service_names" {
  description = "Service names of the interface VPC endpoints, keyed like interface_endpoint_ids."
  value       = local.interface_endpoints
}

output "flow_log_id" {
  description = "ID of the VPC flow log."
  value       = aws_flow_log.this.id
}

output "flow_log_group_name" {
  description = "Name of the CloudWatch Logs group that receives the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
