variable "name" {
  description = "Name prefix of every resource (bucket prefix, CloudFront policies, origin access control). Lower-case letters, digits and hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,34}[a-z0-9]$", var.name))
    error_message = "name must be 2-36 characters of lower-case letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "bucket_name" {
  description = "Exact name of the site bucket. Null lets Terraform generate a unique name from `name`."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket while it still holds objects (all versions)."
  type        = bool
  default     = false
}

variable "websocket_url" {
  description = "URL of the WebSocket API the chat page connects to (`wss://<api>.execute-api.<region>.amazonaws.com/<stage>`). Written to config.json and allowed in the Content-Security-Policy `connect-src`."
  type        = string

  validation {
    condition     = can(regex("^wss?://[^\\s/'\";,]+(/[^\\s'\";,]*)?$", var.websocket_url))
    error_message = "websocket_url must be a ws:// or wss:// URL without spaces, quotes, commas or semicolons."
  }
}

variable "auth_config" {
  description = "How the page authenticates, written to config.json as `auth`: mode \"none\" (anonymous) or \"jwt\" (a token from the identity provider, sent as `?token=` on the WebSocket URL); the Cognito hosted-UI domain and app client id when Cognito issues the tokens."
  type = object({
    mode           = string
    cognito_domain = optional(string)
    client_id      = optional(string)
  })
  default = { mode = "none" }

  validation {
    condition     = contains(["none", "jwt"], var.auth_config.mode)
    error_message = "auth_config.mode must be \"none\" or \"jwt\"."
  }

  validation {
    condition     = var.auth_config.cognito_domain == null || can(regex("^(https://)?[A-Za-z0-9.-]+$", var.auth_config.cognito_domain))
    error_message = "auth_config.cognito_domain must be a host name (e.g. myapp.auth.eu-west-1.amazoncognito.com), optionally with https://."
  }
}

variable "site_dir" {
  description = "Directory of the built site (e.g. web/dist) uploaded file by file. Null uploads nothing but config.json (the site is deployed some other way). A config.json in it is ignored: Terraform writes its own."
  type        = string
  default     = null
}

variable "acm_certificate_arn" {
  description = "ARN of an ACM certificate in us-east-1 for `aliases`. Null uses the default *.cloudfront.net certificate."
  type        = string
  default     = null

  validation {
    condition     = var.acm_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/.+$", var.acm_certificate_arn))
    error_message = "acm_certificate_arn must be an ACM certificate ARN in us-east-1 (CloudFront only uses certificates from that region)."
  }
}

variable "aliases" {
  description = "Custom domain names (CNAMEs) of the distribution. Need `acm_certificate_arn`."
  type        = list(string)
  default     = []
}

variable "web_acl_arn" {
  description = "ARN of a WAFv2 web ACL (scope CLOUDFRONT, in us-east-1) to attach to the distribution. Null attaches none."
  type        = string
  default     = null

  validation {
    condition     = var.web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/.+$", var.web_acl_arn))
    error_message = "web_acl_arn must be the ARN of a WAFv2 web ACL with CLOUDFRONT scope (arn:aws:wafv2:us-east-1:<account>:global/webacl/...)."
  }
}

variable "price_class" {
  description = "CloudFront price class (which edge locations serve the site)."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_All", "PriceClass_200", "PriceClass_100"], var.price_class)
    error_message = "price_class must be PriceClass_All, PriceClass_200 or PriceClass_100."
  }
}

variable "geo_restriction" {
  description = "Country restriction of the distribution: type none, whitelist or blacklist, with ISO 3166-1 alpha-2 country codes."
  type = object({
    restriction_type = string
    locations        = optional(list(string), [])
  })
  default = { restriction_type = "none" }

  validation {
    condition     = contains(["none", "whitelist", "blacklist"], var.geo_restriction.restriction_type)
    error_message = "geo_restriction.restriction_type must be none, whitelist or blacklist."
  }

  validation {
    condition     = (var.geo_restriction.restriction_type == "none") == (length(var.geo_restriction.locations) == 0)
    error_message = "geo_restriction.locations must be empty for type none and non-empty otherwise."
  }
}

variable "logging_bucket_name" {
  description = "Existing bucket receiving the S3 server access logs and the CloudFront standard logs (its ACLs must be enabled for CloudFront). Null turns access logging off."
  type        = string
  default     = null
}

variable "logging_prefix" {
  description = "Key prefix of the access logs in `logging_bucket_name` (S3 logs under `<prefix>s3/`, CloudFront logs under `<prefix>cloudfront/`)."
  type        = string
  default     = "chat-site/"

  validation {
    condition     = var.logging_prefix == "" || can(regex("^[A-Za-z0-9!_.*'()/-]*/$", var.logging_prefix))
    error_message = "logging_prefix must be empty or end with a slash."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the bucket's default encryption (SSE-KMS). Null uses SSE-S3. With a key, its key policy must let cloudfront.amazonaws.com call kms:Decrypt for this distribution (AWS:SourceArn)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which replaced or deleted object versions are removed (versioning keeps earlier deployments for rollback until then)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "csp_connect_src_extra" {
  description = "Further sources for the Content-Security-Policy `connect-src` (e.g. https://cognito-idp.<region>.amazonaws.com). The WebSocket URL, 'self' and the Cognito domain are always there."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.csp_connect_src_extra : can(regex("^[^\\s;,]+$", s))])
    error_message = "csp_connect_src_extra entries must not contain spaces, commas or semicolons."
  }
}

variable "wait_for_deployment" {
  description = "Wait until the distribution is deployed to every edge location (about 5-15 minutes) before `apply` returns."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
