//! CloudTrail: log file validation (R-CT2).

use super::common::{bool_check, set_attribute};
use super::{Check, Context, Fix, RemedyKind, Risk, Rule, RuleMeta, Target};

pub static RULES: &[&dyn Rule] = &[&LogFileValidation];

/// CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED: `enable_log_file_validation = true`.
pub struct LogFileValidation;

static VALIDATION: RuleMeta = RuleMeta {
    identifier: "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
    name: "cloud-trail-log-file-validation-enabled",
    aliases: &[],
    security_controls: &["CloudTrail.4"],
    config_types: &["AWS::CloudTrail::Trail"],
    terraform_types: &["aws_cloudtrail"],
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable CloudTrail log file validation",
    explanation: "Log file validation makes CloudTrail deliver signed hourly digest files, so anyone can prove that a log file was not modified or deleted after delivery. It only adds small digest objects to the trail's bucket.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/cloud-trail-log-file-validation-enabled.html",
    checkov: &["CKV_AWS_36"],
    params: &[],
};

impl Rule for LogFileValidation {
    fn meta(&self) -> &'static RuleMeta {
        &VALIDATION
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        bool_check(cx, t, "enable_log_file_validation", true, false)
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        set_attribute(cx, t, "enable_log_file_validation", "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{fixed, run};
    use crate::policy::Policy;

    const TRAIL: &str = r#"# Organisation trail
resource "aws_cloudtrail" "main" {
  name                          = "main"
  s3_bucket_name                = aws_s3_bucket.trail.id # delivery bucket
  include_global_service_events = true
}
"#;

    #[test]
    fn inserts_the_argument_aligned() {
        let out = fixed(&LogFileValidation, &[("main.tf", TRAIL)], "aws_cloudtrail.main", "main.tf");
        assert_eq!(
            out,
            TRAIL.replace(
                "  include_global_service_events = true\n",
                "  include_global_service_events = true\n  enable_log_file_validation    = true\n"
            )
        );
    }

    #[test]
    fn flips_a_literal_false() {
        let src = TRAIL.replace("  name ", "  enable_log_file_validation    = false # TODO\n  name ");
        let out = fixed(&LogFileValidation, &[("main.tf", &src)], "aws_cloudtrail.main", "main.tf");
        assert_eq!(out, src.replace("= false # TODO", "= true # TODO"));
    }

    #[test]
    fn enabled_is_compliant() {
        let src = TRAIL.replace("  name ", "  enable_log_file_validation    = true\n  name ");
        let r = run(&LogFileValidation, &[("main.tf", &src)], "aws_cloudtrail.main", &[], &Policy::default());
        assert_eq!(r.before, Check::Compliant);
    }

    #[test]
    fn a_local_is_advice_naming_it() {
        let src = TRAIL.replace("  name ", "  enable_log_file_validation    = local.validate\n  name ");
        let r = run(&LogFileValidation, &[("main.tf", &src)], "aws_cloudtrail.main", &[], &Policy::default());
        let advice = r.advice();
        assert!(advice.reason.contains("a local value"), "{advice:?}");
        assert!(advice.steps[0].contains("main.tf:3"), "{advice:?}");
    }
}
