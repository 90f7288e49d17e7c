variable "environment" {
  type = string
}

locals {
  asset_buckets = toset(["images", "downloads"])
}

# Public assets served through the CDN.
resource "aws_s3_bucket" "public" {
  bucket = "my-public-bucket"
}

resource "aws_s3_bucket_acl" "public" {
  bucket = aws_s3_bucket.public.id
  acl    = "public-read"
}

resource "aws_s3_bucket" "assets" {
  for_each = local.asset_buckets

  bucket = "shop-${each.key}-${var.environment}"
}

resource "aws_s3_bucket" "logs" {
  count  = 1
  bucket = "shop-access-logs"
}
