output "event_rule_arn" {
  description = "The EventBridge rule that selects NON_COMPLIANT evaluations."
  value       = aws_cloudwatch_event_rule.noncompliant.arn
}

output "api_destination_arn" {
  description = "The API destination posting to /webhooks/eventbridge (null with use_sns)."
  value       = one(aws_cloudwatch_event_api_destination.driftfix[*].arn)
}

output "sns_topic_arn" {
  description = "The findings topic (only with use_sns): put it in intake.sns.topic_arns."
  value       = one(aws_sns_topic.findings[*].arn)
}

output "dead_letter_queue_url" {
  description = "Events EventBridge could not deliver. Watch its depth (ApproximateNumberOfMessagesVisible)."
  value       = aws_sqs_queue.dead_letter.id
}

output "driftfix_role_arn" {
  description = "The role driftfix runs as (assume it from the principals in driftfix_principal_arns)."
  value       = aws_iam_role.driftfix.arn
}

output "driftfix_policy_json" {
  description = "driftfix-policy.json with this deployment's values filled in, as attached to the role."
  value       = local.driftfix_policy
}

output "driftfix_toml" {
  description = "The intake part of driftfix.toml for this deployment (the API key itself goes in DRIFTFIX_INTAKE_EVENTBRIDGE_API_KEYS)."
  value = var.use_sns ? join("\n", [
    "[intake.sns]",
    "topic_arns = [\"${aws_sns_topic.findings[0].arn}\"]",
    ]) : join("\n", [
    "[intake.eventbridge]",
    "header = \"${var.api_key_header}\"",
    "# api_keys: set DRIFTFIX_INTAKE_EVENTBRIDGE_API_KEYS to the api_key variable's value",
  ])
}
