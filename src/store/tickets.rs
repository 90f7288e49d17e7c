//! The store side of Jira: a finding's ticket key, the work queued for it, and the pushed pull
//! request a ticket links to.

use super::{Store, StoreError, now_ms, on_pool};
use serde_json::json;

/// A pull request the bot pushed for a finding.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PushedPull {
    pub repo: String,
    pub pr_number: i64,
    pub pr_url: String,
    pub title: String,
    pub body: String,
}

impl Store {
    /// The finding's ticket, once created.
    pub async fn ticket_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT ticket_key FROM findings WHERE key = $1";
        let found: Option<Option<String>> =
            on_pool!(self, p => sqlx::query_scalar(SQL).bind(key).fetch_optional(p).await?);
        Ok(found.flatten())
    }

    /// Remember the finding's ticket (and audit it the first time).
    pub async fn set_ticket(&self, key: &str, ticket: &str) -> Result<(), StoreError> {
        const SET: &str =
            "UPDATE findings SET ticket_key = $1 WHERE key = $2 AND (ticket_key IS NULL OR ticket_key <> $1)";
        const PROPOSAL: &str = "UPDATE proposals SET ticket_key = $1 WHERE finding_key = $2";
        const AUDIT: &str =
            "INSERT INTO audit_log (at, finding_key, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(SET).bind(ticket).bind(key).execute(&mut *tx).await?.rows_affected();
            sqlx::query(PROPOSAL).bind(ticket).bind(key).execute(&mut *tx).await?;
            if changed == 1 {
                let detail = json!({ "ticket": ticket }).to_string();
                sqlx::query(AUDIT).bind(now_ms()).bind(key).bind("driftfix").bind("ticket.linked").bind(detail).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The pull request pushed for the finding, if any.
    pub async fn pushed_pull(&self, key: &str) -> Result<Option<PushedPull>, StoreError> {
        const SQL: &str = "SELECT repo, pr_number, pr_url, title, body FROM proposals
             WHERE finding_key = $1 AND repo IS NOT NULL AND pr_number IS NOT NULL AND pr_url IS NOT NULL";
        Ok(on_pool!(self, p => sqlx::query_as(SQL).bind(key).fetch_optional(p).await?))
    }

    /// The pull request body as it now stands on GitHub.
    pub async fn set_pull_body(&self, key: &str, body: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE proposals SET body = $1, updated_at = $2 WHERE finding_key = $3";
        on_pool!(self, p => sqlx::query(SQL).bind(body).bind(now_ms()).bind(key).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Queue a job of `kind` for a finding (nothing when one of that kind is already open).
    pub async fn enqueue(
        &self,
        kind: &str,
        key: &str,
        payload: &str,
        max_attempts: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.enqueue_at(kind, key, payload, now_ms(), max_attempts).await
    }

    /// [`Store::enqueue`], to run no earlier than `run_at` (epoch ms).
    pub async fn enqueue_at(
        &self,
        kind: &str,
        key: &str,
        payload: &str,
        run_at: i64,
        max_attempts: i64,
    ) -> Result<Option<i64>, StoreError> {
        const SQL: &str = "INSERT INTO jobs (kind, finding_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at)
             VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6, $6)
             ON CONFLICT (kind, finding_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING id";
        let now = now_ms();
        Ok(
            on_pool!(self, p => sqlx::query_scalar(SQL).bind(kind).bind(key).bind(payload).bind(run_at).bind(max_attempts).bind(now).fetch_optional(p).await?),
        )
    }
}
