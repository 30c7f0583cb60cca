locals {
  config_key = "config.json"

  # The runtime configuration the page fetches at start-up (never cached, see the behaviours below).
  config_json = jsonencode({
    websocketUrl = var.websocket_url
    auth         = var.auth_config
  })

  cognito_origin = (
    var.auth_config.cognito_domain == null ? [] :
    [startswith(var.auth_config.cognito_domain, "https://") ? var.auth_config.cognito_domain : "https://${var.auth_config.cognito_domain}"]
  )

  # Same-origin everything; the only other endpoints the page may talk to are the WebSocket API and
  # (jwt mode) the identity provider. No inline scripts or styles: Vite emits files.
  content_security_policy = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src ${join(" ", concat(["'self'", var.websocket_url], local.cognito_origin, var.csp_connect_src_extra))}",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])

  # Cache-Control written on each uploaded object. Vite puts content-hashed files under assets/:
  # they never change under the same name, so browsers and CloudFront keep them for a year.
  # Everything else (index.html, favicon, robots.txt) is revalidated on every use.
  immutable_cache_control  = "public, max-age=31536000, immutable"
  revalidate_cache_control = "no-cache"

  content_types = {
    html        = "text/html; charset=utf-8"
    js          = "text/javascript; charset=utf-8"
    mjs         = "text/javascript; charset=utf-8"
    css         = "text/css; charset=utf-8"
    json        = "application/json"
    map         = "application/json"
    webmanifest = "application/manifest+json"
    svg         = "image/svg+xml"
    png         = "image/png"
    jpg         = "image/jpeg"
    jpeg        = "image/jpeg"
    gif         = "image/gif"
    webp        = "image/webp"
    ico         = "image/x-icon"
    woff        = "font/woff"
    woff2       = "font/woff2"
    txt         = "text/plain; charset=utf-8"
  }

  site_files = var.site_dir == null ? {} : {
    for path in fileset(var.site_dir, "**") : path => {
      source        = "${var.site_dir}/${path}"
      content_type  = lookup(local.content_types, try(lower(regex("\\.([^./]+)$", path)[0]), ""), "application/octet-stream")
      cache_control = startswith(path, "assets/") ? local.immutable_cache_control : local.revalidate_cache_control
    } if path != local.config_key
  }

  origin_id = "s3-site"
  logging   = var.logging_bucket_name != null
}

################################################################################
# Bucket (private; CloudFront reads it through origin access control)
################################################################################

module "site_bucket" {
  source = "../s3_bucket"

  bucket        = var.bucket_name
  bucket_prefix = var.bucket_name == null ? "${var.name}-" : null
  force_destroy = var.force_destroy
  kms_key_arn   = var.kms_key_arn

  # Earlier deployments stay for rollback until noncurrent_version_expiration_days; the site never expires.
  lifecycle_rule_id                  = "expire-old-versions"
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days

  logging_target_bucket = var.logging_bucket_name
  logging_target_prefix = "${var.logging_prefix}s3/"

  policy_statements = [
    {
      # Only this distribution, signing with its origin access control, may read objects.
      Sid       = "AllowCloudFrontDistributionRead"
      Effect    = "Allow"
      Principal = { Service = "cloudfront.amazonaws.com" }
      Action    = "s3:GetObject"
      Resource  = "${module.site_bucket.arn}/*"
      Condition = {
        StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.this.arn }
      }
    },
  ]

  tags = var.tags
}

# The bucket's resources were declared here before the s3_bucket module: state moves, no bucket is replaced.
moved {
  from = aws_s3_bucket.this
  to   = module.site_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.this
  to   = module.site_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.this
  to   = module.site_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.this
  to   = module.site_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_versioning.this
  to   = module.site_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.this
  to   = module.site_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.this
  to   = module.site_bucket.aws_s3_bucket_logging.this
}

moved {
  from = aws_s3_bucket_policy.this
  to   = module.site_bucket.aws_s3_bucket_policy.this
}

################################################################################
# Objects: the built site and the runtime configuration
################################################################################

resource "aws_s3_object" "site" {
  for_each = local.site_files

  bucket        = module.site_bucket.bucket
  key           = each.key
  source        = each.value.source
  source_hash   = filemd5(each.value.source)
  content_type  = each.value.content_type
  cache_control = each.value.cache_control

  tags = var.tags
}

resource "aws_s3_object" "config" {
  bucket        = module.site_bucket.bucket
  key           = local.config_key
  content       = local.config_json
  content_type  = "application/json"
  cache_control = "no-store"

  tags = var.tags
}

################################################################################
# CloudFront
################################################################################

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-site"
  description                       = "CloudFront access to the ${var.name} chat site bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# Content-hashed files under /assets/: cached for a year at the edge (and, through the objects'
# Cache-Control, in browsers), compressed, nothing from the request in the cache key.
resource "aws_cloudfront_cache_policy" "assets" {
  name        = "${var.name}-assets-immutable"
  comment     = "Content-hashed assets: cached for a year"
  min_ttl     = 0
  default_ttl = 31536000
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true

    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

# index.html and config.json: never cached at the edge, so a deployment or a configuration change
# is visible at once (no invalidation needed).
resource "aws_cloudfront_cache_policy" "no_cache" {
  name        = "${var.name}-no-cache"
  comment     = "index.html and config.json: not cached"
  min_ttl     = 0
  default_ttl = 0
  max_ttl     = 0

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false

    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

# Everything else ("/" is index.html, plus favicon, robots.txt...): follows the object's
# Cache-Control and caches nothing that has none (default TTL 0).
resource "aws_cloudfront_cache_policy" "default" {
  name        = "${var.name}-origin-headers"
  comment     = "Other files: as the object's Cache-Control says"
  min_ttl     = 0
  default_ttl = 0
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true

    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_response_headers_policy" "this" {
  name    = "${var.name}-security-headers"
  comment = "Security headers of the ${var.name} chat site"

  security_headers_config {
    content_security_policy {
      content_security_policy = local.content_security_policy
      override                = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      frame_option = "DENY"
      override     = true
    }

    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }

    # "preload" only states consent: a domain joins browsers' preload lists when its owner submits
    # the registrable (apex) domain, which must send the header itself.
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }

    # The legacy XSS auditor is gone from browsers and could be abused; "0" turns it off.
    xss_protection {
      protection = false
      override   = true
    }
  }

  custom_headers_config {
    items {
      header   = "Permissions-Policy"
      value    = "camera=(), microphone=(), geolocation=(), payment=()"
      override = true
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.content_security_policy) <= 1783
      error_message = "The Content-Security-Policy is longer than the 1783 characters CloudFront accepts; shorten csp_connect_src_extra."
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  # checkov:skip=CKV_AWS_310:One origin (the site bucket); an origin group would need a second bucket replicated from it.
  # checkov:skip=CKV_AWS_68:WAF is optional (web_acl_arn): a static chat page with no server-side logic; the WebSocket API has its own throttling.
  # checkov:skip=CKV2_AWS_47:WAF is optional (web_acl_arn); the caller's web ACL carries its managed rule groups.
  # checkov:skip=CKV_AWS_86:Access logging is optional (logging_bucket_name); logging_config is set when a log bucket is given.
  # checkov:skip=CKV_AWS_374:Customers can be anywhere; geo_restriction lets an environment restrict countries.
  # checkov:skip=CKV_AWS_174:TLS 1.2_2021 is enforced with a custom certificate; the default *.cloudfront.net certificate does not accept a minimum protocol version.
  # checkov:skip=CKV2_AWS_42:A custom certificate is optional (acm_certificate_arn); without one the default CloudFront certificate serves HTTPS.
  enabled             = true
  comment             = "${var.name} chat site"
  default_root_object = "index.html"
  aliases             = var.aliases
  price_class         = var.price_class
  http_version        = "http2and3"
  is_ipv6_enabled     = true
  web_acl_id          = var.web_acl_arn
  wait_for_deployment = var.wait_for_deployment

  origin {
    origin_id                = local.origin_id
    domain_name              = module.site_bucket.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.default.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
  }

  # Hashed assets are cached for a year; the app shell and the runtime config never are.
  dynamic "ordered_cache_behavior" {
    for_each = [
      { path = "/assets/*", policy = aws_cloudfront_cache_policy.assets.id },
      { path = "/index.html", policy = aws_cloudfront_cache_policy.no_cache.id },
      { path = "/${local.config_key}", policy = aws_cloudfront_cache_policy.no_cache.id },
    ]
    content {
      path_pattern               = ordered_cache_behavior.value.path
      target_origin_id           = local.origin_id
      viewer_protocol_policy     = "redirect-to-https"
      allowed_methods            = ["GET", "HEAD"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = true
      cache_policy_id            = ordered_cache_behavior.value.policy
      response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
    }
  }

  # Single-page app: client-side routes are not objects. Without s3:ListBucket S3 answers 403 for a
  # missing key, so both 403 and 404 serve the app shell; the error answers are not cached.
  custom_error_response {
    error_code            = 403
    response_code         = 200
    response_page_path    = "/index.html"
    error_caching_min_ttl = 0
  }

  custom_error_response {
    error_code            = 404
    response_code         = 200
    response_page_path    = "/index.html"
    error_caching_min_ttl = 0
  }

  dynamic "logging_config" {
    for_each = local.logging ? [1] : []

    content {
      bucket          = "${var.logging_bucket_name}.s3.amazonaws.com"
      prefix          = "${var.logging_prefix}cloudfront/"
      include_cookies = false
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = var.geo_restriction.restriction_type
      locations        = var.geo_restriction.locations
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.acm_certificate_arn == null
    acm_certificate_arn            = var.acm_certificate_arn
    ssl_support_method             = var.acm_certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.acm_certificate_arn == null ? null : "TLSv1.2_2021"
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(var.aliases) == 0 || var.acm_certificate_arn != null
      error_message = "aliases need acm_certificate_arn: the default CloudFront certificate only covers *.cloudfront.net."
    }
  }
}
