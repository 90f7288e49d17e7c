//! The worker: claims `remediate` jobs from the store, runs the engine on the finding's repository
//! and stores what came out (state, outcome, diff, the rendered pull request).
//!
//! It is the only place the pure engine meets the store and GitHub. Routing (which repository a
//! finding belongs to) is decided here, per job, so a configuration change applies to the next job
//! without touching stored data. A route's repository is either `owner/name` on GitHub (read through
//! the App at the default branch head) or a local directory. Pull requests are always rendered and
//! stored; they are pushed to GitHub unless `dry_run` is set (a local directory is never pushed to).
//!
//! Failures of the engine, the file system or GitHub end the attempt as [`JobOutcome::Failed`]; the
//! store retries it with backoff and keeps the error, so nothing is lost. A GitHub rate limit is not
//! a failure: the job goes back to the queue until the limit resets, without spending an attempt,
//! and the finding reads `rate-limited` meanwhile. Pushing is idempotent (the pull request is looked
//! up by its branch first), so a job retried after a crash finds the pull request it already
//! opened. The worker never logs event bodies or file contents.

mod aws;
mod config_check;
mod limits;
mod tickets;
mod verify;
mod webhooks;

use crate::aws::S3Location;
use crate::catalog::{self, Params};
use crate::config::Route;
use crate::config::repo::{self, Delivery, RepoDefaults, RepoSettings};
use crate::finding::{Finding, parse_event};
use crate::github::issues::{IssueRequest, ensure_issue};
use crate::github::{GitHubApp, GitHubError, Label, Proposal, Proposed, Snapshot, codeowners};
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::remediate::{Outcome, OutcomeKind, Request, remediate};
use crate::render::{PullRequest, Templates};
use crate::store::{Job, JobOutcome, Pushed, Resolution, Store, StoreError};
use crate::terraform::index::Index;
use crate::terraform::state::{StateInstance, parse_state};
use crate::terraform::workspace::Workspace;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often [`Worker::run`] parks jobs whose last lease expired.
const REAP_EVERY: Duration = Duration::from_secs(60);

/// What the worker needs from the configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Finding → repository; the first route that matches wins.
    pub routes: Vec<Route>,
    pub policy: Policy,
    /// How long a claim lasts; a job still running after it may be claimed by another worker.
    pub lease_ms: i64,
    /// Sleep between polls when the queue is empty.
    pub poll_interval: Duration,
    /// Store proposals without pushing them.
    pub dry_run: bool,
    /// PR and advice templates (built-in, or with the configured overrides).
    pub templates: Arc<Templates>,
    /// The GitHub App, for routes whose repository is `owner/name`.
    pub github: Option<Arc<GitHubApp>>,
    /// Jira: every fix, advice, drift-only and no-match outcome gets a ticket (not in dry run).
    pub jira: Option<Arc<crate::jira::JiraClient>>,
    /// What a repository gets without `.github/driftfix.toml`, and what that file may loosen.
    pub repos: RepoDefaults,
    /// AWS (`[aws] enabled`): enrichment, state in S3, verification after merge.
    pub aws: Option<Arc<crate::aws::Aws>>,
}

/// How a side job's attempt ended when it did not fail.
enum Step {
    Done,
    /// Not finished, not failing: run again at `run_at` with this payload (no attempt spent).
    At {
        run_at: i64,
        payload: String,
    },
}

/// A failure of the store itself (the job's lease then expires and it is claimed again).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Claims and works jobs. Cheap to clone; clones share the configuration.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    config: Arc<WorkerConfig>,
    metrics: Arc<Metrics>,
}

/// What the engine produced for one finding.
struct Worked {
    outcome: Outcome,
    pr: Option<PullRequest>,
    /// The summary and Markdown description of the outcome's ticket (and GitHub issue), for the
    /// outcomes that get one.
    text: Option<(String, String)>,
}

/// Where a route's code comes from, loaded for one job.
enum Code {
    Local,
    GitHub { app: Arc<GitHubApp>, snapshot: Snapshot },
}

impl Worker {
    pub fn new(store: Store, config: WorkerConfig) -> Worker {
        Worker { store, config: Arc::new(config), metrics: Arc::default() }
    }

    /// Report job durations into these metrics (the server's shared ones).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Worker {
        self.metrics = metrics;
        self
    }

    /// Claim one job, work it and record how it ended. `Ok(false)` when no job was ready.
    pub async fn run_once(&self) -> Result<bool, WorkerError> {
        let Some(job) = self.store.claim_job(self.config.lease_ms).await? else { return Ok(false) };
        let started = Instant::now();
        let side_job = if let Some(event) = job.kind.strip_prefix("github:") {
            Some(self.webhook(&job, event).await.map(|()| Step::Done))
        } else if job.kind == "ticket" || job.kind.starts_with("ticket:") {
            Some(self.ticket(&job).await.map(|()| Step::Done))
        } else if job.kind == verify::KIND {
            Some(self.verify(&job).await)
        } else {
            None
        };
        if let Some(result) = side_job {
            self.metrics.job_finished(&job.kind, started.elapsed().as_secs_f64());
            // Waiting (a poll not yet due, a rate limit) keeps the job queued without spending an attempt.
            let (run_at, payload) = match result {
                Ok(Step::At { run_at, payload }) => (run_at, payload),
                Err(Failure::RateLimited { retry_at_ms, reason }) => {
                    tracing::info!(job = job.id, kind = job.kind, reason, "rate limited: job waits");
                    (retry_at_ms, job.payload.clone())
                }
                Ok(Step::Done) => {
                    self.store.finish_job(&job, &JobOutcome::Done).await?;
                    return Ok(true);
                }
                Err(Failure::Job(m)) => return self.fail(&job, m).await,
                Err(Failure::Store(e)) => return self.fail(&job, format!("store: {e}")).await,
            };
            self.store.postpone_job(&job, run_at, &payload).await?;
            return Ok(true);
        }
        let failure = match self.work(&job).await {
            Ok(resolved) => {
                let state = resolved.state();
                self.metrics.job_finished(&job.kind, started.elapsed().as_secs_f64());
                if self.store.resolve_job(&job, &resolved.as_resolution()).await? {
                    tracing::info!(
                        job = job.id,
                        attempt = job.attempts,
                        state,
                        elapsed_ms = elapsed_ms(started),
                        "job done"
                    );
                } else {
                    tracing::warn!(job = job.id, "lease expired before the job finished; another worker owns it now");
                }
                return Ok(true);
            }
            Err(Failure::RateLimited { retry_at_ms, reason }) => {
                tracing::info!(job = job.id, reason, "rate limited: job parked until the limit resets");
                if !self.store.defer_job(&job, retry_at_ms, &reason).await? {
                    tracing::warn!(job = job.id, "lease expired before the job finished; another worker owns it now");
                }
                return Ok(true);
            }
            Err(Failure::Job(message)) => {
                tracing::warn!(job = job.id, attempt = job.attempts, max_attempts = job.max_attempts, error = %message, "job failed");
                JobOutcome::Failed(message)
            }
            Err(Failure::Store(e)) => {
                tracing::warn!(job = job.id, error = %e, "store failed while working a job");
                JobOutcome::Failed(format!("store: {e}"))
            }
        };
        self.metrics.job_finished(&job.kind, started.elapsed().as_secs_f64());
        if !self.store.finish_job(&job, &failure).await? {
            tracing::warn!(job = job.id, "lease expired before the job finished; another worker owns it now");
        }
        Ok(true)
    }

    /// End a side job's attempt as failed (retried with backoff, or dead after its last attempt).
    async fn fail(&self, job: &Job, message: String) -> Result<bool, WorkerError> {
        tracing::warn!(job = job.id, kind = job.kind, attempt = job.attempts, error = %message, "job failed");
        self.store.finish_job(job, &JobOutcome::Failed(message)).await?;
        Ok(true)
    }

    /// Work jobs until `shutdown` turns `true` (or its sender is dropped). A job in progress is
    /// finished first; no new job is claimed after the signal.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(routes = self.config.routes.len(), dry_run = self.config.dry_run, "worker started");
        let mut last_reap: Option<Instant> = None;
        while !*shutdown.borrow() {
            if last_reap.is_none_or(|t| t.elapsed() >= REAP_EVERY) {
                match self.store.reap_jobs().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(jobs = n, "parked jobs whose last attempt's lease expired as dead"),
                    Err(e) => tracing::warn!(error = %e, "could not reap jobs"),
                }
                last_reap = Some(Instant::now());
            }
            let idle = match self.run_once().await {
                Ok(worked) => !worked,
                Err(e) => {
                    tracing::warn!(error = %e, "store unavailable; retrying after the poll interval");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                    changed = shutdown.changed() => if changed.is_err() { break },
                }
            }
        }
        tracing::info!("worker stopped");
    }

    /// Work one job; `Ok` holds how it resolves the finding (written by the caller, under the lease).
    async fn work(&self, job: &Job) -> Result<Resolved, Failure> {
        if job.kind != "remediate" {
            return Err(Failure::Job(format!("unknown job kind `{}`", job.kind)));
        }
        let key = job.finding_key.as_deref().ok_or_else(|| Failure::Job("job names no finding".into()))?;
        let (event_id, body) = self.job_event(job).await?;
        let mut finding =
            parse_event(body.as_bytes()).map_err(|e| Failure::Job(format!("raw event {event_id}: {e}")))?;
        let Some((stored_rule, previous)) = self.store.finding_rule(key).await? else {
            return Err(Failure::Job("the job's finding is missing".into()));
        };
        let mut recreate = serde_json::from_str::<serde_json::Value>(&job.payload)
            .ok()
            .and_then(|p| p.get("recreate").and_then(serde_json::Value::as_bool))
            .unwrap_or(false);
        if let Some(a) = self.store.acceptance(key).await?
            && a.state == "accepted-risk"
        {
            match a.accepted_until {
                Some(until) if until <= crate::store::now_ms() => recreate = true,
                _ if recreate => {}
                until => {
                    let by = a.accepted_by.as_deref().unwrap_or("someone");
                    let until = until.map(|u| format!(" until {}", crate::store::format_time(u))).unwrap_or_default();
                    let reason = format!("Risk accepted by @{by}{until}: {}", a.reason.unwrap_or_default());
                    return Ok(Resolved::Kept { state: "accepted-risk", reason });
                }
            }
        }
        if matches!(previous.as_str(), "verified" | "resolved")
            && finding.compliance == crate::finding::Compliance::NonCompliant
        {
            self.queue_ticket(job, key, "ticket:recurred", serde_json::json!({})).await?;
        }
        let enriched = self.enrich(key, &mut finding).await?;
        if let Some(e) = &enriched
            && e.deleted()
        {
            let reason = "AWS Config recorded the resource as deleted: there is nothing left to fix in the account.";
            return Ok(Resolved::State { state: "resource-deleted", reason: reason.into() });
        }
        // AWS's word on the rule beats the guess from its name; parameters only AWS knows.
        let aws_rule = enriched.as_ref().and_then(|e| e.rule.as_ref());
        let params = aws_rule.map(|r| r.params.clone()).unwrap_or_default();
        let aws_identifier = aws_rule
            .and_then(|r| r.managed_identifier())
            .and_then(catalog::by_identifier)
            .map(|r| r.meta().identifier.to_owned());
        if let Some(id) = &aws_identifier
            && *id != stored_rule
        {
            self.store.set_rule_identifier(key, id).await?;
        }
        let Some(route) = self.config.routes.iter().find(|r| r.matches(&finding)).cloned() else {
            let r = &finding.resource;
            let reason =
                format!("No route covers account `{}`, region `{}` and this resource's tags.", r.account, r.region);
            self.store.set_route(key, None).await?;
            return Ok(Resolved::State { state: "no-route", reason });
        };
        let repo_label = route.repo.clone();
        self.store.set_route(key, Some((&route.name, &repo_label))).await?;
        let code = self.load_code(&route).await?;
        let remote_states = self.remote_states(&route, &finding.resource.region).await?;
        let settings = self.repo_settings(key, &route, &code).await?;
        if !settings.enabled {
            let reason = format!("`{}` turns driftfix off for this repository.", repo::PATH);
            return Ok(Resolved::State { state: "suppressed", reason });
        }
        let mut policy = self.config.policy.clone();
        if let Some(tags) = &settings.exemption_tags {
            policy.exemption_tags = Some(tags.clone());
        }
        let rule_override =
            aws_identifier.or_else(|| catalog::by_identifier(&stored_rule).map(|_| stored_rule.clone()));
        let config = self.config.clone();
        let sources = match &code {
            Code::Local => None,
            Code::GitHub { snapshot, .. } => Some(snapshot.clone()),
        };
        let wants_ticket = self.config.jira.is_some() && !settings.dry_run;
        let wants_issue = settings.github_issues && !settings.dry_run && sources.is_some();
        let mut worked = tokio::task::spawn_blocking(move || {
            let engine = Engine {
                route: &route,
                fetched: sources.as_ref(),
                remote_states: &remote_states,
                config: &config,
                policy: &policy,
                params: &params,
            };
            engine.run(&finding, rule_override.as_deref(), wants_ticket || wants_issue)
        })
        .await
        .map_err(|e| Failure::Job(format!("engine task failed: {e}")))?
        .map_err(Failure::Job)?;
        if let Some(rule) = worked.outcome.rule
            && !settings.rule_enabled(rule.meta().identifier)
        {
            let reason = format!("`{}` turns rule `{}` off for this repository.", repo::PATH, rule.meta().identifier);
            return Ok(Resolved::State { state: "suppressed", reason });
        }
        // A finding seen again keeps its ticket line: the body stored and pushed stays the one on GitHub.
        if let (Some(pr), Some(jira)) = (worked.pr.as_mut(), self.config.jira.as_deref())
            && let Some(ticket) = self.store.ticket_key(key).await?
        {
            pr.body = tickets::with_ticket_line(&pr.body, &ticket, &jira.browse_url(&ticket));
        }
        let delivery = worked.outcome.risk.map_or(Delivery::Pr, |r| settings.risk.for_risk(r));
        let state = match (worked.outcome.kind, &worked.pr) {
            (OutcomeKind::Fix, None) => return Err(Failure::Job("a fix rendered no pull request".into())),
            (OutcomeKind::Fix, Some(_)) if delivery == Delivery::Ticket => "ticket-only",
            (OutcomeKind::Fix, Some(_)) => "proposed",
            (kind, _) => kind.as_str(),
        };
        let pushed = match (&code, &worked.pr) {
            (Code::GitHub { app, snapshot }, Some(pr)) if !settings.dry_run && delivery != Delivery::Ticket => {
                self.check_pull_limits(key, &snapshot.repo.to_string(), &settings, recreate).await?;
                let target = Target { app, snapshot, settings: &settings, draft: delivery == Delivery::Draft };
                Some(self.push(&target, key, &worked.outcome, pr, recreate).await?)
            }
            _ => None,
        };
        let state = pushed.as_ref().map_or(state, |(_, s)| s);
        if let (Code::GitHub { app, snapshot }, Some((title, body)), None) = (&code, &worked.text, &pushed)
            && wants_issue
            && (worked.outcome.kind != OutcomeKind::Fix || state == "ticket-only")
        {
            self.open_issue(app, &snapshot.repo, key, title, body, &settings.labels).await?;
        }
        if state == "ticket-only" && self.config.jira.is_none() && !settings.github_issues {
            tracing::warn!(
                repo = route_repo(&code),
                "a fix routed to a ticket, but neither Jira nor GitHub issues are on: it is only in the store"
            );
        }
        let ticket = worked.text.filter(|_| wants_ticket).map(|(summary, description)| {
            let mut payload = serde_json::json!({ "action": "open", "summary": summary, "description": description });
            if let Some(project) = &settings.jira_project {
                payload["project"] = serde_json::json!(project);
            }
            payload.to_string()
        });
        Ok(Resolved::Outcome {
            state,
            outcome: Box::new(worked.outcome),
            pr: worked.pr,
            pushed: pushed.map(|(p, _)| p),
            ticket,
        })
    }

    /// Make sure the finding has its GitHub issue (repository config `github_issues = true`).
    async fn open_issue(
        &self,
        app: &GitHubApp,
        repo: &crate::github::RepoName,
        key: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<(), Failure> {
        let known = self.store.github_issue(key).await?.and_then(|n| u64::try_from(n).ok());
        let inst = app.installation(repo).await?;
        let req = IssueRequest { finding_key: key, title, body, labels, known };
        let issue = ensure_issue(&inst, repo, &req).await?;
        if issue.opened {
            tracing::info!(repo = %repo, issue = issue.number, "opened a GitHub issue");
        }
        let number = i64::try_from(issue.number).unwrap_or(i64::MAX);
        self.store.set_github_issue(key, &repo.to_string(), number, &issue.url).await?;
        Ok(())
    }

    /// The stored raw event a job works on (its payload's `event_id`).
    async fn job_event(&self, job: &Job) -> Result<(i64, String), Failure> {
        let event_id = serde_json::from_str::<serde_json::Value>(&job.payload)
            .ok()
            .and_then(|p| p.get("event_id").and_then(serde_json::Value::as_i64))
            .ok_or_else(|| Failure::Job("job payload has no `event_id`".into()))?;
        let body = self
            .store
            .raw_event_body(event_id)
            .await?
            .ok_or_else(|| Failure::Job(format!("raw event {event_id} is missing")))?;
        Ok((event_id, body))
    }

    /// The route's code: nothing to fetch for a local directory; the default branch head (and the
    /// route's state files) for a GitHub repository.
    async fn load_code(&self, route: &Route) -> Result<Code, Failure> {
        let Some(repo) = route.github_repo() else { return Ok(Code::Local) };
        let app = self.config.github.clone().ok_or_else(|| {
            Failure::Job(format!(
                "route `{}` names GitHub repository {repo}, but no GitHub App is configured",
                route.name
            ))
        })?;
        let mut extra: Vec<String> = route
            .state
            .iter()
            .filter(|p| p.is_relative() && !S3Location::is_s3(p))
            .map(|p| normalise_dir(&p.to_string_lossy()))
            .collect();
        extra.push(repo::PATH.to_owned());
        extra.extend(codeowners::LOCATIONS.iter().map(|p| (*p).to_owned()));
        let snapshot = app.snapshot(&repo, &extra).await?;
        Ok(Code::GitHub { app, snapshot })
    }

    /// Open or refresh the finding's pull request; returns what it became and the finding's state.
    async fn push(
        &self,
        target: &Target<'_>,
        key: &str,
        outcome: &Outcome,
        pr: &PullRequest,
        recreate: bool,
    ) -> Result<(Pushed, &'static str), Failure> {
        let Target { app, snapshot, settings, draft } = *target;
        let files: Vec<(String, String)> = outcome.changes.iter().map(|c| (c.file.clone(), c.after.clone())).collect();
        let labels = labels_for(outcome, &settings.labels);
        let reviewers = match settings.reviewers.is_empty() {
            false => settings.reviewers.clone(),
            true => code_owners(snapshot, &files),
        };
        let proposal = Proposal {
            snapshot,
            finding_key: key,
            branch: &pr.branch,
            title: &pr.title,
            body: &pr.body,
            files: &files,
            labels: &labels,
            draft,
            reviewers: &reviewers,
            recreate,
        };
        let proposed = app.propose(&proposal).await?;
        let action = match &proposed {
            Proposed::Opened { .. } => "opened",
            Proposed::Updated { .. } => "updated",
            Proposed::Current { .. } => "current",
            Proposed::Merged { .. } => "merged",
            Proposed::Closed { .. } => "closed",
            Proposed::HumanEdited { .. } => "human-edited",
        };
        tracing::info!(repo = %snapshot.repo, pr = proposed.number().0, action, "pull request");
        let pushed = Pushed {
            repo: snapshot.repo.to_string(),
            number: i64::try_from(proposed.number().0).unwrap_or(i64::MAX),
            url: proposed.url().to_owned(),
            head_sha: proposed.head_sha().map(str::to_owned),
            state: proposed.proposal_state(),
            action,
        };
        Ok((pushed, proposed.finding_state()))
    }
}

/// Reviewers from the repository's CODEOWNERS for the changed files (teams as `org/team`).
fn code_owners(snapshot: &Snapshot, files: &[(String, String)]) -> Vec<String> {
    let Some((path, text)) = codeowners::pick(|p| snapshot.extra.get(p).map(String::as_str)) else { return Vec::new() };
    let (owners, problems) = codeowners::CodeOwners::parse(text);
    if let Some(first) = problems.first() {
        tracing::info!(repo = %snapshot.repo, path, problems = problems.len(), first = %first, "CODEOWNERS lines skipped");
    }
    // The App is the pull request's author and cannot own code, so nobody needs excluding.
    let found = owners.reviewers_for(files.iter().map(|(p, _)| p.as_str()));
    found
        .users
        .into_iter()
        .chain(found.teams.into_iter().map(|slug| format!("{}/{slug}", snapshot.repo.owner)))
        .collect()
}

/// The repository a job's code came from, for logs.
fn route_repo(code: &Code) -> String {
    match code {
        Code::Local => "a local directory".to_owned(),
        Code::GitHub { snapshot, .. } => snapshot.repo.to_string(),
    }
}

/// Where a pull request goes, and how.
#[derive(Clone, Copy)]
struct Target<'a> {
    app: &'a GitHubApp,
    snapshot: &'a Snapshot,
    settings: &'a RepoSettings,
    draft: bool,
}

/// The labels of a driftfix pull request: `driftfix`, `risk:<level>`, `rule:<identifier>`, then the
/// repository's own.
fn labels_for(outcome: &Outcome, extra: &[String]) -> Vec<Label> {
    let mut labels = vec![Label {
        name: "driftfix".into(),
        color: "5319e7",
        description: "Opened by driftfix to fix drift reported by AWS Config".into(),
    }];
    if let Some(risk) = outcome.risk {
        let color = match risk {
            catalog::Risk::Low => "0e8a16",
            catalog::Risk::Medium => "fbca04",
            catalog::Risk::High => "b60205",
        };
        labels.push(Label {
            name: format!("risk:{}", risk.as_str()),
            color,
            description: format!("driftfix: {} risk of disruption when applied", risk.as_str()),
        });
    }
    if let Some(rule) = outcome.rule {
        let meta = rule.meta();
        labels.push(Label {
            name: format!("rule:{}", meta.identifier),
            color: "c5def5",
            description: format!("AWS Config rule {}", meta.name).chars().take(100).collect(),
        });
    }
    for name in extra {
        if !labels.iter().any(|l| &l.name == name) {
            labels.push(Label { name: name.clone(), color: "ededed", description: String::new() });
        }
    }
    labels
}

/// How a job resolved its finding, owned until it is written by [`Store::resolve_job`].
enum Resolved {
    Outcome {
        state: &'static str,
        outcome: Box<Outcome>,
        pr: Option<PullRequest>,
        pushed: Option<Pushed>,
        ticket: Option<String>,
    },
    State {
        state: &'static str,
        reason: String,
    },
    /// The finding stays as it is (an accepted risk); only the job ends.
    Kept {
        state: &'static str,
        reason: String,
    },
}

impl Resolved {
    fn state(&self) -> &'static str {
        match self {
            Resolved::Outcome { state, .. } | Resolved::State { state, .. } | Resolved::Kept { state, .. } => state,
        }
    }

    fn as_resolution(&self) -> Resolution<'_> {
        match self {
            Resolved::Outcome { state, outcome, pr, pushed, ticket } => Resolution::Outcome {
                state,
                outcome,
                pr: pr.as_ref(),
                pushed: pushed.as_ref(),
                ticket: ticket.as_deref(),
            },
            Resolved::State { state, reason } => Resolution::State { state, reason },
            Resolved::Kept { state, reason } => Resolution::Kept { state, reason },
        }
    }
}

/// Why an attempt failed.
enum Failure {
    /// The job's own problem (unreadable repository, engine error, GitHub error): retried with
    /// backoff.
    Job(String),
    /// GitHub, Jira or AWS asked to wait: re-queued for then, no attempt spent.
    RateLimited {
        retry_at_ms: i64,
        reason: String,
    },
    Store(StoreError),
}

impl From<GitHubError> for Failure {
    fn from(e: GitHubError) -> Failure {
        match e {
            GitHubError::RateLimited { retry_at, reason } => {
                let ms = retry_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
                Failure::RateLimited { retry_at_ms: i64::try_from(ms).unwrap_or(i64::MAX), reason }
            }
            other => Failure::Job(other.to_string()),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(e)
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The synchronous part's inputs: the route, the files GitHub gave (none: a local directory), the
/// worker's configuration and the policy in force for the repository.
struct Engine<'a> {
    route: &'a Route,
    fetched: Option<&'a Snapshot>,
    /// State files read from S3: (location, text).
    remote_states: &'a [(String, String)],
    config: &'a WorkerConfig,
    policy: &'a Policy,
    /// The rule's InputParameters, when AWS told them.
    params: &'a Params,
}

impl Engine<'_> {
    /// Load the repository (from disk, or the files GitHub gave) and state, remediate, render. Runs
    /// on a blocking thread.
    fn run(&self, finding: &Finding, rule: Option<&str>, wants_text: bool) -> Result<Worked, String> {
        let route = self.route;
        let (ws, mut state) = match self.fetched {
            None => {
                let repo = Path::new(&route.repo);
                if !repo.is_dir() {
                    return Err(format!("repository `{}` is not a directory", repo.display()));
                }
                let ws =
                    Workspace::load(repo).map_err(|e| format!("cannot read repository `{}`: {e}", repo.display()))?;
                (select_paths(ws, &route.paths, &route.repo)?, load_states(Some(repo), None, &route.state)?)
            }
            Some(snap) => {
                let ws = Workspace::from_sources(snap.files.iter().cloned());
                (select_paths(ws, &route.paths, &route.repo)?, load_states(None, Some(snap), &route.state)?)
            }
        };
        for (location, text) in self.remote_states {
            state.extend(parse_state(text).map_err(|e| format!("state `{location}`: {e}"))?);
        }
        let index = Index::build(&ws);
        let req = Request {
            finding,
            workspace: &ws,
            index: &index,
            state: &state,
            policy: self.policy,
            params: self.params,
            rule_override: rule,
        };
        let outcome = remediate(&req).map_err(|e| e.to_string())?;
        let templates = &self.config.templates;
        let pr = templates.pull_request(finding, &outcome).map_err(|e| e.to_string())?;
        let text = match outcome.kind {
            OutcomeKind::Fix | OutcomeKind::Advice | OutcomeKind::DriftOnly | OutcomeKind::NoMatch if wants_text => {
                let what = outcome
                    .rule
                    .map(|r| r.meta().name.to_owned())
                    .or_else(|| finding.rule.name.clone())
                    .unwrap_or_else(|| "AWS Config finding".into());
                let summary = format!("driftfix: {what} on {}", finding.resource.display_name());
                let description = match &pr {
                    Some(p) => p.body.clone(),
                    None => templates.advice_text(finding, &outcome).map_err(|e| e.to_string())?,
                };
                Some((summary, description))
            }
            _ => None,
        };
        Ok(Worked { outcome, pr, text })
    }
}

/// The route's part of a repository: the whole tree, or the files under `paths` plus every local
/// module they call (transitively), with paths still relative to the repository root.
fn select_paths(ws: Workspace, paths: &[PathBuf], repo: &str) -> Result<Workspace, String> {
    let wanted: Vec<String> = paths.iter().map(|p| normalise_dir(&p.to_string_lossy())).collect();
    if wanted.is_empty() || wanted.iter().any(String::is_empty) {
        return Ok(ws);
    }
    let index = Index::build(&ws);
    let under =
        |dir: &str| wanted.iter().any(|w| dir == w || dir.strip_prefix(w.as_str()).is_some_and(|r| r.starts_with('/')));
    let mut keep: BTreeSet<String> = ws.files().iter().map(|f| f.dir().to_owned()).filter(|d| under(d)).collect();
    if keep.is_empty() {
        return Err(format!("no Terraform files under {} in `{repo}`", wanted.join(", ")));
    }
    let mut todo: Vec<String> = keep.iter().cloned().collect();
    while let Some(dir) = todo.pop() {
        for call in index.calls().iter().filter(|c| c.dir == dir) {
            if let Some(child) = &call.local_dir
                && keep.insert(child.clone())
            {
                todo.push(child.clone());
            }
        }
    }
    let dir_of = |path: &str| path.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_owned());
    let sources =
        ws.files().iter().filter(|f| keep.contains(f.dir())).map(|f| (f.path.clone(), f.text.clone())).chain(
            ws.lock_files().iter().filter(|(p, _)| keep.contains(&dir_of(p))).map(|(p, t)| (p.clone(), t.clone())),
        );
    Ok(Workspace::from_sources(sources))
}

/// `./envs/prod/` → `envs/prod`; `.` → "" (the whole repository).
fn normalise_dir(p: &str) -> String {
    p.split('/').filter(|s| !s.is_empty() && *s != ".").collect::<Vec<_>>().join("/")
}

/// The route's state files: absolute paths from the local disk; relative ones from the local
/// repository, or from the files fetched with a GitHub snapshot.
fn load_states(
    repo: Option<&Path>,
    fetched: Option<&Snapshot>,
    paths: &[PathBuf],
) -> Result<Vec<StateInstance>, String> {
    let mut out = Vec::new();
    for p in paths.iter().filter(|p| !S3Location::is_s3(p)) {
        let (shown, text) = match (p.is_absolute(), repo, fetched) {
            (false, None, Some(snap)) => {
                let rel = normalise_dir(&p.to_string_lossy());
                let text =
                    snap.extra.get(&rel).cloned().ok_or_else(|| format!("state `{rel}` is not in {}", snap.repo))?;
                (rel, text)
            }
            _ => {
                let path = match repo {
                    Some(r) if p.is_relative() => r.join(p),
                    _ => p.clone(),
                };
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read state `{}`: {e}", path.display()))?;
                (path.display().to_string(), text)
            }
        };
        out.extend(parse_state(&text).map_err(|e| format!("state `{shown}`: {e}"))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::normalise_dir;

    #[test]
    fn route_paths_are_normalised() {
        assert_eq!(normalise_dir("./envs//prod/"), "envs/prod");
        assert_eq!(normalise_dir("."), "");
        assert_eq!(normalise_dir("modules"), "modules");
    }
}
