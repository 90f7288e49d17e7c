//! An independent oracle: for every fixable rule that checkov covers, checkov's matching check must
//! fail on the fixture before `driftfix remediate --write` and pass after it.
//!
//! checkov comes from PyPI; `.ci/run` installs it and sets `DRIFTFIX_CHECKOV`. Without it these tests
//! fail (they do not skip silently) unless `DRIFTFIX_SKIP_ORACLE=1` says to skip them on purpose.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::{compliance_event, driftfix, stderr, tree};

const VERSIONS: &str = "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.0\"\n    }\n  }\n}\n";

fn checkov() -> Option<String> {
    if std::env::var_os("DRIFTFIX_SKIP_ORACLE").is_some() {
        return None;
    }
    let bin = std::env::var("DRIFTFIX_CHECKOV").unwrap_or_else(|_| "checkov".to_owned());
    let found = Command::new(&bin).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "checkov not found (`{bin}`): run .ci/run, set DRIFTFIX_CHECKOV, or DRIFTFIX_SKIP_ORACLE=1 to skip");
    Some(bin)
}

/// `(failed resources, passed resources)` of one checkov check on a directory.
fn run_checkov(bin: &str, dir: &Path, check: &str) -> (Vec<String>, Vec<String>) {
    let out = Command::new(bin)
        .args([
            "-d",
            dir.to_str().unwrap(),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--skip-download",
            "--check",
            check,
        ])
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .output()
        .expect("checkov runs");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checkov output is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let resources = |key: &str| -> Vec<String> {
        v["results"][key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["check_id"] == check)
                    .filter_map(|c| c["resource"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    (resources("failed_checks"), resources("passed_checks"))
}

/// Fixture → checkov fails `check` on `resource` → remediate --write → checkov passes it.
fn oracle(check: &str, resource: &str, event: (&str, &str, &str), files: &[(&str, &str)], extra: &[&str]) {
    let Some(bin) = checkov() else { return };
    let mut all = vec![("versions.tf", VERSIONS)];
    all.extend_from_slice(files);
    let repo = tree(&all);
    let (failed, _) = run_checkov(&bin, repo.path(), check);
    assert!(
        failed.iter().any(|r| r == resource),
        "{check} should fail on {resource} before the fix; failed: {failed:?}"
    );

    let ev = tree(&[("event.json", &compliance_event(event.0, event.1, event.2))]);
    let mut args = vec![
        "remediate",
        "--event",
        ev.path().join("event.json").to_str().unwrap().to_owned().leak(),
        "--repo",
        repo.path().to_str().unwrap(),
        "--write",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = driftfix(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "fix", "{v}");

    let (failed, passed) = run_checkov(&bin, repo.path(), check);
    assert!(failed.is_empty(), "{check} still fails after the fix on {failed:?}\n{}", v["changes"]);
    assert!(
        passed.iter().any(|r| r == resource),
        "{check} did not evaluate {resource} after the fix: passed {passed:?}"
    );
}

#[test]
fn sqs_encryption_ckv_aws_27() {
    oracle(
        "CKV_AWS_27",
        "aws_sqs_queue.jobs",
        ("sqs-queue-encrypted", "AWS::SQS::Queue", "https://sqs.us-east-1.amazonaws.com/1/jobs"),
        &[("main.tf", "resource \"aws_sqs_queue\" \"jobs\" {\n  name = \"jobs\" # work items\n}\n")],
        &[],
    );
}

#[test]
fn rds_public_access_ckv_aws_17() {
    oracle(
        "CKV_AWS_17",
        "aws_db_instance.db",
        ("rds-instance-public-access-check", "AWS::RDS::DBInstance", "db-ABC"),
        &[(
            "main.tf",
            "resource \"aws_db_instance\" \"db\" {\n  identifier          = \"db\"\n  engine              = \"postgres\"\n  instance_class      = \"db.t3.micro\"\n  publicly_accessible = true\n}\n",
        )],
        &[
            "--rule",
            "RDS_INSTANCE_PUBLIC_ACCESS_CHECK",
            "--state",
            Box::leak(state_file("aws_db_instance", "db", "db-ABC").into_boxed_str()),
        ],
    );
}

#[test]
fn rds_backup_retention_ckv_aws_133() {
    oracle(
        "CKV_AWS_133",
        "aws_db_instance.db",
        ("db-instance-backup-enabled", "AWS::RDS::DBInstance", "db-ABC"),
        &[(
            "main.tf",
            "resource \"aws_db_instance\" \"db\" {\n  identifier     = \"db\"\n  engine         = \"postgres\"\n  instance_class = \"db.t3.micro\"\n  backup_retention_period = 0\n}\n",
        )],
        &["--state", Box::leak(state_file("aws_db_instance", "db", "db-ABC").into_boxed_str())],
    );
}

#[test]
fn dynamodb_pitr_ckv_aws_28() {
    oracle(
        "CKV_AWS_28",
        "aws_dynamodb_table.t",
        ("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", "orders"),
        &[(
            "main.tf",
            "resource \"aws_dynamodb_table\" \"t\" {\n  name     = \"orders\"\n  hash_key = \"id\"\n\n  attribute {\n    name = \"id\"\n    type = \"S\"\n  }\n}\n",
        )],
        &[],
    );
}

#[test]
fn kms_rotation_ckv_aws_7() {
    oracle(
        "CKV_AWS_7",
        "aws_kms_key.k",
        ("cmk-backing-key-rotation-enabled", "AWS::KMS::Key", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        &[("main.tf", "resource \"aws_kms_key\" \"k\" {\n  description = \"app\"\n}\n")],
        &[
            "--state",
            Box::leak(state_file("aws_kms_key", "k", "1234abcd-12ab-34cd-56ef-1234567890ab").into_boxed_str()),
        ],
    );
}

#[test]
fn cloudtrail_log_validation_ckv_aws_36() {
    oracle(
        "CKV_AWS_36",
        "aws_cloudtrail.main",
        ("cloud-trail-log-file-validation-enabled", "AWS::CloudTrail::Trail", "org-trail"),
        &[(
            "main.tf",
            "resource \"aws_cloudtrail\" \"main\" {\n  name           = \"org-trail\"\n  s3_bucket_name = \"trail-logs\"\n}\n",
        )],
        &[],
    );
}

#[test]
fn imdsv2_ckv_aws_79() {
    oracle(
        "CKV_AWS_79",
        "aws_instance.web",
        ("ec2-imdsv2-check", "AWS::EC2::Instance", "i-0123456789abcdef0"),
        &[(
            "main.tf",
            "resource \"aws_instance\" \"web\" {\n  ami           = \"ami-123\"\n  instance_type = \"t3.micro\"\n}\n",
        )],
        &["--state", Box::leak(state_file("aws_instance", "web", "i-0123456789abcdef0").into_boxed_str())],
    );
}

#[test]
fn ebs_encryption_by_default_ckv_aws_106() {
    oracle(
        "CKV_AWS_106",
        "aws_ebs_encryption_by_default.this",
        ("ec2-ebs-encryption-by-default", "AWS::::Account", "123456789012"),
        &[("main.tf", "resource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = false\n}\n")],
        &[],
    );
}

/// A one-resource state file whose instance has `id`, written to a leaked temp dir for the CLI.
fn state_file(rtype: &str, name: &str, id: &str) -> String {
    let doc = serde_json::json!({"version": 4, "resources": [{"mode": "managed", "type": rtype, "name": name,
        "instances": [{"attributes": {"id": id, "resource_id": id, "key_id": id}}]}]});
    let dir = Box::leak(Box::new(tree(&[("state.json", &doc.to_string())])));
    dir.path().join("state.json").to_string_lossy().into_owned()
}
