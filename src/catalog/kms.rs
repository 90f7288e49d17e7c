//! KMS: automatic rotation of customer managed keys (R-K1).
//!
//! Only symmetric encryption keys can rotate automatically. Asymmetric and HMAC keys are judged
//! compliant (as checkov does), because `enable_key_rotation = true` on them fails at apply time; keys
//! in a custom key store cannot rotate automatically either, so for them the bot gives advice.

use super::common::{bool_check, set_attribute};
use super::{Advice, Check, Context, Fix, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice, where_is};
use crate::terraform::literal;
use hcl_edit::structure::Body;

pub static RULES: &[&dyn Rule] = &[&KeyRotation];

/// CMK_BACKING_KEY_ROTATION_ENABLED: `enable_key_rotation = true` on symmetric keys.
pub struct KeyRotation;

static ROTATION: RuleMeta = RuleMeta {
    identifier: "CMK_BACKING_KEY_ROTATION_ENABLED",
    name: "cmk-backing-key-rotation-enabled",
    aliases: &[],
    security_controls: &["KMS.4"],
    config_types: &["AWS::KMS::Key"],
    terraform_types: &["aws_kms_key"],
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable KMS key rotation",
    explanation: "Automatic rotation gives the key new cryptographic material every year while keeping the old material to decrypt existing data, which limits how much data one compromised key version exposes. Callers keep using the same key id, so nothing else changes.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/cmk-backing-key-rotation-enabled.html",
    checkov: &["CKV_AWS_7"],
    params: &[],
};

/// The only key spec and usage that support automatic rotation.
const SYMMETRIC: [(&str, &str); 2] =
    [("customer_master_key_spec", "SYMMETRIC_DEFAULT"), ("key_usage", "ENCRYPT_DECRYPT")];

impl Rule for KeyRotation {
    fn meta(&self) -> &'static RuleMeta {
        &ROTATION
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let body = &cx.block(t.resource).body;
        for (key, symmetric) in SYMMETRIC {
            match literal::attr_str(body, key) {
                Some(Ok(v)) if v != symmetric => return Check::Compliant,
                Some(Err(nl)) => {
                    return Check::Undecidable(not_literal_advice(cx, t, key, &nl, &format!("`\"{symmetric}\"`")));
                }
                _ => {}
            }
        }
        bool_check(cx, t, "enable_key_rotation", true, false)
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        if in_custom_key_store(&cx.block(t.resource).body) {
            return Fix::Advice(custom_store_advice(cx, t));
        }
        set_attribute(cx, t, "enable_key_rotation", "true")
    }
}

fn in_custom_key_store(body: &Body) -> bool {
    body.get_attribute("custom_key_store_id").is_some_and(|a| !matches!(literal::eval(&a.value), Ok(v) if v.is_null()))
}

fn custom_store_advice(cx: &Context, t: &Target) -> Advice {
    Advice::new(
        "the key is in a custom key store, where KMS cannot rotate key material automatically",
        [
            format!(
                "Rotate the key behind `{}` ({}) manually: create a new key, point its alias and its users at it, and keep the old key for decryption.",
                cx.index.resource(t.resource).local_address(),
                where_is(cx, t.resource)
            ),
            "Or suppress this finding for keys in custom key stores, which the rule cannot satisfy.".to_owned(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{fixed, run};
    use crate::policy::Policy;

    const KEY: &str = r#"# Application data key
resource "aws_kms_key" "app" {
  description             = "app data"
  deletion_window_in_days = 30 # maximum
}
"#;

    fn before(src: &str) -> Check {
        run(&KeyRotation, &[("main.tf", src)], "aws_kms_key.app", &[], &Policy::default()).before
    }

    #[test]
    fn inserts_rotation_aligned() {
        let out = fixed(&KeyRotation, &[("main.tf", KEY)], "aws_kms_key.app", "main.tf");
        assert_eq!(out, KEY.replace("= 30 # maximum\n", "= 30 # maximum\n  enable_key_rotation     = true\n"));
    }

    #[test]
    fn flips_a_literal_false() {
        let src = KEY.replace("  description ", "  enable_key_rotation     = false\n  description ");
        let out = fixed(&KeyRotation, &[("main.tf", &src)], "aws_kms_key.app", "main.tf");
        assert_eq!(out, src.replace("= false", "= true"));
    }

    #[test]
    fn rotating_asymmetric_and_hmac_keys_are_compliant() {
        let rotating = KEY.replace("  description ", "  enable_key_rotation     = true\n  description ");
        assert_eq!(before(&rotating), Check::Compliant);
        let signing = KEY.replace("  description ", "  customer_master_key_spec = \"ECC_NIST_P256\"\n  description ");
        assert_eq!(before(&signing), Check::Compliant);
        let hmac = KEY.replace("  description ", "  key_usage               = \"GENERATE_VERIFY_MAC\"\n  description ");
        assert_eq!(before(&hmac), Check::Compliant);
    }

    #[test]
    fn a_variable_key_spec_is_advice_naming_it() {
        let src = KEY.replace("  description ", "  customer_master_key_spec = var.spec\n  description ");
        let r = run(&KeyRotation, &[("main.tf", &src)], "aws_kms_key.app", &[], &Policy::default());
        let advice = r.advice();
        assert!(advice.reason.contains("`customer_master_key_spec` is an input variable"), "{advice:?}");
        assert!(advice.steps[0].contains("main.tf:3"), "{advice:?}");
    }

    #[test]
    fn a_custom_key_store_is_advice() {
        let src = KEY.replace("  description ", "  custom_key_store_id     = \"cks-1234\"\n  description ");
        let r = run(&KeyRotation, &[("main.tf", &src)], "aws_kms_key.app", &[], &Policy::default());
        assert!(r.advice().reason.contains("custom key store"), "{r:?}");
        assert!(r.advice().steps[0].contains("main.tf:2"), "{r:?}");
    }
}
