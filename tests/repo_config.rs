//! The per-repository configuration (`.github/driftfix.toml` over the server's `[repos]` table),
//! CODEOWNERS reviewers and the pull request limits, as the worker applies them against the stateful
//! fake GitHub and fake Jira (tests/support). `src/config/repo.rs` tests how a file resolves; this
//! file holds the worker to what the resolved settings promise on GitHub and in Jira: the off switch
//! and turned-off rules write nothing, a repository may tighten but loosens only what
//! `allowed_overrides` lets it (and a refusal is audited with its line), reviewers come from the
//! file or else from CODEOWNERS, risk routing makes drafts or ticket-only findings, and the limits
//! park a finding as `rate-limited` without spending an attempt. Every test ends by asserting the
//! fakes saw no request they do not serve.

mod support;

use driftfix::config::repo::{Override, RepoDefaults};
use driftfix::store::Store;
use driftfix::worker::Worker;
use support::github::{FakeGitHub, deliver};
use support::jira::{FakeJira, OTHER_PROJECT, PROJECT};
use support::{example_event, examples, files_of, record};

const REPO: &str = "acme/infra";
/// Where the web security group (`example-security-group-2`, SSH open to the world) lives.
const SG_FILE: &str = "modules/network/main.tf";
const REVIEWERS_ROUTE: &str = "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers";

// ---------------------------------------------------------------------------------------------
// Helpers

/// A worker with one route to [`REPO`], the default policy and the given `[repos]` table.
fn worker(store: &Store, gh: &FakeGitHub, repos: RepoDefaults, jira: Option<&FakeJira>) -> Worker {
    Worker::new(store.clone(), support::github::worker_config(gh, REPO, false, jira.map(FakeJira::config), repos))
}

/// The server's defaults, letting repositories loosen `keys`.
fn allowing(keys: &[Override]) -> RepoDefaults {
    RepoDefaults { allowed_overrides: keys.to_vec(), ..RepoDefaults::default() }
}

/// The fake GitHub with [`REPO`] seeded from `examples/terraform`.
async fn fake_github() -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, &files_of(&examples().join("terraform")));
    gh
}

async fn setup() -> (FakeGitHub, Store, tempfile::TempDir) {
    let gh = fake_github().await;
    let (store, dir) = support::db::sqlite().await;
    (gh, store, dir)
}

/// Commit files on the default branch, as a maintainer would.
fn commit(gh: &FakeGitHub, files: &[(&str, &str)]) {
    let files: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (*p, Some(*t))).collect();
    gh.push(REPO, "main", "alice", "maintainer change", &files);
}

fn repo_config(gh: &FakeGitHub, text: &str) {
    commit(gh, &[(".github/driftfix.toml", text)]);
}

/// AWS Config: SSH open to the world on `example-security-group-2` (rule `restricted-ssh`, medium
/// risk, fixed in [`SG_FILE`]).
fn ssh_event() -> String {
    example_event("eb_ci_change.json")
}

/// The same finding on another security group.
fn ssh_event_on(group_name: &str, group_id: &str) -> String {
    ssh_event().replace("example-security-group-2", group_name).replace("sg-3f1fef43", group_id)
}

/// A second security group with SSH open to the world, in the root module.
const BASTION_SG: &str = r#"resource "aws_security_group" "bastion" {
  name   = "bastion-ssh"
  vpc_id = var.vpc_id

  ingress {
    description = "SSH"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"#;

/// The web security group's file with literal `tags` on the block.
fn tagged_sg(tags: &str) -> String {
    let original = files_of(&examples().join("terraform")).into_iter().find(|(p, _)| p == SG_FILE).expect("SG file").1;
    let anchor = "  vpc_id      = var.vpc_id\n";
    assert!(original.contains(anchor), "the web security group's vpc_id line moved");
    original.replacen(anchor, &format!("{anchor}\n  tags = {{\n    {tags}\n  }}\n"), 1)
}

async fn work_all(w: &Worker) {
    while w.run_once().await.expect("worked") {}
}

async fn state(store: &Store, key: &str) -> String {
    store.finding_state(key).await.expect("store").expect("finding")
}

/// Every problem the worker audited for the finding's repository configuration, as rendered.
async fn problems(store: &Store, key: &str) -> Vec<String> {
    let d = store.finding_detail(key).await.expect("store").expect("finding");
    d.audit
        .iter()
        .filter(|a| a.action == "repo_config.problems")
        .flat_map(|a| a.detail["problems"].as_array().cloned().unwrap_or_default())
        .map(|p| p.as_str().expect("a problem is text").to_owned())
        .collect()
}

/// The bodies the bot sent to the review request route.
fn review_requests(gh: &FakeGitHub) -> Vec<(u16, serde_json::Value)> {
    gh.log()
        .into_iter()
        .filter(|l| l.template == Some(REVIEWERS_ROUTE))
        .map(|l| (l.status, l.request.unwrap_or_default()))
        .collect()
}

fn assert_only_expected(gh: &FakeGitHub) {
    assert_eq!(gh.unexpected(), Vec::<String>::new(), "requests the fake GitHub does not serve");
}

fn assert_jira_expected(jira: &FakeJira) {
    assert!(jira.unexpected().is_empty(), "requests the fake Jira does not serve: {:?}", jira.unexpected());
}

fn merged_event(number: u64, branch: &str, sender: &str) -> serde_json::Value {
    support::github::pull_event(REPO, "closed", true, number, branch, sender)
}

/// Make one queued job due now (a limit parks it for minutes or an hour; tests do not wait).
async fn make_due(store: &Store, job: i64) {
    const SQL: &str = "UPDATE jobs SET run_at = 0 WHERE id = $1 AND state = 'queued'";
    let n = match store {
        Store::Sqlite(p) => sqlx::query(SQL).bind(job).execute(p).await.map(|r| r.rows_affected()),
        Store::Postgres(p) => sqlx::query(SQL).bind(job).execute(p).await.map(|r| r.rows_affected()),
    }
    .expect("update");
    assert_eq!(n, 1, "job {job} is queued");
}

fn now_ms() -> i64 {
    driftfix::store::now_ms()
}

// ---------------------------------------------------------------------------------------------
// Without a file; reviewers from CODEOWNERS

#[tokio::test]
async fn without_a_file_the_pull_request_opens_as_before_and_requests_nobody() {
    let (gh, store, _dir) = setup().await;
    let w = worker(&store, &gh, RepoDefaults::default(), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pr = &pulls[0];
    assert!(!pr.draft, "medium risk opens ready for review");
    assert_eq!(pr.labels, ["driftfix", "risk:medium", "rule:INCOMING_SSH_DISABLED"]);
    assert!(pr.reviewers.is_empty() && pr.teams.is_empty(), "{pr:?}");
    assert_eq!(review_requests(&gh), [], "no CODEOWNERS, no configured reviewers: no review request at all");
    assert_eq!(problems(&store, &key).await, Vec::<String>::new());
    assert_only_expected(&gh);
}

#[tokio::test]
async fn codeowners_of_the_changed_file_are_requested_the_last_matching_rule_winning() {
    let (gh, store, _dir) = setup().await;
    commit(&gh, &[(".github/CODEOWNERS", "# owners\n*.tf @acme/platform\n/modules/ @alice\n")]);
    gh.set_permission(REPO, "alice", "write");
    let w = worker(&store, &gh, RepoDefaults::default(), None);

    // The SSH fix changes modules/network/main.tf: `/modules/` comes last, so alice alone.
    let (sg, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &sg).await, "proposed");
    let pr = gh.pulls(REPO)[0].clone();
    assert_eq!(pr.reviewers, ["alice"], "{pr:?}");
    assert!(pr.teams.is_empty(), "no team: `*.tf` lost to the later rule: {pr:?}");

    // The SQS fix changes main.tf at the root: only `*.tf` matches, a team, sent by its slug.
    let (sqs, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    work_all(&w).await;
    assert_eq!(state(&store, &sqs).await, "proposed");
    let pr = gh.pulls(REPO)[1].clone();
    assert!(pr.reviewers.is_empty(), "{pr:?}");
    assert_eq!(pr.teams, ["platform"]);
    let sent: Vec<serde_json::Value> = review_requests(&gh).into_iter().map(|(_, body)| body).collect();
    assert_eq!(
        sent,
        [serde_json::json!({ "reviewers": ["alice"] }), serde_json::json!({ "team_reviewers": ["platform"] }),]
    );
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_code_owner_github_refuses_as_reviewer_does_not_stop_the_pull_request() {
    let (gh, store, _dir) = setup().await;
    // The root CODEOWNERS is used when .github/ has none; carol is not a collaborator.
    commit(&gh, &[("CODEOWNERS", "* @carol\n")]);
    let w = worker(&store, &gh, RepoDefaults::default(), None);
    let (key, job) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert!(pulls[0].reviewers.is_empty(), "{:?}", pulls[0]);
    assert_eq!(pulls[0].labels, ["driftfix", "risk:medium", "rule:INCOMING_SSH_DISABLED"], "labels still added");
    let requests = review_requests(&gh);
    assert_eq!(requests.len(), 1, "asked once, not retried: {requests:?}");
    assert_eq!(requests[0], (422, serde_json::json!({ "reviewers": ["carol"] })));
    let (job_state, attempts, error, _) = store.job_status(job.expect("job")).await.unwrap().unwrap();
    assert_eq!((job_state.as_str(), attempts, error), ("done", 1, None), "the job succeeded first time");
    assert_only_expected(&gh);
}

// ---------------------------------------------------------------------------------------------
// Labels and reviewers from the file

#[tokio::test]
async fn configured_reviewers_win_over_codeowners_and_labels_are_added_and_created() {
    let (gh, store, _dir) = setup().await;
    commit(&gh, &[(".github/CODEOWNERS", "* @alice\n")]);
    repo_config(&gh, "labels = [\"security\"]\nreviewers = [\"bob\"]\n");
    gh.set_permission(REPO, "alice", "write");
    gh.set_permission(REPO, "bob", "write");
    let w = worker(&store, &gh, RepoDefaults::default(), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed");
    let pr = gh.pulls(REPO)[0].clone();
    assert_eq!(pr.reviewers, ["bob"], "the file's reviewers, not the code owner");
    assert!(pr.teams.is_empty());
    assert_eq!(pr.labels, ["driftfix", "risk:medium", "rule:INCOMING_SSH_DISABLED", "security"]);
    assert!(gh.repo_labels(REPO).contains(&"security".to_owned()), "created in the repository");
    let created: Vec<String> = gh
        .log()
        .iter()
        .filter(|l| l.method == "POST" && l.template == Some("/repos/{owner}/{repo}/labels"))
        .filter_map(|l| l.request.as_ref().and_then(|r| r["name"].as_str().map(str::to_owned)))
        .collect();
    assert!(created.contains(&"security".to_owned()), "{created:?}");
    assert_eq!(problems(&store, &key).await, Vec::<String>::new(), "labels and reviewers only tighten");
    assert_only_expected(&gh);
}

// ---------------------------------------------------------------------------------------------
// Risk routing

#[tokio::test]
async fn a_draft_for_medium_risk_needs_the_server_to_allow_risk_overrides() {
    let config = "# fixes need a second look here\n[risk]\nmedium = \"draft\"\n";

    // Not allowed: the server's "pr" stands, and the refusal is audited with its line.
    let (gh, store, _dir) = setup().await;
    repo_config(&gh, config);
    let w = worker(&store, &gh, RepoDefaults::default(), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed");
    assert!(!gh.pulls(REPO)[0].draft, "the server's delivery applies");
    let found = problems(&store, &key).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(".github/driftfix.toml:3: "), "{found:?}");
    assert!(found[0].contains("`risk` loosens the server's setting"), "{found:?}");
    // The finding is evaluated again: the same problems are not audited twice.
    record(&store, "sg-2", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(problems(&store, &key).await, found, "audited once while the file is unchanged");
    assert_only_expected(&gh);

    // Allowed: a draft, and nothing to report.
    let (gh, store, _dir) = setup().await;
    repo_config(&gh, config);
    let w = worker(&store, &gh, allowing(&[Override::Risk]), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert!(pulls[0].draft, "the repository's draft applies");
    assert_eq!(problems(&store, &key).await, Vec::<String>::new());
    assert_only_expected(&gh);
}

#[tokio::test]
async fn ticket_delivery_writes_nothing_to_github_and_puts_the_diff_in_the_ticket() {
    let (gh, store, _dir) = setup().await;
    let jira = FakeJira::start(driftfix::jira::Flavor::DataCenter).await;
    repo_config(&gh, "[risk]\nmedium = \"ticket\"\n");
    let w = worker(&store, &gh, allowing(&[Override::Risk]), Some(&jira));
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "ticket-only");
    assert!(gh.pulls(REPO).is_empty());
    assert_eq!(gh.branches(REPO), ["main"], "no bot branch");
    assert_eq!(gh.writes(), 0, "nothing written to GitHub");
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    let p = d.proposal.expect("the proposal is still rendered and stored");
    assert_eq!((p.state.as_str(), p.pr_number), ("rendered", None));
    let diff = d.diff.expect("the finding keeps its diff");
    assert!(diff.contains(&format!("--- a/{SG_FILE}")), "{diff}");

    let issues = jira.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(issues[0].key.starts_with(&format!("{PROJECT}-")), "{}", issues[0].key);
    let text = issues[0].description.as_str().expect("Data Center descriptions are wiki text");
    assert!(text.contains(&format!("--- a/{SG_FILE}")), "the ticket carries the suggested change: {text}");
    let removed = diff.lines().find(|l| l.starts_with('-') && l.contains("0.0.0.0/0")).expect("a removed line");
    assert!(text.contains(removed), "the diff's removed line `{removed}` is in the ticket: {text}");
    assert_eq!(store.ticket_key(&key).await.unwrap().as_deref(), Some(issues[0].key.as_str()));
    assert!(jira.links(&issues[0].key).is_empty(), "no pull request to link");
    assert_jira_expected(&jira);
    assert_only_expected(&gh);
}

// ---------------------------------------------------------------------------------------------
// Off switch, rules, exemption tags

#[tokio::test]
async fn the_off_switch_needs_the_server_to_allow_it() {
    // Allowed: suppressed, nothing written.
    let (gh, store, _dir) = setup().await;
    repo_config(&gh, "enabled = false\n");
    let w = worker(&store, &gh, allowing(&[Override::Enabled]), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "suppressed");
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    assert!(d.reason.as_deref().is_some_and(|r| r.contains("turns driftfix off")), "{:?}", d.reason);
    assert!(d.proposal.is_none(), "nothing rendered");
    assert_eq!(gh.writes(), 0);
    assert!(gh.pulls(REPO).is_empty());
    assert_only_expected(&gh);

    // Not allowed: the pull request opens anyway and the refusal is audited.
    let (gh, store, _dir) = setup().await;
    repo_config(&gh, "enabled = false\n");
    let w = worker(&store, &gh, RepoDefaults::default(), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed");
    assert_eq!(gh.pulls(REPO).len(), 1);
    let found = problems(&store, &key).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(".github/driftfix.toml:1: `enabled` loosens"), "{found:?}");
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_rule_turned_off_by_the_repository_suppresses_its_findings() {
    let (gh, store, _dir) = setup().await;
    repo_config(&gh, "disabled_rules = [\"restricted-ssh\"]\n");
    let w = worker(&store, &gh, allowing(&[Override::Rules]), None);
    let (ssh, _) = record(&store, "sg-1", &ssh_event()).await;
    let (sqs, _) = record(&store, "sqs-1", &example_event("securityhub_sqs.json")).await;
    work_all(&w).await;
    assert_eq!(state(&store, &ssh).await, "suppressed");
    let reason = store.finding_detail(&ssh).await.unwrap().unwrap().reason.unwrap_or_default();
    assert!(reason.contains("turns rule `INCOMING_SSH_DISABLED` off"), "{reason}");
    assert_eq!(state(&store, &sqs).await, "proposed", "other rules still fix");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    assert!(pulls[0].labels.contains(&"rule:SQS_QUEUE_ENCRYPTED".to_owned()));
    assert!(gh.branches(REPO).iter().all(|b| !b.contains("restricted-ssh")), "{:?}", gh.branches(REPO));
    assert_only_expected(&gh);
}

/// Run the SSH finding against the web security group carrying `tags`, with `config` as the
/// repository's file (if any); returns the finding's state, its reason, how many pull requests the
/// fake holds and the audited problems of the file.
async fn exemption_case(tags: &str, config: Option<&str>, repos: RepoDefaults) -> (String, String, usize, Vec<String>) {
    let (gh, store, _dir) = setup().await;
    commit(&gh, &[(SG_FILE, &tagged_sg(tags))]);
    if let Some(text) = config {
        repo_config(&gh, text);
    }
    let w = worker(&store, &gh, repos, None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    let d = store.finding_detail(&key).await.unwrap().unwrap();
    if d.summary.state == "suppressed" {
        assert_eq!(gh.writes(), 0, "an exempt resource writes nothing");
    }
    assert_only_expected(&gh);
    (d.summary.state, d.reason.unwrap_or_default(), gh.pulls(REPO).len(), problems(&store, &key).await)
}

#[tokio::test]
async fn exemption_tags_in_the_code_and_the_repository_s_own_list() {
    let waiver = "exemption_tags = [\"waiver=yes\"]\n";
    let exempted = "SecurityExemption = \"True\"";

    // The server policy's default tag, in the block's literal tags.
    let (state, reason, pulls, found) = exemption_case(exempted, None, RepoDefaults::default()).await;
    assert_eq!((state.as_str(), pulls), ("suppressed", 0), "{reason}");
    assert!(reason.contains("exemption tag `SecurityExemption=True` in its code"), "{reason}");
    assert!(found.is_empty(), "{found:?}");

    // The repository's list replaces the policy's: SecurityExemption no longer exempts…
    let (state, reason, pulls, found) =
        exemption_case(exempted, Some(waiver), allowing(&[Override::ExemptionTags])).await;
    assert_eq!((state.as_str(), pulls), ("proposed", 1), "{reason}");
    assert!(found.is_empty(), "{found:?}");

    // …and its own tag does.
    let (state, reason, pulls, _) =
        exemption_case("waiver = \"yes\"", Some(waiver), allowing(&[Override::ExemptionTags])).await;
    assert_eq!((state.as_str(), pulls), ("suppressed", 0), "{reason}");
    assert!(reason.contains("exemption tag `waiver=yes`"), "{reason}");

    // A tag the server does not know is loosening: without the override the server's tags stay.
    let (state, reason, pulls, found) = exemption_case("waiver = \"yes\"", Some(waiver), RepoDefaults::default()).await;
    assert_eq!((state.as_str(), pulls), ("proposed", 1), "{reason}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with(".github/driftfix.toml:1: `exemption_tags` loosens"), "{found:?}");
}

// ---------------------------------------------------------------------------------------------
// Jira project

#[tokio::test]
async fn jira_project_sends_the_ticket_to_the_repository_s_project_when_allowed() {
    for (repos, prefix, problems_expected) in
        [(allowing(&[Override::JiraProject]), OTHER_PROJECT, 0), (RepoDefaults::default(), PROJECT, 1)]
    {
        let (gh, store, _dir) = setup().await;
        let jira = FakeJira::start(driftfix::jira::Flavor::Cloud).await;
        repo_config(&gh, &format!("jira_project = \"{OTHER_PROJECT}\"\n"));
        let w = worker(&store, &gh, repos, Some(&jira));
        let (key, _) = record(&store, "sg-1", &ssh_event()).await;
        work_all(&w).await;
        assert_eq!(state(&store, &key).await, "proposed");
        let issues = jira.issues();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].key.starts_with(&format!("{prefix}-")), "{} (expected {prefix})", issues[0].key);
        assert_eq!(jira.links(&issues[0].key).len(), 1, "linked to the pull request");
        let found = problems(&store, &key).await;
        assert_eq!(found.len(), problems_expected, "{found:?}");
        assert!(found.iter().all(|p| p.contains("`jira_project` loosens")), "{found:?}");
        assert_jira_expected(&jira);
        assert_only_expected(&gh);
    }
}

// ---------------------------------------------------------------------------------------------
// Pull request limits

/// The fake with a second world-open SSH security group, a worker with `repos`, and the two
/// findings recorded (web first); returns the worker and both `(key, job)`.
async fn two_groups(gh: &FakeGitHub, store: &Store, repos: RepoDefaults) -> (Worker, (String, i64), (String, i64)) {
    commit(gh, &[("bastion.tf", BASTION_SG)]);
    let w = worker(store, gh, repos, None);
    let (web, web_job) = record(store, "sg-web", &ssh_event()).await;
    let (bastion, bastion_job) = record(store, "sg-bastion", &ssh_event_on("bastion-ssh", "sg-0b5e77aa")).await;
    assert_ne!(web, bastion);
    (w, (web, web_job.expect("job")), (bastion, bastion_job.expect("job")))
}

/// The finding's last audited pull request action (`pull_request.opened`, `.current`, …).
async fn last_pull_action(store: &Store, key: &str) -> Option<String> {
    let d = store.finding_detail(key).await.unwrap().unwrap();
    d.audit.into_iter().rev().map(|a| a.action).find(|a| a.starts_with("pull_request."))
}

async fn concurrent_limit(store: &Store) {
    let gh = fake_github().await;
    let repos = RepoDefaults { pr_concurrent_limit: 1, ..RepoDefaults::default() };
    let (w, (web, _), (bastion, bastion_job)) = two_groups(&gh, store, repos).await;
    assert!(w.run_once().await.expect("worked"), "the web group's job");
    assert_eq!(state(store, &web).await, "proposed");
    let before = now_ms();
    assert!(w.run_once().await.expect("worked"), "the bastion group's job");
    assert_eq!(state(store, &bastion).await, "rate-limited");
    assert_eq!(gh.pulls(REPO).len(), 1, "no second pull request");
    assert!(!gh.branches(REPO).iter().any(|b| b.contains("bastion")), "not even a branch");
    let (job_state, attempts, error, run_at) = store.job_status(bastion_job).await.unwrap().unwrap();
    assert_eq!((job_state.as_str(), attempts), ("queued", 0), "parked without spending an attempt");
    let error = error.unwrap_or_default();
    assert!(error.contains("pr_concurrent_limit") && error.contains("(limit 1)"), "{error}");
    assert!(run_at >= before + 14 * 60 * 1000, "checked again in minutes, not now: {}", run_at - before);
    let reason = store.finding_detail(&bastion).await.unwrap().unwrap().reason.unwrap_or_default();
    assert!(reason.contains("pr_concurrent_limit"), "{reason}");
    assert!(!w.run_once().await.expect("polled"), "nothing due");

    // The web finding evaluated again refreshes its own pull request: never counted.
    record(store, "sg-web-2", &ssh_event()).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(store, &web).await, "proposed");
    assert_eq!(last_pull_action(store, &web).await.as_deref(), Some("pull_request.current"));

    // The web pull request is merged: once the bastion job is due again, its pull request opens.
    let pr = gh.pulls(REPO)[0].clone();
    gh.close_pull(REPO, pr.number, true);
    assert!(deliver(store, "pull_request", "d-1", merged_event(pr.number, &pr.head, "erin")).await);
    assert!(w.run_once().await.expect("worked"), "the merged webhook");
    assert_eq!(state(store, &web).await, "merged");
    // The merge frees a slot: the waiting bastion job is retried at once, not in 15 minutes.
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(store, &bastion).await, "proposed");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 2, "{pulls:?}");
    assert!(pulls[1].head.starts_with("driftfix/restricted-ssh/bastion-ssh-"), "{}", pulls[1].head);
    let (job_state, attempts, _, _) = store.job_status(bastion_job).await.unwrap().unwrap();
    assert_eq!((job_state.as_str(), attempts), ("done", 1), "one attempt in all");
    assert_only_expected(&gh);
}

on_both!(the_concurrent_limit_parks_a_new_pull_request_until_one_closes, concurrent_limit, "repocfg_");

async fn hourly_limit(store: &Store) {
    let gh = fake_github().await;
    let repos = RepoDefaults { pr_hourly_limit: 1, ..RepoDefaults::default() };
    let (w, (web, _), (bastion, bastion_job)) = two_groups(&gh, store, repos).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(store, &web).await, "proposed");
    let opened = now_ms();
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(store, &bastion).await, "rate-limited");
    let (job_state, attempts, error, run_at) = store.job_status(bastion_job).await.unwrap().unwrap();
    assert_eq!((job_state.as_str(), attempts), ("queued", 0));
    let error = error.unwrap_or_default();
    assert!(error.contains("pr_hourly_limit") && error.contains("in the last hour (limit 1)"), "{error}");
    let hour = 3_600_000;
    assert!(run_at > opened + hour - 60_000 && run_at <= opened + hour, "an hour after the first opened: {run_at}");

    // A refresh of the open pull request is not a new one.
    record(store, "sg-web-2", &ssh_event()).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(store, &web).await, "proposed");
    assert_eq!(last_pull_action(store, &web).await.as_deref(), Some("pull_request.current"));

    // Closing the first does not help: the limit counts pull requests opened, not open.
    let pr = gh.pulls(REPO)[0].clone();
    gh.close_pull(REPO, pr.number, true);
    assert!(deliver(store, "pull_request", "d-1", merged_event(pr.number, &pr.head, "erin")).await);
    assert!(w.run_once().await.expect("worked"), "the merged webhook");
    make_due(store, bastion_job).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(store, &bastion).await, "rate-limited");
    assert_eq!(store.job_status(bastion_job).await.unwrap().unwrap().1, 0, "still no attempt spent");
    assert_eq!(gh.pulls(REPO).len(), 1);
    assert_only_expected(&gh);
}

on_both!(the_hourly_limit_counts_pull_requests_opened_in_the_last_hour, hourly_limit, "repocfg_");

// ---------------------------------------------------------------------------------------------
// A broken file

#[tokio::test]
async fn a_file_with_a_syntax_error_keeps_the_server_settings_and_says_where() {
    let (gh, store, _dir) = setup().await;
    repo_config(&gh, "enabled = false\nlabels = [\"security\"]\nreviewers = bob\n\n[risk]\nmedium = \"ticket\"\n");
    let w = worker(&store, &gh, allowing(&[Override::Enabled, Override::Risk]), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed", "neither the off switch nor ticket delivery applies");
    let pulls = gh.pulls(REPO);
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].labels, ["driftfix", "risk:medium", "rule:INCOMING_SSH_DISABLED"], "no `security` label");
    assert!(pulls[0].reviewers.is_empty(), "no reviewer from the broken file");
    let found = problems(&store, &key).await;
    assert_eq!(
        found,
        [".github/driftfix.toml:3: TOML syntax: string values must be quoted, expected literal string"],
        "the one problem, at the unquoted value's line"
    );
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_recreated_pull_request_counts_against_the_concurrent_limit() {
    let (gh, store, _dir) = setup().await;
    let repos = RepoDefaults { pr_concurrent_limit: 1, ..RepoDefaults::default() };
    let (w, (web, _), (bastion, _)) = two_groups(&gh, &store, repos).await;
    // The web fix is proposed (the bastion one waits), then closed unmerged: an accepted risk, and
    // no longer open.
    assert!(w.run_once().await.expect("worked"));
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &bastion).await, "rate-limited");
    let pr = gh.pulls(REPO)[0].clone();
    gh.close_pull(REPO, pr.number, false);
    let closed = support::github::pull_event(REPO, "closed", false, pr.number, &pr.head, "erin");
    assert!(deliver(&store, "pull_request", "d-closed", closed).await);
    work_all(&w).await;
    assert_eq!(state(&store, &web).await, "accepted-risk");
    assert_eq!(state(&store, &bastion).await, "proposed", "the close woke it, and the closed one no longer counts");

    // `@driftfix recreate` would open a second pull request while the bastion one is open: parked.
    store.recreate(&web, "erin", 3).await.expect("store").expect("a recreate job");
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &web).await, "rate-limited");
    assert_eq!(gh.pulls(REPO).iter().filter(|p| p.state == "open").count(), 1);
    assert_only_expected(&gh);
}

/// Forget the finding's issue number, as if the attempt that opened it had crashed before saying so.
async fn forget_issue(store: &Store, key: &str) {
    const SQL: &str = "UPDATE findings SET github_issue = NULL WHERE key = $1";
    match store {
        Store::Sqlite(p) => sqlx::query(SQL).bind(key).execute(p).await.map(drop),
        Store::Postgres(p) => sqlx::query(SQL).bind(key).execute(p).await.map(drop),
    }
    .expect("update");
}

#[tokio::test]
async fn github_issues_carry_advice_once_and_are_found_again_after_a_crash() {
    let (gh, store, _dir) = setup().await;
    repo_config(&gh, "github_issues = true\nlabels = [\"security\"]\n");
    let w = worker(&store, &gh, RepoDefaults::default(), None);
    // A group nobody wrote in Terraform: no pull request, an issue with the import block to add.
    let (key, _) = record(&store, "sg-console", &ssh_event_on("console-made", "sg-0000dead")).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "no-match");
    assert!(gh.pulls(REPO).is_empty());
    let issues = gh.issues(REPO);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!(issue.labels, ["driftfix", "security"]);
    assert!(issue.title.starts_with("driftfix: restricted-ssh on "), "{}", issue.title);
    assert!(issue.body.contains("import {"), "{}", issue.body);
    assert!(
        issue.body.ends_with(&format!("<!-- driftfix: {{\"key\": \"{key}\", \"version\": 1}} -->\n")),
        "{}",
        issue.body
    );
    insta::assert_snapshot!("github_issue_no_match", format!("{}\n\n{}", issue.title, issue.body));
    let detail = store.finding_detail(&key).await.unwrap().unwrap();
    assert!(detail.audit.iter().any(|a| a.action == "github_issue.linked"));

    // Seen again: the stored number answers, GitHub is not even asked.
    let before = gh.log().len();
    record(&store, "sg-console-2", &ssh_event_on("console-made", "sg-0000dead")).await;
    work_all(&w).await;
    assert!(gh.log()[before..].iter().all(|l| l.template != Some("/repos/{owner}/{repo}/issues")));
    // The number lost (a crash between GitHub and the store): found by its metadata, not remade.
    forget_issue(&store, &key).await;
    record(&store, "sg-console-3", &ssh_event_on("console-made", "sg-0000dead")).await;
    work_all(&w).await;
    assert_eq!(gh.issues(REPO).len(), 1, "still one issue");
    assert_only_expected(&gh);

    // A repository that does not ask gets none.
    let (gh2, store2, _dir2) = setup().await;
    let w2 = worker(&store2, &gh2, RepoDefaults::default(), None);
    record(&store2, "sg-console", &ssh_event_on("console-made", "sg-0000dead")).await;
    work_all(&w2).await;
    assert!(gh2.issues(REPO).is_empty());
}

#[tokio::test]
async fn a_refused_user_does_not_lose_the_team_and_the_servers_reviewers_stay() {
    let (gh, store, _dir) = setup().await;
    commit(&gh, &[("CODEOWNERS", "* @carol @acme/platform\n")]);
    let w = worker(&store, &gh, RepoDefaults::default(), None);
    let (key, _) = record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    assert_eq!(state(&store, &key).await, "proposed");
    let pr = gh.pulls(REPO)[0].clone();
    assert!(pr.reviewers.is_empty(), "carol is not a collaborator: {pr:?}");
    assert_eq!(pr.teams, ["platform"], "the team was asked on its own");
    let statuses: Vec<u16> = review_requests(&gh).into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses, [422, 201]);

    // The server requires a security team; the repository adds bob and cannot drop the team.
    let (gh, store, _dir) = setup().await;
    gh.set_permission(REPO, "bob", "write");
    repo_config(&gh, "reviewers = [\"@bob\"]\n");
    let repos = RepoDefaults { reviewers: vec!["acme/security".into()], ..RepoDefaults::default() };
    let w = worker(&store, &gh, repos, None);
    record(&store, "sg-1", &ssh_event()).await;
    work_all(&w).await;
    let pr = gh.pulls(REPO)[0].clone();
    assert_eq!((pr.reviewers.as_slice(), pr.teams.as_slice()), (&["bob".to_owned()][..], &["security".to_owned()][..]));
    assert_only_expected(&gh);
}

#[tokio::test]
async fn a_recreated_pull_request_counts_against_the_hourly_limit() {
    let (gh, store, _dir) = setup().await;
    let repos = RepoDefaults { pr_concurrent_limit: 0, pr_hourly_limit: 1, ..RepoDefaults::default() };
    let (w, (web, _), (bastion, bastion_job)) = two_groups(&gh, &store, repos).await;
    assert!(w.run_once().await.expect("worked"), "the web fix opens");
    assert!(w.run_once().await.expect("worked"), "the bastion fix waits for the hour");
    assert_eq!(state(&store, &bastion).await, "rate-limited");
    // Three days later the web pull request is closed unmerged, and then recreated.
    const AGO: &str = "UPDATE proposals SET opened_at = opened_at - 259200000";
    let Store::Sqlite(pool) = &store else { panic!("SQLite") };
    sqlx::query(AGO).execute(pool).await.expect("update");
    let pr = gh.pulls(REPO)[0].clone();
    gh.close_pull(REPO, pr.number, false);
    let closed = support::github::pull_event(REPO, "closed", false, pr.number, &pr.head, "erin");
    assert!(deliver(&store, "pull_request", "d-closed", closed).await);
    assert!(w.run_once().await.expect("worked"), "the closed webhook");
    store.recreate(&web, "erin", 3).await.expect("store").expect("a recreate job");
    assert!(w.run_once().await.expect("worked"), "the recreated fix");
    assert_eq!(state(&store, &web).await, "proposed", "nothing opened in the last hour");
    assert_eq!(gh.pulls(REPO).len(), 2);
    // The recreated pull request was opened now: the bastion fix still waits.
    make_due(&store, bastion_job).await;
    assert!(w.run_once().await.expect("worked"));
    assert_eq!(state(&store, &bastion).await, "rate-limited");
    assert_eq!(gh.pulls(REPO).len(), 2);
    assert_only_expected(&gh);
}
