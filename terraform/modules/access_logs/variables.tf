variable "name" {
  description = "First part of the bucket name, `<name>-<account id>-<region>`. Lower-case letters, digits and hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,33}$", var.name))
    error_message = "name must be 1-34 lower-case letters, digits or hyphens, starting with a letter or digit (the bucket name adds the account id and region)."
  }
}

variable "retention_days" {
  description = "Days an access log object is kept before it expires."
  type        = number
  default     = 90

  validation {
    condition     = var.retention_days >= 1 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number of at least 1."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket while it still holds logs."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
