mock_provider "aws" {
  source = "../../testing/aws"

  mock_resource "aws_s3_bucket" {
    defaults = {
      id                          = "chat-test-site"
      bucket                      = "chat-test-site"
      arn                         = "arn:aws:s3:::chat-test-site"
      bucket_regional_domain_name = "chat-test-site.s3.eu-west-1.amazonaws.com"
    }
  }

  mock_resource "aws_cloudfront_distribution" {
    defaults = {
      id             = "E2MOCKDIST0001"
      arn            = "arn:aws:cloudfront::123456789012:distribution/E2MOCKDIST0001"
      domain_name    = "d1mock0example.cloudfront.net"
      hosted_zone_id = "Z2FDTNDATAQYW2"
    }
  }
}

variables {
  name          = "chat-test"
  websocket_url = "wss://abc123def4.execute-api.eu-west-1.amazonaws.com/prod"
}

run "config_json_carries_the_websocket_url" {
  command = plan

  variables {
    auth_config = {
      mode           = "jwt"
      cognito_domain = "chat-test.auth.eu-west-1.amazoncognito.com"
      client_id      = "4example0client0id"
    }
  }

  assert {
    condition     = jsondecode(output.config_json).websocketUrl == "wss://abc123def4.execute-api.eu-west-1.amazonaws.com/prod"
    error_message = "config.json must carry the WebSocket URL as websocketUrl."
  }

  assert {
    condition     = jsondecode(output.config_json).auth == { mode = "jwt", cognito_domain = "chat-test.auth.eu-west-1.amazoncognito.com", client_id = "4example0client0id" }
    error_message = "config.json must carry auth_config as auth."
  }

  assert {
    condition     = aws_s3_object.config.key == "config.json" && aws_s3_object.config.content == output.config_json
    error_message = "config.json must be written by Terraform with the rendered configuration."
  }

  assert {
    condition     = aws_s3_object.config.content_type == "application/json" && aws_s3_object.config.cache_control == "no-store"
    error_message = "config.json must be application/json with Cache-Control no-store."
  }

  assert {
    condition     = length(aws_s3_object.site) == 0
    error_message = "Without site_dir nothing but config.json is uploaded."
  }
}

run "auth_defaults_to_none" {
  command = plan

  assert {
    condition     = jsondecode(output.config_json).auth.mode == "none" && jsondecode(output.config_json).auth.client_id == null
    error_message = "auth_config defaults to mode none with null Cognito settings."
  }
}

run "csp_allows_the_websocket_endpoint_and_self_only" {
  command = plan

  variables {
    auth_config = { mode = "jwt", cognito_domain = "chat-test.auth.eu-west-1.amazoncognito.com" }
  }

  assert {
    condition = strcontains(
      aws_cloudfront_response_headers_policy.this.security_headers_config[0].content_security_policy[0].content_security_policy,
      "connect-src 'self' wss://abc123def4.execute-api.eu-west-1.amazonaws.com/prod https://chat-test.auth.eu-west-1.amazoncognito.com;"
    )
    error_message = "The CSP connect-src must allow 'self', the WebSocket URL and the Cognito domain."
  }

  assert {
    condition = alltrue([for d in ["default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"] :
    strcontains(aws_cloudfront_response_headers_policy.this.security_headers_config[0].content_security_policy[0].content_security_policy, d)])
    error_message = "The CSP must restrict scripts to the site and forbid plugins and framing."
  }

  assert {
    condition     = !strcontains(aws_cloudfront_response_headers_policy.this.security_headers_config[0].content_security_policy[0].content_security_policy, "unsafe-")
    error_message = "The CSP must not allow unsafe-inline or unsafe-eval."
  }

  assert {
    condition = (
      aws_cloudfront_response_headers_policy.this.security_headers_config[0].frame_options[0].frame_option == "DENY" &&
      aws_cloudfront_response_headers_policy.this.security_headers_config[0].content_type_options[0].override &&
      aws_cloudfront_response_headers_policy.this.security_headers_config[0].strict_transport_security[0].access_control_max_age_sec >= 31536000 &&
      aws_cloudfront_response_headers_policy.this.security_headers_config[0].referrer_policy[0].referrer_policy == "strict-origin-when-cross-origin"
    )
    error_message = "HSTS (>= 1 year), nosniff, frame DENY and a referrer policy must be sent."
  }
}

run "bucket_is_private_and_only_this_distribution_reads" {
  command = apply

  # Public access block, ownership, versioning and the TLS-only policy: the s3_bucket module (its tests).
  assert {
    condition     = module.site_bucket.sse_algorithm == "AES256"
    error_message = "The bucket must be encrypted at rest (SSE-S3 without a KMS key)."
  }

  assert {
    condition     = module.site_bucket.lifecycle_rules["expire-old-versions"].noncurrent_version_expiration_days == 30 && module.site_bucket.lifecycle_rules["expire-old-versions"].expiration_days == null
    error_message = "Earlier deployments are kept 30 days for rollback; the site itself never expires."
  }

  # Every Allow statement: the CloudFront service principal, s3:GetObject only, conditioned on this distribution.
  assert {
    condition = alltrue([
      for s in jsondecode(module.site_bucket.policy).Statement : (
        s.Principal == { Service = "cloudfront.amazonaws.com" } &&
        s.Action == "s3:GetObject" &&
        s.Resource == "arn:aws:s3:::chat-test-site/*" &&
        s.Condition == { StringEquals = { "AWS:SourceArn" = "arn:aws:cloudfront::123456789012:distribution/E2MOCKDIST0001" } }
      ) if s.Effect == "Allow"
    ])
    error_message = "Only this distribution (cloudfront.amazonaws.com with AWS:SourceArn) may read, and only objects."
  }

  assert {
    condition     = length([for s in jsondecode(module.site_bucket.policy).Statement : s if s.Effect == "Allow"]) == 1
    error_message = "The bucket policy must have exactly one Allow statement."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(module.site_bucket.policy).Statement :
      s.Effect == "Deny" && s.Condition == { Bool = { "aws:SecureTransport" = "false" } }
    ])
    error_message = "The bucket policy must deny requests without TLS."
  }

  assert {
    condition = (
      aws_cloudfront_origin_access_control.this.origin_access_control_origin_type == "s3" &&
      aws_cloudfront_origin_access_control.this.signing_behavior == "always" &&
      one(aws_cloudfront_distribution.this.origin).origin_access_control_id == aws_cloudfront_origin_access_control.this.id
    )
    error_message = "The distribution must reach the bucket through origin access control, always signing."
  }

  assert {
    condition     = output.site_url == "https://d1mock0example.cloudfront.net"
    error_message = "Without aliases the site URL is the CloudFront domain."
  }
}

run "caching_rules" {
  command = apply

  assert {
    condition = (
      aws_cloudfront_cache_policy.assets.default_ttl == 31536000 &&
      aws_cloudfront_cache_policy.assets.max_ttl == 31536000
    )
    error_message = "Hashed assets must be cached for a year."
  }

  assert {
    condition = (
      aws_cloudfront_cache_policy.no_cache.min_ttl == 0 &&
      aws_cloudfront_cache_policy.no_cache.default_ttl == 0 &&
      aws_cloudfront_cache_policy.no_cache.max_ttl == 0
    )
    error_message = "The no-cache policy must not cache at all."
  }

  assert {
    condition = {
      for b in aws_cloudfront_distribution.this.ordered_cache_behavior : b.path_pattern => b.cache_policy_id
      } == {
      "/assets/*"    = aws_cloudfront_cache_policy.assets.id
      "/index.html"  = aws_cloudfront_cache_policy.no_cache.id
      "/config.json" = aws_cloudfront_cache_policy.no_cache.id
    }
    error_message = "/assets/* must use the long-cache policy; /index.html and /config.json the no-cache policy."
  }

  assert {
    condition = (
      one(aws_cloudfront_distribution.this.default_cache_behavior).cache_policy_id == aws_cloudfront_cache_policy.default.id &&
      aws_cloudfront_cache_policy.default.default_ttl == 0
    )
    error_message = "Other paths (including / = index.html) must follow the object's Cache-Control and cache nothing without one."
  }

  assert {
    condition = alltrue(concat(
      [for b in aws_cloudfront_distribution.this.ordered_cache_behavior : b.viewer_protocol_policy == "redirect-to-https"],
      [one(aws_cloudfront_distribution.this.default_cache_behavior).viewer_protocol_policy == "redirect-to-https"],
    ))
    error_message = "Every behaviour must redirect HTTP to HTTPS."
  }

  assert {
    condition = alltrue(concat(
      [for b in aws_cloudfront_distribution.this.ordered_cache_behavior : b.response_headers_policy_id == aws_cloudfront_response_headers_policy.this.id],
      [one(aws_cloudfront_distribution.this.default_cache_behavior).response_headers_policy_id == aws_cloudfront_response_headers_policy.this.id],
    ))
    error_message = "Every behaviour must send the security headers."
  }

  assert {
    condition     = aws_cloudfront_distribution.this.default_root_object == "index.html"
    error_message = "The default root object must be index.html."
  }

  assert {
    condition = {
      for e in aws_cloudfront_distribution.this.custom_error_response : e.error_code => [e.response_code, e.response_page_path, e.error_caching_min_ttl]
      } == {
      403 = [200, "/index.html", 0]
      404 = [200, "/index.html", 0]
    }
    error_message = "403 and 404 must serve /index.html with 200 (SPA routing), uncached."
  }
}

run "built_site_upload" {
  command = plan

  variables {
    site_dir = "tests/fixtures/site"
  }

  assert {
    condition     = toset(keys(aws_s3_object.site)) == toset(["index.html", "robots.txt", "favicon.svg", "assets/index-3f9a1c2b.js", "assets/index-8d7e6f5a.css"])
    error_message = "Every file of site_dir but config.json must be uploaded under its relative path."
  }

  assert {
    condition = (
      aws_s3_object.site["index.html"].content_type == "text/html; charset=utf-8" &&
      aws_s3_object.site["assets/index-3f9a1c2b.js"].content_type == "text/javascript; charset=utf-8" &&
      aws_s3_object.site["assets/index-8d7e6f5a.css"].content_type == "text/css; charset=utf-8" &&
      aws_s3_object.site["favicon.svg"].content_type == "image/svg+xml" &&
      aws_s3_object.site["robots.txt"].content_type == "text/plain; charset=utf-8"
    )
    error_message = "Content types must follow the file extensions."
  }

  assert {
    condition = (
      aws_s3_object.site["assets/index-3f9a1c2b.js"].cache_control == "public, max-age=31536000, immutable" &&
      aws_s3_object.site["assets/index-8d7e6f5a.css"].cache_control == "public, max-age=31536000, immutable" &&
      aws_s3_object.site["index.html"].cache_control == "no-cache"
    )
    error_message = "Hashed assets must be immutable for a year; index.html no-cache."
  }

  assert {
    condition     = jsondecode(aws_s3_object.config.content).websocketUrl == "wss://abc123def4.execute-api.eu-west-1.amazonaws.com/prod"
    error_message = "The Terraform-written config.json must win over the one in site_dir."
  }
}

run "custom_domain_uses_tls12_and_sni" {
  command = plan

  variables {
    aliases             = ["chat.example.com"]
    acm_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-1111-2222-3333-444444444444"
    web_acl_arn         = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/chat/00000000-1111-2222-3333-444444444444"
  }

  assert {
    condition = (
      one(aws_cloudfront_distribution.this.viewer_certificate).minimum_protocol_version == "TLSv1.2_2021" &&
      one(aws_cloudfront_distribution.this.viewer_certificate).ssl_support_method == "sni-only" &&
      !one(aws_cloudfront_distribution.this.viewer_certificate).cloudfront_default_certificate
    )
    error_message = "A custom certificate must be served with SNI and TLS 1.2+."
  }

  assert {
    condition     = output.site_url == "https://chat.example.com"
    error_message = "With aliases the site URL is the first alias."
  }

  assert {
    condition     = aws_cloudfront_distribution.this.web_acl_id == "arn:aws:wafv2:us-east-1:123456789012:global/webacl/chat/00000000-1111-2222-3333-444444444444"
    error_message = "The WAF web ACL must be attached."
  }
}

run "default_certificate_without_aliases" {
  command = plan

  assert {
    condition     = one(aws_cloudfront_distribution.this.viewer_certificate).cloudfront_default_certificate && aws_cloudfront_distribution.this.web_acl_id == null
    error_message = "Without a certificate the default CloudFront certificate is used, and no WAF unless asked."
  }

  assert {
    condition     = module.site_bucket.logging == null && length(aws_cloudfront_distribution.this.logging_config) == 0
    error_message = "Access logging is off without a logging bucket."
  }
}

run "logging_when_a_bucket_is_given" {
  command = plan

  variables {
    logging_bucket_name = "central-logs"
  }

  assert {
    condition = (
      module.site_bucket.logging == { target_bucket = "central-logs", target_prefix = "chat-site/s3/" } &&
      one(aws_cloudfront_distribution.this.logging_config).bucket == "central-logs.s3.amazonaws.com" &&
      one(aws_cloudfront_distribution.this.logging_config).prefix == "chat-site/cloudfront/"
    )
    error_message = "S3 and CloudFront access logs go to the logging bucket under separate prefixes."
  }
}

run "aliases_need_a_certificate" {
  command = plan

  variables {
    aliases = ["chat.example.com"]
  }

  expect_failures = [aws_cloudfront_distribution.this]
}

run "websocket_url_must_be_a_websocket_url" {
  command = plan

  variables {
    websocket_url = "https://abc123def4.execute-api.eu-west-1.amazonaws.com/prod; script-src *"
  }

  expect_failures = [var.websocket_url]
}
