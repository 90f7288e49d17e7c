//! The whole loop at scale against the fakes of the tests: 1,000 findings across 50 repositories (20
//! unencrypted SQS queues each), recorded as intake records them and worked by four workers on a
//! SQLite store, each opening its pull request through the real App client and its ticket through
//! the real Jira client (the fake Jira Cloud).
//!
//! Reports wall time, findings per second, requests and write requests per pull request, and checks
//! that every finding ended with exactly one pull request and one ticket (no duplicates, none
//! missing).
//!
//! Run: `cargo bench --bench github_loop`.

#[allow(dead_code)]
#[path = "../tests/support/github.rs"]
mod fake_github;
#[allow(dead_code)]
#[path = "../tests/support/jira.rs"]
mod fake_jira;
#[path = "../tests/support/loopback.rs"]
mod loopback;

use driftfix::config::Route;
use driftfix::finding::parse_event;
use driftfix::github::{GitHubApp, GitHubSettings};
use driftfix::store::{NewEvent, Store};
use driftfix::worker::{Worker, WorkerConfig};
use fake_github::{APP_ID, FakeGitHub, app_key};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REPOS: usize = 50;
const QUEUES: usize = 20;
const WORKERS: usize = 4;

fn account(repo: usize) -> String {
    format!("{:012}", 100_000_000_000_u64 + repo as u64)
}

fn terraform(repo: usize) -> String {
    let mut s = String::from("# Queues of one team\n");
    for q in 0..QUEUES {
        s.push_str(&format!(
            "\nresource \"aws_sqs_queue\" \"q{q}\" {{\n  name                       = \"r{repo}-q{q}\"\n  visibility_timeout_seconds = 60\n}}\n"
        ));
    }
    s
}

/// A Security Hub SQS.1 finding for queue `q` of repository `repo`.
fn event(repo: usize, q: usize) -> String {
    let template = include_str!("../examples/events/securityhub_sqs.json");
    template.replace("123456789012", &account(repo)).replace("checkout-events", &format!("r{repo}-q{q}"))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let gh = FakeGitHub::start().await;
    let jira = fake_jira::FakeJira::start(driftfix::jira::Flavor::Cloud).await;
    let mut routes = Vec::new();
    for r in 0..REPOS {
        let full = format!("team{r:02}/infra");
        gh.add_repo(&full, &[("main.tf".to_owned(), terraform(r))]);
        routes.push(Route {
            name: format!("team{r:02}"),
            accounts: vec![account(r)],
            regions: Vec::new(),
            resource_tags: Default::default(),
            repo: full,
            paths: Vec::new(),
            state: Vec::new(),
            role_arn: None,
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("bench.db").display())).await.expect("store");
    store.migrate().await.expect("migrate");

    let bodies: Vec<String> = (0..REPOS).flat_map(|r| (0..QUEUES).map(move |q| event(r, q))).collect();
    let findings: Vec<_> = bodies.iter().map(|b| parse_event(b.as_bytes()).expect("event")).collect();
    let ids: Vec<String> = (0..bodies.len()).map(|i| format!("bench-{i}")).collect();
    let events: Vec<NewEvent<'_>> = bodies
        .iter()
        .zip(&findings)
        .zip(&ids)
        .map(|((body, f), id)| NewEvent {
            source: "eventbridge",
            dedup_id: id,
            body,
            finding: Some((f, "SQS_QUEUE_ENCRYPTED")),
            job_kind: None,
            max_attempts: 5,
        })
        .collect();
    for chunk in events.chunks(200) {
        store.record_events(chunk).await.expect("recorded");
    }

    let mut settings = GitHubSettings::new(APP_ID, app_key().0.clone().into(), &gh.url);
    settings.retry_base = Duration::from_millis(10);
    let config = WorkerConfig {
        routes,
        policy: driftfix::policy::Policy::default(),
        lease_ms: 300_000,
        poll_interval: Duration::from_millis(10),
        dry_run: false,
        templates: Arc::new(driftfix::render::Templates::builtin().expect("templates")),
        github: Some(Arc::new(GitHubApp::new(settings).expect("App"))),
        jira: Some(Arc::new(driftfix::jira::JiraClient::new(jira.config()).expect("Jira client"))),
        // The loop opens 20 pull requests per repository: no limits here.
        repos: driftfix::config::repo::RepoDefaults { pr_concurrent_limit: 0, ..Default::default() },
        aws: None,
    };
    let worker = Worker::new(store.clone(), config);

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let w = worker.clone();
        tasks.spawn(async move { while w.run_once().await.expect("worker") {} });
    }
    while tasks.join_next().await.is_some() {}
    let wall = started.elapsed();

    let states = store.finding_states().await.expect("states");
    let mut pulls = 0;
    let mut duplicates = 0;
    for r in 0..REPOS {
        let prs = fake_github::FakeGitHub::pulls(&gh, &format!("team{r:02}/infra"));
        let heads: std::collections::BTreeSet<_> = prs.iter().map(|p| p.head.clone()).collect();
        duplicates += prs.len() - heads.len();
        pulls += prs.len();
    }
    let log = gh.log();
    let repo_requests = log.iter().filter(|l| l.template.is_some_and(|t| t.starts_with("/repos/"))).count();
    let writes = gh.writes();
    let label_creates = log
        .iter()
        .filter(|l| l.method == "POST" && l.template == Some("/repos/{owner}/{repo}/labels") && l.status == 201)
        .count();
    let n = pulls.max(1) as f64;
    println!("github loop: {} findings, {REPOS} repositories, {WORKERS} workers, SQLite", bodies.len());
    println!("  finding states:        {states:?}");
    println!(
        "  pull requests:         {pulls} (duplicates: {duplicates}, unexpected requests: {})",
        gh.unexpected().len()
    );
    println!(
        "  wall time:             {:.2} s ({:.0} findings/s)",
        wall.as_secs_f64(),
        bodies.len() as f64 / wall.as_secs_f64()
    );
    println!("  GitHub requests per PR: {:.2} (all requests to repositories)", repo_requests as f64 / n);
    println!(
        "  write requests per PR: {:.2} ({:.2} without the {label_creates} one-time label creations)",
        writes as f64 / n,
        (writes - label_creates) as f64 / n
    );
    let tickets = jira.issues();
    let labels: std::collections::BTreeSet<_> =
        tickets.iter().filter_map(|t| t.labels.iter().find(|l| l.starts_with("driftfix-")).cloned()).collect();
    println!(
        "  Jira tickets:          {} (duplicates: {}, unexpected requests: {})",
        tickets.len(),
        tickets.len() - labels.len(),
        jira.unexpected().len()
    );
    assert_eq!(pulls, bodies.len(), "one pull request per finding");
    assert_eq!(tickets.len(), bodies.len(), "one ticket per finding");
    assert_eq!(labels.len(), tickets.len(), "no duplicate tickets");
    assert_eq!(duplicates, 0);
    assert!(gh.unexpected().is_empty());
}
