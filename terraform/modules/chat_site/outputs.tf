output "bucket_name" {
  description = "Name of the private bucket holding the site (upload a new build here, e.g. with `aws s3 sync`)."
  value       = module.site_bucket.bucket
}

output "bucket_arn" {
  description = "ARN of the site bucket."
  value       = module.site_bucket.arn
}

output "distribution_id" {
  description = "ID of the CloudFront distribution (for invalidations)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution (the only principal the bucket policy lets read)."
  value       = aws_cloudfront_distribution.this.arn
}

output "distribution_domain_name" {
  description = "The distribution's *.cloudfront.net domain name (target of the aliases' DNS records)."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "distribution_hosted_zone_id" {
  description = "Route 53 hosted zone ID of CloudFront, for alias records pointing at the distribution."
  value       = aws_cloudfront_distribution.this.hosted_zone_id
}

output "site_url" {
  description = "HTTPS URL of the chat page: the first alias, or the CloudFront domain name."
  value       = "https://${length(var.aliases) > 0 ? var.aliases[0] : aws_cloudfront_distribution.this.domain_name}"
}

output "config_json" {
  description = "The runtime configuration served as /config.json: {\"websocketUrl\": ..., \"auth\": {\"mode\", \"cognito_domain\", \"client_id\"}}."
  value       = local.config_json
}
