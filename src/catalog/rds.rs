//! RDS DB instances: public access (R-R2), automated backups (R-R4), storage encryption (R-R1).
//!
//! Instance changes are applied at the next maintenance window unless `apply_immediately` is set; the
//! bot never sets it, and says so, so a human chooses when a change with an outage happens.
//! Encryption cannot be turned on in place (`storage_encrypted` forces a new instance), so that rule
//! only ever gives a snapshot-copy-restore runbook.

use super::common::{bool_check, fix_of, set_attribute, set_in};
use super::{Advice, Check, Context, Fix, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice, where_is};
use crate::terraform::edit;
use crate::terraform::literal;
use hcl_edit::Span;
use hcl_edit::structure::Body;

pub static RULES: &[&dyn Rule] = &[&PublicAccess, &BackupEnabled, &StorageEncrypted];

/// Retention the bot writes when neither the rule nor the policy asks for more (days).
const DEFAULT_RETENTION: i64 = 7;
/// The longest automated-backup retention RDS accepts (days).
const MAX_RETENTION: i64 = 35;

/// A read replica (`replicate_source_db`) takes backups and encryption from its source.
fn is_replica(body: &Body) -> bool {
    body.get_attribute("replicate_source_db").is_some()
}

/// One sentence for the PR saying when RDS applies the change.
fn timing_note(body: &Body) -> String {
    match literal::attr_bool(body, "apply_immediately") {
        Some(Ok(true)) => {
            "`apply_immediately = true` is already set on this instance, so RDS applies the change as soon as Terraform does.".into()
        }
        _ => "`apply_immediately` is left unset, so RDS applies the change in the next maintenance window.".into(),
    }
}

/// RDS_INSTANCE_PUBLIC_ACCESS_CHECK: `publicly_accessible = false` (the default).
pub struct PublicAccess;

static PUBLIC: RuleMeta = RuleMeta {
    identifier: "RDS_INSTANCE_PUBLIC_ACCESS_CHECK",
    name: "rds-instance-public-access-check",
    aliases: &[],
    security_controls: &["RDS.2"],
    config_types: &["AWS::RDS::DBInstance"],
    terraform_types: &["aws_db_instance"],
    risk: Risk::Medium,
    remedy: RemedyKind::Fix,
    title: "make the RDS instance private",
    explanation: "A publicly accessible DB instance gets a public IP address, so the database port is reachable from the internet wherever its security groups allow. Making it private is done in place, but clients connecting from outside the VPC lose access.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/rds-instance-public-access-check.html",
    checkov: &["CKV_AWS_17"],
    params: &[],
};

impl Rule for PublicAccess {
    fn meta(&self) -> &'static RuleMeta {
        &PUBLIC
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        bool_check(cx, t, "publicly_accessible", false, false)
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        let mut fix = set_attribute(cx, t, "publicly_accessible", "false");
        if let Fix::Edits { notes, .. } = &mut fix {
            notes.push(timing_note(&cx.block(t.resource).body));
        }
        fix
    }
}

/// DB_INSTANCE_BACKUP_ENABLED: `backup_retention_period` of at least a day (or the rule's minimum).
pub struct BackupEnabled;

static BACKUP: RuleMeta = RuleMeta {
    identifier: "DB_INSTANCE_BACKUP_ENABLED",
    name: "db-instance-backup-enabled",
    aliases: &[],
    security_controls: &["RDS.11"],
    config_types: &["AWS::RDS::DBInstance"],
    terraform_types: &["aws_db_instance"],
    risk: Risk::Medium,
    remedy: RemedyKind::Fix,
    title: "enable automated RDS backups",
    explanation: "Automated backups keep daily snapshots and transaction logs for the retention period, so the database can be restored to any second within it. Turning backups on for an instance that had none (retention 0) causes a brief outage, so the bot leaves `apply_immediately` unset and the change waits for the maintenance window.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/db-instance-backup-enabled.html",
    checkov: &["CKV_AWS_133"],
    params: &["backupRetentionPeriod", "backupRetentionMinimum", "preferredBackupWindow"],
};

/// What the rule's parameters and the policy ask of an instance.
struct Wanted {
    /// Lowest compliant retention.
    minimum: i64,
    /// Retention the fix writes.
    retention: i64,
    window: Option<String>,
}

fn wanted(cx: &Context) -> Result<Wanted, Advice> {
    let int = |key: &str| -> Result<i64, Advice> {
        match cx.params.get(key) {
            None => Ok(0),
            Some(v) => v.trim().parse::<i64>().map_err(|_| {
                Advice::new(
                    format!("the rule parameter `{key}` is `{v}`, not a number of days"),
                    [format!("Pass `{key}` as the rule is configured in AWS Config, e.g. `--param {key}=7`.")],
                )
            }),
        }
    };
    let (minimum, period) = (int("backupRetentionMinimum")?, int("backupRetentionPeriod")?);
    if minimum.max(period) > MAX_RETENTION {
        return Err(Advice::new(
            format!("the rule asks for {} days of backups, more than the {MAX_RETENTION} RDS can keep", minimum.max(period)),
            ["Lower the rule's `backupRetentionMinimum` / `backupRetentionPeriod` to at most 35, or keep longer backups with AWS Backup.".to_owned()],
        ));
    }
    let policy = cx.policy.rds_backup_retention_days.map_or(DEFAULT_RETENTION, i64::from);
    Ok(Wanted {
        minimum: minimum.max(period).max(1),
        retention: policy.max(minimum).max(period).clamp(1, MAX_RETENTION),
        window: cx.params.get("preferredBackupWindow").map(|w| w.trim().to_owned()),
    })
}

/// One way an instance falls short, with the argument and value that fix it.
struct Problem {
    why: String,
    key: &'static str,
    value: String,
}

const RETENTION: &str = "backup_retention_period";
const WINDOW: &str = "backup_window";

impl BackupEnabled {
    fn problems(&self, cx: &Context, t: &Target) -> Result<Vec<Problem>, Advice> {
        let body = &cx.block(t.resource).body;
        if is_replica(body) {
            return Ok(vec![]);
        }
        let w = wanted(cx)?;
        let mut out = Vec::new();
        let value = w.retention.to_string();
        match literal::attr_i64(body, RETENTION) {
            Some(Ok(n)) if n >= w.minimum => {}
            Some(Ok(n)) => {
                out.push(Problem { why: format!("`{RETENTION}` is {n}, below {}", w.minimum), key: RETENTION, value })
            }
            None => out.push(Problem { why: format!("`{RETENTION}` is not set"), key: RETENTION, value }),
            Some(Err(nl)) => {
                return Err(not_literal_advice(cx, t, RETENTION, &nl, &format!("at least {}", w.minimum)));
            }
        }
        if let Some(window) = w.window {
            match literal::attr_str(body, WINDOW) {
                Some(Ok(v)) if v == window => {}
                Some(Err(nl)) => {
                    return Err(not_literal_advice(cx, t, WINDOW, &nl, &format!("`\"{window}\"`")));
                }
                _ => out.push(Problem {
                    why: format!("`{WINDOW}` is not `{window}`"),
                    key: WINDOW,
                    value: edit::quote(&window),
                }),
            }
        }
        Ok(out)
    }
}

impl Rule for BackupEnabled {
    fn meta(&self) -> &'static RuleMeta {
        &BACKUP
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        match self.problems(cx, t) {
            Ok(p) if p.is_empty() => Check::Compliant,
            Ok(p) => Check::Violation(p.into_iter().map(|p| p.why).collect::<Vec<_>>().join("; ")),
            Err(a) => Check::Undecidable(a),
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        let problems = match self.problems(cx, t) {
            Ok(p) => p,
            Err(a) => return Fix::Advice(a),
        };
        let (file, block) = (cx.file_of(t.resource), cx.block(t.resource));
        let changes = problems
            .iter()
            .map(|p| (set_in(cx, file, block, p.key, &p.value), format!("Set `{} = {}`.", p.key, p.value)))
            .collect();
        let mut fix = fix_of(changes);
        if let Fix::Edits { notes, .. } = &mut fix {
            let was_off = matches!(literal::attr_i64(&block.body, RETENTION), Some(Ok(0)) | None);
            if was_off && problems.iter().any(|p| p.key == RETENTION) {
                notes.push("Turning automated backups on for an instance that had none (retention 0) causes a brief outage while RDS takes the first backup.".into());
            }
            notes.push(timing_note(&block.body));
        }
        fix
    }
}

/// RDS_STORAGE_ENCRYPTED: `storage_encrypted = true`; always advice, since it forces a new instance.
pub struct StorageEncrypted;

static ENCRYPTED: RuleMeta = RuleMeta {
    identifier: "RDS_STORAGE_ENCRYPTED",
    name: "rds-storage-encrypted",
    aliases: &[],
    security_controls: &["RDS.3"],
    config_types: &["AWS::RDS::DBInstance"],
    terraform_types: &["aws_db_instance"],
    risk: Risk::High,
    remedy: RemedyKind::Advice,
    title: "encrypt RDS storage",
    explanation: "Encrypting the instance's storage protects its data, backups, snapshots and replicas at rest with KMS. RDS cannot encrypt an existing instance: the data must be moved to a new instance restored from an encrypted snapshot copy, which needs a planned cut-over.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/rds-storage-encrypted.html",
    checkov: &["CKV_AWS_16"],
    params: &["kmsKeyId"],
};

impl Rule for StorageEncrypted {
    fn meta(&self) -> &'static RuleMeta {
        &ENCRYPTED
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        if is_replica(&cx.block(t.resource).body) {
            return Check::Compliant;
        }
        bool_check(cx, t, "storage_encrypted", true, false)
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        Fix::Advice(encryption_runbook(cx, t))
    }
}

fn encryption_runbook(cx: &Context, t: &Target) -> Advice {
    let body = &cx.block(t.resource).body;
    let at = body
        .get_attribute("storage_encrypted")
        .and_then(|a| a.span())
        .map_or_else(|| where_is(cx, t.resource), |s| cx.at(cx.file_of(t.resource), s.start));
    let key = cx.params.get("kmsKeyId");
    let (copy_key, set_key) = match key {
        Some(k) => (format!(" --kms-key-id {k}"), format!(" and `kms_key_id = {}`", edit::quote(k))),
        None => (" --kms-key-id alias/aws/rds".to_owned(), String::new()),
    };
    let address = cx.index.resource(t.resource).local_address();
    Advice::new(
        "`storage_encrypted` forces replacement: applying it would destroy the instance and create a new, empty one",
        [
            format!("Take a snapshot of `{address}`: `aws rds create-db-snapshot --db-instance-identifier <id> --db-snapshot-identifier <id>-pre-encryption`."),
            format!("Copy it encrypted: `aws rds copy-db-snapshot --source-db-snapshot-identifier <id>-pre-encryption --target-db-snapshot-identifier <id>-encrypted{copy_key}`."),
            "Restore a new instance from the encrypted copy, stop writes to the old instance, switch clients to the new one, then retire the old one.".to_owned(),
            format!("In {at}, set `storage_encrypted = true`{set_key}, and move the Terraform state to the restored instance (`terraform state rm` + `import`) so Terraform does not replace it again."),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{fixed, run};
    use crate::policy::Policy;

    const DB: &str = r#"# Primary database
resource "aws_db_instance" "main" {
  identifier        = "main"
  engine            = "postgres"
  instance_class    = "db.t3.micro" # smallest
  allocated_storage = 20
}
"#;

    fn addr() -> &'static str {
        "aws_db_instance.main"
    }

    #[test]
    fn public_access_is_turned_off() {
        let src = DB.replace("  engine  ", "  publicly_accessible = true # for the demo\n  engine  ");
        let out = fixed(&PublicAccess, &[("main.tf", &src)], addr(), "main.tf");
        assert_eq!(out, src.replace("= true # for the demo", "= false # for the demo"));
    }

    #[test]
    fn private_by_default_is_compliant() {
        let r = run(&PublicAccess, &[("main.tf", DB)], addr(), &[], &Policy::default());
        assert_eq!(r.before, Check::Compliant);
    }

    #[test]
    fn public_access_from_a_variable_is_advice() {
        let src = DB.replace("  engine  ", "  publicly_accessible = var.public\n  engine  ");
        let r = run(&PublicAccess, &[("main.tf", &src)], addr(), &[], &Policy::default());
        assert!(r.advice().steps[0].contains("main.tf:4"), "{r:?}");
    }

    #[test]
    fn backups_are_inserted_with_the_default_retention() {
        let out = fixed(&BackupEnabled, &[("main.tf", DB)], addr(), "main.tf");
        assert_eq!(out, DB.replace("= 20\n", "= 20\n  backup_retention_period = 7\n"));
    }

    #[test]
    fn notes_say_outage_and_maintenance_window() {
        let r = run(&BackupEnabled, &[("main.tf", DB)], addr(), &[], &Policy::default());
        let Some(Fix::Edits { notes, .. }) = &r.fix else { panic!("{r:?}") };
        assert_eq!(notes[0], "Set `backup_retention_period = 7`.");
        assert!(notes[1].contains("brief outage"), "{notes:?}");
        assert!(notes[2].contains("`apply_immediately` is left unset"), "{notes:?}");
    }

    #[test]
    fn parameters_and_policy_raise_retention_and_set_the_window() {
        let src = DB.replace("  engine  ", "  backup_retention_period = 3 # days\n  engine  ");
        let policy = Policy { rds_backup_retention_days: Some(10), ..Policy::default() };
        let params = [("backupRetentionMinimum", "14"), ("preferredBackupWindow", "03:00-04:00")];
        let r = run(&BackupEnabled, &[("main.tf", &src)], addr(), &params, &policy);
        assert_eq!(r.after, Some(Check::Compliant), "{r:?}");
        let want =
            src.replace("= 3 # days", "= 14 # days").replace("= 20\n", "= 20\n  backup_window     = \"03:00-04:00\"\n");
        assert_eq!(r.text("main.tf"), want);
        let off = src.replace("= 3 # days", "= 0 # days");
        let r = run(&BackupEnabled, &[("main.tf", &off)], addr(), &[], &policy);
        assert_eq!(r.text("main.tf"), src.replace("= 3 # days", "= 10 # days"));
    }

    #[test]
    fn enough_retention_and_read_replicas_are_compliant() {
        let src = DB.replace("  engine  ", "  backup_retention_period = 1\n  engine  ");
        assert_eq!(run(&BackupEnabled, &[("main.tf", &src)], addr(), &[], &Policy::default()).before, Check::Compliant);
        let replica =
            DB.replace("  engine  ", "  replicate_source_db = aws_db_instance.primary.identifier\n  engine  ");
        assert_eq!(
            run(&BackupEnabled, &[("main.tf", &replica)], addr(), &[], &Policy::default()).before,
            Check::Compliant
        );
    }

    #[test]
    fn retention_from_a_local_and_a_bad_parameter_are_advice() {
        let src = DB.replace("  engine  ", "  backup_retention_period = local.retention\n  engine  ");
        let r = run(&BackupEnabled, &[("main.tf", &src)], addr(), &[], &Policy::default());
        assert!(r.advice().reason.contains("a local value"), "{r:?}");
        let r = run(
            &BackupEnabled,
            &[("main.tf", DB)],
            addr(),
            &[("backupRetentionMinimum", "a week")],
            &Policy::default(),
        );
        assert!(r.advice().reason.contains("backupRetentionMinimum"), "{r:?}");
        let too_long = [("backupRetentionMinimum", "40")];
        let r = run(&BackupEnabled, &[("main.tf", DB)], addr(), &too_long, &Policy::default());
        assert!(r.advice().reason.contains("more than the 35"), "{r:?}");
    }

    #[test]
    fn unencrypted_storage_is_a_runbook() {
        let src = DB.replace("  engine  ", "  storage_encrypted = false\n  engine  ");
        let r = run(&StorageEncrypted, &[("main.tf", &src)], addr(), &[("kmsKeyId", "alias/rds")], &Policy::default());
        assert!(matches!(r.before, Check::Violation(_)), "{r:?}");
        let advice = r.advice();
        assert!(advice.reason.contains("forces replacement"), "{advice:?}");
        assert!(advice.steps[1].contains("--kms-key-id alias/rds"), "{advice:?}");
        assert!(
            advice.steps[3].contains("In main.tf:4, set `storage_encrypted = true` and `kms_key_id = \"alias/rds\"`"),
            "{advice:?}"
        );
        assert!(r.changed.is_empty());
    }

    #[test]
    fn encrypted_storage_and_replicas_are_compliant() {
        let src = DB.replace("  engine  ", "  storage_encrypted = true\n  engine  ");
        assert_eq!(
            run(&StorageEncrypted, &[("main.tf", &src)], addr(), &[], &Policy::default()).before,
            Check::Compliant
        );
        let replica = DB.replace("  engine  ", "  replicate_source_db = \"main\"\n  engine  ");
        assert_eq!(
            run(&StorageEncrypted, &[("main.tf", &replica)], addr(), &[], &Policy::default()).before,
            Check::Compliant
        );
    }
}
