# Remote state: S3, in the bucket terraform/bootstrap creates (versioned, SSE-KMS, public access
# blocked), locked with an S3 lock file (use_lockfile, Terraform >= 1.11; no DynamoDB table).
# A partial configuration: the bucket, key, region and KMS key come from backend.hcl, which the
# bootstrap's `backend_configs` output writes (see backend.hcl.example), so no account's bucket
# name is in the code:
#
#   make init ENV=prod    # terraform init -backend-config=backend.hcl
#
# The tests run `terraform init -backend=false` and never touch it.
terraform {
  backend "s3" {}
}
