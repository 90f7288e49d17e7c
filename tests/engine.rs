//! The pure core on realistic trees: modules, count / for_each through state, registry modules,
//! heredocs and comments, broken files, suppression. Every outcome kind is produced here.

mod support;

use driftfix::catalog::Params;
use driftfix::finding::{Finding, parse_event};
use driftfix::policy::Policy;
use driftfix::remediate::{Outcome, OutcomeKind, Request, remediate};
use driftfix::terraform::index::Index;
use driftfix::terraform::state::{StateInstance, parse_state};
use driftfix::terraform::workspace::Workspace;
use support::compliance_event;

fn ws(files: &[(&str, &str)]) -> Workspace {
    Workspace::from_sources(files.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())))
}

fn finding(rule: &str, rtype: &str, id: &str) -> Finding {
    parse_event(compliance_event(rule, rtype, id).as_bytes()).unwrap()
}

fn run(f: &Finding, ws: &Workspace, state: &[StateInstance]) -> Outcome {
    support::remediate_on(f, ws, state)
}

const TABLE_MODULE: &str = r#"variable "name" {
  type = string
}

# One table per service.
resource "aws_dynamodb_table" "this" {
  name     = var.name
  hash_key = "pk"

  attribute {
    name = "pk"
    type = "S"
  }
}
"#;

const ROOT: &str = r#"module "orders" {
  source = "./modules/table"
  name   = "orders"
}

module "carts" {
  source = "../shop/modules/table" # same module, written differently
  name   = "carts"
}
"#;

fn state_for(module: &str, name: &str) -> Vec<StateInstance> {
    parse_state(&format!(
        r#"{{"version": 4, "resources": [{{"module": "{module}", "mode": "managed", "type": "aws_dynamodb_table", "name": "this",
           "instances": [{{"attributes": {{"id": "{name}", "name": "{name}", "arn": "arn:aws:dynamodb:us-east-1:1:table/{name}"}}}}]}},
           {{"mode": "data", "type": "aws_caller_identity", "name": "me", "instances": [{{"attributes": {{"id": "{name}"}}}}]}}]}}"#
    ))
    .unwrap()
}

#[test]
fn a_fix_in_a_shared_local_module_names_every_instance() {
    let w = ws(&[("shop/main.tf", ROOT), ("shop/modules/table/main.tf", TABLE_MODULE)]);
    let o = run(
        &finding("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", "carts"),
        &w,
        &state_for("module.carts", "carts"),
    );
    assert_eq!(o.kind, OutcomeKind::Fix, "{o:#?}");
    let loc = o.location.as_ref().unwrap();
    assert_eq!(
        (loc.address.as_str(), loc.file.as_str(), loc.line),
        ("module.carts.aws_dynamodb_table.this", "shop/modules/table/main.tf", 6)
    );
    assert_eq!(o.instances, ["module.orders.aws_dynamodb_table.this", "module.carts.aws_dynamodb_table.this"]);
    assert_eq!(o.changes.len(), 1);
    assert_eq!(o.changes[0].file, "shop/modules/table/main.tf");
    assert_eq!(
        o.changes[0].after,
        TABLE_MODULE.replace(
            "    type = \"S\"\n  }\n}\n",
            "    type = \"S\"\n  }\n\n  point_in_time_recovery {\n    enabled = true\n  }\n}\n"
        )
    );
}

#[test]
fn state_addresses_with_instance_keys_reach_the_block() {
    let src = r#"resource "aws_dynamodb_table" "per_tenant" {
  for_each = toset(["a", "b"])
  name     = "tenant-${each.key}"
  hash_key = "pk"
}
"#;
    let w = ws(&[("main.tf", src)]);
    let state = parse_state(r#"{"version": 4, "resources": [{"mode": "managed", "type": "aws_dynamodb_table", "name": "per_tenant", "each": "map",
        "instances": [{"index_key": "a", "attributes": {"id": "tenant-a"}}, {"index_key": "b", "attributes": {"id": "tenant-b"}}]}]}"#).unwrap();
    let o = run(&finding("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", "tenant-b"), &w, &state);
    assert_eq!(o.kind, OutcomeKind::Fix);
    assert_eq!(o.location.unwrap().address, "aws_dynamodb_table.per_tenant[\"b\"]");
    assert_eq!(
        o.instances,
        ["aws_dynamodb_table.per_tenant[*]"],
        "a literal in a for_each block changes every instance"
    );
}

#[test]
fn a_registry_module_is_advice_about_its_inputs() {
    let root = "module \"tables\" {\n  source  = \"terraform-aws-modules/dynamodb-table/aws\"\n  version = \"4.0.1\"\n  name    = \"orders\"\n}\n";
    let w = ws(&[("main.tf", root)]);
    let state = parse_state(r#"{"version": 4, "resources": [{"module": "module.tables", "mode": "managed", "type": "aws_dynamodb_table", "name": "this",
        "instances": [{"index_key": 0, "attributes": {"id": "orders"}}]}]}"#).unwrap();
    let o = run(&finding("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", "orders"), &w, &state);
    assert_eq!(o.kind, OutcomeKind::Advice);
    assert!(
        o.reason.contains("terraform-aws-modules/dynamodb-table/aws") && o.reason.contains("4.0.1"),
        "{}",
        o.reason
    );
    assert_eq!(o.location.unwrap().line, 1);
    assert!(o.advice.unwrap().steps[0].contains("main.tf:1"));
    assert!(o.changes.is_empty());
}

#[test]
fn literal_identifiers_locate_without_state_and_heredocs_survive() {
    let src = r#"# Queue for order events
resource "aws_sqs_queue" "orders" {
  name   = "orders" # the consumer is in another repo
  policy = <<EOT
{
  "Version": "2012-10-17",
  "Statement": []
}
EOT
}

resource "aws_sqs_queue" "other" {
  name = "other"
}
"#;
    let w = ws(&[("queues.tf", src)]);
    let f =
        finding("sqs-queue-encrypted", "AWS::SQS::Queue", "https://sqs.us-east-1.amazonaws.com/123456789012/orders");
    let o = run(&f, &w, &[]);
    assert_eq!(o.kind, OutcomeKind::Fix, "{o:#?}");
    assert_eq!(o.location.as_ref().unwrap().address, "aws_sqs_queue.orders");
    let after = &o.changes[0].after;
    assert!(
        after.contains("EOT\n  sqs_managed_sse_enabled = true\n}"),
        "inserted after the heredoc attribute:\n{after}"
    );
    assert_eq!(after.replace("  sqs_managed_sse_enabled = true\n", ""), src);
}

#[test]
fn two_matching_blocks_are_advice_not_a_guess() {
    let q = "resource \"aws_sqs_queue\" \"a\" {\n  name = \"jobs\"\n}\n";
    let w = ws(&[("prod/main.tf", q), ("staging/main.tf", q)]);
    let o =
        run(&finding("sqs-queue-encrypted", "AWS::SQS::Queue", "https://sqs.us-east-1.amazonaws.com/1/jobs"), &w, &[]);
    assert_eq!(o.kind, OutcomeKind::Advice);
    let steps = o.advice.unwrap().steps.join("\n");
    assert!(
        steps.contains("prod/main.tf:1") && steps.contains("staging/main.tf:1") && steps.contains("--state"),
        "{steps}"
    );
}

#[test]
fn broken_files_are_warnings_and_the_rest_still_works() {
    let w = ws(&[
        ("broken.tf", "resource \"aws_sqs_queue\" \"x\" {\n  name = \"x\"\n  oops {\n"),
        ("ok.tf", "resource \"aws_sqs_queue\" \"jobs\" {\n  name = \"jobs\"\n}\n"),
    ]);
    assert_eq!(w.errors().len(), 1);
    assert_eq!(w.errors()[0].file, "broken.tf");
    assert!(w.errors()[0].line >= 3, "{:?}", w.errors());
    let o =
        run(&finding("sqs-queue-encrypted", "AWS::SQS::Queue", "https://sqs.us-east-1.amazonaws.com/1/jobs"), &w, &[]);
    assert_eq!(o.kind, OutcomeKind::Fix);
    assert_eq!(o.warnings.len(), 1);
}

#[test]
fn drift_only_no_match_unsupported_and_suppressed() {
    let src = "resource \"aws_sqs_queue\" \"enc\" {\n  name                    = \"enc\"\n  sqs_managed_sse_enabled = true\n}\n\n# driftfix:ignore sqs-queue-encrypted contains only public build logs\nresource \"aws_sqs_queue\" \"logs\" {\n  name = \"logs\"\n}\n";
    let w = ws(&[("main.tf", src)]);
    let url = |n: &str| format!("https://sqs.us-east-1.amazonaws.com/1/{n}");
    let drift = run(&finding("sqs-queue-encrypted", "AWS::SQS::Queue", &url("enc")), &w, &[]);
    assert_eq!(drift.kind, OutcomeKind::DriftOnly);
    assert!(drift.reason.contains("drifted"), "{}", drift.reason);
    let none = run(&finding("sqs-queue-encrypted", "AWS::SQS::Queue", &url("console-made")), &w, &[]);
    assert_eq!(none.kind, OutcomeKind::NoMatch);
    let unsupported = run(&finding("iam-user-mfa-enabled", "AWS::IAM::User", "AIDAEXAMPLE"), &w, &[]);
    assert_eq!(unsupported.kind, OutcomeKind::Unsupported);
    assert!(unsupported.rule.is_none());
    let wrong_type = run(&finding("sqs-queue-encrypted", "AWS::S3::Bucket", "b"), &w, &[]);
    assert_eq!(wrong_type.kind, OutcomeKind::Unsupported);
    let suppressed = run(&finding("sqs-queue-encrypted", "AWS::SQS::Queue", &url("logs")), &w, &[]);
    assert_eq!(suppressed.kind, OutcomeKind::Suppressed);
    assert!(suppressed.reason.contains("contains only public build logs"));
}

#[test]
fn exemption_tags_in_the_code_or_in_aws_suppress_and_a_false_value_does_not() {
    let src = "resource \"aws_sqs_queue\" \"legacy\" {\n  name = \"legacy\"\n  tags = {\n    SecurityExemption = \"True\"\n  }\n}\n\nresource \"aws_sqs_queue\" \"plain\" {\n  name = \"plain\"\n  tags = { \"driftfix:exempt\" = \"false\" }\n}\n";
    let w = ws(&[("main.tf", src)]);
    let url = |n: &str| format!("https://sqs.us-east-1.amazonaws.com/1/{n}");
    let in_code = run(&finding("sqs-queue-encrypted", "AWS::SQS::Queue", &url("legacy")), &w, &[]);
    assert_eq!(in_code.kind, OutcomeKind::Suppressed);
    assert!(in_code.reason.contains("`SecurityExemption=True` in its code"), "{}", in_code.reason);
    assert!(in_code.changes.is_empty());
    let not_exempt = run(&finding("sqs-queue-encrypted", "AWS::SQS::Queue", &url("plain")), &w, &[]);
    assert_eq!(not_exempt.kind, OutcomeKind::Fix, "{}", not_exempt.reason);
    let mut tagged_in_aws = finding("sqs-queue-encrypted", "AWS::SQS::Queue", &url("plain"));
    tagged_in_aws.tags.push(("driftfix:exempt".into(), "approved by secops".into()));
    let in_aws = run(&tagged_in_aws, &w, &[]);
    assert_eq!(in_aws.kind, OutcomeKind::Suppressed);
    assert!(in_aws.reason.contains("`driftfix:exempt` in AWS"), "{}", in_aws.reason);
}

#[test]
fn rule_names_with_pack_and_security_hub_decorations_resolve() {
    let w = ws(&[("main.tf", "resource \"aws_dynamodb_table\" \"t\" {\n  name     = \"t\"\n  hash_key = \"pk\"\n}\n")]);
    for name in [
        "dynamodb-pitr-enabled",
        "dynamodb-pitr-enabled-conformance-pack-9xk2lmq1",
        "securityhub-dynamodb-pitr-enabled-4f7c2a",
        "OrgConfigRule-dynamodb-pitr-enabled-ab12cd",
        "DYNAMODB_PITR_ENABLED",
    ] {
        let o = run(&finding(name, "AWS::DynamoDB::Table", "t"), &w, &[]);
        assert_eq!(o.kind, OutcomeKind::Fix, "{name}");
        assert_eq!(o.rule.unwrap().meta().identifier, "DYNAMODB_PITR_ENABLED");
    }
    let o = run(&finding("dynamodb-pitr-enabled-but-not-really-x", "AWS::DynamoDB::Table", "t"), &w, &[]);
    assert_eq!(o.kind, OutcomeKind::Fix, "prefix match on a dash boundary still resolves");
    let o = run(&finding("mydynamodb-pitr-enabled", "AWS::DynamoDB::Table", "t"), &w, &[]);
    assert_eq!(o.kind, OutcomeKind::Unsupported, "no match inside a word");
}

#[test]
fn rule_override_and_params_reach_the_rule() {
    let w = ws(&[(
        "main.tf",
        "resource \"aws_db_instance\" \"db\" {\n  identifier              = \"db\"\n  backup_retention_period = 3\n}\n",
    )]);
    let f = finding("some-custom-backup-rule", "AWS::RDS::DBInstance", "db-ABC");
    let mut f = f;
    f.resource.name = Some("db".into());
    let index = Index::build(&w);
    let policy = Policy::default();
    let params = Params::new([("backupRetentionMinimum".to_owned(), "14".to_owned())]);
    let req = Request {
        finding: &f,
        workspace: &w,
        index: &index,
        state: &[],
        policy: &policy,
        params: &params,
        rule_override: Some("DB_INSTANCE_BACKUP_ENABLED"),
    };
    let o = remediate(&req).unwrap();
    assert_eq!(o.kind, OutcomeKind::Fix, "{o:#?}");
    assert!(o.changes[0].after.contains("backup_retention_period = 14"), "{}", o.changes[0].after);
}
