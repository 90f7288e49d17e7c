# driftfix on AWS: AWS Config findings reach driftfix through EventBridge, and driftfix runs as an IAM
# role that can read what it needs from Config, CloudTrail and the Terraform state.
#
#   AWS Config rule ──▶ EventBridge rule (NON_COMPLIANT only) ──▶ API destination ──▶ POST /webhooks/eventbridge
#                                                             └─▶ (use_sns) SNS topic ──▶ POST /webhooks/sns
#
# Files: config.tf (recorder, rules), eventbridge.tf (rule, API destination, dead-letter queue),
# sns.tf (the SNS alternative), iam.tf (the role driftfix runs as), driftfix-policy.json (its policy).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Exactly one delivery path: the API destination, or SNS when use_sns is set.
  use_api_destination = !var.use_sns

  driftfix_url = trimsuffix(var.driftfix_url, "/")
}
