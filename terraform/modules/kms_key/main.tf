data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "this" {
  # checkov:skip=CKV_AWS_109:Key policy: its "*" resource is this key only; the account root statement is AWS's default key policy, delegating key administration to IAM so the key cannot become unmanageable.
  # checkov:skip=CKV_AWS_111:Key policy: its "*" resource is this key only; write actions go to the account root (AWS's default key policy) and, where present, to CloudWatch Logs for the listed log groups only.
  # checkov:skip=CKV_AWS_356:Key policy: a key policy's resource is always "*" (this key); it cannot name another resource.
  statement {
    sid    = "EnableIamPolicies"
    effect = "Allow"
    # kms:* for the account root is AWS's default key policy: it delegates use of the key to IAM
    # policies (the services that encrypt with it are granted there, narrowed by kms:ViaService).
    # Without it a mistake in this policy could lock everyone out of the key and of its data.
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # CloudWatch Logs is not an IAM principal of the account: a log group can only use a key whose
  # key policy names the service, here for the listed log groups only.
  dynamic "statement" {
    for_each = length(var.log_group_arns) > 0 ? [1] : []

    content {
      sid    = "AllowCloudWatchLogsForListedLogGroups"
      effect = "Allow"
      actions = [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:DescribeKey",
      ]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["logs.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}"]
      }

      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = sort(var.log_group_arns)
      }
    }
  }

  # Services that deliver messages into what the key encrypts (EventBridge into an SNS topic or an
  # SQS queue) need the key for the data key of each message; only for the listed source ARNs.
  dynamic "statement" {
    for_each = var.service_publishers

    content {
      sid       = "AllowPublisher${replace(title(replace(split(".", statement.key)[0], "-", " ")), " ", "")}"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = [statement.key]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = sort(statement.value)
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  deletion_window_in_days = var.deletion_window_in_days
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.this.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.alias_name == null ? 0 : 1

  name          = "alias/${var.alias_name}"
  target_key_id = aws_kms_key.this.key_id
}
