# The same modules as in AWS, applied to an emulator: only the parts an emulator can serve.
# PostgreSQL runs as a real embedded server and the WebSocket data plane is the project's own
# gateway (neither is emulated), so here it is the conversation store the agent and edge need.

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "local"
  secret_key                  = "local"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {
    dynamodb = var.aws_endpoint_url
    iam      = var.aws_endpoint_url
    kms      = var.aws_endpoint_url
    s3       = var.aws_endpoint_url
    sts      = var.aws_endpoint_url
  }
}

module "conversation_store" {
  source = "../../modules/conversation_store"

  name                = var.name
  deletion_protection = false
  tags                = { environment = "local" }
}
