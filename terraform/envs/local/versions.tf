terraform {
  # 1.11: S3-native state locking (`use_lockfile`) is generally available (experimental in 1.10).
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The major the project is tested with (5.100.0, recorded in .terraform.lock.hcl); 6.x changes
      # resources these modules use, so moving to it is a deliberate upgrade, not an `init -upgrade`.
      version = "~> 5.100"
    }
  }
}
