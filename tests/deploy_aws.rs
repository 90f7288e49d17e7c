//! `deploy/aws/`, the Terraform example that wires AWS Config to driftfix, held to what it claims:
//! every file parses, driftfix's own gate finds nothing in it, the IAM policy is least privilege and
//! is exactly the list below, the README shows that same policy, the Terraform fills every
//! placeholder the policy has, the rules it deploys are catalog rules, and the driftfix.toml
//! snippets in its README are valid configuration.

use driftfix::terraform::literal;
use driftfix::terraform::workspace::Workspace;
use hcl_edit::structure::Block;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    root().join("deploy/aws")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn policy() -> Value {
    let text = read(&deploy().join("driftfix-policy.json"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("driftfix-policy.json is not JSON: {e}"))
}

fn statements(policy: &Value) -> &[Value] {
    policy["Statement"].as_array().expect("Statement is a list")
}

/// A string or a list of strings (IAM accepts both for Action and Resource).
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().map(|x| x.as_str().expect("a string")).collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

/// Run the real binary with no inherited `DRIFTFIX_*` variables.
fn driftfix(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_driftfix"));
    cmd.args(args).env("NO_COLOR", "1");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("DRIFTFIX_")) {
        cmd.env_remove(k);
    }
    cmd.output().expect("driftfix runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The fenced code blocks of a Markdown text whose info string is `lang`, after `from` (a heading).
fn fenced_blocks(markdown: &str, from: &str, lang: &str) -> Vec<String> {
    let start = markdown.find(from).unwrap_or_else(|| panic!("no {from:?}"));
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown[start..].lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l == format!("```{lang}") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().expect("open block")),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

// ---------------------------------------------------------------------------------------------
// (a) the Terraform parses, (b) driftfix's own scan finds nothing

#[test]
fn every_terraform_file_parses() {
    let ws = Workspace::load(&deploy()).expect("deploy/aws is readable");
    assert!(ws.errors().is_empty(), "load errors: {:#?}", ws.errors());
    let on_disk: BTreeSet<String> = std::fs::read_dir(deploy())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tf"))
        .collect();
    let loaded: BTreeSet<String> = ws.files().iter().map(|f| f.path.clone()).collect();
    assert_eq!(loaded, on_disk);
    for want in ["versions.tf", "variables.tf", "outputs.tf", "config.tf", "eventbridge.tf", "sns.tf", "iam.tf"] {
        assert!(loaded.contains(want), "{want} is missing");
    }
}

#[test]
fn the_example_passes_driftfix_scan() {
    let dir = deploy();
    let o = driftfix(&["scan", dir.to_str().expect("utf-8 path"), "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    assert_eq!(report["findings"], Value::Array(vec![]), "{report:#}");
    assert_eq!(report["errors"], Value::Array(vec![]), "{report:#}");
    // The gate really looked: the example has buckets, queues and keys the catalog covers.
    assert!(report["resources"].as_u64().expect("a count") >= 20, "{report:#}");
}

// ---------------------------------------------------------------------------------------------
// (c) the policy

/// Every action the policy grants. Changing the policy means changing this list, on purpose.
const EXPECTED_ACTIONS: &[&str] = &[
    "cloudtrail:LookupEvents",
    "config:BatchGetResourceConfig",
    "config:DescribeComplianceByConfigRule",
    "config:DescribeConfigRules",
    "config:GetAggregateComplianceDetailsByConfigRule",
    "config:GetComplianceDetailsByConfigRule",
    "config:GetComplianceDetailsByResource",
    "config:GetResourceConfigHistory",
    "config:StartConfigRulesEvaluation",
    "kms:Decrypt",
    "s3:GetObject",
    "sts:AssumeRole",
];

/// The actions that support no resource-level permissions (the Service Authorization Reference lists
/// no resource type for them), and so are the only ones allowed on `"Resource": "*"`.
const NO_RESOURCE_LEVEL: &[&str] = &[
    "cloudtrail:LookupEvents",
    "config:BatchGetResourceConfig",
    "config:DescribeComplianceByConfigRule",
    "config:DescribeConfigRules",
    "config:GetComplianceDetailsByResource",
    "config:GetResourceConfigHistory",
];

#[test]
fn the_policy_is_least_privilege_and_exactly_the_expected_actions() {
    let p = policy();
    assert_eq!(p["Version"], "2012-10-17");
    let mut sids = BTreeSet::new();
    let mut actions = BTreeSet::new();
    for s in statements(&p) {
        let sid = s["Sid"].as_str().unwrap_or_else(|| panic!("a statement without a Sid: {s}"));
        assert!(!sid.is_empty() && sid.chars().all(|c| c.is_ascii_alphanumeric()), "Sid {sid:?}");
        assert!(sids.insert(sid), "Sid {sid} is used twice");
        assert_eq!(s["Effect"], "Allow", "{sid}");
        for forbidden in ["NotAction", "NotResource", "Principal", "NotPrincipal"] {
            assert!(s.get(forbidden).is_none(), "{sid} has {forbidden}");
        }
        let resources = strings(&s["Resource"]);
        assert!(!resources.is_empty(), "{sid} has no resource");
        for a in strings(&s["Action"]) {
            assert!(!a.contains('*'), "{sid}: wildcard action {a}");
            let verb = a.split_once(':').map_or(a, |(_, v)| v);
            assert!(!verb.starts_with("Put") && !verb.starts_with("Delete"), "{sid}: {a} writes");
            if resources.contains(&"*") {
                assert!(NO_RESOURCE_LEVEL.contains(&a), "{sid}: {a} supports resource-level permissions, so not on *");
                assert_eq!(resources, ["*"], "{sid}: * next to other resources");
            }
            assert!(actions.insert(a), "{a} is granted twice");
        }
    }
    assert_eq!(actions, EXPECTED_ACTIONS.iter().copied().collect::<BTreeSet<_>>());
}

#[test]
fn rule_scoped_and_input_scoped_statements_name_their_resources() {
    let p = policy();
    let resource = |sid: &str| {
        let s = statements(&p).iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no statement {sid}"));
        strings(&s["Resource"]).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(resource("ListAndReevaluateRuleResults"), ["arn:${partition}:config:*:${account_id}:config-rule/*"]);
    assert_eq!(resource("ReadTerraformState"), ["${state_object_arns}"]);
    assert_eq!(resource("DecryptTerraformStateThroughS3"), ["${state_kms_key_arns}"]);
    assert_eq!(resource("ListResultsThroughAggregator"), ["${config_aggregator_arns}"]);
    assert_eq!(resource("AssumeRouteRolesInOtherAccounts"), ["${route_role_arns}"]);
    let kms = statements(&p).iter().find(|s| s["Sid"] == "DecryptTerraformStateThroughS3").expect("kms");
    assert_eq!(kms["Condition"]["StringLike"]["kms:ViaService"], "s3.*.amazonaws.com");
}

/// Every `${name}` in the policy file is filled in by iam.tf (written there as `$${name}`), and the
/// Terraform loads the file rather than a copy of it.
#[test]
fn the_terraform_fills_every_placeholder_of_the_policy_file() {
    let json = read(&deploy().join("driftfix-policy.json"));
    let iam = read(&deploy().join("iam.tf"));
    assert!(iam.contains(r#"file("${path.module}/driftfix-policy.json")"#), "iam.tf does not load the policy file");
    let mut placeholders = BTreeSet::new();
    let mut rest = json.as_str();
    while let Some(i) = rest.find("${") {
        let end = rest[i..].find('}').expect("closed placeholder") + i;
        placeholders.insert(&rest[i + 2..end]);
        rest = &rest[end..];
    }
    assert_eq!(
        placeholders,
        BTreeSet::from([
            "account_id",
            "config_aggregator_arns",
            "partition",
            "route_role_arns",
            "state_kms_key_arns",
            "state_object_arns"
        ])
    );
    for name in placeholders {
        assert!(iam.contains(&format!("\"$${{{name}}}\"")), "iam.tf does not fill ${{{name}}}");
    }
}

// ---------------------------------------------------------------------------------------------
// (d) the README shows the policy file

#[test]
fn the_readme_shows_the_policy_file() {
    let readme = read(&root().join("README.md"));
    let blocks = fenced_blocks(&readme, "### AWS permissions", "json");
    let first = blocks.first().expect("a ```json block under AWS permissions");
    let shown: Value = serde_json::from_str(first).unwrap_or_else(|e| panic!("README policy is not JSON: {e}"));
    assert_eq!(shown, policy(), "README.md and deploy/aws/driftfix-policy.json differ");
    assert!(readme.contains("deploy/aws/driftfix-policy.json"));
}

// ---------------------------------------------------------------------------------------------
// The rules deployed, and the driftfix.toml the deploy README tells people to write

fn variable<'a>(ws: &'a Workspace, name: &str) -> &'a Block {
    ws.top_blocks()
        .map(|(_, b)| b)
        .find(|b| b.ident.value().as_str() == "variable" && b.labels.first().is_some_and(|l| l.as_str() == name))
        .unwrap_or_else(|| panic!("no variable {name}"))
}

#[test]
fn the_default_config_rules_are_catalog_rules_under_their_default_names() {
    let ws = Workspace::load(&deploy()).expect("load");
    let default = literal::attr(&variable(&ws, "config_rules").body, "default")
        .expect("config_rules has a default")
        .expect("a literal default");
    let rules = default.as_object().expect("a map of rules");
    assert!(rules.len() >= 5, "{rules:?}");
    for (name, rule) in rules {
        let identifier = rule["identifier"].as_str().expect("an identifier");
        let r = driftfix::catalog::by_identifier(identifier)
            .unwrap_or_else(|| panic!("{identifier} is not in the catalog"));
        assert_eq!(r.meta().identifier, identifier, "identifiers are written exactly");
        assert_eq!(r.meta().name, name, "{identifier} is deployed under its default name");
        // Not a managed rule anyone can deploy: Security Hub's SQS.1 control.
        assert_ne!(identifier, "SQS_QUEUE_ENCRYPTED");
    }
}

#[test]
fn the_event_pattern_selects_non_compliant_compliance_changes() {
    let eb = read(&deploy().join("eventbridge.tf"));
    for want in [
        r#"source        = ["aws.config"]"#,
        r#""detail-type" = ["Config Rules Compliance Change"]"#,
        r#"messageType = ["ComplianceChangeNotification"]"#,
        r#"complianceType = ["NON_COMPLIANT"]"#,
        r#"invocation_endpoint              = "${local.driftfix_url}/webhooks/eventbridge""#,
        r#"authorization_type = "API_KEY""#,
    ] {
        assert!(eb.contains(want), "eventbridge.tf lacks {want}");
    }
    assert!(read(&deploy().join("sns.tf")).contains(r#"endpoint  = "${local.driftfix_url}/webhooks/sns""#));
    let vars = read(&deploy().join("variables.tf"));
    assert!(vars.contains(r#"default     = "x-api-key""#), "the header defaults to driftfix's default");
}

#[test]
fn the_driftfix_toml_snippets_in_the_deploy_readme_are_valid() {
    let readme = read(&deploy().join("README.md"));
    let blocks = fenced_blocks(&readme, "## driftfix.toml", "toml");
    assert_eq!(blocks.len(), 2, "one snippet per delivery path");
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, block) in blocks.iter().enumerate() {
        let path = dir.path().join(format!("snippet{i}.toml"));
        std::fs::write(&path, block).expect("write");
        let o = driftfix(&["check-config", path.to_str().expect("utf-8 path")]);
        assert_eq!(o.status.code(), Some(0), "{block}\n{}", text(&o));
    }
    assert!(blocks[0].contains("[intake.eventbridge]") && blocks[0].contains(r#"header = "x-api-key""#));
    assert!(blocks[1].contains("[intake.sns]") && blocks[1].contains(":driftfix-config-noncompliant\""));
}

#[test]
fn every_aws_call_the_code_makes_is_granted_by_the_policy() {
    let granted: BTreeSet<String> =
        statements(&policy()).iter().flat_map(|s| strings(&s["Action"])).map(str::to_owned).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/aws");
    let mut calls = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/aws") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("source");
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("const OP: &str = \"") {
                calls.insert(rest.trim_end_matches("\";").to_owned());
            }
        }
    }
    assert!(calls.len() >= 9, "the scan found the calls: {calls:?}");
    for call in &calls {
        assert!(granted.contains(call), "{call} is called by src/aws but not granted by the policy");
    }
    // A route's role_arn is assumed with STS.
    assert!(granted.contains("sts:AssumeRole"));
}
