//! The worker against a stateful fake GitHub (tests/support/github.rs): the real octocrab App
//! authentication, the bot's request layer, a real SQLite store. Repositories are seeded with
//! `examples/terraform`; every test ends by asserting the bot made no request the fake does not
//! serve.

mod support;

use driftfix::github::{GitHubApp, GitHubSettings};
use driftfix::store::Store;
use driftfix::worker::Worker;
use std::time::Duration;
use support::github::{APP_ID, BOT_LOGIN, FakeGitHub, deliver};
use support::jira::FakeJira;
use support::{example_event, examples, files_of, record};

const REPO: &str = "acme/infra";

fn worker(store: &Store, gh: &FakeGitHub, dry_run: bool) -> Worker {
    worker_with(store, gh, dry_run, None)
}

fn worker_with(store: &Store, gh: &FakeGitHub, dry_run: bool, jira: Option<&FakeJira>) -> Worker {
    Worker::new(
        store.clone(),
        support::github::worker_config(gh, REPO, dry_run, jira.map(FakeJira::config), Default::default()),
    )
}

async fn setup() -> (FakeGitHub, Store, tempfile::TempDir) {
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, &files_of(&examples().join("terraform")));
    let (store, dir) = support::db::sqlite().await;
    (gh, store, dir)
}

async fn state(store: &Store, key: &str) -> String {
    store.finding_state(key).await.expect("store").expect("finding")
}

fn assert_only_expected(gh: &FakeGitHub) {
    assert_eq!(gh.unexpected(), Vec::<String>::new(), "requests the fake does not serve");
}

#[tokio::test]
async fn a_fix_opens_one_labelled_pull_request_with_exactly_the_engine_change() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");

    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pr = &pulls[0];
    assert_eq!(pr.head, format!("driftfix/sqs-queue-encrypted/checkout-events-{}", &key[..8]));
    assert_eq!(pr.base, "main");
    assert_eq!(pr.user, BOT_LOGIN);
    assert!(!pr.draft, "low risk opens ready for review");
    assert!(pr.body.contains(&format!("<!-- driftfix: {{\"key\": \"{key}\", \"version\": 1}} -->")), "{}", pr.body);
    assert!(pr.body.contains("```diff\n--- a/main.tf"), "{}", pr.body);
    assert_eq!(pr.labels, ["driftfix", "risk:low", "rule:SQS_QUEUE_ENCRYPTED"]);
    let mut repo_labels = gh.repo_labels(REPO);
    repo_labels.sort();
    assert_eq!(repo_labels, ["driftfix", "risk:low", "rule:SQS_QUEUE_ENCRYPTED"], "labels created when missing");

    // The branch is one commit on main, carrying the bot's trailer, changing main.tf only.
    let (head, parents, message) = gh.head(REPO, &pr.head).expect("branch");
    let (main, _, _) = gh.head(REPO, "main").expect("main");
    assert_eq!(parents, [main]);
    assert!(message.contains(&format!("Driftfix-Finding: {key}")), "{message}");
    let originals = files_of(&examples().join("terraform"));
    for (path, text) in &originals {
        let now = gh.file(REPO, &pr.head, path).expect("file on branch");
        if path == "main.tf" {
            assert_ne!(&now, text, "main.tf carries the fix");
            assert!(now.contains("sqs_managed_sse_enabled"), "{now}");
        } else {
            assert_eq!(&now, text, "{path} untouched");
        }
    }
    assert!(
        gh.file(REPO, "main", "main.tf").expect("main.tf") == originals.iter().find(|f| f.0 == "main.tf").unwrap().1
    );

    // Writes: tree, commit, ref, pull request, labels + the three missing labels created once.
    assert_eq!(gh.writes(), 5 + 3);
    let d = store.finding_detail(&key).await.expect("store").expect("finding");
    let p = d.proposal.expect("proposal");
    assert_eq!((p.state.as_str(), p.pr_number), ("open", Some(i64::try_from(pr.number).unwrap())));
    assert_eq!(p.pr_url.as_deref(), Some(format!("https://github.com/{REPO}/pull/{}", pr.number).as_str()));
    assert!(d.audit.iter().any(|a| a.action == "pull_request.opened" && a.detail["head_sha"] == head.as_str()));
    assert_only_expected(&gh);
}

#[tokio::test]
async fn high_risk_fixes_open_as_drafts() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, _) = record(&store, "s3-1", &example_event("eb_compliance_change.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert!(pulls[0].draft, "high risk → draft");
    assert!(pulls[0].labels.contains(&"risk:high".to_owned()));
    assert_only_expected(&gh);
}

#[tokio::test]
async fn redelivery_never_opens_a_second_pull_request_and_a_moved_base_rebuilds_the_branch() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    let first = gh.pulls(REPO)[0].clone();
    let (head1, _, _) = gh.head(REPO, &first.head).expect("branch");
    let writes = gh.writes();

    // Same finding again, nothing moved: the open pull request is found and left as it is.
    record(&store, "sqs-2", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(gh.pulls(REPO).len(), 1);
    assert_eq!(gh.writes(), writes, "no write when the pull request is current");
    assert_eq!(gh.head(REPO, &first.head).expect("branch").0, head1);

    // Someone merges an unrelated change to main: the bot's commit is rebuilt on the new head.
    let main2 = gh.push(REPO, "main", "alice", "docs", &[("README.md", Some("# infra\n"))]);
    record(&store, "sqs-3", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(gh.pulls(REPO).len(), 1, "still one pull request");
    let (head2, parents, _) = gh.head(REPO, &first.head).expect("branch");
    assert_ne!(head2, head1);
    assert_eq!(parents, [main2], "rebuilt on the moved base");
    assert_eq!(gh.writes(), writes + 3, "tree, commit, ref update");
    assert_eq!(state(&store, &key).await, "proposed");
    let d = store.finding_detail(&key).await.expect("store").expect("finding");
    let actions: Vec<&str> =
        d.audit.iter().map(|a| a.action.as_str()).filter(|a| a.starts_with("pull_request.")).collect();
    assert_eq!(actions, ["pull_request.opened", "pull_request.current", "pull_request.updated"]);
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_human_push_stops_the_bot_with_one_comment() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    let pr = gh.pulls(REPO)[0].clone();
    let human = gh.push(REPO, &pr.head, "bob", "use our KMS key", &[("main.tf", Some("# bob's version\n"))]);
    gh.push(REPO, "main", "alice", "docs", &[("README.md", Some("# infra\n"))]);
    for dedup in ["sqs-2", "sqs-3"] {
        record(&store, dedup, &example_event("securityhub_sqs.json")).await;
        assert!(w.run_once().await.expect("worked"));
    }
    assert_eq!(gh.head(REPO, &pr.head).expect("branch").0, human, "the human's commit is never overwritten");
    let comments = gh.comments(REPO);
    assert_eq!(comments.len(), 1, "said once, not once per event: {comments:?}");
    assert!(comments[0].body.contains("stopped updating"), "{}", comments[0].body);
    assert_eq!(gh.pulls(REPO).len(), 1);
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_pull_request_closed_unmerged_is_an_accepted_risk_and_never_recreated() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    let number = gh.pulls(REPO)[0].number;
    gh.close_pull(REPO, number, false);
    record(&store, "sqs-2", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "accepted-risk");
    assert_eq!(gh.pulls(REPO).len(), 1, "no new pull request");
    let p = store.finding_detail(&key).await.expect("store").expect("finding").proposal.expect("proposal");
    assert_eq!(p.state, "closed");

    // Merged is recorded as merged.
    let (gh2, store2, _dir2) = setup().await;
    let w2 = worker(&store2, &gh2, false);
    let (key2, _) = record(&store2, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w2.run_once().await.expect("worked"));
    gh2.close_pull(REPO, gh2.pulls(REPO)[0].number, true);
    record(&store2, "sqs-2", &example_event("securityhub_sqs.json")).await;
    assert!(w2.run_once().await.expect("worked"));
    assert_eq!(state(&store2, &key2).await, "merged");
    assert_only_expected(&gh);
    assert_only_expected(&gh2);
}

#[tokio::test]
async fn dry_run_reads_from_github_and_writes_nothing() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, true);
    let (key, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    assert_eq!(gh.writes(), 0);
    assert!(gh.pulls(REPO).is_empty());
    let p = store.finding_detail(&key).await.expect("store").expect("finding").proposal.expect("proposal");
    assert_eq!((p.state.as_str(), p.pr_number), ("rendered", None));
    assert_only_expected(&gh);
}

#[tokio::test]
async fn server_errors_and_short_rate_limits_are_retried_into_exactly_one_pull_request() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let secondary = serde_json::json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest" });
    gh.fail("POST", "/repos/{owner}/{repo}/pulls", 1, 500, &[], serde_json::json!({ "message": "Server Error" }));
    gh.fail("POST", "/repos/{owner}/{repo}/git/commits", 1, 403, &[("retry-after", "1")], secondary);
    gh.fail(
        "POST",
        "/repos/{owner}/{repo}/git/trees",
        1,
        429,
        &[("retry-after", "1")],
        serde_json::json!({ "message": "Too Many Requests" }),
    );
    gh.fail(
        "GET",
        "/repos/{owner}/{repo}/git/blobs/{file_sha}",
        2,
        502,
        &[],
        serde_json::json!({ "message": "Bad Gateway" }),
    );
    let (key, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    assert_eq!(gh.pulls(REPO).len(), 1);
    let injected = gh.log().iter().filter(|l| l.injected).count();
    assert_eq!(injected, 5, "every fault was hit and retried past");
    assert_only_expected(&gh);
}

#[tokio::test]
async fn an_exhausted_rate_limit_parks_the_finding_without_spending_an_attempt() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let reset = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 4).to_string();
    gh.fail(
        "POST",
        "/repos/{owner}/{repo}/pulls",
        1,
        403,
        &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)],
        serde_json::json!({ "message": "API rate limit exceeded for installation." }),
    );
    let (key, job) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "rate-limited");
    let (job_state, attempts, error, run_at) = store.job_status(job.unwrap()).await.unwrap().unwrap();
    assert_eq!((job_state.as_str(), attempts), ("queued", 0), "no attempt spent");
    assert!(error.unwrap_or_default().contains("primary limit"));
    assert!(run_at > i64::try_from(reset.parse::<u64>().unwrap() * 1000 - 2000).unwrap());
    assert!(!w.run_once().await.expect("polled"), "not before the reset");
    tokio::time::sleep(Duration::from_millis(u64::try_from(run_at - now_ms()).unwrap_or(0) + 50)).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    assert_eq!(gh.pulls(REPO).len(), 1, "the ref from the first try is reused, not duplicated");
    assert_eq!(gh.branches(REPO).len(), 2, "main and the one bot branch");
    assert_only_expected(&gh);
}

fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

#[tokio::test]
async fn an_installation_token_revoked_mid_run_is_replaced() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    let tokens_before = gh.log().iter().filter(|l| l.template.is_some_and(|t| t.ends_with("/access_tokens"))).count();
    assert_eq!(tokens_before, 1, "one token, cached across the whole job");
    gh.expire_tokens();
    let (key, _) = record(&store, "s3-1", &example_event("eb_compliance_change.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    let log = gh.log();
    assert!(log.iter().any(|l| l.status == 401), "the stale token was refused once");
    let tokens = log.iter().filter(|l| l.template.is_some_and(|t| t.ends_with("/access_tokens"))).count();
    assert_eq!(tokens, 2, "and replaced");
    assert_eq!(gh.pulls(REPO).len(), 2);
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_repository_without_the_app_fails_the_job_with_a_clear_error() {
    let (gh, _store, _dir) = setup().await;
    let app = GitHubApp::new(gh.app_settings()).expect("App client");
    let missing = driftfix::github::RepoName::parse("acme/elsewhere").unwrap();
    let err = app.snapshot(&missing, &[]).await.expect_err("not installed");
    assert!(err.to_string().contains("not installed on acme/elsewhere"), "{err}");
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_wrong_private_key_is_refused_by_github_and_never_printed() {
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, &files_of(&examples().join("terraform")));
    let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&other).unwrap();
    use base64::Engine;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let mut s = gh.app_settings();
    s.private_key = pem.clone().into();
    let app = GitHubApp::new(s).expect("a well-formed key");
    let err = app.snapshot(&driftfix::github::RepoName::parse(REPO).unwrap(), &[]).await.expect_err("bad signature");
    let text = format!("{err} {err:?} {app:?}");
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains(&pem[30..80]), "the key never appears in errors or Debug");

    let bad = GitHubSettings::new(APP_ID, "not a key".to_owned().into(), &gh.url);
    assert!(GitHubApp::new(bad).unwrap_err().to_string().contains("not an RSA key in PEM form"));
}

// ---------------------------------------------------------------------------------------------
// Webhooks: recorded as intake records them, worked by the worker.

fn pull_event(action: &str, merged: bool, number: u64, branch: &str, sender: &str) -> serde_json::Value {
    support::github::pull_event(REPO, action, merged, number, branch, sender)
}

/// A human's pull request opened or pushed to.
fn human_pull_event(action: &str, number: u64, branch: &str, head_sha: &str, sender: &str) -> serde_json::Value {
    serde_json::json!({
        "action": action, "number": number,
        "pull_request": {
            "number": number, "merged": false, "state": "open", "user": { "login": sender, "type": "User" },
            "head": { "ref": branch, "sha": head_sha },
        },
        "repository": { "full_name": REPO }, "sender": { "login": sender, "type": "User" },
    })
}

/// A human opens a pull request from `branch` (cut from main, with `files` changed) and GitHub
/// delivers `pull_request.opened`.
async fn human_pull(gh: &FakeGitHub, store: &Store, branch: &str, files: &[(&str, Option<&str>)]) -> u64 {
    gh.branch(REPO, "main", branch);
    let head = gh.push(REPO, branch, "dana", "change", files);
    let number = gh.open_pull_as(REPO, branch, "dana", "A change");
    assert!(
        deliver(
            store,
            "pull_request",
            &format!("{branch}-opened"),
            human_pull_event("opened", number, branch, &head, "dana")
        )
        .await
    );
    number
}

fn comment_event(number: u64, body: &str, sender: &str) -> serde_json::Value {
    serde_json::json!({
        "action": "created",
        "issue": { "number": number, "pull_request": { "url": "https://api.github.com/x" } },
        "comment": { "id": 1, "body": body, "user": { "login": sender, "type": "User" } },
        "repository": { "full_name": REPO }, "sender": { "login": sender, "type": "User" },
    })
}

async fn audit_actions(store: &Store, key: &str) -> Vec<(String, String)> {
    let d = store.finding_detail(key).await.expect("store").expect("finding");
    d.audit.into_iter().map(|a| (a.actor, a.action)).collect()
}

async fn opened(gh: &FakeGitHub, store: &Store, w: &Worker) -> (String, support::github::Pull) {
    let (key, _) = record(store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    (key, gh.pulls(REPO)[0].clone())
}

#[tokio::test]
async fn merged_webhook_marks_the_finding_merged_and_redelivery_is_ignored() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, pr) = opened(&gh, &store, &w).await;
    gh.close_pull(REPO, pr.number, true);
    assert!(deliver(&store, "pull_request", "d-1", pull_event("closed", true, pr.number, &pr.head, "erin")).await);
    assert!(
        !deliver(&store, "pull_request", "d-1", pull_event("closed", true, pr.number, &pr.head, "erin")).await,
        "redelivery"
    );
    assert!(w.run_once().await.expect("worked"));
    assert!(!w.run_once().await.expect("polled"), "one job for one delivery");
    assert_eq!(state(&store, &key).await, "merged");
    let p = store.finding_detail(&key).await.unwrap().unwrap().proposal.unwrap();
    assert_eq!(p.state, "merged");
    assert!(audit_actions(&store, &key).await.contains(&("github:erin".into(), "pull_request.merged".into())));
    // A human's own branch closing is not work at all.
    assert!(!deliver(&store, "pull_request", "d-2", pull_event("closed", true, 99, "feature/x", "erin")).await);
    assert_only_expected(&gh);
}

#[tokio::test]
async fn closing_unmerged_records_the_closer_and_their_reason_and_reopening_lifts_it() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, pr) = opened(&gh, &store, &w).await;
    gh.comment_as(REPO, pr.number, "frank", "Queue is encrypted by the platform module instead.");
    gh.close_pull(REPO, pr.number, false);
    assert!(deliver(&store, "pull_request", "d-1", pull_event("closed", false, pr.number, &pr.head, "frank")).await);
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "accepted-risk");
    let a = store.acceptance(&key).await.unwrap().unwrap();
    assert_eq!(a.accepted_by.as_deref(), Some("frank"));
    assert_eq!(a.reason.as_deref(), Some("Queue is encrypted by the platform module instead."));

    // New evaluations of an accepted risk change nothing and open nothing.
    let writes = gh.writes();
    record(&store, "sqs-2", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "accepted-risk");
    assert_eq!(gh.writes(), writes);

    assert!(deliver(&store, "pull_request", "d-2", pull_event("reopened", false, pr.number, &pr.head, "frank")).await);
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_rate_limited_webhook_job_waits_for_the_reset_without_spending_an_attempt() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (_, pr) = opened(&gh, &store, &w).await;
    gh.set_permission(REPO, "grace", "write");
    let reset = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3).to_string();
    gh.fail(
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        1,
        403,
        &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)],
        serde_json::json!({ "message": "API rate limit exceeded for installation." }),
    );
    assert!(deliver(&store, "issue_comment", "c-1", comment_event(pr.number, "@driftfix explain", "grace")).await);
    assert!(w.run_once().await.expect("worked"));
    let (job_state, attempts, run_at) = {
        let Store::Sqlite(pool) = &store else { panic!() };
        sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT state, attempts, run_at FROM jobs WHERE kind = 'github:issue_comment'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    assert_eq!((job_state.as_str(), attempts), ("queued", 0), "waiting for the reset is not a failed attempt");
    assert!(run_at > now_ms(), "due after the reset");
    assert!(gh.comments(REPO).is_empty());
    tokio::time::sleep(Duration::from_millis(u64::try_from(run_at - now_ms()).unwrap_or(0) + 50)).await;
    while w.run_once().await.expect("worked") {}
    assert_eq!(gh.comments(REPO).len(), 1, "one reply once the limit resets");
    assert_only_expected(&gh);
}

#[tokio::test]
async fn comment_commands_need_write_access_and_the_bot_edits_one_reply() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, pr) = opened(&gh, &store, &w).await;
    gh.set_permission(REPO, "grace", "write");

    // A reader is refused politely; nothing changes.
    assert!(
        deliver(&store, "issue_comment", "c-1", comment_event(pr.number, "@driftfix ignore not needed", "mallory"))
            .await
    );
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    let replies = gh.comments(REPO);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].body.contains("only people with write access"), "{}", replies[0].body);

    // explain: the same reply comment is edited, not a second one posted.
    assert!(deliver(&store, "issue_comment", "c-2", comment_event(pr.number, "@driftfix explain", "grace")).await);
    assert!(w.run_once().await.expect("worked"));
    let replies = gh.comments(REPO);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].body.contains("SQS_QUEUE_ENCRYPTED") && replies[0].body.contains("aws_sqs_queue.checkout_events"),
        "{}",
        replies[0].body
    );

    // ignore with an expiry: accepted, pull request closed by the bot, its own close event changes nothing.
    let cmd = "@driftfix ignore compensating control in the VPC until 2099-01-31";
    assert!(deliver(&store, "issue_comment", "c-3", comment_event(pr.number, cmd, "grace")).await);
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "accepted-risk");
    assert_eq!(gh.pulls(REPO)[0].state, "closed");
    assert!(deliver(&store, "pull_request", "d-9", pull_event("closed", false, pr.number, &pr.head, BOT_LOGIN)).await);
    assert!(w.run_once().await.expect("worked"));
    let a = store.acceptance(&key).await.unwrap().unwrap();
    assert_eq!(
        (a.accepted_by.as_deref(), a.reason.as_deref()),
        (Some("grace"), Some("compensating control in the VPC"))
    );
    assert_eq!(a.accepted_until.map(driftfix::store::format_time).as_deref(), Some("2099-02-01T00:00:00.000Z"));
    assert!(gh.comments(REPO)[0].body.contains("the risk is accepted until 2099-01-31"));

    // recreate: the acceptance is lifted and a new pull request opens on the same branch.
    assert!(deliver(&store, "issue_comment", "c-4", comment_event(pr.number, "@driftfix recreate", "grace")).await);
    assert!(w.run_once().await.expect("worked"), "the command");
    assert!(w.run_once().await.expect("worked"), "the remediation it queued");
    assert_eq!(state(&store, &key).await, "proposed");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    assert_eq!((pulls[1].state.as_str(), pulls[1].head.as_str()), ("open", pr.head.as_str()));
    assert_eq!(gh.comments(REPO).len(), 1, "still one reply comment");
    let actions = audit_actions(&store, &key).await;
    assert!(actions.contains(&("github:grace".into(), "risk.accepted".into())));
    assert!(actions.contains(&("github:grace".into(), "risk.lifted".into())));
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_reply_past_the_first_hundred_comments_is_still_edited_not_repeated() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (_key, pr) = opened(&gh, &store, &w).await;
    gh.set_permission(REPO, "grace", "write");
    for i in 0..130 {
        gh.comment_as(REPO, pr.number, "grace", &format!("review note {i}"));
    }
    // The bot's reply is comment 131: on the second page of 100.
    assert!(deliver(&store, "issue_comment", "c-1", comment_event(pr.number, "@driftfix ignore", "mallory")).await);
    assert!(w.run_once().await.expect("worked"));
    assert!(deliver(&store, "issue_comment", "c-2", comment_event(pr.number, "@driftfix explain", "grace")).await);
    assert!(w.run_once().await.expect("worked"));
    let bot: Vec<_> = gh.comments(REPO).into_iter().filter(|c| c.user != "grace").collect();
    assert_eq!(bot.len(), 1, "one reply, edited: {bot:?}");
    assert!(bot[0].body.contains("aws_sqs_queue.checkout_events"), "{}", bot[0].body);
    assert_only_expected(&gh);
}

#[tokio::test]
async fn an_expired_acceptance_proposes_the_fix_again() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (key, pr) = opened(&gh, &store, &w).await;
    gh.close_pull(REPO, pr.number, false);
    store
        .accept_risk(&key, "heidi", "until the migration", Some(driftfix::store::now_ms() - 1), Some(1))
        .await
        .unwrap();
    record(&store, "sqs-2", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &key).await, "proposed");
    assert_eq!(gh.pulls(REPO).len(), 2, "a new pull request after the acceptance expired");
    assert_only_expected(&gh);
}

// ---------------------------------------------------------------------------------------------
// The fake against GitHub's own description

/// GitHub's REST description (`@octokit/openapi`, fetched by `.ci/run`), or `None` when skipped on
/// purpose with `DRIFTFIX_SKIP_GITHUB_SPEC=1`.
#[tokio::test]
async fn a_pull_request_changing_the_repo_config_gets_one_validating_comment_kept_current() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    // A pull request that does not touch the file: one listing of its files, nothing written.
    let other = human_pull(&gh, &store, "docs", &[("README.md", Some("# infra\n"))]).await;
    while w.run_once().await.expect("worked") {}
    assert!(gh.comments(REPO).iter().all(|c| c.issue != other), "no comment on an unrelated pull request");

    let broken = "labels = [\"security\"]\nrules = [\"no-such-rule\"]\nenabled = false\n";
    let number = human_pull(&gh, &store, "tune-driftfix", &[(".github/driftfix.toml", Some(broken))]).await;
    while w.run_once().await.expect("worked") {}
    let comments: Vec<_> = gh.comments(REPO).into_iter().filter(|c| c.issue == number).collect();
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    // The unknown rule (which leaves the server's rules in force) and the off switch.
    assert!(body.contains("has 2 problems"), "{body}");
    assert!(body.contains(".github/driftfix.toml:2: `rules` names `no-such-rule`"), "{body}");
    assert!(body.contains(".github/driftfix.toml:3: `enabled` loosens the server's setting"), "{body}");
    assert!(body.contains("| `labels` | security |"), "{body}");
    assert!(body.contains("| `enabled` | yes |"), "the server's value stays: {body}");
    let first_head = gh.head(REPO, "tune-driftfix").expect("branch").0;
    insta::assert_snapshot!("config_comment_problems", body.replace(&first_head[..7], "<sha>"));

    // The author fixes it: the same comment now says the file is valid.
    let fixed = "labels = [\"security\"]\n\n[risk]\nhigh = \"pr\"\n";
    let head = gh.push(REPO, "tune-driftfix", "dana", "fix", &[(".github/driftfix.toml", Some(fixed))]);
    let sync = human_pull_event("synchronize", number, "tune-driftfix", &head, "dana");
    assert!(deliver(&store, "pull_request", "tune-sync", sync).await);
    while w.run_once().await.expect("worked") {}
    let comments: Vec<_> = gh.comments(REPO).into_iter().filter(|c| c.issue == number).collect();
    assert_eq!(comments.len(), 1, "the bot edits its comment instead of adding one");
    assert!(comments[0].body.contains(&format!("is valid (at {})", &head[..7])), "{}", comments[0].body);
    assert!(!comments[0].body.contains("problem"), "{}", comments[0].body);
    insta::assert_snapshot!("config_comment_valid", comments[0].body.replace(&head[..7], "<sha>"));
    // Asking for more than the server (high-risk fixes as ready pull requests) needs no permission.
    assert!(comments[0].body.contains("| `risk` | low: pr, medium: pr, high: pr |"), "{}", comments[0].body);
    assert_only_expected(&gh);
}

#[tokio::test]
async fn quick_pushes_are_checked_once_at_the_newest_head_and_closed_pull_requests_not_at_all() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let broken = "rules = [\"no-such-rule\"]\n";
    gh.branch(REPO, "main", "tune");
    let first = gh.push(REPO, "tune", "dana", "broken", &[(".github/driftfix.toml", Some(broken))]);
    let number = gh.open_pull_as(REPO, "tune", "dana", "Tune driftfix");
    assert!(deliver(&store, "pull_request", "t-1", human_pull_event("opened", number, "tune", &first, "dana")).await);
    // The author pushes the fix before the worker gets to the first event.
    let second =
        gh.push(REPO, "tune", "dana", "fixed", &[(".github/driftfix.toml", Some("labels = [\"security\"]\n"))]);
    assert!(
        deliver(&store, "pull_request", "t-2", human_pull_event("synchronize", number, "tune", &second, "dana")).await
    );
    while w.run_once().await.expect("worked") {}
    let comments: Vec<_> = gh.comments(REPO).into_iter().filter(|c| c.issue == number).collect();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].body.contains(&format!("is valid (at {})", &second[..7])), "{}", comments[0].body);
    let files_requests = gh.log().iter().filter(|l| l.template.is_some_and(|t| t.ends_with("/files"))).count();
    assert_eq!(files_requests, 1, "the outdated event read no files");

    // A pull request closed before its event is worked gets nothing.
    let third = gh.push(REPO, "tune", "dana", "again", &[(".github/driftfix.toml", Some(broken))]);
    assert!(
        deliver(&store, "pull_request", "t-3", human_pull_event("synchronize", number, "tune", &third, "dana")).await
    );
    gh.close_pull(REPO, number, false);
    while w.run_once().await.expect("worked") {}
    let comments: Vec<_> = gh.comments(REPO).into_iter().filter(|c| c.issue == number).collect();
    assert!(comments[0].body.contains("is valid"), "unchanged: {}", comments[0].body);
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_push_landing_while_the_check_runs_is_checked_too() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    gh.branch(REPO, "main", "tune");
    let broken = gh.push(REPO, "tune", "dana", "broken", &[(".github/driftfix.toml", Some("rules = [\"nope\"]\n"))]);
    let number = gh.open_pull_as(REPO, "tune", "dana", "Tune driftfix");
    assert!(deliver(&store, "pull_request", "t-1", human_pull_event("opened", number, "tune", &broken, "dana")).await);
    // The author pushes the fix after the bot read the head, while it reads the changed files; that
    // push's own job may well have finished already (another worker).
    gh.before_next("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", |s| {
        s.push(REPO, "tune", "dana", "fixed", &[(".github/driftfix.toml", Some("labels = [\"security\"]\n"))]);
    });
    while w.run_once().await.expect("worked") {}
    let fixed = gh.head(REPO, "tune").expect("branch").0;
    assert_ne!(fixed, broken);
    let comments: Vec<_> = gh.comments(REPO).into_iter().filter(|c| c.issue == number).collect();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].body.contains(&format!("is valid (at {})", &fixed[..7])), "{}", comments[0].body);
    assert_only_expected(&gh);
}

fn github_spec() -> Option<support::openapi::Spec> {
    if std::env::var_os("DRIFTFIX_SKIP_GITHUB_SPEC").is_some() {
        return None;
    }
    let path = std::env::var("DRIFTFIX_TEST_GITHUB_OPENAPI").expect(
        "DRIFTFIX_TEST_GITHUB_OPENAPI is not set: run .ci/run, or DRIFTFIX_SKIP_GITHUB_SPEC=1 to skip the spec check",
    );
    Some(support::openapi::Spec::load(std::path::Path::new(&path)))
}

#[tokio::test]
async fn every_route_and_answer_of_the_fake_matches_githubs_openapi_description() {
    let Some(spec) = github_spec() else { return };
    for (method, template) in support::github::ROUTES {
        assert!(spec.has_operation(method, template), "{method} {template} is not in GitHub's description");
    }

    // A scenario that reaches every route: open, rebuild, human push, commands, ignore (closes).
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (_, pr) = opened(&gh, &store, &w).await;
    gh.push(REPO, "main", "alice", "docs", &[("README.md", Some("# infra\n"))]);
    record(&store, "sqs-2", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("worked"));
    gh.set_permission(REPO, "grace", "write");
    assert!(deliver(&store, "issue_comment", "c-1", comment_event(pr.number, "@driftfix explain", "grace")).await);
    assert!(
        deliver(
            &store,
            "issue_comment",
            "c-2",
            comment_event(pr.number, "@driftfix ignore ok until 2099-01-01", "grace")
        )
        .await
    );
    while w.run_once().await.expect("worked") {}
    gh.push(REPO, &pr.head, "bob", "mine", &[("main.tf", Some("# bob\n"))]);
    assert!(deliver(&store, "issue_comment", "c-3", comment_event(pr.number, "@driftfix recreate", "grace")).await);
    while w.run_once().await.expect("worked") {}
    let app = GitHubApp::new(gh.app_settings()).expect("App client");
    let inst = app.installation(&driftfix::github::RepoName::parse(REPO).unwrap()).await.unwrap();
    let reviewers = serde_json::json!({ "reviewers": ["grace"], "team_reviewers": ["platform"] });
    let route = format!("/repos/{REPO}/pulls/{}/requested_reviewers", pr.number);
    inst.write::<serde_json::Value>(http::Method::POST, &route, &reviewers).await.expect("reviewers");

    human_pull(&gh, &store, "tune", &[(".github/driftfix.toml", Some("labels = [\"security\"]\n"))]).await;
    while w.run_once().await.expect("worked") {}
    // An outcome without a pull request, in a repository that asks for issues.
    gh.push(REPO, "main", "alice", "issues", &[(".github/driftfix.toml", Some("github_issues = true\n"))]);
    let unmanaged = support::compliance_event("restricted-ssh", "AWS::EC2::SecurityGroup", "sg-0000dead");
    record(&store, "unmanaged", &unmanaged).await;
    while w.run_once().await.expect("worked") {}
    assert_eq!(gh.issues(REPO).len(), 1);

    let log = gh.log();
    let mut checked = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for l in log.iter().filter(|l| !l.injected) {
        let Some(template) = l.template else { continue };
        checked.insert((l.method.clone(), template));
        if let Some(body) = &l.request
            && let Err(e) = spec.validate_request(&l.method, template, body)
        {
            problems.push(format!("{} {} request: {e:?}", l.method, l.path));
        }
        if let Err(e) = spec.validate_response(&l.method, template, l.status, &l.response) {
            problems.push(format!("{} {} → {}: {e:?}", l.method, l.path, l.status));
        }
    }
    assert_eq!(problems, Vec::<String>::new());
    let unexercised: Vec<_> =
        support::github::ROUTES.iter().filter(|(m, t)| !checked.contains(&((*m).to_owned(), *t))).collect();
    assert_eq!(unexercised, Vec::<&(&str, &str)>::new(), "every route's answers were checked");
    assert_only_expected(&gh);
}

// ---------------------------------------------------------------------------------------------
// Jira in the loop

/// Make every queued job due now (the queue's backoff is seconds; tests do not wait it out).
async fn make_jobs_due(store: &Store) {
    let Store::Sqlite(pool) = store else { panic!("SQLite store") };
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'").execute(pool).await.expect("update");
}

#[tokio::test]
async fn a_fix_gets_one_ticket_linked_both_ways_and_the_merge_closes_it() {
    let (gh, store, _dir) = setup().await;
    let jira = FakeJira::start(driftfix::jira::Flavor::Cloud).await;
    let w = worker_with(&store, &gh, false, Some(&jira));
    let (key, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("remediation"));
    assert!(w.run_once().await.expect("ticket"));
    let issues = jira.issues();
    assert_eq!(issues.len(), 1);
    let ticket = &issues[0];
    assert!(ticket.labels.contains(&format!("driftfix-{}", &key[..12])), "{:?}", ticket.labels);
    assert!(ticket.summary.contains("sqs-queue-encrypted") || ticket.summary.contains("SQS"), "{}", ticket.summary);
    let pr = gh.pulls(REPO)[0].clone();
    let links = jira.links(&ticket.key);
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].object["url"], format!("https://github.com/{REPO}/pull/{}", pr.number));
    assert!(pr.body.contains(&format!("[{}](", ticket.key)), "the pull request links the ticket: {}", pr.body);
    assert!(pr.body.trim_end().ends_with("-->"), "the hidden metadata stays last");
    assert_eq!(gh.writes(), 5 + 3 + 1, "five writes, three label creations, one body update");
    assert_eq!(store.ticket_key(&key).await.unwrap().as_deref(), Some(ticket.key.as_str()));

    // Redelivery: same pull request, same ticket, nothing new anywhere.
    record(&store, "sqs-2", &example_event("securityhub_sqs.json")).await;
    while w.run_once().await.expect("worked") {}
    assert_eq!(jira.issues().len(), 1);
    assert_eq!(jira.links(&ticket.key).len(), 1);
    assert_eq!(gh.pulls(REPO).len(), 1);

    // Merge → the ticket moves to a done-category status, with a comment.
    gh.close_pull(REPO, pr.number, true);
    assert!(deliver(&store, "pull_request", "d-1", pull_event("closed", true, pr.number, &pr.head, "erin")).await);
    while w.run_once().await.expect("worked") {}
    assert_eq!(jira.status_of(&ticket.key), Some("Done"));
    assert!(jira.comments(&ticket.key).iter().any(|c| c.to_string().contains("Merged by @erin")));
    assert_eq!(state(&store, &key).await, "merged");
    assert_only_expected(&gh);
    assert!(jira.unexpected().is_empty(), "{:?}", jira.unexpected());
}

#[tokio::test]
async fn with_jira_down_the_pull_request_still_opens_and_the_ticket_follows_exactly_once() {
    let (gh, store, _dir) = setup().await;
    let jira = FakeJira::start(driftfix::jira::Flavor::Cloud).await;
    jira.set_down(true);
    let w = worker_with(&store, &gh, false, Some(&jira));
    let (key, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("remediation"));
    assert_eq!(gh.pulls(REPO).len(), 1, "the pull request does not wait for Jira");
    assert_eq!(state(&store, &key).await, "proposed");
    assert!(w.run_once().await.expect("ticket attempt"));
    assert!(jira.issues().is_empty());
    let (job_state, attempts, error) = {
        let Store::Sqlite(pool) = &store else { panic!() };
        sqlx::query_as::<_, (String, i64, Option<String>)>(
            "SELECT state, attempts, last_error FROM jobs WHERE kind = 'ticket'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    assert_eq!((job_state.as_str(), attempts), ("queued", 1), "retried later by the queue");
    assert!(error.unwrap_or_default().contains("Jira"));

    jira.set_down(false);
    make_jobs_due(&store).await;
    while w.run_once().await.expect("worked") {}
    assert_eq!(jira.issues().len(), 1, "exactly one ticket");
    let ticket = jira.issues()[0].key.clone();
    assert_eq!(jira.links(&ticket).len(), 1);
    assert!(gh.pulls(REPO)[0].body.contains(&ticket));
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_jira_rate_limit_makes_the_ticket_job_wait_without_spending_an_attempt() {
    let (gh, store, _dir) = setup().await;
    let jira = FakeJira::start(driftfix::jira::Flavor::Cloud).await;
    let w = worker_with(&store, &gh, false, Some(&jira));
    record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    assert!(w.run_once().await.expect("remediation"));
    jira.fail_next(1, 429, &[("Retry-After", "30")]);
    let before = driftfix::store::now_ms();
    assert!(w.run_once().await.expect("ticket attempt"));
    let (job_state, attempts, run_at) = {
        let Store::Sqlite(pool) = &store else { panic!() };
        sqlx::query_as::<_, (String, i64, i64)>("SELECT state, attempts, run_at FROM jobs WHERE kind = 'ticket'")
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!((job_state.as_str(), attempts), ("queued", 0), "waiting is not failing");
    assert!(run_at >= before + 30_000, "Retry-After is honoured: due {}ms later", run_at - before);
    assert!(!w.run_once().await.expect("nothing due"), "the ticket job waits");
    make_jobs_due(&store).await;
    while w.run_once().await.expect("worked") {}
    assert_eq!(jira.issues().len(), 1, "exactly one ticket once Jira lets us");
}

#[tokio::test]
async fn advice_and_no_match_outcomes_get_a_ticket_without_a_pull_request() {
    let (gh, store, _dir) = setup().await;
    let jira = FakeJira::start(driftfix::jira::Flavor::DataCenter).await;
    let w = worker_with(&store, &gh, false, Some(&jira));
    let (key, _) = record(&store, "rds-1", &example_event("eb_rds_public.json")).await;
    while w.run_once().await.expect("worked") {}
    assert_eq!(state(&store, &key).await, "no-match");
    assert!(gh.pulls(REPO).is_empty());
    let issues = jira.issues();
    assert_eq!(issues.len(), 1);
    let text = issues[0].description.to_string();
    assert!(text.contains("import"), "the ticket suggests an import block: {text}");
    assert_eq!(gh.writes(), 0);
    assert!(jira.unexpected().is_empty());
    assert_only_expected(&gh);
}

// ---------------------------------------------------------------------------------------------
// What people read: snapshots of the pull request and the bot's replies

#[tokio::test]
async fn pull_request_text_and_replies_read_as_reviewed() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, false);
    let (_, pr) = opened(&gh, &store, &w).await;
    insta::assert_snapshot!("pull_request_sqs", format!("{}\n\n{}", pr.title, pr.body));

    assert!(deliver(&store, "issue_comment", "c-1", comment_event(pr.number, "@driftfix ignore", "mallory")).await);
    assert!(w.run_once().await.expect("worked"));
    insta::assert_snapshot!("reply_refusal", gh.comments(REPO)[0].body);

    gh.set_permission(REPO, "grace", "admin");
    assert!(deliver(&store, "issue_comment", "c-2", comment_event(pr.number, "@driftfix deploy now", "grace")).await);
    assert!(w.run_once().await.expect("worked"));
    insta::assert_snapshot!("reply_usage", gh.comments(REPO)[0].body);

    let cmd = "@driftfix ignore handled by the platform team until 2099-06-30";
    assert!(deliver(&store, "issue_comment", "c-3", comment_event(pr.number, cmd, "grace")).await);
    assert!(w.run_once().await.expect("worked"));
    insta::assert_snapshot!("reply_ignore", gh.comments(REPO)[0].body);
    assert_eq!(gh.comments(REPO).len(), 1, "one reply, edited each time");
    assert_only_expected(&gh);
}
