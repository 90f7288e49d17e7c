//! What GitHub tells the store: a bot pull request merged, closed or reopened, and risks accepted
//! or lifted by comment. Each change of a finding's state appends its audit entry in the same
//! transaction, with the GitHub user as the actor.

use super::{Store, StoreError, now_ms, on_pool};
use serde_json::json;

const AUDIT: &str = "INSERT INTO audit_log (at, finding_key, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";

/// A finding's standing with respect to an accepted risk.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Acceptance {
    pub state: String,
    pub reason: Option<String>,
    pub accepted_by: Option<String>,
    pub accepted_until: Option<i64>,
}

/// A repository's driftfix pull requests, for its `pr_concurrent_limit` and `pr_hourly_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullCounts {
    /// Open now.
    pub open: i64,
    /// Opened at or after the `since` asked about.
    pub opened_since: i64,
    /// When the oldest of those was opened.
    pub oldest_since: Option<i64>,
}

impl Store {
    /// How many driftfix pull requests `repo` has open, and how many were opened since `since`.
    pub async fn pull_counts(&self, repo: &str, since: i64) -> Result<PullCounts, StoreError> {
        const OPEN: &str = "SELECT COUNT(*) FROM proposals WHERE repo = $1 AND state = 'open'";
        const OPENED: &str = "SELECT COUNT(*), MIN(opened_at) FROM proposals WHERE repo = $1 AND opened_at >= $2";
        on_pool!(self, p => {
            let open: i64 = sqlx::query_scalar(OPEN).bind(repo).fetch_one(p).await?;
            let (opened_since, oldest_since): (i64, Option<i64>) =
                sqlx::query_as(OPENED).bind(repo).bind(since).fetch_one(p).await?;
            Ok(PullCounts { open, opened_since, oldest_since })
        })
    }

    /// The GitHub issue opened for the finding, once it exists.
    pub async fn github_issue(&self, key: &str) -> Result<Option<i64>, StoreError> {
        const SQL: &str = "SELECT github_issue FROM findings WHERE key = $1";
        let found: Option<Option<i64>> =
            on_pool!(self, p => sqlx::query_scalar(SQL).bind(key).fetch_optional(p).await?);
        Ok(found.flatten())
    }

    /// Remember the finding's GitHub issue (and audit it the first time).
    pub async fn set_github_issue(&self, key: &str, repo: &str, number: i64, url: &str) -> Result<(), StoreError> {
        const SET: &str =
            "UPDATE findings SET github_issue = $1 WHERE key = $2 AND (github_issue IS NULL OR github_issue <> $1)";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if sqlx::query(SET).bind(number).bind(key).execute(&mut *tx).await?.rows_affected() == 1 {
                let detail = json!({ "repo": repo, "number": number, "url": url }).to_string();
                sqlx::query(AUDIT).bind(now_ms()).bind(key).bind("driftfix").bind("github_issue.linked").bind(detail).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Make due now the jobs of `repo`'s findings parked on its `pr_concurrent_limit` (a pull request
    /// there was just merged or closed, so a slot may be free). Returns how many.
    pub async fn wake_limited(&self, repo: &str) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE jobs SET run_at = $1 WHERE state = 'queued' AND kind = 'remediate' AND run_at > $1
             AND finding_key IN (SELECT key FROM findings
                 WHERE repo = $2 AND state = 'rate-limited' AND reason LIKE 'pr_concurrent_limit%')";
        Ok(on_pool!(self, p => sqlx::query(SQL).bind(now_ms()).bind(repo).execute(p).await?.rows_affected()))
    }

    /// The finding whose proposal lives on `branch`.
    pub async fn finding_by_branch(&self, branch: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT finding_key FROM proposals WHERE branch = $1";
        Ok(on_pool!(self, p => sqlx::query_scalar(SQL).bind(branch).fetch_optional(p).await?))
    }

    /// The finding whose pull request is `repo#number`.
    pub async fn finding_by_pull(&self, repo: &str, number: i64) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT finding_key FROM proposals WHERE repo = $1 AND pr_number = $2";
        Ok(on_pool!(self, p => sqlx::query_scalar(SQL).bind(repo).bind(number).fetch_optional(p).await?))
    }

    /// The finding's state and acceptance.
    pub async fn acceptance(&self, key: &str) -> Result<Option<Acceptance>, StoreError> {
        const SQL: &str = "SELECT state, reason, accepted_by, accepted_until FROM findings WHERE key = $1";
        Ok(on_pool!(self, p => sqlx::query_as(SQL).bind(key).fetch_optional(p).await?))
    }

    /// A bot pull request was merged: the finding is `merged` (verification comes next).
    pub async fn pull_merged(&self, key: &str, actor: &str, number: i64) -> Result<(), StoreError> {
        self.pull_changed(key, actor, "merged", "merged", "pull_request.merged", json!({ "number": number }), None)
            .await
    }

    /// A bot pull request was reopened: the finding is `proposed` again, any acceptance lifted.
    pub async fn pull_reopened(&self, key: &str, actor: &str, number: i64) -> Result<(), StoreError> {
        self.pull_changed(key, actor, "proposed", "open", "pull_request.reopened", json!({ "number": number }), None)
            .await
    }

    /// Accept a finding's risk: its pull request was closed unmerged, or someone asked to ignore it.
    /// `until` (epoch ms) makes the acceptance expire.
    pub async fn accept_risk(
        &self,
        key: &str,
        actor: &str,
        reason: &str,
        until: Option<i64>,
        number: Option<i64>,
    ) -> Result<(), StoreError> {
        let detail = json!({ "owner": actor, "reason": reason, "until": until, "number": number });
        self.pull_changed(key, actor, "accepted-risk", "closed", "risk.accepted", detail, Some((reason, until))).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn pull_changed(
        &self,
        key: &str,
        actor: &str,
        state: &str,
        proposal_state: &str,
        action: &str,
        detail: serde_json::Value,
        accepted: Option<(&str, Option<i64>)>,
    ) -> Result<(), StoreError> {
        const FINDING: &str = "UPDATE findings SET state = $1, accepted_by = $2, accepted_until = $3,
                reason = COALESCE($4, reason), updated_at = $5 WHERE key = $6";
        const PROPOSAL: &str = "UPDATE proposals SET state = $1, updated_at = $2 WHERE finding_key = $3";
        let now = now_ms();
        let github_actor = format!("github:{actor}");
        let (by, until, reason) = match accepted {
            Some((reason, until)) => (Some(actor), until, Some(reason)),
            None => (None, None, None),
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(FINDING).bind(state).bind(by).bind(until).bind(reason).bind(now).bind(key).execute(&mut *tx).await?;
            sqlx::query(PROPOSAL).bind(proposal_state).bind(now).bind(key).execute(&mut *tx).await?;
            sqlx::query(AUDIT).bind(now).bind(key).bind(&github_actor).bind(action).bind(detail.to_string()).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Lift an accepted risk and queue the finding for remediation again, with `recreate` so a
    /// closed pull request does not stop a new one. Returns the job id (`None` when a remediation
    /// job is already queued).
    pub async fn recreate(&self, key: &str, actor: &str, max_attempts: i64) -> Result<Option<i64>, StoreError> {
        const LATEST: &str = "SELECT MAX(event_id) FROM audit_log WHERE finding_key = $1";
        const LIFT: &str = "UPDATE findings SET state = 'received', accepted_by = NULL, accepted_until = NULL,
                updated_at = $1 WHERE key = $2";
        const ENQUEUE: &str = "INSERT INTO jobs (kind, finding_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at)
             VALUES ('remediate', $1, $2, 'queued', $3, 0, $4, $3, $3)
             ON CONFLICT (kind, finding_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING id";
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let event: Option<i64> = sqlx::query_scalar(LATEST).bind(key).fetch_one(&mut *tx).await?;
            let Some(event) = event else {
                tx.rollback().await?;
                return Ok(None);
            };
            sqlx::query(LIFT).bind(now).bind(key).execute(&mut *tx).await?;
            let payload = json!({ "event_id": event, "recreate": true }).to_string();
            let job: Option<i64> = sqlx::query_scalar(ENQUEUE).bind(key).bind(payload).bind(now).bind(max_attempts).fetch_optional(&mut *tx).await?;
            let detail = json!({ "job_id": job }).to_string();
            sqlx::query(AUDIT).bind(now).bind(key).bind(format!("github:{actor}")).bind("risk.lifted").bind(detail).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(job)
        })
    }
}
