//! DynamoDB: point-in-time recovery (R-D1).

use super::{Check, Context, Fix, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice};
use crate::terraform::edit;
use crate::terraform::literal;
use hcl_edit::Span;

pub static RULES: &[&dyn Rule] = &[&PointInTimeRecovery];

/// DYNAMODB_PITR_ENABLED: `point_in_time_recovery { enabled = true }`.
pub struct PointInTimeRecovery;

static PITR: RuleMeta = RuleMeta {
    identifier: "DYNAMODB_PITR_ENABLED",
    name: "dynamodb-pitr-enabled",
    aliases: &[],
    security_controls: &["DynamoDB.2"],
    config_types: &["AWS::DynamoDB::Table"],
    terraform_types: &["aws_dynamodb_table"],
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable point-in-time recovery",
    explanation: "Point-in-time recovery keeps continuous backups of the table for 35 days, so an accidental write or delete can be rolled back. It adds storage cost and changes nothing for readers or writers.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/dynamodb-pitr-enabled.html",
    checkov: &["CKV_AWS_28"],
    params: &[],
};

impl Rule for PointInTimeRecovery {
    fn meta(&self) -> &'static RuleMeta {
        &PITR
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let body = &cx.block(t.resource).body;
        let Some(pitr) = literal::nested_blocks(body, "point_in_time_recovery").next() else {
            return Check::Violation("the table has no `point_in_time_recovery` block".into());
        };
        if pitr.dynamic {
            return Check::Undecidable(super::Advice::new(
                "`point_in_time_recovery` is a dynamic block: its content depends on values the bot cannot evaluate",
                [format!(
                    "Make `{}` render `point_in_time_recovery {{ enabled = true }}`.",
                    super::where_is(cx, t.resource)
                )],
            ));
        }
        match literal::attr_bool(&pitr.block.body, "enabled") {
            Some(Ok(true)) => Check::Compliant,
            Some(Ok(false)) | None => Check::Violation("`point_in_time_recovery.enabled` is not `true`".into()),
            Some(Err(nl)) => {
                Check::Undecidable(not_literal_advice(cx, t, "point_in_time_recovery.enabled", &nl, "`true`"))
            }
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        let file = cx.file_of(t.resource);
        let block = cx.block(t.resource);
        let result = match literal::nested_blocks(&block.body, "point_in_time_recovery").next() {
            Some(pitr) => match pitr.block.body.get_attribute("enabled") {
                Some(a) => edit::replace_span(file, a.value.span(), "true"),
                None => edit::insert_attribute(cx.ws, file, pitr.block, "enabled", "true"),
            },
            None => edit::insert_nested_block(cx.ws, file, block, "point_in_time_recovery {\n  enabled = true\n}\n"),
        };
        match result {
            Ok(e) => {
                Fix::Edits { edits: vec![e], notes: vec!["Set `point_in_time_recovery { enabled = true }`.".into()] }
            }
            Err(e) => Fix::Advice(super::Advice::new(e.to_string(), [])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{fixed, run};
    use crate::policy::Policy;

    const TABLE: &str = r#"# Orders table
resource "aws_dynamodb_table" "orders" {
  name         = "orders"
  billing_mode = "PAY_PER_REQUEST" # on-demand
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }
}
"#;

    #[test]
    fn adds_the_block_after_existing_content() {
        let out = fixed(&PointInTimeRecovery, &[("main.tf", TABLE)], "aws_dynamodb_table.orders", "main.tf");
        assert_eq!(
            out,
            TABLE.replace(
                "    type = \"S\"\n  }\n}",
                "    type = \"S\"\n  }\n\n  point_in_time_recovery {\n    enabled = true\n  }\n}"
            )
        );
    }

    #[test]
    fn flips_a_literal_false() {
        let src = TABLE.replace(
            "  hash_key     = \"id\"\n",
            "  hash_key     = \"id\"\n  point_in_time_recovery { enabled = false }\n",
        );
        let out = fixed(&PointInTimeRecovery, &[("main.tf", &src)], "aws_dynamodb_table.orders", "main.tf");
        assert_eq!(out, src.replace("enabled = false", "enabled = true"));
    }

    #[test]
    fn a_variable_is_advice_naming_it() {
        let src = TABLE.replace(
            "  hash_key     = \"id\"\n",
            "  hash_key     = \"id\"\n  point_in_time_recovery {\n    enabled = var.pitr\n  }\n",
        ) + "variable \"pitr\" {\n  default = false\n}\n";
        let r = run(&PointInTimeRecovery, &[("main.tf", &src)], "aws_dynamodb_table.orders", &[], &Policy::default());
        let advice = r.advice();
        assert!(advice.reason.contains("input variable"), "{advice:?}");
        assert!(advice.steps.iter().any(|s| s.contains("main.tf:15")), "{advice:?}");
    }

    #[test]
    fn enabled_is_compliant() {
        let src = TABLE.replace(
            "  hash_key     = \"id\"\n",
            "  hash_key     = \"id\"\n  point_in_time_recovery {\n    enabled = true\n  }\n",
        );
        let r = run(&PointInTimeRecovery, &[("main.tf", &src)], "aws_dynamodb_table.orders", &[], &Policy::default());
        assert_eq!(r.before, Check::Compliant);
    }
}
