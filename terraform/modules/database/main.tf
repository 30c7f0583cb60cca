data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition

  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? module.kms_key[0].key_arn : var.kms_key_arn

  engine_major = split(".", var.engine_version)[0]
  port         = 5432
  # For emulators: a real server outside the emulator, with a secret this module writes (an emulator's
  # RDS instance returns no managed secret and has no database behind it).
  external          = var.external_database != null
  master_secret_arn = local.external ? aws_secretsmanager_secret.external[0].arn : aws_db_instance.this.master_user_secret[0].secret_arn
  # Where the functions connect: the RDS Proxy, or for emulators the external server.
  client_host        = local.external ? var.external_database.host : aws_db_proxy.this.endpoint
  client_port        = local.external ? var.external_database.port : local.port
  client_database    = local.external ? coalesce(var.external_database.name, var.database_name) : var.database_name
  migrate_name       = "${var.name}-migrate"
  migrate_log_group  = "/aws/lambda/${local.migrate_name}"
  rds_log_group_root = "/aws/rds/instance/${var.name}"

  migrate_security_group_ids = coalesce(var.migrate_security_group_ids, var.client_security_group_ids)

  # The application role the agent's functions connect as (order_agent.db.roles), and its own secret.
  # Per system by default, so several systems (or test runs) can share a PostgreSQL server.
  app_username   = local.external && try(var.external_database.app_username, null) != null ? var.external_database.app_username : coalesce(var.app_username, "${substr(replace(lower(var.name), "/[^a-z0-9_]/", "_"), 0, 59)}_app")
  app_secret_arn = aws_secretsmanager_secret.app.arn
  rotate_app     = !local.external && var.app_password_rotation_days > 0
  # In AWS the functions verify the proxy's certificate against the CA bundle in the order_agent package.
  sslmode = local.external ? var.external_database.sslmode : "verify-full"

  # The migrations ship in the order_agent layer; their hash goes into the invocation's input so
  # that Terraform invokes the function again when one is added.
  migrations_dir   = coalesce(var.migrations_dir, "${path.module}/../../../layers/agent/src/order_agent/db/migrations")
  migration_files  = sort(fileset(local.migrations_dir, "*.sql"))
  migrations_hash  = sha256(join("\n", [for f in local.migration_files : "${f} ${filesha256("${local.migrations_dir}/${f}")}"]))
  log_group_prefix = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:"
}

################################################################################
# KMS key (unless one is given)
################################################################################

# RDS, Secrets Manager and Performance Insights are granted the key through IAM (the key policy
# delegates to the account); CloudWatch Logs needs the key policy itself, for this module's groups.
module "kms_key" {
  source = "../kms_key"
  count  = local.create_kms_key ? 1 : 0

  description             = "${var.name}: RDS storage, master user secret, Performance Insights, logs"
  alias_name              = "${var.name}-database"
  deletion_window_in_days = var.kms_key_deletion_window_days
  log_group_arns = [
    "${local.log_group_prefix}${local.rds_log_group_root}/*",
    "${local.log_group_prefix}${local.migrate_log_group}",
  ]

  tags = var.tags
}

moved {
  from = aws_kms_key.this[0]
  to   = module.kms_key[0].aws_kms_key.this
}

moved {
  from = aws_kms_alias.this[0]
  to   = module.kms_key[0].aws_kms_alias.this[0]
}

################################################################################
# Network: subnet group and security groups (clients -> proxy -> instance)
################################################################################

resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "Private subnets of ${var.name}"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_security_group" "proxy" {
  # checkov:skip=CKV2_AWS_5:Attached to aws_db_proxy.this (vpc_security_group_ids); checkov does not follow that reference.
  name_prefix = "${var.name}-db-proxy-"
  description = "RDS Proxy of ${var.name}: PostgreSQL from the client security groups only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-db-proxy" })

  lifecycle {
    create_before_destroy = true
  }
}

# count over the list's length, not for_each over its values: the IDs are usually created in the
# same apply (the network module's Lambda security group), so they are unknown at plan time while
# the number of groups is known (terraform-aws-modules/security-group does the same).
resource "aws_vpc_security_group_ingress_rule" "proxy_from_clients" {
  count = length(var.client_security_group_ids)

  security_group_id            = aws_security_group.proxy.id
  description                  = "PostgreSQL from client_security_group_ids[${count.index}]"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = var.client_security_group_ids[count.index]

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "proxy_to_instance" {
  security_group_id            = aws_security_group.proxy.id
  description                  = "PostgreSQL to the DB instance"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.this.id

  tags = var.tags
}

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-db-"
  description = "PostgreSQL instance of ${var.name}: reachable from its RDS Proxy only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-db" })

  lifecycle {
    create_before_destroy = true
  }
}

# Clients never reach the instance directly: every connection goes through the proxy's pool, so
# Lambda concurrency cannot exhaust max_connections.
resource "aws_vpc_security_group_ingress_rule" "instance_from_proxy" {
  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from the RDS Proxy"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.proxy.id

  tags = var.tags
}

################################################################################
# For emulators: the credentials of the external database, stored as RDS stores them
################################################################################

resource "aws_secretsmanager_secret" "external" {
  count = local.external ? 1 : 0

  # checkov:skip=CKV2_AWS_57:Only with external_database (emulators): the credentials of a local server, never rotated.
  name_prefix             = "${var.name}-external-db-"
  description             = "For emulators: user and password of the PostgreSQL server outside the emulator"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = 0

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "external" {
  count = local.external ? 1 : 0

  secret_id = aws_secretsmanager_secret.external[0].id
  secret_string = jsonencode({
    username = var.external_database.username
    password = var.external_database.password
  })
}

################################################################################
# The application role's own secret: what the agent's functions connect with
################################################################################

# Created empty: the migrate function writes its first value (a random password it also sets on
# the role), so the password is in neither Terraform's state nor its plan. Emulators get a value
# from external_database, which the local pooler also knows.
resource "aws_secretsmanager_secret" "app" {
  name_prefix             = "${var.name}-db-app-"
  description             = "User name and password of the application role (${local.app_username}) the agent's functions connect as"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = local.external ? 0 : 7

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "app_external" {
  count = local.external ? 1 : 0

  secret_id = aws_secretsmanager_secret.app.id
  secret_string = jsonencode({
    username = local.app_username
    password = var.external_database.app_password
    engine   = "postgres"
    # the HMAC key of the pseudonymous user key in traces (order_agent.tracing.user_key)
    trace_user_key = sha256("trace-user-key:${var.external_database.app_password}")
  })
}

# Secrets Manager invokes the migrate function (it holds the master credentials and reaches the
# proxy) with the four rotation steps; the first rotation waits for the schedule, after the first
# apply wrote the initial password.
resource "aws_lambda_permission" "rotate_app_secret" {
  count = local.rotate_app ? 1 : 0

  statement_id  = "RotateAppSecret"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.migrate.function_name
  principal     = "secretsmanager.amazonaws.com"
  source_arn    = aws_secretsmanager_secret.app.arn
}

resource "aws_secretsmanager_secret_rotation" "app" {
  count = local.rotate_app ? 1 : 0

  secret_id           = aws_secretsmanager_secret.app.id
  rotation_lambda_arn = aws_lambda_function.migrate.arn
  rotate_immediately  = false

  rotation_rules {
    automatically_after_days = var.app_password_rotation_days
  }

  depends_on = [aws_lambda_permission.rotate_app_secret, aws_lambda_invocation.migrate]
}

################################################################################
# DB instance
################################################################################

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-postgres${local.engine_major}-"
  family      = "postgres${local.engine_major}"
  description = "${var.name}: TLS only, slow and DDL statement logging"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.log_min_duration_statement_ms)
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Created before the instance so that the exported logs get a retention and the module's key
# (RDS would otherwise create them itself: kept forever, without the key).
resource "aws_cloudwatch_log_group" "instance" {
  for_each = toset(var.cloudwatch_logs_exports)

  # checkov:skip=CKV_AWS_338:Retention is a per-environment variable (log_retention_days); a year of database logs is not needed for dev.
  name              = "${local.rds_log_group_root}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "monitoring_assume" {
  count = var.monitoring_interval > 0 ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 26)}-rds-monitor-"
  description        = "Enhanced Monitoring of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume[0].json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  role = aws_iam_role.monitoring[0].name
  # AWS managed: writes the OS metrics to the RDSOSMetrics log group only.
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  # checkov:skip=CKV_AWS_157:Multi-AZ is a per-environment variable (multi_az); dev runs single-AZ to save cost.
  # checkov:skip=CKV_AWS_118:Enhanced Monitoring is per environment (monitoring_interval): prod sets 60 s through the system module's db_monitoring_interval, dev leaves it off.
  # checkov:skip=CKV_AWS_353:Performance Insights is per environment (performance_insights_enabled, encrypted with this module's KMS key): prod turns it on through the system module's db_performance_insights_enabled, dev leaves it off.
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class
  port           = local.port

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = local.kms_key_arn

  db_name                             = var.database_name
  username                            = var.master_username
  manage_master_user_password         = local.external ? null : true
  master_user_secret_kms_key_id       = local.external ? null : local.kms_key_arn
  password                            = local.external ? var.external_database.password : null
  iam_database_authentication_enabled = var.iam_database_authentication_enabled

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  multi_az               = var.multi_az
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period   = var.backup_retention_days
  backup_window             = var.backup_window
  maintenance_window        = var.maintenance_window
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : "${var.name}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = var.apply_immediately

  enabled_cloudwatch_logs_exports       = var.cloudwatch_logs_exports
  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? local.kms_key_arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? var.performance_insights_retention_days : null
  monitoring_interval                   = var.monitoring_interval
  monitoring_role_arn                   = var.monitoring_interval > 0 ? aws_iam_role.monitoring[0].arn : null

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.instance]
}

################################################################################
# RDS Proxy: pools the connections of every Lambda execution environment
################################################################################

data "aws_iam_policy_document" "proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "proxy" {
  name_prefix        = "${substr(var.name, 0, 28)}-db-proxy-"
  description        = "Lets the RDS Proxy of ${var.name} read the master user secret"
  assume_role_policy = data.aws_iam_policy_document.proxy_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "proxy" {
  statement {
    sid       = "ReadUserSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.master_secret_arn, local.app_secret_arn]
  }

  statement {
    sid       = "DecryptUserSecrets"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "proxy" {
  name   = "read-user-secrets"
  role   = aws_iam_role.proxy.id
  policy = data.aws_iam_policy_document.proxy.json
}

resource "aws_db_proxy" "this" {
  name                   = var.name
  engine_family          = "POSTGRESQL"
  require_tls            = true
  idle_client_timeout    = var.proxy_idle_client_timeout_s
  role_arn               = aws_iam_role.proxy.arn
  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = [aws_security_group.proxy.id]
  debug_logging          = false

  auth {
    description               = "RDS-managed master user secret"
    auth_scheme               = "SECRETS"
    secret_arn                = local.master_secret_arn
    iam_auth                  = var.proxy_iam_auth
    client_password_auth_type = "POSTGRES_SCRAM_SHA_256"
  }

  auth {
    description               = "Application role (${local.app_username}): the agent's functions"
    auth_scheme               = "SECRETS"
    secret_arn                = local.app_secret_arn
    iam_auth                  = var.proxy_iam_auth
    client_password_auth_type = "POSTGRES_SCRAM_SHA_256"
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.proxy]
}

resource "aws_db_proxy_default_target_group" "this" {
  db_proxy_name = aws_db_proxy.this.name

  connection_pool_config {
    connection_borrow_timeout    = var.proxy_connection_borrow_timeout_s
    max_connections_percent      = var.proxy_max_connections_percent
    max_idle_connections_percent = min(var.proxy_max_idle_connections_percent, var.proxy_max_connections_percent)
    init_query                   = var.proxy_init_query
  }
}

resource "aws_db_proxy_target" "this" {
  db_proxy_name          = aws_db_proxy.this.name
  target_group_name      = aws_db_proxy_default_target_group.this.name
  db_instance_identifier = aws_db_instance.this.identifier
}

################################################################################
# migrate function: applies the schema and loads the data set, invoked on apply
################################################################################

resource "aws_cloudwatch_log_group" "migrate" {
  # checkov:skip=CKV_AWS_338:Retention is a per-environment variable (log_retention_days); deploy-time logs need no year.
  name              = local.migrate_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "migrate_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "migrate" {
  name_prefix        = "${substr(var.name, 0, 29)}-migrate-"
  description        = "Execution role of ${local.migrate_name}"
  assume_role_policy = data.aws_iam_policy_document.migrate_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "migrate" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.migrate.arn}:*"]
  }

  statement {
    sid       = "ReadMasterUserSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.master_secret_arn]
  }

  # Writes the application role's first password, and rotates it (order_agent.db.credentials).
  statement {
    sid = "ManageAppUserSecret"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [local.app_secret_arn]
  }

  statement {
    sid       = "EncryptAppUserSecret"
    actions   = ["kms:GenerateDataKey"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "DecryptSecretAndEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "secretsmanager.${local.region}.amazonaws.com",
        "lambda.${local.region}.amazonaws.com",
      ]
    }
  }

  statement {
    sid = "ManageVpcNetworkInterfaces"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    # The ENIs do not exist before Lambda creates them, so their IDs cannot be named; scoped to
    # this account and region (network interfaces, the subnets and security groups they use).
    resources = [
      "arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account}:subnet/*",
      "arn:${local.partition}:ec2:${local.region}:${local.account}:security-group/*",
    ]
  }

  statement {
    sid     = "DescribeVpcNetworkInterfaces"
    actions = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    # EC2 Describe* actions support no resource-level permissions.
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "migrate" {
  name   = "migrate"
  role   = aws_iam_role.migrate.id
  policy = data.aws_iam_policy_document.migrate.json
}

resource "aws_lambda_function" "migrate" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously by Terraform only; a failure fails the apply, so a dead-letter queue would never receive anything.
  # checkov:skip=CKV_AWS_115:Reserved concurrency would fail in new accounts (10-execution quota, nothing reservable); concurrent runs are safe: migrations take an advisory lock.
  # checkov:skip=CKV_AWS_272:No code-signing profile in this project; the package is built and deployed by the same Terraform run.
  # checkov:skip=CKV_AWS_50:A one-shot deploy-time function; X-Ray would add xray:Put* permissions on "*" for no insight.
  function_name = local.migrate_name
  description   = "Applies the order_agent schema migrations and loads the ${var.dataset} data set into an empty database"
  role          = aws_iam_role.migrate.arn

  filename         = var.migrate_package_path
  source_code_hash = filebase64sha256(var.migrate_package_path)
  handler          = "handler.handler"
  runtime          = var.migrate_runtime
  architectures    = [var.migrate_architecture]
  layers           = var.layer_arns
  memory_size      = var.migrate_memory_mb
  timeout          = var.migrate_timeout_s
  kms_key_arn      = local.kms_key_arn

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = local.migrate_security_group_ids
  }

  environment {
    variables = merge({
      DATABASE_SECRET_ARN = local.master_secret_arn
      DATABASE_HOST       = local.client_host
      DATABASE_NAME       = local.client_database
      # Relative: the handler finds it beside itself, at the package root (/var/task in AWS).
      TAU2_WHEEL_PATH   = var.tau2_wheel_filename
      DATASET_CACHE_DIR = "/tmp/order-agent"
      # No DB_STATEMENT_TIMEOUT_MS / DB_LOCK_TIMEOUT_MS: migrate writes this function's values into the
      # role the agent connects as (its defaults, as RDS Proxy accepts no startup options), so they
      # must be the agent's. A migration that needs longer sets its own (SET LOCAL).
      DB_CONNECT_TIMEOUT_S = "10"
      DB_POOL_MAX          = "2"
      DATABASE_SSLMODE     = local.sslmode
      # Its log records name the system, as the agent's functions' do (the function name tells them apart).
      POWERTOOLS_SERVICE_NAME = var.name
      }, local.external ? {
      DATABASE_PORT = tostring(local.client_port)
    } : {})
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.migrate, aws_cloudwatch_log_group.migrate]
}

# A failed migration also fails the `terraform apply` that invoked it; the alarm is for runs
# invoked by hand (or by a pipeline that does not look at the invocation result).
resource "aws_cloudwatch_metric_alarm" "migrate_errors" {
  alarm_name          = "${local.migrate_name}-errors"
  alarm_description   = "The migrate Lambda failed: the schema or the data set may be incomplete."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.migrate.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  ok_actions          = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  tags                = var.tags
}

resource "aws_lambda_invocation" "migrate" {
  count = var.invoke_migrate ? 1 : 0

  function_name = aws_lambda_function.migrate.function_name
  input = jsonencode({
    dataset         = var.dataset
    load_dataset    = var.load_dataset
    migrations_hash = local.migrations_hash
    # Created or updated (privileges, password from its secret) on every run; it gets the timeouts.
    app_role = { username = local.app_username, secret_arn = local.app_secret_arn }
    # The role's privileges are kept in this file of the package: a change re-runs migrate too.
    privileges_hash = try(filesha256("${local.migrations_dir}/../roles.py"), null)
  })

  # The proxy must have its target before the function can reach the database.
  depends_on = [aws_db_proxy_target.this, aws_db_proxy_default_target_group.this, aws_secretsmanager_secret_version.external, aws_secretsmanager_secret_version.app_external]

  lifecycle {
    precondition {
      condition     = length(local.migration_files) > 0
      error_message = "No *.sql migrations found in ${local.migrations_dir}; set migrations_dir."
    }
  }
}
