//! A repository's own settings for one job: its `.github/driftfix.toml` over the server's `[repos]`
//! defaults, and its pull request limits (`pr_concurrent_limit`, `pr_hourly_limit`).
//!
//! The limits are checked from the store (the proposals the bot opened), before a new pull request
//! is opened; refreshing one that exists never counts. A finding over a limit is parked like one
//! waiting on GitHub's own rate limit (state `rate-limited`, no attempt spent): until the oldest pull
//! request of the last hour is an hour old, or, for the concurrent limit, for [`RECHECK_MS`] or until
//! one of the repository's pull requests is merged or closed (the webhook wakes it). Two
//! replicas checking at the same moment may each open one: the limits are manners, not a security
//! boundary, and GitHub's own limits still hold.

use super::{Code, Failure, Worker};
use crate::config::repo::{self, RepoSettings};
use crate::config::{Problem, Route};
use crate::store::now_ms;
use std::path::Path;

const HOUR_MS: i64 = 3_600_000;
/// How long a finding waits before the concurrent limit is checked again.
pub(super) const RECHECK_MS: i64 = 15 * 60 * 1000;

impl Worker {
    /// The repository's settings; problems in its file are logged and audited (once per finding
    /// while they stay the same), and the server's values apply to the keys they concern.
    pub(super) async fn repo_settings(&self, key: &str, route: &Route, code: &Code) -> Result<RepoSettings, Failure> {
        let text = match code {
            Code::Local => std::fs::read_to_string(Path::new(&route.repo).join(repo::PATH)).ok(),
            Code::GitHub { snapshot, .. } => snapshot.extra.get(repo::PATH).cloned(),
        };
        let (settings, problems) = self.resolve_repo(text.as_deref());
        if !problems.is_empty() {
            let lines: Vec<String> = problems.iter().map(|p| p.render(Some(repo::PATH))).collect();
            tracing::warn!(
                repo = route.repo,
                problems = lines.len(),
                first = lines[0],
                "repository configuration has problems"
            );
            let detail = serde_json::json!({ "repo": route.repo, "problems": lines });
            self.store.audit_if_changed(key, "driftfix", "repo_config.problems", &detail).await?;
        }
        Ok(settings)
    }

    /// The settings a repository whose file holds `text` (`None`: no file) gets from this server,
    /// and the file's problems.
    pub(super) fn resolve_repo(&self, text: Option<&str>) -> (RepoSettings, Vec<Problem>) {
        let server_tags: Vec<String> = self.config.policy.exemption_tags().iter().map(|t| t.to_string()).collect();
        RepoSettings::resolve(&self.config.repos, self.config.dry_run, &server_tags, text)
    }

    /// `Err(RateLimited)` when opening one more pull request in `repo` would break a limit. A finding
    /// that already has its pull request only refreshes it, unless it is being recreated (its earlier
    /// one was closed), which opens a new one and so counts.
    pub(super) async fn check_pull_limits(
        &self,
        key: &str,
        repo: &str,
        s: &RepoSettings,
        recreate: bool,
    ) -> Result<(), Failure> {
        if s.pr_concurrent_limit == 0 && s.pr_hourly_limit == 0 {
            return Ok(());
        }
        if !recreate && self.store.pushed_pull(key).await?.is_some() {
            return Ok(());
        }
        let now = now_ms();
        let counts = self.store.pull_counts(repo, now - HOUR_MS).await?;
        let limit = i64::from(s.pr_concurrent_limit);
        if limit > 0 && counts.open >= limit {
            return Err(Failure::RateLimited {
                retry_at_ms: now + RECHECK_MS,
                reason: format!(
                    "pr_concurrent_limit: {} driftfix pull requests are open in {repo} (limit {limit})",
                    counts.open
                ),
            });
        }
        let hourly = i64::from(s.pr_hourly_limit);
        if hourly > 0 && counts.opened_since >= hourly {
            let oldest = counts.oldest_since.unwrap_or(now);
            return Err(Failure::RateLimited {
                retry_at_ms: oldest + HOUR_MS,
                reason: format!(
                    "pr_hourly_limit: {} driftfix pull requests opened in {repo} in the last hour (limit {hourly})",
                    counts.opened_since
                ),
            });
        }
        Ok(())
    }
}
