variable "aws_endpoint_url" {
  type        = string
  description = "Edge URL of the LocalStack-compatible emulator (moto server, LocalStack, ministack)."
  default     = "http://127.0.0.1:4566"
}

variable "name" {
  type        = string
  description = "Name prefix of the local resources."
  default     = "order-agent-local"
}
