# The SNS alternative (use_sns = true): EventBridge → an encrypted SNS topic → an HTTPS subscription
# to driftfix's /webhooks/sns. It replaces the API destination; use it where driftfix cannot be given
# an API key, or where other subscribers want the same findings.
#
# Before applying:
# - driftfix must already be running at driftfix_url, with this topic's ARN in intake.sns.topic_arns
#   (the `sns_topic_arn` output; it is predictable:
#   arn:<partition>:sns:<region>:<account>:<name_prefix>-config-noncompliant). driftfix accepts messages
#   only from topics on that list, after checking their SNS signature.
# - driftfix confirms the subscription itself: it verifies the SubscriptionConfirmation's signature and
#   visits its SubscribeURL. Terraform waits for that confirmation (endpoint_auto_confirms), so an
#   apply with driftfix unreachable or the topic not yet allowed ends with a pending subscription.

resource "aws_kms_key" "sns" {
  count = var.use_sns ? 1 : 0

  description             = "Encrypts the driftfix findings topic."
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersTheKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # EventBridge publishes to the encrypted topic, so it needs a data key. This key encrypts
        # nothing but that topic, whose own policy admits only the driftfix rule.
        Sid       = "EventBridgePublishesToTheEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "sns" {
  count = var.use_sns ? 1 : 0

  name          = "alias/${var.name_prefix}-findings-topic"
  target_key_id = aws_kms_key.sns[0].key_id
}

resource "aws_sns_topic" "findings" {
  count = var.use_sns ? 1 : 0

  name              = "${var.name_prefix}-config-noncompliant"
  kms_master_key_id = aws_kms_key.sns[0].arn
  # SHA256 signatures (driftfix verifies versions 1 and 2; prefer 2).
  signature_version = 2
}

resource "aws_sns_topic_policy" "findings" {
  count = var.use_sns ? 1 : 0

  arn = aws_sns_topic.findings[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyTheDriftfixRulePublishes"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.findings[0].arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.noncompliant.arn } }
    }]
  })
}

resource "aws_cloudwatch_event_target" "sns" {
  count = var.use_sns ? 1 : 0

  rule      = aws_cloudwatch_event_rule.noncompliant.name
  target_id = "driftfix-sns"
  arn       = aws_sns_topic.findings[0].arn

  retry_policy {
    maximum_event_age_in_seconds = var.retry_maximum_event_age_seconds
    maximum_retry_attempts       = var.retry_maximum_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }

  depends_on = [aws_sns_topic_policy.findings]
}

resource "aws_sns_topic_subscription" "driftfix" {
  count = var.use_sns ? 1 : 0

  topic_arn = aws_sns_topic.findings[0].arn
  protocol  = "https"
  endpoint  = "${local.driftfix_url}/webhooks/sns"

  # driftfix confirms the subscription itself (see the top of this file); Terraform waits for it.
  endpoint_auto_confirms          = true
  confirmation_timeout_in_minutes = 5

  # driftfix needs the SNS envelope: the signature covers it.
  raw_message_delivery = false
}
