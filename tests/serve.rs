//! The real `driftfix serve` binary: end to end over HTTP, SIGTERM drains, SIGKILL mid-job loses
//! nothing, and two replicas on one PostgreSQL process every finding exactly once.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::server::{Server, free_port, http, http_get};

const KEY: &str = "test-eventbridge-key";
const TOKEN: &str = "test-api-token";

fn post_event(base: &str, body: &str) -> (u16, serde_json::Value) {
    let (s, b) = http(
        "POST",
        &format!("{base}/webhooks/eventbridge"),
        &[("x-api-key", KEY), ("content-type", "application/json")],
        body,
    )
    .expect("POST answered");
    (s, serde_json::from_str(&b).unwrap_or(serde_json::Value::Null))
}

fn finding(base: &str, key: &str) -> serde_json::Value {
    let (s, b) = http_get(&format!("{base}/api/findings/{key}"), Some(TOKEN)).expect("GET answered");
    assert_eq!(s, 200, "{b}");
    serde_json::from_str(&b).unwrap()
}

fn wait_state(base: &str, key: &str, want: &str, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let f = finding(base, key);
        if f["state"] == want {
            return f;
        }
        assert!(Instant::now() < deadline, "finding stayed {} (wanted {want}): {f}", f["state"]);
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_config(dir: &Path, database_url: &str, repo: &Path, lease_seconds: u32) -> std::path::PathBuf {
    let text = format!(
        "database_url = \"{database_url}\"\nworkers = 2\nlease_seconds = {lease_seconds}\ntemplates_dir = \"{}\"\n\
         [intake.eventbridge]\napi_keys = [\"{KEY}\"]\n\n[api]\ntokens = [\"{TOKEN}\"]\n\n\
         [[routes]]\nname = \"example\"\nrepo = \"{}\"\n",
        dir.join("templates").display(),
        repo.display()
    );
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("templates/pr_title.txt.j2"), "[security] {{ rule.title }} ({{ location.address }})")
        .unwrap();
    let path = dir.join("driftfix.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn serve_end_to_end_then_sigterm_drains() {
    let dir = tempfile::tempdir().unwrap();
    let repo = support::copy_tree(&support::examples().join("terraform"));
    let db = format!("sqlite://{}", dir.path().join("driftfix.db").display());
    let config = write_config(dir.path(), &db, repo.path(), 30);
    let mut server = Server::start(&config, free_port());

    assert_eq!(http_get(&format!("{}/healthz", server.base), None).unwrap().0, 200);
    let body = std::fs::read_to_string(support::examples().join("events/eb_ci_change.json")).unwrap();
    let (status, answer) = post_event(&server.base, &body);
    assert_eq!(status, 202, "{answer}");
    let key = answer["finding"].as_str().unwrap().to_owned();
    let f = wait_state(&server.base, &key, "proposed", Duration::from_secs(30));
    assert_eq!(f["location"]["address"], "module.network.aws_security_group.web", "{f}");
    assert!(f["proposal"]["branch"].as_str().unwrap().starts_with("driftfix/restricted-ssh/"), "{f}");
    assert_eq!(
        f["proposal"]["title"], "[security] close SSH to the internet (module.network.aws_security_group.web)",
        "the configured template directory overrides the built-in title"
    );
    assert!(f["diff"].as_str().unwrap().contains("-    from_port   = 22"), "{f}");
    let actions: Vec<&str> = f["audit"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    assert!(actions.starts_with(&["event.accepted"]) && actions.contains(&"proposal.rendered"), "{actions:?}");
    assert_eq!(post_event(&server.base, &body).1["status"], "duplicate");
    assert_eq!(http_get(&format!("{}/api/findings", server.base), None).unwrap().0, 401, "the API needs a token");

    let (_, metrics) = http_get(&format!("{}/metrics", server.base), None).unwrap();
    assert!(metrics.contains("driftfix_events_total{source=\"eventbridge\",verdict=\"accepted\"} 1"), "{metrics}");
    assert!(metrics.contains("driftfix_findings{state=\"proposed\"} 1"), "{metrics}");
    assert!(metrics.contains("driftfix_jobs{state=\"done\"} 1"), "{metrics}");
    assert!(metrics.contains("driftfix_job_duration_seconds_count{kind=\"remediate\"} 1"), "{metrics}");

    server.signal("-TERM");
    let status = server.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
}

/// A tree big enough that working its finding takes a while in a debug build.
fn big_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("main.tf"), "resource \"aws_sqs_queue\" \"target\" {\n  name = \"target-queue\"\n}\n")
        .unwrap();
    for f in 0..1500 {
        let mut text = String::new();
        for r in 0..20 {
            let n = f * 20 + r;
            text.push_str(&format!(
                "# filler {n}\nresource \"aws_s3_bucket\" \"b{n}\" {{\n  bucket = \"filler-{n}\"\n\n  tags = {{\n    Name = \"filler-{n}\"\n  }}\n}}\n\n"
            ));
        }
        std::fs::write(dir.join(format!("f{f}.tf")), text).unwrap();
    }
}

#[test]
fn sigkill_mid_job_then_restart_completes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    big_repo(&repo);
    let db = format!("sqlite://{}", dir.path().join("driftfix.db").display());
    let config = write_config(dir.path(), &db, &repo, 3);
    let port = free_port();
    let mut server = Server::start(&config, port);
    let event = support::compliance_event(
        "sqs-queue-encrypted",
        "AWS::SQS::Queue",
        "https://sqs.us-east-1.amazonaws.com/123456789012/target-queue",
    );
    let (s, answer) = post_event(&server.base, &event);
    assert_eq!(s, 202);
    let key = answer["finding"].as_str().unwrap().to_owned();
    // Wait until a worker holds the job, then kill the process without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = http_get(&format!("{}/metrics", server.base), None).unwrap();
        if m.contains("driftfix_jobs{state=\"running\"} 1") {
            break;
        }
        assert!(
            !m.contains("driftfix_jobs{state=\"done\"}"),
            "the job finished before it could be killed; make the repo bigger"
        );
        assert!(Instant::now() < deadline, "the job never started: {m}");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal("-KILL");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "killed, not exited");
    assert_eq!(finding_state_offline(&db, &key), "received", "the kill happened mid-job");

    let server = Server::start(&config, port);
    let f = wait_state(&server.base, &key, "proposed", Duration::from_secs(60));
    assert_eq!(f["location"]["address"], "aws_sqs_queue.target");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = http_get(&format!("{}/metrics", server.base), None).unwrap();
        assert!(!m.contains("state=\"dead\""), "{m}");
        if m.contains("driftfix_jobs{state=\"done\"} 1") {
            break;
        }
        assert!(Instant::now() < deadline, "the job did not finish: {m}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finding_state_offline(db: &str, key: &str) -> String {
    let o = support::driftfix(&["findings", "--database-url", db, "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v.get("findings").and_then(|f| f.as_array()).or_else(|| v.as_array()).cloned().unwrap_or_default();
    list.iter()
        .find(|f| f["key"] == key)
        .map(|f| f["state"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

#[test]
fn two_replicas_on_postgres_process_a_thousand_findings_exactly_once() {
    if std::env::var_os("DRIFTFIX_SKIP_POSTGRES").is_some() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = rt.block_on(support::db::postgres_url("driftfix_serve_replicas")).expect("PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    let repo = support::copy_tree(&support::examples().join("terraform"));
    let config = write_config(dir.path(), &url, repo.path(), 30);
    let a = Server::start(&config, free_port());
    let b = Server::start(&config, free_port());
    let mut keys = Vec::new();
    for i in 0..1000 {
        let event = support::compliance_event("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", &format!("table-{i}"));
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let (s, answer) = post_event(base, &event);
        assert_eq!(s, 202, "{answer}");
        keys.push(answer["finding"].as_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (_, m) = http_get(&format!("{}/metrics", a.base), None).unwrap();
        if m.contains("driftfix_jobs{state=\"done\"} 1000") {
            break;
        }
        assert!(Instant::now() < deadline, "not all jobs finished: {m}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let counts = rt.block_on(async {
        let Ok(driftfix::store::Store::Postgres(pool)) = driftfix::store::Store::connect(&url).await else { panic!() };
        let per_finding: Vec<(String, i64)> = sqlx::query_as(
            "SELECT finding_key, COUNT(*) FROM audit_log WHERE action LIKE 'finding.%' GROUP BY finding_key",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let attempts: Vec<(i64,)> = sqlx::query_as("SELECT attempts FROM jobs").fetch_all(&pool).await.unwrap();
        (per_finding, attempts)
    });
    assert_eq!(counts.0.len(), 1000, "every finding was processed");
    assert!(counts.0.iter().all(|(_, n)| *n == 1), "no finding was processed twice");
    assert!(counts.1.iter().all(|(n,)| *n == 1), "every job was claimed once");
    for key in keys.iter().take(3) {
        assert_eq!(finding(&b.base, key)["state"], "no-match");
    }
}
