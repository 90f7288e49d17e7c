//! The command-line contract: the JSON shape, exit codes, `--write`, `scan` and `rules`.

mod support;

use serde_json::Value;
use support::{copy_tree, driftfix, examples, snapshot, stderr, stdout, tree};

fn ex(path: &str) -> String {
    examples().join(path).to_string_lossy().into_owned()
}

/// `driftfix remediate --event examples/events/<event> --repo <repo> <extra…>`.
fn remediate_on(repo: &str, event: &str, extra: &[&str]) -> std::process::Output {
    let event = ex(&format!("events/{event}"));
    let mut args = vec!["remediate", "--event", &event, "--repo", repo];
    args.extend_from_slice(extra);
    driftfix(&args)
}

/// The same on the bundled example repository.
fn remediate(event: &str, extra: &[&str]) -> std::process::Output {
    remediate_on(&ex("terraform"), event, extra)
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

#[test]
fn remediate_json_has_exactly_the_documented_shape() {
    let o = remediate("eb_rds_public.json", &["--state", &ex("state/terraform.tfstate"), "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["changes", "location", "outcome", "pr", "reason", "resource", "risk", "rule"]);
    assert_eq!(v["outcome"], "fix");
    assert_eq!(
        v["rule"],
        serde_json::json!({"identifier": "RDS_INSTANCE_PUBLIC_ACCESS_CHECK", "name": "rds-instance-public-access-check"})
    );
    assert_eq!(
        v["resource"],
        serde_json::json!({"type": "AWS::RDS::DBInstance", "id": "db-KOCU7UR74VM3AC4R3H2UXX7PE4", "account": "123456789012", "region": "us-east-1"})
    );
    assert_eq!(
        v["location"],
        serde_json::json!({"address": "aws_db_instance.reporting", "file": "main.tf", "line": 55})
    );
    assert_eq!(v["risk"], "medium");
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["file"], "main.tf");
    let diff = changes[0]["diff"].as_str().unwrap();
    assert!(diff.starts_with("--- a/main.tf\n+++ b/main.tf\n"), "{diff}");
    assert!(diff.contains("-  publicly_accessible = true # TODO: temporary, for the BI vendor\n"), "{diff}");
    assert!(
        diff.contains("+  publicly_accessible = false # TODO: temporary, for the BI vendor\n"),
        "comment kept: {diff}"
    );
    assert_eq!(
        diff.lines().filter(|l| l.starts_with('+') || l.starts_with('-')).count(),
        4,
        "one line changed: {diff}"
    );
    let pr = &v["pr"];
    let branch = pr["branch"].as_str().unwrap();
    assert!(branch.starts_with("driftfix/rds-instance-public-access-check/db-kocu7ur74vm3ac4r3h2uxx7pe4-"), "{branch}");
    assert_eq!(branch.rsplit('-').next().unwrap().len(), 8);
    assert_eq!(pr["title"], "driftfix: make the RDS instance private on aws_db_instance.reporting");
    let body = pr["body"].as_str().unwrap();
    assert!(body.trim_end().ends_with("\"version\": 1} -->"), "{body}");
    assert!(body.contains("<!-- driftfix: {\"key\": \""), "{body}");
    assert!(body.contains("```diff\n--- a/main.tf"), "{body}");
    assert!(body.contains("through Terraform state"), "{body}");
    assert!(body.starts_with("## Make the RDS instance private on `aws_db_instance.reporting`\n"), "{body}");
}

#[test]
fn the_same_finding_always_gets_the_same_branch_and_key() {
    let run = || json(&remediate("securityhub_sqs.json", &["--output", "json"]));
    let (a, b) = (run(), run());
    assert_eq!(a["outcome"], "fix");
    assert_eq!(a["pr"], b["pr"]);
}

#[test]
fn write_applies_the_fix_and_touches_nothing_else() {
    let repo = copy_tree(&examples().join("terraform"));
    let before = snapshot(repo.path());
    let o = remediate_on(repo.path().to_str().unwrap(), "securityhub_sqs.json", &["--write"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let after = snapshot(repo.path());
    let changed: Vec<&String> = after.keys().filter(|k| before[*k] != after[*k]).collect();
    assert_eq!(changed, ["main.tf"]);
    let (old, new) =
        (String::from_utf8(before["main.tf"].clone()).unwrap(), String::from_utf8(after["main.tf"].clone()).unwrap());
    let added: Vec<&str> = new.lines().filter(|l| !old.lines().any(|o| o == *l)).collect();
    assert_eq!(added, ["  sqs_managed_sse_enabled    = true"], "aligned with its neighbours");
    assert_eq!(new.replace("  sqs_managed_sse_enabled    = true\n", ""), old, "every other byte identical");
    // Running again: the code now satisfies the rule, so the cloud merely drifted.
    let again = json(&remediate_on(repo.path().to_str().unwrap(), "securityhub_sqs.json", &["--output", "json"]));
    assert_eq!(again["outcome"], "drift-only");
    assert_eq!(again["pr"], Value::Null);
    assert_eq!(again["changes"], serde_json::json!([]));
}

#[test]
fn text_output_shows_outcome_diff_and_pr() {
    let o = remediate("securityhub_sqs.json", &[]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("outcome:  fix\nrule:     SQS_QUEUE_ENCRYPTED (sqs-queue-encrypted)\n"), "{out}");
    assert!(out.contains("+  sqs_managed_sse_enabled    = true"), "{out}");
    assert!(out.contains("branch: driftfix/sqs-queue-encrypted/checkout-events-"), "{out}");
    assert!(!out.contains("\x1b["), "no colour when not a terminal");
}

#[test]
fn unsupported_rule_is_exit_zero_with_a_reason() {
    let o = remediate("sns_compliance.json", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    assert_eq!(v["outcome"], "unsupported");
    assert_eq!(v["rule"], Value::Null);
    assert_eq!(v["location"], Value::Null);
    assert!(v["reason"].as_str().unwrap().contains("cloudtrail-enabled"));
}

#[test]
fn no_match_suggests_an_import_block() {
    let event = support::compliance_event("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", "made-in-console");
    let dir = tree(&[("event.json", &event)]);
    let o = driftfix(&[
        "remediate",
        "--event",
        dir.path().join("event.json").to_str().unwrap(),
        "--repo",
        &ex("terraform"),
        "--output",
        "json",
    ]);
    let v = json(&o);
    assert_eq!(v["outcome"], "no-match");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("import {"), "{reason}");
    assert!(reason.contains("to = aws_dynamodb_table.made_in_console"), "{reason}");
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_problem() {
    let dir = tree(&[
        ("garbage.json", "{not json"),
        ("unknown.json", r#"{"hello": "world"}"#),
        ("bad.toml", "ssh_allowed = 1"),
        ("state.json", r#"{"version": 3}"#),
    ]);
    let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let good_event = ex("events/securityhub_sqs.json");
    let repo = ex("terraform");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["remediate".into(), "--event".into(), p("missing.json"), "--repo".into(), repo.clone()],
            "cannot read event",
        ),
        (
            vec!["remediate".into(), "--event".into(), p("garbage.json"), "--repo".into(), repo.clone()],
            "not valid JSON",
        ),
        (
            vec!["remediate".into(), "--event".into(), p("unknown.json"), "--repo".into(), repo.clone()],
            "unrecognised event",
        ),
        (
            vec!["remediate".into(), "--event".into(), good_event.clone(), "--repo".into(), p("nope")],
            "is not a directory",
        ),
        (
            vec![
                "remediate".into(),
                "--event".into(),
                good_event.clone(),
                "--repo".into(),
                repo.clone(),
                "--param".into(),
                "novalue".into(),
            ],
            "is not KEY=VALUE",
        ),
        (
            vec![
                "remediate".into(),
                "--event".into(),
                good_event.clone(),
                "--repo".into(),
                repo.clone(),
                "--rule".into(),
                "NOT_A_RULE".into(),
            ],
            "not in the catalog",
        ),
        (
            vec![
                "remediate".into(),
                "--event".into(),
                good_event.clone(),
                "--repo".into(),
                repo.clone(),
                "--policy".into(),
                p("bad.toml"),
            ],
            "unknown field",
        ),
        (
            vec![
                "remediate".into(),
                "--event".into(),
                good_event.clone(),
                "--repo".into(),
                repo.clone(),
                "--state".into(),
                p("state.json"),
            ],
            "version 3 is not supported",
        ),
        (
            vec![
                "remediate".into(),
                "--event".into(),
                good_event.clone(),
                "--repo".into(),
                repo.clone(),
                "--output".into(),
                "yaml".into(),
            ],
            "invalid value",
        ),
        (vec!["scan".into(), p("nope")], "is not a directory"),
        (vec!["sync".into()], "`[aws] enabled` is false"),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = driftfix(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn scan_gates_on_violations_and_speaks_sarif() {
    let o = driftfix(&["scan", &ex("terraform"), "--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "violations exit 1: {}", stderr(&o));
    let v = json(&o);
    assert!(v["violations"].as_u64().unwrap() >= 3, "{v}");
    let findings = v["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["rule"] == "SQS_QUEUE_ENCRYPTED" && f["file"] == "main.tf" && f["fixable"] == true)
    );
    assert!(findings.iter().any(|f| f["rule"] == "RDS_STORAGE_ENCRYPTED" && f["fixable"] == false));

    let s = driftfix(&["scan", &ex("terraform"), "--output", "sarif"]);
    let sarif = json(&s);
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "driftfix");
    let result =
        run["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "SQS_QUEUE_ENCRYPTED").expect("SQS result");
    assert_eq!(result["level"], "error");
    assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "main.tf");
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().iter().any(|r| r["id"] == "SQS_QUEUE_ENCRYPTED"));
}

#[test]
fn scan_fix_writes_proven_fixes_and_keeps_the_rest() {
    let repo = copy_tree(&examples().join("terraform"));
    let dir = repo.path().to_str().unwrap();
    let first = json(&driftfix(&["scan", dir, "--output", "json"]));
    let fixed = json(&driftfix(&["scan", dir, "--fix", "--output", "json"]));
    assert!(fixed["fixed"].as_u64().unwrap() >= 2, "{fixed}");
    let remaining = fixed["findings"].as_array().unwrap();
    assert!(remaining.iter().all(|f| f["fixable"] == false), "fixable violations left: {remaining:?}");
    assert!(fixed["violations"].as_u64() < first["violations"].as_u64());
    let again = json(&driftfix(&["scan", dir, "--output", "json"]));
    assert_eq!(again["findings"], fixed["findings"], "a second scan sees the same state");
}

#[test]
fn scan_reports_syntax_errors_by_line_and_scans_the_other_files() {
    let dir = tree(&[
        ("broken.tf", "resource \"aws_sqs_queue\" \"a\" {\n  name = \n}\n"),
        ("ok.tf", "resource \"aws_sqs_queue\" \"b\" {\n  name = \"b\"\n}\n"),
    ]);
    let o = driftfix(&["scan", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("broken.tf:2:"), "{out}");
    assert!(out.contains("ok.tf:1: FAIL (fixable) sqs-queue-encrypted"), "{out}");
}

#[test]
fn scan_honours_ignore_comments_with_a_reason() {
    let dir = tree(&[(
        "q.tf",
        "# driftfix:ignore sqs-queue-encrypted holds only public data, approved in SEC-42\nresource \"aws_sqs_queue\" \"b\" {\n  name = \"b\"\n}\n",
    )]);
    let o = driftfix(&["scan", dir.path().to_str().unwrap(), "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v = json(&o);
    assert_eq!(v["findings"][0]["status"], "suppressed");
    assert_eq!(v["findings"][0]["message"], "holds only public data, approved in SEC-42");
}

#[test]
fn rules_lists_the_catalog() {
    let o = driftfix(&["rules"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("IDENTIFIER"));
    for id in ["DYNAMODB_PITR_ENABLED", "SQS_QUEUE_ENCRYPTED", "RDS_STORAGE_ENCRYPTED"] {
        assert!(out.contains(id), "{id} missing:\n{out}");
    }
    let j = json(&driftfix(&["rules", "--output", "json"]));
    assert!(j.as_array().unwrap().len() >= 10);
}

#[test]
fn the_readme_example_fixes_world_open_ssh_from_a_configuration_change() {
    let o = remediate("eb_ci_change.json", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["outcome"], "fix");
    assert_eq!(v["rule"]["identifier"], "INCOMING_SSH_DISABLED", "rule read off the configuration item");
    assert_eq!(v["location"]["address"], "module.network.aws_security_group.web");
    assert_eq!(v["location"]["file"], "modules/network/main.tf");
    let diff = v["changes"][0]["diff"].as_str().unwrap();
    let removed: Vec<&str> = diff.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).collect();
    assert_eq!(removed.len(), 9, "the SSH ingress block and its comment go, nothing else: {diff}");
    assert!(removed.iter().any(|l| l.contains("from_port   = 22")));
    assert!(!diff.lines().any(|l| l.starts_with('+') && !l.starts_with("+++")), "nothing added: {diff}");

    // With an allow-list the world CIDR is replaced instead.
    let dir = tree(&[("policy.toml", "ssh_allowed_cidrs = [\"10.0.0.0/8\"]\n")]);
    let policy = dir.path().join("policy.toml");
    let v = json(&remediate("eb_ci_change.json", &["--output", "json", "--policy", policy.to_str().unwrap()]));
    let diff = v["changes"][0]["diff"].as_str().unwrap();
    assert!(diff.contains("-    cidr_blocks = [\"0.0.0.0/0\"]\n+    cidr_blocks = [\"10.0.0.0/8\"]\n"), "{diff}");
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    // `driftfix scan … | head -1`: the reader is gone before anything is written. The pipe's
    // read end is closed before the child starts, so its first write meets a closed pipe.
    for args in [vec!["scan", &ex("terraform"), "--output", "json"], vec!["rules"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_driftfix"))
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("driftfix runs");
        let err = stderr(&o);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(o.status.signal(), Some(13), "{args:?} ends by SIGPIPE, as `cat` would: {:?}", o.status);
    }
}
