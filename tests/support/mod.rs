//! Helpers shared by the integration tests: run the real binary, copy fixtures to temporary
//! directories, build events; the fake GitHub (`github`), Jira (`jira`), AWS Config (`aws_config`,
//! which can front moto) and CloudTrail (`cloudtrail`), and the checkers the fakes are held to
//! (`openapi`, `botocore`); the real `driftfix serve` (`server`) and moto's server (`moto`) as child
//! processes.

#![allow(dead_code)]

pub mod aws_config;
pub mod botocore;
pub mod cloudtrail;
pub mod db;
pub mod github;
pub mod jira;
pub mod loopback;
pub mod moto;
pub mod openapi;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's `examples/` directory.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Run the `driftfix` binary with arguments.
pub fn driftfix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftfix")).args(args).env("NO_COLOR", "1").output().expect("driftfix runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copy a directory tree (files only) into a fresh temporary directory.
pub fn copy_tree(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_into(from, dir.path());
    dir
}

fn copy_into(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_into(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Write `(relative path, text)` files into a fresh temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

/// Every file under `dir`, relative path → bytes.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).expect("prefix").to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(e.path()).expect("read"));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// A bare Config ComplianceChangeNotification (the SNS `Message` body) as JSON text.
pub fn compliance_event(rule_name: &str, resource_type: &str, resource_id: &str) -> String {
    serde_json::json!({
        "awsAccountId": "123456789012",
        "configRuleName": rule_name,
        "configRuleARN": "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-test01",
        "resourceType": resource_type,
        "resourceId": resource_id,
        "awsRegion": "us-east-1",
        "newEvaluationResult": {
            "evaluationResultIdentifier": {
                "evaluationResultQualifier": {"configRuleName": rule_name, "resourceType": resource_type, "resourceId": resource_id},
                "orderingTimestamp": "2026-11-22T10:00:00.000Z"
            },
            "complianceType": "NON_COMPLIANT",
            "resultRecordedTime": "2026-11-22T10:00:05.000Z",
            "configRuleInvokedTime": "2026-11-22T10:00:04.000Z"
        },
        "notificationCreationTime": "2026-11-22T10:00:06.000Z",
        "messageType": "ComplianceChangeNotification",
        "recordVersion": "1.0"
    })
    .to_string()
}

/// An example event from `examples/events/`.
pub fn example_event(name: &str) -> String {
    std::fs::read_to_string(examples().join("events").join(name)).expect("example event")
}

/// The identifier intake keys a finding by: the catalog rule, else the event's rule name.
pub fn rule_key(f: &driftfix::finding::Finding) -> String {
    driftfix::catalog::resolve(f, &driftfix::catalog::Params::default())
        .map(|r| r.meta().identifier.to_owned())
        .or_else(|| f.rule.name.clone())
        .unwrap_or_else(|| "UNKNOWN".into())
}

/// Record an event as intake would; returns the finding key and the job id.
pub async fn record(store: &driftfix::store::Store, dedup: &str, body: &str) -> (String, Option<i64>) {
    use driftfix::store::{NewEvent, Recorded};
    let f = driftfix::finding::parse_event(body.as_bytes()).expect("event parses");
    let rule = rule_key(&f);
    let ev = NewEvent {
        source: "eventbridge",
        dedup_id: dedup,
        body,
        finding: Some((&f, &rule)),
        job_kind: None,
        max_attempts: 3,
    };
    let Recorded::New { finding_key: Some(key), job_id, .. } = store.record_event(&ev).await.expect("recorded") else {
        panic!("not recorded as new")
    };
    (key.as_str().to_owned(), job_id)
}

/// Every file under `dir` as `(relative path, text)`, for seeding a fake repository.
pub fn files_of(dir: &Path) -> Vec<(String, String)> {
    snapshot(dir).into_iter().map(|(p, b)| (p, String::from_utf8(b).expect("UTF-8 fixture"))).collect()
}

/// Run the pure core on a finding, a workspace and state, with the default policy and parameters.
pub fn remediate_on(
    finding: &driftfix::finding::Finding,
    ws: &driftfix::terraform::workspace::Workspace,
    state: &[driftfix::terraform::state::StateInstance],
) -> driftfix::remediate::Outcome {
    let index = driftfix::terraform::index::Index::build(ws);
    let (policy, params) = (driftfix::policy::Policy::default(), driftfix::catalog::Params::default());
    let req = driftfix::remediate::Request {
        finding,
        workspace: ws,
        index: &index,
        state,
        policy: &policy,
        params: &params,
        rule_override: None,
    };
    driftfix::remediate::remediate(&req).expect("remediate")
}
