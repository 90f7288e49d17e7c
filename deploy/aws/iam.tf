# The role driftfix runs as, and its least-privilege policy.
#
# The policy's one source of truth is driftfix-policy.json (the README shows the same file). Its
# placeholders are filled here:
# - `${partition}` and `${account_id}` inside a string become this account's values;
# - a Resource that is exactly `${state_object_arns}`, `${state_kms_key_arns}`,
#   `${config_aggregator_arns}` or `${route_role_arns}` becomes the variable of that name, and a
#   statement whose list is empty is left out (no state in S3: no S3 or KMS statement at all).

locals {
  policy_template = jsondecode(file("${path.module}/driftfix-policy.json"))

  policy_resource_lists = {
    "$${state_object_arns}"      = var.state_object_arns
    "$${state_kms_key_arns}"     = var.state_kms_key_arns
    "$${config_aggregator_arns}" = var.config_aggregator_arns
    "$${route_role_arns}"        = var.route_role_arns
  }

  policy_statements = [
    for s in local.policy_template.Statement : merge(s, {
      Resource = flatten([
        for r in flatten([s.Resource]) : lookup(local.policy_resource_lists, r, [
          replace(replace(r, "$${partition}", local.partition), "$${account_id}", local.account_id)
        ])
      ])
    })
  ]

  driftfix_policy = jsonencode(merge(local.policy_template, {
    Statement = [for s in local.policy_statements : s if length(s.Resource) > 0]
  }))
}

resource "aws_iam_role" "driftfix" {
  name                 = "${var.name_prefix}-runtime"
  description          = "Assumed by driftfix to read AWS Config, CloudTrail and Terraform state."
  max_session_duration = 3600

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DriftfixWorkloadAssumesThisRole"
      Effect    = "Allow"
      Principal = { AWS = var.driftfix_principal_arns }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_policy" "driftfix" {
  name_prefix = "${var.name_prefix}-runtime-"
  description = "What driftfix needs: Config reads and re-evaluation, CloudTrail lookups, Terraform state."
  policy      = local.driftfix_policy
}

resource "aws_iam_role_policy_attachment" "driftfix" {
  role       = aws_iam_role.driftfix.name
  policy_arn = aws_iam_policy.driftfix.arn
}
