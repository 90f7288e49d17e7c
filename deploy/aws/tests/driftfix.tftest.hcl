# `terraform test` runs these offline: the AWS provider is mocked, nothing is created.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
}

variables {
  region                  = "eu-west-1"
  driftfix_url            = "https://driftfix.example.com/"
  api_key                 = "0123456789abcdef0123456789abcdef"
  driftfix_principal_arns = ["arn:aws:iam::123456789012:role/driftfix-task"]
}

run "api_destination_by_default" {
  command = plan

  assert {
    condition     = aws_cloudwatch_event_api_destination.driftfix[0].invocation_endpoint == "https://driftfix.example.com/webhooks/eventbridge"
    error_message = "the API destination posts to /webhooks/eventbridge"
  }
  assert {
    condition     = aws_cloudwatch_event_connection.driftfix[0].auth_parameters[0].api_key[0].key == "x-api-key"
    error_message = "the API key goes in x-api-key by default"
  }
  assert {
    condition     = length(aws_sns_topic.findings) == 0 && length(aws_config_configuration_recorder.this) == 0
    error_message = "no SNS topic and no recorder by default"
  }
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.noncompliant.event_pattern) == {
      source        = ["aws.config"]
      "detail-type" = ["Config Rules Compliance Change"]
      detail = {
        messageType         = ["ComplianceChangeNotification"]
        newEvaluationResult = { complianceType = ["NON_COMPLIANT"] }
      }
    }
    error_message = "the rule selects NON_COMPLIANT compliance changes"
  }
  assert {
    condition = [for s in jsondecode(output.driftfix_policy_json).Statement : s.Sid] == [
      "EnrichFindingsFromConfig", "ReadComplianceByRuleAndResource", "ListAndReevaluateRuleResults", "LookUpWhoChangedTheResource",
    ]
    error_message = "without state, aggregator or route roles, only the Config and CloudTrail statements remain"
  }
  assert {
    condition     = jsondecode(output.driftfix_policy_json).Statement[2].Resource == ["arn:aws:config:*:123456789012:config-rule/*"]
    error_message = "rule-scoped actions are limited to this account's rules"
  }
}

run "state_and_keys_fill_their_statements" {
  command = plan

  variables {
    state_object_arns  = ["arn:aws:s3:::acme-tfstate/prod/terraform.tfstate", "arn:aws:s3:::acme-tfstate/env:/*/prod/terraform.tfstate"]
    state_kms_key_arns = ["arn:aws:kms:eu-west-1:123456789012:key/0d3b5f7e-1111-2222-3333-444455556666"]
  }

  assert {
    condition = [for s in jsondecode(output.driftfix_policy_json).Statement : s.Resource if s.Sid == "ReadTerraformState"] == [[
      "arn:aws:s3:::acme-tfstate/prod/terraform.tfstate", "arn:aws:s3:::acme-tfstate/env:/*/prod/terraform.tfstate",
    ]]
    error_message = "s3:GetObject on exactly the state objects"
  }
  assert {
    condition = [for s in jsondecode(output.driftfix_policy_json).Statement : s.Resource if s.Sid == "DecryptTerraformStateThroughS3"] == [[
      "arn:aws:kms:eu-west-1:123456789012:key/0d3b5f7e-1111-2222-3333-444455556666",
    ]]
    error_message = "kms:Decrypt on exactly the state key"
  }
}

run "sns_replaces_the_api_destination" {
  command = plan

  variables {
    use_sns = true
    api_key = null
  }

  assert {
    condition     = length(aws_cloudwatch_event_api_destination.driftfix) == 0 && length(aws_cloudwatch_event_connection.driftfix) == 0
    error_message = "no API destination with use_sns"
  }
  assert {
    condition     = aws_sns_topic_subscription.driftfix[0].endpoint == "https://driftfix.example.com/webhooks/sns" && aws_sns_topic_subscription.driftfix[0].protocol == "https"
    error_message = "the subscription posts to /webhooks/sns over HTTPS"
  }
  assert {
    condition     = aws_sns_topic.findings[0].name == "driftfix-config-noncompliant"
    error_message = "the topic name is predictable, so its ARN can be allow-listed before the subscription"
  }
}

run "a_recorder_with_its_bucket" {
  command = plan

  variables {
    create_recorder   = true
    access_log_bucket = "acme-access-logs"
  }

  assert {
    condition     = aws_config_configuration_recorder_status.this[0].is_enabled && aws_s3_bucket_logging.config[0].target_bucket == "acme-access-logs"
    error_message = "the recorder is started and its bucket logs to access_log_bucket"
  }
  assert {
    condition     = aws_s3_bucket_versioning.config[0].versioning_configuration[0].status == "Enabled" && aws_s3_bucket_public_access_block.config[0].restrict_public_buckets
    error_message = "the Config bucket is versioned and not public"
  }
}

run "the_recorder_needs_an_access_log_bucket" {
  command = plan

  variables {
    create_recorder = true
  }

  expect_failures = [aws_s3_bucket.config]
}

run "wildcard_principals_are_refused" {
  command = plan

  variables {
    driftfix_principal_arns = ["*"]
  }

  expect_failures = [var.driftfix_principal_arns]
}

run "the_api_destination_needs_a_key" {
  command = plan

  variables {
    api_key = null
  }

  expect_failures = [aws_cloudwatch_event_connection.driftfix]
}
