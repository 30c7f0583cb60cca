# Remote state: an S3 bucket (versioning on, encryption, public access blocked) with a lock,
# one key per environment. Fill in the bucket, then `terraform init -migrate-state`:
#
# terraform {
#   backend "s3" {
#     bucket       = "<your-terraform-state-bucket>"
#     key          = "order-agent/prod/terraform.tfstate"
#     region       = "us-east-1"
#     encrypt      = true
#     use_lockfile = true   # S3-native locking (Terraform >= 1.10); or dynamodb_table = "<lock table>"
#   }
# }
