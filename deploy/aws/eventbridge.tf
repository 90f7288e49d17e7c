# Config → EventBridge → driftfix.
#
# AWS Config publishes every evaluation change on the default event bus as
# "Config Rules Compliance Change" (source aws.config). The rule keeps only the transitions to
# NON_COMPLIANT; driftfix verifies fixes itself by asking Config, so COMPLIANT events are not needed.

resource "aws_cloudwatch_event_rule" "noncompliant" {
  name        = "${var.name_prefix}-config-noncompliant"
  description = "AWS Config rule evaluations that turned NON_COMPLIANT, for driftfix."

  event_pattern = jsonencode({
    source        = ["aws.config"]
    "detail-type" = ["Config Rules Compliance Change"]
    detail = {
      messageType = ["ComplianceChangeNotification"]
      newEvaluationResult = {
        complianceType = ["NON_COMPLIANT"]
      }
    }
  })
}

# --- API destination (the default path) ---

# The connection holds the API key. EventBridge keeps it in a Secrets Manager secret it manages and
# sends it in the `api_key_header` header; driftfix accepts it when it is one of
# intake.eventbridge.api_keys (DRIFTFIX_INTAKE_EVENTBRIDGE_API_KEYS) in that same header
# (intake.eventbridge.header). The key is also in this configuration's Terraform state: keep the
# state encrypted and private.
resource "aws_cloudwatch_event_connection" "driftfix" {
  count = local.use_api_destination ? 1 : 0

  name               = "${var.name_prefix}-intake"
  description        = "API key for driftfix's /webhooks/eventbridge."
  authorization_type = "API_KEY"

  auth_parameters {
    api_key {
      key   = var.api_key_header
      value = var.api_key
    }
  }

  lifecycle {
    precondition {
      condition     = var.api_key != null
      error_message = "api_key is required unless use_sns = true."
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "driftfix" {
  count = local.use_api_destination ? 1 : 0

  name                             = "${var.name_prefix}-intake"
  description                      = "driftfix intake for AWS Config findings."
  invocation_endpoint              = "${local.driftfix_url}/webhooks/eventbridge"
  http_method                      = "POST"
  invocation_rate_limit_per_second = var.invocation_rate_limit_per_second
  connection_arn                   = aws_cloudwatch_event_connection.driftfix[0].arn
}

resource "aws_cloudwatch_event_target" "api_destination" {
  count = local.use_api_destination ? 1 : 0

  rule      = aws_cloudwatch_event_rule.noncompliant.name
  target_id = "driftfix-api-destination"
  arn       = aws_cloudwatch_event_api_destination.driftfix[0].arn
  role_arn  = aws_iam_role.invoke_api_destination[0].arn

  # driftfix answers 202 once an event is stored, 4xx for what a retry cannot fix, and 429/503 under
  # backpressure; EventBridge retries 429, 5xx and timeouts within these limits.
  retry_policy {
    maximum_event_age_in_seconds = var.retry_maximum_event_age_seconds
    maximum_retry_attempts       = var.retry_maximum_attempts
  }

  # What still fails lands here, with ERROR_CODE / ERROR_MESSAGE attributes, instead of being dropped.
  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

# EventBridge assumes this role to call the API destination, and may do nothing else with it.
resource "aws_iam_role" "invoke_api_destination" {
  count = local.use_api_destination ? 1 : 0

  name_prefix = "${var.name_prefix}-invoke-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeInThisAccountAssumesThisRole"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "invoke_api_destination" {
  count = local.use_api_destination ? 1 : 0

  name = "invoke-driftfix-api-destination"
  role = aws_iam_role.invoke_api_destination[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeTheDriftfixApiDestinationOnly"
      Effect   = "Allow"
      Action   = "events:InvokeApiDestination"
      Resource = aws_cloudwatch_event_api_destination.driftfix[0].arn
    }]
  })
}

# --- Dead-letter queue (both paths) ---

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name_prefix}-intake-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum: time to notice, fix and redrive
  sqs_managed_sse_enabled   = true    # EventBridge can write to it without a key policy
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OnlyTheDriftfixRuleDeadLetters"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dead_letter.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.noncompliant.arn } }
    }]
  })
}
