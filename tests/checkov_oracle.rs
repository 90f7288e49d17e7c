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

/// One oracle case: a fixture that fails `check` on `resource`, and the finding that fixes it.
struct Case<'a> {
    check: &'a str,
    resource: &'a str,
    /// (Config rule name, Config resource type, Config resource id)
    event: (&'a str, &'a str, &'a str),
    files: &'a [(&'a str, &'a str)],
    /// A state file mapping the resource id to this `(type, name)`, when code alone cannot locate it.
    state: Option<(&'a str, &'a str)>,
    extra: &'a [&'a str],
}

/// Fixture → checkov fails the check → `remediate --write` → checkov passes it.
fn oracle(c: Case) {
    let Some(bin) = checkov() else { return };
    let mut all = vec![("versions.tf", VERSIONS)];
    all.extend_from_slice(c.files);
    let repo = tree(&all);
    let (failed, _) = run_checkov(&bin, repo.path(), c.check);
    assert!(
        failed.iter().any(|r| r == c.resource),
        "{} should fail on {} before the fix; failed: {failed:?}",
        c.check,
        c.resource
    );

    let (rule, rtype, id) = c.event;
    let state = c.state.map(|(t, n)| {
        serde_json::json!({"version": 4, "resources": [{"mode": "managed", "type": t, "name": n,
            "instances": [{"attributes": {"id": id, "resource_id": id, "key_id": id}}]}]})
        .to_string()
    });
    let mut inputs = vec![("event.json", compliance_event(rule, rtype, id))];
    inputs.extend(state.map(|s| ("state.json", s)));
    let inputs_ref: Vec<(&str, &str)> = inputs.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let dir = tree(&inputs_ref);
    let path = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let mut args = vec![
        "remediate".to_owned(),
        "--event".into(),
        path("event.json"),
        "--repo".into(),
        repo.path().to_string_lossy().into_owned(),
        "--write".into(),
        "--output".into(),
        "json".into(),
    ];
    if c.state.is_some() {
        args.extend(["--state".to_owned(), path("state.json")]);
    }
    args.extend(c.extra.iter().map(|s| (*s).to_owned()));
    let o = driftfix(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "fix", "{v}");

    let (failed, passed) = run_checkov(&bin, repo.path(), c.check);
    assert!(failed.is_empty(), "{} still fails after the fix on {failed:?}\n{}", c.check, v["changes"]);
    assert!(
        passed.iter().any(|r| r == c.resource),
        "{} did not evaluate {} after the fix: passed {passed:?}",
        c.check,
        c.resource
    );
}

const QUEUE: &str = "resource \"aws_sqs_queue\" \"jobs\" {\n  name = \"jobs\" # work items\n}\n";
const DB: &str = "resource \"aws_db_instance\" \"db\" {\n  identifier              = \"db\"\n  engine                  = \"postgres\"\n  instance_class          = \"db.t3.micro\"\n  publicly_accessible     = true\n  backup_retention_period = 0\n}\n";
const BUCKET: &str = "# Customer uploads\nresource \"aws_s3_bucket\" \"uploads\" {\n  bucket = \"acme-uploads\"\n}\n";
const PUBLIC_BUCKET: &str = "resource \"aws_s3_bucket\" \"site\" {\n  bucket = \"acme-site\"\n}\n\nresource \"aws_s3_bucket_acl\" \"site\" {\n  bucket = aws_s3_bucket.site.id\n  acl    = \"public-read-write\"\n}\n";
const SG: &str = "resource \"aws_security_group\" \"admin\" {\n  name = \"admin\"\n\n  ingress {\n    description = \"SSH\"\n    from_port   = 22\n    to_port     = 22\n    protocol    = \"tcp\"\n    cidr_blocks = [\"10.0.0.0/8\", \"0.0.0.0/0\"]\n  }\n\n  ingress {\n    description = \"RDP\"\n    from_port   = 3389\n    to_port     = 3389\n    protocol    = \"tcp\"\n    cidr_blocks = [\"0.0.0.0/0\"]\n  }\n}\n";
const SG_RULE: &str = "resource \"aws_security_group\" \"bastion\" {\n  name = \"bastion\"\n}\n\nresource \"aws_security_group_rule\" \"ssh\" {\n  type              = \"ingress\"\n  security_group_id = aws_security_group.bastion.id\n  from_port         = 22\n  to_port           = 22\n  protocol          = \"tcp\"\n  cidr_blocks       = [\"192.168.0.0/16\", \"0.0.0.0/0\"]\n}\n";

fn case<'a>(
    check: &'a str,
    resource: &'a str,
    event: (&'a str, &'a str, &'a str),
    files: &'a [(&'a str, &'a str)],
) -> Case<'a> {
    Case { check, resource, event, files, state: None, extra: &[] }
}

#[test]
fn sqs_encryption_ckv_aws_27() {
    let url = "https://sqs.us-east-1.amazonaws.com/1/jobs";
    oracle(case(
        "CKV_AWS_27",
        "aws_sqs_queue.jobs",
        ("sqs-queue-encrypted", "AWS::SQS::Queue", url),
        &[("main.tf", QUEUE)],
    ));
}

#[test]
fn rds_public_access_ckv_aws_17() {
    let ev = ("rds-instance-public-access-check", "AWS::RDS::DBInstance", "db-ABC");
    oracle(Case {
        state: Some(("aws_db_instance", "db")),
        ..case("CKV_AWS_17", "aws_db_instance.db", ev, &[("main.tf", DB)])
    });
}

#[test]
fn rds_backup_retention_ckv_aws_133() {
    let ev = ("db-instance-backup-enabled", "AWS::RDS::DBInstance", "db-ABC");
    oracle(Case {
        state: Some(("aws_db_instance", "db")),
        ..case("CKV_AWS_133", "aws_db_instance.db", ev, &[("main.tf", DB)])
    });
}

#[test]
fn dynamodb_pitr_ckv_aws_28() {
    let table = "resource \"aws_dynamodb_table\" \"t\" {\n  name     = \"orders\"\n  hash_key = \"id\"\n\n  attribute {\n    name = \"id\"\n    type = \"S\"\n  }\n}\n";
    oracle(case(
        "CKV_AWS_28",
        "aws_dynamodb_table.t",
        ("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", "orders"),
        &[("main.tf", table)],
    ));
}

#[test]
fn kms_rotation_ckv_aws_7() {
    let ev = ("cmk-backing-key-rotation-enabled", "AWS::KMS::Key", "1234abcd-12ab-34cd-56ef-1234567890ab");
    let key = "resource \"aws_kms_key\" \"k\" {\n  description = \"app\"\n}\n";
    oracle(Case { state: Some(("aws_kms_key", "k")), ..case("CKV_AWS_7", "aws_kms_key.k", ev, &[("main.tf", key)]) });
}

#[test]
fn cloudtrail_log_validation_ckv_aws_36() {
    let trail = "resource \"aws_cloudtrail\" \"main\" {\n  name           = \"org-trail\"\n  s3_bucket_name = \"trail-logs\"\n}\n";
    let ev = ("cloud-trail-log-file-validation-enabled", "AWS::CloudTrail::Trail", "org-trail");
    oracle(case("CKV_AWS_36", "aws_cloudtrail.main", ev, &[("main.tf", trail)]));
}

#[test]
fn imdsv2_ckv_aws_79() {
    let vm = "resource \"aws_instance\" \"web\" {\n  ami           = \"ami-123\"\n  instance_type = \"t3.micro\"\n}\n";
    let ev = ("ec2-imdsv2-check", "AWS::EC2::Instance", "i-0123456789abcdef0");
    oracle(Case {
        state: Some(("aws_instance", "web")),
        ..case("CKV_AWS_79", "aws_instance.web", ev, &[("main.tf", vm)])
    });
}

#[test]
fn ebs_encryption_by_default_ckv_aws_106() {
    let ebs = "resource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = false\n}\n";
    let ev = ("ec2-ebs-encryption-by-default", "AWS::::Account", "123456789012");
    oracle(case("CKV_AWS_106", "aws_ebs_encryption_by_default.this", ev, &[("main.tf", ebs)]));
}

#[test]
fn s3_versioning_ckv_aws_21() {
    let ev = ("s3-bucket-versioning-enabled", "AWS::S3::Bucket", "acme-uploads");
    oracle(case("CKV_AWS_21", "aws_s3_bucket.uploads", ev, &[("main.tf", BUCKET)]));
}

#[test]
fn s3_versioning_inline_on_provider_v3_ckv_aws_21() {
    let v3 = "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 3.76\"\n    }\n  }\n}\n";
    let dir_files = [
        ("main.tf", BUCKET),
        (".terraform.lock.hcl", "provider \"registry.terraform.io/hashicorp/aws\" {\n  version = \"3.76.1\"\n}\n"),
        ("providers.tf", v3),
    ];
    let ev = ("s3-bucket-versioning-enabled", "AWS::S3::Bucket", "acme-uploads");
    oracle(case("CKV_AWS_21", "aws_s3_bucket.uploads", ev, &dir_files));
}

#[test]
fn s3_kms_encryption_ckv_aws_145() {
    let ev = ("s3-bucket-server-side-encryption-enabled", "AWS::S3::Bucket", "acme-uploads");
    oracle(case("CKV_AWS_145", "aws_s3_bucket.uploads", ev, &[("main.tf", BUCKET)]));
}

#[test]
fn s3_public_access_block_ckv2_aws_6() {
    let ev = ("s3-bucket-level-public-access-prohibited", "AWS::S3::Bucket", "acme-uploads");
    oracle(case("CKV2_AWS_6", "aws_s3_bucket.uploads", ev, &[("main.tf", BUCKET)]));
}

#[test]
fn s3_logging_ckv_aws_18() {
    let ev = ("s3-bucket-logging-enabled", "AWS::S3::Bucket", "acme-uploads");
    oracle(Case {
        extra: &["--param", "targetBucket=acme-access-logs"],
        ..case("CKV_AWS_18", "aws_s3_bucket.uploads", ev, &[("main.tf", BUCKET)])
    });
}

#[test]
fn s3_public_read_acl_ckv_aws_20() {
    let ev = ("s3-bucket-public-read-prohibited", "AWS::S3::Bucket", "acme-site");
    oracle(case("CKV_AWS_20", "aws_s3_bucket.site", ev, &[("main.tf", PUBLIC_BUCKET)]));
}

#[test]
fn s3_public_write_acl_ckv_aws_57() {
    let ev = ("s3-bucket-public-write-prohibited", "AWS::S3::Bucket", "acme-site");
    oracle(case("CKV_AWS_57", "aws_s3_bucket.site", ev, &[("main.tf", PUBLIC_BUCKET)]));
}

#[test]
fn restricted_ssh_inline_ckv_aws_24() {
    let ev = ("restricted-ssh", "AWS::EC2::SecurityGroup", "sg-0abc");
    oracle(Case {
        state: Some(("aws_security_group", "admin")),
        ..case("CKV_AWS_24", "aws_security_group.admin", ev, &[("main.tf", SG)])
    });
}

#[test]
fn restricted_ssh_rule_resource_ckv_aws_24() {
    let ev = ("restricted-ssh", "AWS::EC2::SecurityGroup", "sg-0def");
    oracle(Case {
        state: Some(("aws_security_group", "bastion")),
        ..case("CKV_AWS_24", "aws_security_group_rule.ssh", ev, &[("main.tf", SG_RULE)])
    });
}

#[test]
fn restricted_common_ports_rdp_ckv_aws_25() {
    let ev = ("restricted-common-ports", "AWS::EC2::SecurityGroup", "sg-0abc");
    oracle(Case {
        state: Some(("aws_security_group", "admin")),
        ..case("CKV_AWS_25", "aws_security_group.admin", ev, &[("main.tf", SG)])
    });
}
