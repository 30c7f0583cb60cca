mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_db_instance" {
    defaults = {
      arn         = "arn:aws:rds:us-east-1:123456789012:db:test"
      resource_id = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1234-AbCdEf"
        kms_key_id    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
        secret_status = "active"
      }]
    }
  }

  mock_resource "aws_db_proxy" {
    defaults = {
      arn      = "arn:aws:rds:us-east-1:123456789012:db-proxy:prx-0123456789abcdef0"
      endpoint = "test.proxy-abcdefghijkl.us-east-1.rds.amazonaws.com"
    }
  }

  # Mocked computed values are random strings; give the ones the provider validates a valid shape.
  mock_resource "aws_db_proxy_default_target_group" {
    defaults = { name = "default" }
  }

  mock_resource "aws_db_parameter_group" {
    defaults = { name = "test-postgres17-20250101000000000000000001" }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:test-db-app-AbCdEf" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:test-migrate" }
  }
}

variables {
  name                      = "test"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  client_security_group_ids = ["sg-0123456789abcdef0"]
  # terraform test only hashes the package; any file in the repository will do.
  migrate_package_path = "../../../lambdas/migrate/handler.py"
  tags                 = { Project = "order-agent" }
}

run "instance_is_private_encrypted_and_managed" {
  command = apply

  assert {
    condition     = aws_db_instance.this.publicly_accessible == false
    error_message = "The instance must not be publicly accessible."
  }

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == module.kms_key[0].key_arn
    error_message = "Storage is encrypted with the module's KMS key when none is given."
  }

  assert {
    condition     = length(module.kms_key) == 1 && module.kms_key[0].alias_name == "alias/${var.name}-database"
    error_message = "The module creates its own KMS key (rotation on: modules/kms_key) with an alias."
  }

  assert {
    condition     = aws_db_instance.this.manage_master_user_password && aws_db_instance.this.master_user_secret_kms_key_id == module.kms_key[0].key_arn
    error_message = "RDS manages the master password in Secrets Manager, encrypted with the module's key."
  }

  assert {
    condition     = aws_db_instance.this.engine == "postgres" && aws_db_parameter_group.this.family == "postgres17"
    error_message = "PostgreSQL 17 by default, with a matching parameter group family."
  }

  assert {
    condition     = anytrue([for p in aws_db_parameter_group.this.parameter : p.name == "rds.force_ssl" && p.value == "1"])
    error_message = "The parameter group forces TLS."
  }

  assert {
    condition     = aws_db_instance.this.auto_minor_version_upgrade && aws_db_instance.this.backup_retention_period == 7
    error_message = "Minor versions upgrade automatically; backups are kept backup_retention_days."
  }

  assert {
    condition     = toset(aws_db_instance.this.enabled_cloudwatch_logs_exports) == toset(keys(aws_cloudwatch_log_group.instance))
    error_message = "Every exported log has a log group created by the module."
  }

  assert {
    condition     = output.master_secret_arn == "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1234-AbCdEf"
    error_message = "master_secret_arn is the RDS-managed secret."
  }
}

run "given_kms_key_is_used_and_none_created" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  assert {
    condition     = length(module.kms_key) == 0 && aws_db_instance.this.kms_key_id == var.kms_key_arn
    error_message = "A given key is used and no key is created."
  }
}

run "deletion_protection_follows_the_variable_prod" {
  command = plan

  variables {
    deletion_protection = true
    skip_final_snapshot = false
  }

  assert {
    condition     = aws_db_instance.this.deletion_protection && !aws_db_instance.this.skip_final_snapshot && aws_db_instance.this.final_snapshot_identifier == "test-final"
    error_message = "Prod: deletion protection on and a final snapshot on destroy."
  }
}

run "deletion_protection_follows_the_variable_dev" {
  command = plan

  variables {
    deletion_protection = false
    skip_final_snapshot = true
  }

  assert {
    condition     = !aws_db_instance.this.deletion_protection && aws_db_instance.this.skip_final_snapshot && aws_db_instance.this.final_snapshot_identifier == null
    error_message = "Dev: no deletion protection, no final snapshot."
  }
}

run "proxy_requires_tls_and_uses_the_managed_secret" {
  command = apply

  assert {
    condition     = aws_db_proxy.this.require_tls && aws_db_proxy.this.engine_family == "POSTGRESQL"
    error_message = "The proxy is PostgreSQL and requires TLS."
  }

  assert {
    condition     = alltrue([for a in aws_db_proxy.this.auth : a.auth_scheme == "SECRETS" && a.client_password_auth_type == "POSTGRES_SCRAM_SHA_256"])
    error_message = "The proxy authenticates clients with SCRAM against Secrets Manager secrets."
  }

  assert {
    condition     = toset([for a in aws_db_proxy.this.auth : a.secret_arn]) == toset([output.master_secret_arn, output.app_secret_arn])
    error_message = "The proxy knows two users: the master (for migrate) and the application role (for the agent's functions)."
  }

  assert {
    condition     = aws_db_proxy_target.this.db_instance_identifier == aws_db_instance.this.identifier
    error_message = "The proxy targets the instance."
  }

  assert {
    condition     = one(aws_db_proxy_default_target_group.this.connection_pool_config).max_connections_percent == 90
    error_message = "The pool leaves headroom below max_connections."
  }

  assert {
    condition     = output.proxy_endpoint == aws_db_proxy.this.endpoint && aws_lambda_function.migrate.environment[0].variables["DATABASE_HOST"] == aws_db_proxy.this.endpoint
    error_message = "Clients (and the migrate function) use the proxy endpoint."
  }

  assert {
    condition     = output.proxy_resource_id == "prx-0123456789abcdef0"
    error_message = "proxy_resource_id is the prx- id from the proxy ARN."
  }
}

run "ingress_only_from_clients_through_the_proxy" {
  command = apply

  variables {
    client_security_group_ids = ["sg-0123456789abcdef0", "sg-0fedcba9876543210"]
  }

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.proxy_from_clients : r.referenced_security_group_id]) == toset(var.client_security_group_ids)
    error_message = "The proxy admits exactly the client security groups."
  }

  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.proxy_from_clients : r.from_port == 5432 && r.to_port == 5432 && r.cidr_ipv4 == null && r.cidr_ipv6 == null])
    error_message = "Client ingress is 5432 only, by security group, never by CIDR."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.instance_from_proxy.referenced_security_group_id == aws_security_group.proxy.id
      && aws_vpc_security_group_ingress_rule.instance_from_proxy.from_port == 5432
      && aws_vpc_security_group_ingress_rule.instance_from_proxy.cidr_ipv4 == null
    )
    error_message = "The instance admits PostgreSQL from the proxy only."
  }

  assert {
    condition     = aws_db_instance.this.vpc_security_group_ids == toset([aws_security_group.this.id]) && aws_db_proxy.this.vpc_security_group_ids == toset([aws_security_group.proxy.id])
    error_message = "The instance and the proxy use the module's security groups only."
  }
}

run "migrate_runs_on_apply_with_dataset_and_migrations_hash" {
  command = plan

  variables {
    dataset = "demo"
  }

  assert {
    condition     = jsondecode(aws_lambda_invocation.migrate[0].input).dataset == "demo" && jsondecode(aws_lambda_invocation.migrate[0].input).load_dataset
    error_message = "The invocation carries the data set."
  }

  assert {
    condition     = length(jsondecode(aws_lambda_invocation.migrate[0].input).migrations_hash) == 64
    error_message = "The invocation carries a hash of the migrations."
  }

  assert {
    condition     = aws_lambda_function.migrate.vpc_config[0].security_group_ids == toset(var.client_security_group_ids)
    error_message = "The migrate function runs in the VPC as a client of the proxy."
  }

  assert {
    condition     = aws_cloudwatch_log_group.migrate.name == "/aws/lambda/test-migrate" && aws_cloudwatch_log_group.migrate.retention_in_days == 30
    error_message = "The migrate function has its own log group with a retention."
  }
}

run "dataset_must_be_known" {
  command = plan

  variables {
    dataset = "prod-dump"
  }

  expect_failures = [var.dataset]
}

run "subnets_in_two_azs_required" {
  command = plan

  variables {
    subnet_ids = ["subnet-0aaaaaaaaaaaaaaa1"]
  }

  expect_failures = [var.subnet_ids]
}

run "the_agent_connects_as_an_application_role_with_a_secret_of_its_own" {
  command = apply

  assert {
    condition     = output.app_username == "test_app" && output.app_secret_arn == aws_secretsmanager_secret.app.arn && output.app_secret_arn != output.master_secret_arn
    error_message = "The application role is named after the system and has a secret of its own, not the master's."
  }

  assert {
    condition     = aws_secretsmanager_secret.app.kms_key_id == module.kms_key[0].key_arn && length(aws_secretsmanager_secret_version.app_external) == 0
    error_message = "In AWS the secret is encrypted with the module's key and Terraform writes no value (migrate does: no password in the state)."
  }

  assert {
    condition = (
      jsondecode(aws_lambda_invocation.migrate[0].input).app_role.username == "test_app"
      && jsondecode(aws_lambda_invocation.migrate[0].input).app_role.secret_arn == output.app_secret_arn
      && length(jsondecode(aws_lambda_invocation.migrate[0].input).privileges_hash) == 64
    )
    error_message = "migrate is told which role to create and where its password is, and runs again when the privileges change."
  }

  assert {
    condition = (
      aws_secretsmanager_secret_rotation.app[0].rotation_lambda_arn == aws_lambda_function.migrate.arn
      && one(aws_secretsmanager_secret_rotation.app[0].rotation_rules).automatically_after_days == 30
      && aws_lambda_permission.rotate_app_secret[0].principal == "secretsmanager.amazonaws.com"
      && aws_lambda_permission.rotate_app_secret[0].source_arn == output.app_secret_arn
    )
    error_message = "Secrets Manager rotates the application role's password every 30 days through the migrate function."
  }

  assert {
    condition     = aws_lambda_function.migrate.environment[0].variables["DATABASE_SSLMODE"] == "verify-full" && aws_lambda_function.migrate.environment[0].variables["DATABASE_SECRET_ARN"] == output.master_secret_arn
    error_message = "migrate connects as the master user and verifies the proxy's certificate."
  }
}

run "emulators_get_the_application_role_password_from_their_input" {
  command = plan

  variables {
    external_database = {
      host         = "127.0.0.1"
      port         = 6432
      username     = "postgres"
      password     = "master-password"
      sslmode      = "disable"
      app_username = "local_app"
      app_password = "app-password"
    }
  }

  assert {
    condition     = output.app_username == "local_app" && jsondecode(aws_secretsmanager_secret_version.app_external[0].secret_string).password == "app-password"
    error_message = "With external_database the secret holds the role and password the local pooler knows."
  }

  assert {
    condition     = length(aws_secretsmanager_secret_rotation.app) == 0 && aws_lambda_function.migrate.environment[0].variables["DATABASE_SSLMODE"] == "disable"
    error_message = "No rotation against an emulator (the pooler was given the password), and its TLS mode."
  }
}

run "emulators_need_the_application_role_password" {
  command = plan

  variables {
    external_database = {
      host     = "127.0.0.1"
      port     = 6432
      username = "postgres"
      password = "master-password"
    }
  }

  expect_failures = [var.external_database]
}
