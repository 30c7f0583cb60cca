terraform {
  # 1.11: S3-native state locking (`use_lockfile`), which the environments' backends use.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
