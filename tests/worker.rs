//! The worker, the read API and `driftfix findings` against real databases: a SQLite file and a
//! PostgreSQL server, every scenario on both (as in tests/store.rs). PostgreSQL comes from
//! `DRIFTFIX_TEST_POSTGRES_URL`; without it these tests fail unless `DRIFTFIX_SKIP_POSTGRES=1`.
//! Events are the bundled examples; repositories are copies of `examples/terraform`, never the
//! original, and the worker must leave them byte-for-byte unchanged.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use driftfix::api::{ApiState, router};
use driftfix::config::Route;
use driftfix::policy::Policy;
use driftfix::store::Store;
use driftfix::worker::{Worker, WorkerConfig};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::{copy_tree, example_event, examples, record, snapshot};
use tower::ServiceExt;

fn route(name: &str, repo: &Path) -> Route {
    Route {
        name: name.into(),
        accounts: Vec::new(),
        regions: Vec::new(),
        resource_tags: Default::default(),
        repo: repo.to_string_lossy().into_owned(),
        paths: Vec::new(),
        state: Vec::new(),
        role_arn: None,
    }
}

fn worker(store: &Store, routes: Vec<Route>) -> Worker {
    let config = WorkerConfig {
        routes,
        policy: Policy::default(),
        lease_ms: 60_000,
        poll_interval: Duration::from_millis(20),
        dry_run: true,
        templates: std::sync::Arc::new(driftfix::render::Templates::builtin().unwrap()),
        github: None,
        jira: None,
        repos: Default::default(),
        aws: None,
    };
    Worker::new(store.clone(), config)
}

async fn actions(store: &Store, key: &str) -> Vec<String> {
    store.audit_trail(key).await.unwrap().into_iter().map(|(_, _, action, _)| action).collect()
}

async fn drain(w: &Worker) -> usize {
    let mut n = 0;
    while w.run_once().await.unwrap() {
        n += 1;
    }
    n
}

async fn fix_is_proposed_and_stored(store: &Store) {
    let repo = copy_tree(&examples().join("terraform"));
    let before = snapshot(repo.path());
    let w = worker(store, vec![route("examples", repo.path())]);
    assert!(!w.run_once().await.unwrap(), "no job yet");
    let (key, job) = record(store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.unwrap());
    assert!(!w.run_once().await.unwrap(), "one job, worked once");
    assert_eq!(store.job_status(job.unwrap()).await.unwrap().unwrap().0, "done");

    let d = store.finding_detail(&key).await.unwrap().expect("finding");
    assert_eq!(d.summary.state, "proposed");
    assert_eq!(d.summary.outcome.as_deref(), Some("fix"));
    assert_eq!(d.summary.rule.identifier, "SQS_QUEUE_ENCRYPTED");
    assert_eq!(d.summary.route.as_deref(), Some("examples"));
    assert_eq!(d.summary.repo.as_deref(), Some(repo.path().to_str().unwrap()));
    let loc = d.summary.location.as_ref().expect("location");
    assert_eq!((loc.address.as_str(), loc.file.as_str(), loc.line), ("aws_sqs_queue.checkout_events", "main.tf", 32));
    let diff = d.diff.as_deref().expect("diff");
    assert!(diff.starts_with("--- a/main.tf\n+++ b/main.tf\n"), "{diff}");
    assert!(diff.contains("+  sqs_managed_sse_enabled    = true\n"), "{diff}");
    let p = d.proposal.as_ref().expect("proposal");
    assert_eq!(p.branch, format!("driftfix/sqs-queue-encrypted/checkout-events-{}", &key[..8]));
    assert_eq!(p.state, "rendered");
    assert!(p.body.contains("```diff\n--- a/main.tf"), "{}", p.body);
    assert_eq!(p.pr_number, None, "dry run: nothing pushed");
    assert_eq!(actions(store, &key).await, ["event.accepted", "finding.proposed", "proposal.rendered"]);
    let audit = &d.audit[1];
    assert_eq!(audit.detail["rule"], "SQS_QUEUE_ENCRYPTED");
    assert_eq!(audit.detail["risk"], "low");
    assert_eq!(audit.detail["location"]["file"], "main.tf");
    assert_eq!(snapshot(repo.path()), before, "the worker never writes to the repository");

    // A new evaluation of the same finding re-renders the same branch in place.
    record(store, "sqs-2", &example_event("securityhub_sqs.json")).await;
    assert_eq!(drain(&w).await, 1);
    let again = store.finding_detail(&key).await.unwrap().unwrap();
    assert_eq!(again.proposal.as_ref().unwrap().branch, p.branch);
    assert_eq!(again.events.len(), 2);
    assert_eq!(
        actions(store, &key).await,
        [
            "event.accepted",
            "finding.proposed",
            "proposal.rendered",
            "event.accepted",
            "finding.proposed",
            "proposal.rendered"
        ]
    );
}
on_both!(a_fixable_finding_is_proposed_with_its_diff_and_branch, fix_is_proposed_and_stored, "driftfix_w_");

async fn unrouted_findings_are_no_route(store: &Store) {
    let repo = copy_tree(&examples().join("terraform"));
    let mut other = route("other-account", repo.path());
    other.accounts = vec!["999999999999".into()];
    let w = worker(store, vec![other]);
    let (key, _) = record(store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert_eq!(drain(&w).await, 1);
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    assert_eq!(d.summary.state, "no-route");
    assert_eq!((d.summary.outcome, d.summary.route, d.summary.repo), (None, None, None));
    assert!(d.reason.as_deref().unwrap().contains("123456789012"), "{:?}", d.reason);
    assert!(d.proposal.is_none());
    assert_eq!(actions(store, &key).await, ["event.accepted", "finding.no-route"]);
}
on_both!(a_finding_no_route_covers_is_no_route, unrouted_findings_are_no_route, "driftfix_w_");

async fn unsupported_and_other_outcomes(store: &Store) {
    let repo = copy_tree(&examples().join("terraform"));
    let w = worker(store, vec![route("examples", repo.path())]);
    let (unsupported, _) = record(store, "a-1", &example_event("sns_compliance.json")).await;
    let (no_match, _) = record(store, "a-2", &example_event("sns_versioning.json")).await;
    assert_eq!(drain(&w).await, 2);
    let d = store.finding_detail(&unsupported).await.unwrap().unwrap();
    assert_eq!((d.summary.state.as_str(), d.summary.outcome.as_deref()), ("unsupported", Some("unsupported")));
    assert!(d.reason.as_deref().unwrap().contains("cloudtrail-enabled"), "{:?}", d.reason);
    assert!(d.proposal.is_none() && d.diff.is_none());
    assert_eq!(actions(store, &unsupported).await, ["event.accepted", "finding.unsupported"]);
    let d = store.finding_detail(&no_match).await.unwrap().unwrap();
    assert_eq!(d.summary.state, "no-match");
    assert!(d.reason.as_deref().unwrap().contains("What to do:"), "advice steps are kept: {:?}", d.reason);
}
on_both!(unsupported_rules_and_unmanaged_resources_get_their_states, unsupported_and_other_outcomes, "driftfix_w_");

async fn broken_repo_is_retried(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(store, vec![route("gone", &dir.path().join("missing"))]);
    let (key, job) = record(store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.unwrap());
    let (state, attempts, error, run_at) = store.job_status(job.unwrap()).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 1), "kept for a retry, not lost");
    assert!(error.as_deref().unwrap().contains("is not a directory"), "{error:?}");
    assert!(run_at > driftfix::store::now_ms(), "retried later, with backoff");
    assert!(!w.run_once().await.unwrap(), "not due yet");
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("received"));

    // A route whose paths hold no Terraform is a configuration error: retried too, not `no-match`.
    let repo = copy_tree(&examples().join("terraform"));
    let mut narrow = route("narrow", repo.path());
    narrow.paths = vec!["does/not/exist".into()];
    let (_, job) = record(store, "eb-1", &example_event("eb_compliance_change.json")).await;
    assert!(worker(store, vec![narrow]).run_once().await.unwrap());
    let (state, _, error, _) = store.job_status(job.unwrap()).await.unwrap().unwrap();
    assert_eq!(state, "queued");
    assert!(error.as_deref().unwrap().contains("no Terraform files under does/not/exist"), "{error:?}");
}
on_both!(a_broken_repository_path_fails_the_job_for_a_retry, broken_repo_is_retried, "driftfix_w_");

async fn route_paths_limit_the_workspace(store: &Store) {
    let storage = std::fs::read_to_string(examples().join("terraform/modules/storage/main.tf")).unwrap();
    let prod = "module \"storage\" {\n  source      = \"../../modules/storage\"\n  environment = \"prod\"\n}\n";
    let dev = "resource \"aws_s3_bucket\" \"copy\" {\n  bucket = \"my-public-bucket\"\n}\n";
    let repo =
        support::tree(&[("modules/storage/main.tf", &storage), ("envs/prod/main.tf", prod), ("envs/dev/main.tf", dev)]);
    let body = example_event("eb_compliance_change.json");
    // The whole repository holds two blocks for the bucket: the bot does not guess.
    let (key, _) = record(store, "eb-1", &body).await;
    assert_eq!(drain(&worker(store, vec![route("all", repo.path())])).await, 1);
    assert_eq!(store.finding_state(&key).await.unwrap().as_deref(), Some("advice"));
    // Only envs/prod (and the module it calls): one block, a fix in the module.
    let mut prod_only = route("prod", repo.path());
    prod_only.paths = vec!["./envs/prod/".into()];
    record(store, "eb-2", &body).await;
    assert_eq!(drain(&worker(store, vec![prod_only])).await, 1);
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    assert_eq!(d.summary.state, "proposed");
    let loc = d.summary.location.unwrap();
    assert_eq!(
        (loc.address.as_str(), loc.file.as_str()),
        ("module.storage.aws_s3_bucket.public", "modules/storage/main.tf")
    );
}
on_both!(route_paths_keep_their_roots_and_the_modules_they_call, route_paths_limit_the_workspace, "driftfix_w_");

async fn shutdown_is_graceful(store: &Store) {
    let repo = copy_tree(&examples().join("terraform"));
    let w = worker(store, vec![route("examples", repo.path())]);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(w.run(rx));
    let (key, _) = record(store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    let mut state = None;
    for _ in 0..500 {
        state = store.finding_state(&key).await.unwrap();
        if state.as_deref() == Some("proposed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state.as_deref(), Some("proposed"), "the running worker picked the job up");
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("run exits after the signal").unwrap();
    let (_, job) = record(store, "eb-1", &example_event("eb_compliance_change.json")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.job_status(job.unwrap()).await.unwrap().unwrap().0, "queued", "nothing claimed after shutdown");

    // A dropped sender also stops the worker.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker(store, Vec::new()).run(rx));
    drop(tx);
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("run exits without a sender").unwrap();
}
on_both!(run_stops_claiming_when_shutdown_flips, shutdown_is_graceful, "driftfix_w_");

const TOKEN: &str = "s3cr3t-read-token";

/// A store with five findings in four states, worked by the worker; returns their keys.
async fn populated(store: &Store, repo: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    for (i, name) in ["securityhub_sqs.json", "eb_compliance_change.json", "sns_compliance.json", "sns_versioning.json"]
        .iter()
        .enumerate()
    {
        keys.push(record(store, &format!("p-{i}"), &example_event(name)).await.0);
    }
    assert_eq!(drain(&worker(store, vec![route("examples", repo)])).await, 4);
    // Timestamps are in milliseconds and ties list by key: let the clock move on so the last finding
    // is strictly the newest.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let elsewhere = support::compliance_event("restricted-ssh", "AWS::EC2::SecurityGroup", "sg-elsewhere")
        .replace("123456789012", "210987654321");
    keys.push(record(store, "p-4", &elsewhere).await.0);
    let mut only_first = route("examples", repo);
    only_first.accounts = vec!["123456789012".into()];
    assert_eq!(drain(&worker(store, vec![only_first])).await, 1);
    keys
}

async fn get(app: &axum::Router, uri: &str, auth: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{uri}: not JSON ({e})"));
    (parts.status, parts.headers, json)
}

fn keys_of(v: &Value) -> Vec<String> {
    v["findings"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap().to_owned()).collect()
}

fn object_keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

async fn api_serves_findings(store: &Store) {
    let repo = copy_tree(&examples().join("terraform"));
    let keys = populated(store, repo.path()).await;
    let tokens = Arc::new(vec!["other-token".into(), TOKEN.into()]);
    let app = router(ApiState { store: store.clone(), tokens });
    let bearer = format!("Bearer {TOKEN}");
    let auth = Some(bearer.as_str());

    for (uri, header_value) in [
        ("/api/findings", None),
        ("/api/findings", Some("Basic czNjcjN0")),
        ("/api/findings", Some("Bearer ")),
        ("/api/findings/abc", None),
    ] {
        let (status, headers, body) = get(&app, uri, header_value).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} {header_value:?}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert!(body["error"].is_string());
    }
    for wrong in ["Bearer s3cr3t-read-toke", "Bearer s3cr3t-read-token2", "bearer nope"] {
        let (status, _, body) = get(&app, "/api/findings", Some(wrong)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{wrong}");
        assert!(body["error"].is_string());
    }
    let (status, _, _) = get(&app, "/api/findings", Some(&format!("bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK, "the scheme is case-insensitive");

    let (status, _, all) = get(&app, "/api/findings", auth).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(object_keys(&all), ["findings", "next"]);
    assert_eq!(all["next"], Value::Null);
    let listed = keys_of(&all);
    assert_eq!(listed.iter().collect::<BTreeSet<_>>(), keys.iter().collect::<BTreeSet<_>>());
    assert_eq!(listed[0], keys[4], "newest first");
    let first = &all["findings"].as_array().unwrap()[listed.iter().position(|k| *k == keys[0]).unwrap()];
    assert_eq!(
        object_keys(first),
        ["key", "location", "outcome", "repo", "resource", "route", "rule", "state", "updated_at"]
    );
    assert_eq!(first["state"], "proposed");
    assert_eq!(first["rule"]["identifier"], "SQS_QUEUE_ENCRYPTED");
    assert_eq!(
        first["resource"],
        serde_json::json!({"type": "AWS::SQS::Queue", "id": "https://sqs.us-east-1.amazonaws.com/123456789012/checkout-events", "account": "123456789012", "region": "us-east-1"})
    );
    assert_eq!(
        first["location"],
        serde_json::json!({"address": "aws_sqs_queue.checkout_events", "file": "main.tf", "line": 32})
    );
    assert!(first["updated_at"].as_str().unwrap().ends_with('Z'));

    let filtered = |q: &'static str| {
        let app = app.clone();
        async move {
            let (status, _, v) = get(&app, &format!("/api/findings?{q}"), auth).await;
            assert_eq!(status, StatusCode::OK, "{q}");
            keys_of(&v)
        }
    };
    let mut proposed = filtered("state=proposed").await;
    proposed.sort();
    let mut want = vec![keys[0].clone(), keys[1].clone()];
    want.sort();
    assert_eq!(proposed, want);
    assert_eq!(filtered("state=no-route").await, [keys[4].clone()]);
    assert_eq!(filtered("rule=SQS_QUEUE_ENCRYPTED").await, [keys[0].clone()]);
    assert_eq!(filtered("rule=cloudtrail-enabled").await, [keys[2].clone()], "matches the rule name too");
    assert_eq!(filtered("account=210987654321").await, [keys[4].clone()]);
    assert_eq!(filtered("repo=examples").await.len(), 4, "the route name");
    let by_path = format!("repo={}", repo.path().display());
    let (_, _, v) = get(&app, &format!("/api/findings?{by_path}"), auth).await;
    assert_eq!(keys_of(&v).len(), 4, "the repository");
    assert!(filtered("state=proposed&account=210987654321").await.is_empty());
    assert_eq!(filtered("state=&rule=").await.len(), 5, "empty values do not filter");

    // Paging: 2 + 2 + 1, in the same order as the full listing, each page's `next` leading on.
    let mut paged = Vec::new();
    let mut uri = "/api/findings?limit=2".to_owned();
    loop {
        let (status, _, page) = get(&app, &uri, auth).await;
        assert_eq!(status, StatusCode::OK);
        let ks = keys_of(&page);
        assert!(ks.len() <= 2);
        paged.extend(ks);
        match page["next"].as_str() {
            Some(next) => uri = format!("/api/findings?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(paged, listed);

    for bad in ["limit=0", "limit=501", "limit=ten", "limit=-1", "after=nonsense", "after=12.a%27b"] {
        let (status, _, body) = get(&app, &format!("/api/findings?{bad}"), auth).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["error"].is_string(), "{bad}");
    }

    let (status, _, d) = get(&app, &format!("/api/findings/{}", keys[0]), auth).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        object_keys(&d),
        [
            "audit",
            "compliance",
            "created_at",
            "diff",
            "events",
            "key",
            "last_evaluated_at",
            "location",
            "outcome",
            "proposal",
            "reason",
            "repo",
            "resource",
            "route",
            "rule",
            "state",
            "updated_at"
        ]
    );
    assert_eq!(d["compliance"], "NON_COMPLIANT");
    assert!(d["diff"].as_str().unwrap().contains("+  sqs_managed_sse_enabled"));
    let events = d["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(object_keys(&events[0]), ["dedup_id", "id", "received_at", "source", "verdict"], "no body");
    assert_eq!((events[0]["source"].as_str(), events[0]["verdict"].as_str()), (Some("eventbridge"), Some("accepted")));
    assert_eq!(d["proposal"]["branch"], format!("driftfix/sqs-queue-encrypted/checkout-events-{}", &keys[0][..8]));
    assert_eq!(d["proposal"]["state"], "rendered");
    let audit: Vec<&str> = d["audit"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(audit, ["event.accepted", "finding.proposed", "proposal.rendered"]);
    assert_eq!(d["audit"][0]["detail"]["source"], "eventbridge", "details are JSON, not text");
    let (_, _, none) = get(&app, &format!("/api/findings/{}", keys[4]), auth).await;
    assert_eq!(
        (none["state"].as_str(), &none["proposal"], &none["location"]),
        (Some("no-route"), &Value::Null, &Value::Null)
    );

    for missing in ["/api/findings/0000000000000000", "/api/findings/bad%20key", "/api/findings/%27%3B--"] {
        let (status, _, body) = get(&app, missing, auth).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(body["error"], "no such finding");
    }
    let (status, _, _) = get(&app, "/api/findings/0000", Some("Bearer wrong")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "authentication comes before lookups");
}
on_both!(the_read_api_lists_filters_pages_and_shows_findings, api_serves_findings, "driftfix_w_");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_command_prints_a_table_and_json() {
    let (store, dir) = support::db::sqlite().await;
    let repo = copy_tree(&examples().join("terraform"));
    let keys = populated(&store, repo.path()).await;
    store.close().await;
    let url = format!("sqlite://{}", dir.path().join("driftfix.db").display());

    let o = support::driftfix(&["findings", "--database-url", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let out = support::stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["KEY", "STATE", "RULE", "RESOURCE", "LOCATION", "UPDATED"]);
    let sqs = lines.iter().find(|l| l.starts_with(&keys[0][..12])).expect("the SQS finding");
    assert!(!sqs.contains(&keys[0][..13]), "keys are cut to 12 characters: {sqs}");
    for part in ["proposed", "SQS_QUEUE_ENCRYPTED", "AWS::SQS::Queue https://sqs.", "main.tf:32"] {
        assert!(sqs.contains(part), "{part} in {sqs}");
    }
    let col = lines[0].find("STATE").unwrap();
    let aligned = |l: &&str| l.get(..col).is_some_and(|p| p.ends_with("  ")) && !l[col..].starts_with(' ');
    assert!(lines.iter().all(aligned), "columns line up: {out}");

    let o = support::driftfix(&["findings", "--database-url", &url, "--state", "proposed", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got = keys_of(&v);
    got.sort();
    let mut want = vec![keys[0].clone(), keys[1].clone()];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(v["next"], Value::Null);

    let o = support::driftfix(&["findings", "--database-url", &url, "--limit", "2", "--output", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(keys_of(&v).len(), 2);
    assert!(v["next"].is_string());

    let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
    let o = support::driftfix(&["findings", "--database-url", &missing]);
    assert_eq!(o.status.code(), Some(2));
    assert!(support::stderr(&o).contains("driftfix migrate"), "{}", support::stderr(&o));
    assert!(!dir.path().join("nope.db").exists(), "no stray database file");
}
