//! What the AWS side needs from the store: which findings `sync` already knows, which open ones it
//! should check, the latest event of a finding (to rebuild it for verification), and state changes
//! made by `sync` and the verifier, each with its audit entry in the same transaction.

use super::{Store, StoreError, now_ms, on_pool};

const AUDIT: &str = "INSERT INTO audit_log (at, finding_key, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";

/// States in which a finding is still open: something was proposed or reported and AWS has not yet
/// said the resource is fine.
pub const OPEN_STATES: &[&str] =
    &["received", "proposed", "ticket-only", "advice", "drift-only", "no-match", "rate-limited", "unverified"];

/// A finding as `sync` compares it with AWS.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tracked {
    pub key: String,
    pub state: String,
    pub resource_type: String,
    pub resource_id: String,
    pub rule_name: Option<String>,
}

impl Store {
    /// Open findings of a rule (by the name the events gave) in one account and region.
    pub async fn open_findings(
        &self,
        account: &str,
        region: &str,
        rule_name: &str,
    ) -> Result<Vec<Tracked>, StoreError> {
        const SQL: &str = "SELECT key, state, resource_type, resource_id, rule_name FROM findings
             WHERE account = $1 AND region = $2 AND rule_name = $3 ORDER BY key";
        let rows: Vec<Tracked> =
            on_pool!(self, p => sqlx::query_as(SQL).bind(account).bind(region).bind(rule_name).fetch_all(p).await?);
        Ok(rows.into_iter().filter(|t| OPEN_STATES.contains(&t.state.as_str())).collect())
    }

    /// The body of the newest event recorded for a finding.
    pub async fn latest_event(&self, key: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str =
            "SELECT body FROM raw_events WHERE id = (SELECT MAX(event_id) FROM audit_log WHERE finding_key = $1)";
        Ok(on_pool!(self, p => sqlx::query_scalar(SQL).bind(key).fetch_optional(p).await?))
    }

    /// Move a finding to `state` with a reason, audited as `actor` doing `action`.
    pub async fn set_state(
        &self,
        key: &str,
        state: &str,
        reason: &str,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        const FINDING: &str = "UPDATE findings SET state = $1, reason = $2, updated_at = $3 WHERE key = $4";
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(FINDING).bind(state).bind(reason).bind(now).bind(key).execute(&mut *tx).await?;
            sqlx::query(AUDIT).bind(now).bind(key).bind(actor).bind(action).bind(detail.to_string()).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
