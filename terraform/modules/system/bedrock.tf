# What the agent may invoke on Amazon Bedrock, derived from bedrock_model_id unless given.
#
# A cross-region (system-defined) inference profile id is `<geography>.<model id>`, e.g.
# `us.anthropic.claude-sonnet-4-6`. Calling it needs, as AWS documents for cross-region inference,
# InvokeModel* on the profile in the calling region and on its foundation model in every region the
# profile routes to. Those regions are AWS's to extend, so the foundation model's region is `*`,
# allowed only through the profile (condition bedrock:InferenceProfileArn, in the agent module): the
# wildcard grants nothing to a direct call. A plain model id gets its foundation model in the region.

data "aws_partition" "bedrock" {}

data "aws_region" "bedrock" {}

data "aws_caller_identity" "bedrock" {}

locals {
  # Geography prefixes of system-defined inference profiles; an application inference profile is an
  # ARN and takes explicit bedrock_model_arns and bedrock_profile_model_arns.
  bedrock_profile_match = regexall("^(us|us-gov|eu|apac|jp|au|ca|global)\\.(.+)$", var.bedrock_model_id)
  bedrock_uses_profile  = length(local.bedrock_profile_match) > 0
  bedrock_arn_prefix    = "arn:${data.aws_partition.bedrock.partition}:bedrock"

  bedrock_derived_model_arns = startswith(var.bedrock_model_id, "arn:") ? [var.bedrock_model_id] : (
    local.bedrock_uses_profile
    ? ["${local.bedrock_arn_prefix}:${data.aws_region.bedrock.name}:${data.aws_caller_identity.bedrock.account_id}:inference-profile/${var.bedrock_model_id}"]
    : ["${local.bedrock_arn_prefix}:${data.aws_region.bedrock.name}::foundation-model/${var.bedrock_model_id}"]
  )
  bedrock_derived_profile_model_arns = local.bedrock_uses_profile ? ["${local.bedrock_arn_prefix}:*::foundation-model/${local.bedrock_profile_match[0][1]}"] : []

  bedrock_model_arns         = var.bedrock_model_arns != null ? var.bedrock_model_arns : local.bedrock_derived_model_arns
  bedrock_profile_model_arns = var.bedrock_profile_model_arns != null ? var.bedrock_profile_model_arns : local.bedrock_derived_profile_model_arns
}
