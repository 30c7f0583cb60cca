variable "name" {
  description = "Name prefix of every resource (e.g. `order-agent-dev`)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,39}$", var.name))
    error_message = "name must start with a letter and have at most 40 letters, digits or hyphens."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC, /16 to /20. Private subnet i gets the i-th 1/16 of it (a /20 of a /16); NAT public subnets get 1/256 blocks in the last 1/16."
  type        = string
  default     = "10.20.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(try(split("/", var.cidr_block)[1], "0")) >= 16 && tonumber(try(split("/", var.cidr_block)[1], "0")) <= 20
    error_message = "cidr_block must be a valid IPv4 CIDR with a prefix length from /16 to /20."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the private subnets (and the interface endpoints) over; at least 2 so that RDS, RDS Proxy and Lambda survive the loss of one AZ."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 6."
  }
}

variable "availability_zones" {
  description = "Availability zone names to use (the first az_count of them); null picks the region's available zones that need no opt-in."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zones == null || length(distinct(coalesce(var.availability_zones, []))) == length(coalesce(var.availability_zones, []))
    error_message = "availability_zones must not repeat a zone."
  }
}

variable "egress_mode" {
  description = "How the Lambdas reach the public API Gateway @connections endpoint (an execute-api VPC endpoint serves private APIs only). \"nat\": public subnets, an internet gateway and NAT gateway(s); works with every client library and IPv4-only endpoint, but costs the NAT gateway hourly charge plus per-GB processing. \"ipv6\": dual-stack private subnets and an egress-only internet gateway; no hourly cost, but the WebSocket API must answer over IPv6 (dual-stack), every other public endpoint the code calls must resolve to IPv6 or have a VPC endpoint, and the Lambdas need ipv6_allowed_for_dual_stack = true."
  type        = string
  default     = "nat"

  validation {
    condition     = contains(["nat", "ipv6"], var.egress_mode)
    error_message = "egress_mode must be \"nat\" or \"ipv6\"."
  }
}

variable "single_nat_gateway" {
  description = "With egress_mode = \"nat\": one NAT gateway shared by all AZs (cheaper; dev) instead of one per AZ (no cross-AZ dependency; prod)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "AWS services the Lambdas call that get an interface VPC endpoint with private DNS, as the last part of `com.amazonaws.<region>.<service>`. The default is what the code calls: Bedrock Runtime (the model) and Secrets Manager (the database credentials). Not needed: logs (the Lambda service ships function logs outside the VPC), sts and kms (nothing in the functions calls them; Secrets Manager, DynamoDB and S3 call KMS on their side), sagemaker.api (the MLflow client derives the tracking server's URL from its ARN and calls only the `mlflow` endpoint)."
  type        = list(string)
  default     = ["bedrock-runtime", "secretsmanager"]
  nullable    = false

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9][a-z0-9.-]*$", s))])
    error_message = "interface_endpoints entries are service suffixes such as \"bedrock-runtime\" or \"sagemaker.api\"."
  }
}

variable "enable_mlflow_endpoint" {
  description = "Add the interface endpoint of SageMaker managed MLflow (`aws.sagemaker.<region>.experiments`) so traces reach the tracking server privately."
  type        = bool
  default     = true
}

variable "endpoint_policies" {
  description = "VPC endpoint policies (JSON) keyed by service: \"dynamodb\", \"s3\", an interface_endpoints entry or \"mlflow\", replacing the module's own. Services not listed get the module's policy: the actions the code calls, on this account's resources in this region, for this account's principals (any action, this account's principals only, for a service the module has no policy for)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for p in values(var.endpoint_policies) : can(jsondecode(p))])
    error_message = "endpoint_policies values must be JSON policy documents."
  }
}

variable "flow_log_retention_days" {
  description = "Days the VPC flow logs are kept in CloudWatch Logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)."
  }
}

variable "flow_log_kms_key_arn" {
  description = "KMS key ARN to encrypt the flow log group with (its key policy must allow the CloudWatch Logs service principal); null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.flow_log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.flow_log_kms_key_arn))
    error_message = "flow_log_kms_key_arn must be a KMS key ARN."
  }
}

variable "flow_log_traffic_type" {
  description = "Traffic the flow logs record: ACCEPT, REJECT or ALL."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "flow_log_max_aggregation_interval" {
  description = "Seconds over which a flow log record aggregates packets: 60 or 600."
  type        = number
  default     = 600

  validation {
    condition     = contains([60, 600], var.flow_log_max_aggregation_interval)
    error_message = "flow_log_max_aggregation_interval must be 60 or 600."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}
