//! SQS: server-side encryption of queues (R-M2, Security Hub SQS.1).
//!
//! There is no customer-deployable managed Config rule for this: `sqs-queue-encrypted` is the custom
//! rule behind Security Hub control SQS.1. A queue is encrypted either with a KMS key
//! (`kms_master_key_id`) or with SQS-owned keys (`sqs_managed_sse_enabled`). The fix writes the latter
//! explicitly: it needs no key policy, and the provider only detects drift of that argument when it is
//! present in configuration.

use super::common::set_attribute;
use super::{Check, Context, Fix, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice};
use crate::terraform::literal::{self, NotLiteral};
use hcl_edit::structure::Body;
use serde_json::Value;

pub static RULES: &[&dyn Rule] = &[&QueueEncrypted];

/// sqs-queue-encrypted: `kms_master_key_id` set, or `sqs_managed_sse_enabled = true`.
pub struct QueueEncrypted;

static ENCRYPTED: RuleMeta = RuleMeta {
    identifier: "SQS_QUEUE_ENCRYPTED",
    name: "sqs-queue-encrypted",
    aliases: &[],
    security_controls: &["SQS.1"],
    config_types: &["AWS::SQS::Queue"],
    terraform_types: &["aws_sqs_queue"],
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable SQS server-side encryption",
    explanation: "SQS-managed server-side encryption encrypts messages at rest with keys SQS owns, with no key policy to maintain and no change for producers or consumers. The provider only detects drift for `sqs_managed_sse_enabled` when it is present in configuration, which is why the fix writes it explicitly.",
    docs_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/sqs-controls.html",
    checkov: &["CKV_AWS_27"],
    params: &[],
};

impl Rule for QueueEncrypted {
    fn meta(&self) -> &'static RuleMeta {
        &ENCRYPTED
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let body = &cx.block(t.resource).body;
        let key = kms_key_set(body);
        if key == Ok(true) {
            return Check::Compliant;
        }
        match (literal::attr_bool(body, "sqs_managed_sse_enabled"), key) {
            (Some(Ok(true)), _) => Check::Compliant,
            (Some(Err(nl)), _) => {
                Check::Undecidable(not_literal_advice(cx, t, "sqs_managed_sse_enabled", &nl, "`true`"))
            }
            (_, Err(nl)) => Check::Undecidable(not_literal_advice(
                cx,
                t,
                "kms_master_key_id",
                &nl,
                "a KMS key id (or to `null`, with `sqs_managed_sse_enabled = true`)",
            )),
            (Some(Ok(false)), _) => {
                Check::Violation("`sqs_managed_sse_enabled` is `false` and no `kms_master_key_id` is set".into())
            }
            (None, _) => {
                Check::Violation("neither `kms_master_key_id` nor `sqs_managed_sse_enabled = true` is set".into())
            }
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        set_attribute(cx, t, "sqs_managed_sse_enabled", "true")
    }
}

/// Whether `kms_master_key_id` names a key: absent, `null` and `""` do not; a literal id or a
/// reference to a resource or data source does; variables and other expressions may be null.
fn kms_key_set(body: &Body) -> Result<bool, NotLiteral> {
    let Some(a) = body.get_attribute("kms_master_key_id") else {
        return Ok(false);
    };
    match literal::eval(&a.value) {
        Ok(Value::String(s)) => Ok(!s.is_empty()),
        Ok(v) => Ok(!v.is_null()),
        Err(nl) => match literal::reference(&a.value) {
            Some((root, _)) if root == "data" || root.starts_with("aws_") => Ok(true),
            _ => Err(nl),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{fixed, run};
    use crate::policy::Policy;

    const QUEUE: &str = r#"# Work queue
resource "aws_sqs_queue" "jobs" {
  name                       = "jobs"
  visibility_timeout_seconds = 60 # seconds
}
"#;

    fn before(src: &str) -> Check {
        run(&QueueEncrypted, &[("main.tf", src)], "aws_sqs_queue.jobs", &[], &Policy::default()).before
    }

    #[test]
    fn inserts_managed_sse_aligned() {
        let out = fixed(&QueueEncrypted, &[("main.tf", QUEUE)], "aws_sqs_queue.jobs", "main.tf");
        assert_eq!(out, QUEUE.replace("= 60 # seconds\n", "= 60 # seconds\n  sqs_managed_sse_enabled    = true\n"));
    }

    #[test]
    fn flips_a_literal_false() {
        let src = QUEUE.replace("  name  ", "  sqs_managed_sse_enabled    = false\n  name  ");
        let out = fixed(&QueueEncrypted, &[("main.tf", &src)], "aws_sqs_queue.jobs", "main.tf");
        assert_eq!(out, src.replace("= false", "= true"));
    }

    #[test]
    fn a_kms_key_or_managed_sse_is_compliant() {
        let with_key = QUEUE.replace("  name  ", "  kms_master_key_id          = aws_kms_key.sqs.arn\n  name  ");
        assert_eq!(before(&with_key), Check::Compliant);
        let with_alias = QUEUE.replace("  name  ", "  kms_master_key_id          = \"alias/aws/sqs\"\n  name  ");
        assert_eq!(before(&with_alias), Check::Compliant);
        let managed = QUEUE.replace("  name  ", "  sqs_managed_sse_enabled    = true\n  name  ");
        assert_eq!(before(&managed), Check::Compliant);
    }

    #[test]
    fn a_variable_key_is_advice_naming_it() {
        let src = QUEUE.replace("  name  ", "  kms_master_key_id          = var.queue_key\n  name  ")
            + "\nvariable \"queue_key\" {\n  default = null\n}\n";
        let r = run(&QueueEncrypted, &[("main.tf", &src)], "aws_sqs_queue.jobs", &[], &Policy::default());
        let advice = r.advice();
        assert!(advice.reason.contains("`kms_master_key_id` is an input variable"), "{advice:?}");
        assert!(advice.steps.iter().any(|s| s.contains("main.tf:8")), "{advice:?}");
    }
}
