# AWS Config: the managed rules driftfix's catalog knows, and (optionally) the recorder they need.
#
# Most accounts already record with AWS Config (Control Tower, an organisation-wide setup, or the
# console's one-click setup), and a region holds only one customer-managed recorder, so the recorder
# is created only with create_recorder = true. The rules below evaluate whatever recorder is running.

resource "aws_config_config_rule" "this" {
  for_each = var.config_rules

  name             = each.key
  description      = "Managed rule ${each.value.identifier}; NON_COMPLIANT results are sent to driftfix."
  input_parameters = length(each.value.input_parameters) > 0 ? jsonencode(each.value.input_parameters) : null

  maximum_execution_frequency = each.value.maximum_execution_frequency

  source {
    owner             = "AWS"
    source_identifier = each.value.identifier
  }

  # A rule cannot be created before a recorder exists.
  depends_on = [aws_config_configuration_recorder_status.this]
}

# --- The recorder, its delivery channel and bucket (create_recorder = true) ---

resource "aws_config_configuration_recorder" "this" {
  count = var.create_recorder ? 1 : 0

  name     = "${var.name_prefix}-recorder"
  role_arn = aws_iam_role.config[0].arn

  recording_group {
    all_supported                 = true
    include_global_resource_types = var.record_global_resources
  }
}

resource "aws_config_delivery_channel" "this" {
  count = var.create_recorder ? 1 : 0

  name           = "${var.name_prefix}-delivery"
  s3_bucket_name = aws_s3_bucket.config[0].id

  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }

  depends_on = [aws_config_configuration_recorder.this, aws_s3_bucket_policy.config]
}

resource "aws_config_configuration_recorder_status" "this" {
  count = var.create_recorder ? 1 : 0

  name       = aws_config_configuration_recorder.this[0].name
  is_enabled = true

  depends_on = [aws_config_delivery_channel.this]
}

# The role the recorder uses to read resource configurations.
resource "aws_iam_role" "config" {
  count = var.create_recorder ? 1 : 0

  name_prefix = "${var.name_prefix}-config-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ConfigRecorderAssumesThisRole"
      Effect    = "Allow"
      Principal = { Service = "config.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "config" {
  count = var.create_recorder ? 1 : 0

  role       = aws_iam_role.config[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

# Configuration snapshots and history. Private, versioned, encrypted, access-logged, TLS only.
resource "aws_s3_bucket" "config" {
  count = var.create_recorder ? 1 : 0

  bucket        = var.config_bucket_name
  bucket_prefix = var.config_bucket_name == null ? "${var.name_prefix}-config-" : null

  lifecycle {
    precondition {
      condition     = var.access_log_bucket != null
      error_message = "create_recorder = true needs access_log_bucket: the Config bucket's access logs go there."
    }
  }
}

resource "aws_s3_bucket_logging" "config" {
  count = var.create_recorder ? 1 : 0

  bucket        = aws_s3_bucket.config[0].id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${aws_s3_bucket.config[0].id}/"
}

resource "aws_s3_bucket_versioning" "config" {
  count = var.create_recorder ? 1 : 0

  bucket = aws_s3_bucket.config[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "config" {
  count = var.create_recorder ? 1 : 0

  bucket = aws_s3_bucket.config[0].id

  # SSE-S3: AWS Config can deliver to it without a key policy.
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "config" {
  count = var.create_recorder ? 1 : 0

  bucket = aws_s3_bucket.config[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "config" {
  count = var.create_recorder ? 1 : 0

  bucket = aws_s3_bucket.config[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Old versions of snapshots and history files expire after a year; the current ones stay.
resource "aws_s3_bucket_lifecycle_configuration" "config" {
  count = var.create_recorder ? 1 : 0

  bucket = aws_s3_bucket.config[0].id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 365
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.config]
}

resource "aws_s3_bucket_policy" "config" {
  count = var.create_recorder ? 1 : 0

  bucket = aws_s3_bucket.config[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ConfigChecksTheBucket"
        Effect    = "Allow"
        Principal = { Service = "config.amazonaws.com" }
        Action    = ["s3:GetBucketAcl", "s3:ListBucket"]
        Resource  = aws_s3_bucket.config[0].arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "ConfigDeliversThisAccountOnly"
        Effect    = "Allow"
        Principal = { Service = "config.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.config[0].arn}/AWSLogs/${local.account_id}/Config/*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        # A deny for every caller: it takes access away (plain HTTP), it grants nothing.
        Sid       = "DenyRequestsWithoutTls"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.config[0].arn, "${aws_s3_bucket.config[0].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.config]
}
