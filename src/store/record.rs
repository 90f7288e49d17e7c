//! Recording an accepted event: the raw event, its finding, the job that will work it and the audit
//! entry, in one transaction. An intake answers 202 only after this commits, so nothing acknowledged
//! is ever lost; a redelivery hits the `(source, dedup_id)` constraint and creates no new work.

use super::{Store, StoreError, now_ms, on_pool};
use crate::finding::{Finding, FindingKey};
use serde_json::json;

/// An authenticated event to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// `eventbridge`, `sns`, `github`, `sync`, `cli`.
    pub source: &'a str,
    /// The delivery's identity for de-duplication.
    pub dedup_id: &'a str,
    /// The raw body, kept for audit and replay.
    pub body: &'a str,
    /// The parsed finding with its rule identifier, when the event carries one; `None` records the
    /// event as ignored (well-formed, nothing to do).
    pub finding: Option<(&'a Finding, &'a str)>,
    /// Attempts before a job is parked as dead.
    pub max_attempts: i64,
}

/// What recording did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// First delivery: stored, and a job enqueued unless one is already open for the finding.
    New { event_id: i64, finding_key: Option<FindingKey>, job_id: Option<i64> },
    /// Seen before: nothing changed.
    Duplicate,
}

const INSERT_EVENT: &str = "INSERT INTO raw_events (source, dedup_id, received_at, verdict, finding_key, body)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, dedup_id) DO NOTHING RETURNING id";

const UPSERT_FINDING: &str = "INSERT INTO findings (key, account, region, resource_type, resource_id, rule_identifier,
        rule_name, state, compliance, last_evaluated_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8, $9, $10, $10)
     ON CONFLICT (key) DO UPDATE SET compliance = excluded.compliance,
        last_evaluated_at = excluded.last_evaluated_at, rule_name = excluded.rule_name, updated_at = excluded.updated_at";

const ENQUEUE: &str =
    "INSERT INTO jobs (kind, finding_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at)
     VALUES ('remediate', $1, $2, 'queued', $3, 0, $4, $3, $3)
     ON CONFLICT (kind, finding_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING id";

const AUDIT: &str = "INSERT INTO audit_log (at, finding_key, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";

impl Store {
    /// Durably record an event (see the module docs).
    pub async fn record_event(&self, ev: &NewEvent<'_>) -> Result<Recorded, StoreError> {
        let mut out = self.record_events(std::slice::from_ref(ev)).await?;
        Ok(out.pop().unwrap_or(Recorded::Duplicate))
    }

    /// Durably record a batch of events in one transaction (one commit, one fsync), each with the
    /// same semantics as [`Store::record_event`]: a redelivery within the batch or before it is a
    /// `Duplicate`, and a finding gets at most one open job. All or nothing.
    pub async fn record_events(&self, events: &[NewEvent<'_>]) -> Result<Vec<Recorded>, StoreError> {
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut out = Vec::with_capacity(events.len());
            for ev in events {
                let key = ev.finding.map(|(f, rule)| FindingKey::new(&f.resource, rule));
                let verdict = if ev.finding.is_some() { "accepted" } else { "ignored" };
                let event_id: Option<i64> = sqlx::query_scalar(INSERT_EVENT)
                    .bind(ev.source)
                    .bind(ev.dedup_id)
                    .bind(now)
                    .bind(verdict)
                    .bind(key.as_ref().map(FindingKey::as_str))
                    .bind(ev.body)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(event_id) = event_id else {
                    out.push(Recorded::Duplicate);
                    continue;
                };
                let mut job_id = None;
                if let (Some((f, rule)), Some(key)) = (ev.finding, &key) {
                    let r = &f.resource;
                    sqlx::query(UPSERT_FINDING)
                        .bind(key.as_str())
                        .bind(&r.account)
                        .bind(&r.region)
                        .bind(&r.resource_type)
                        .bind(&r.id)
                        .bind(rule)
                        .bind(f.rule.name.as_deref())
                        .bind(f.compliance.as_str())
                        .bind(f.ordering_timestamp.as_deref())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    job_id = sqlx::query_scalar(ENQUEUE)
                        .bind(key.as_str())
                        .bind(json!({ "event_id": event_id }).to_string())
                        .bind(now)
                        .bind(ev.max_attempts)
                        .fetch_optional(&mut *tx)
                        .await?;
                }
                let detail = json!({ "source": ev.source, "dedup_id": ev.dedup_id, "event_id": event_id, "job_id": job_id });
                sqlx::query(AUDIT)
                    .bind(now)
                    .bind(key.as_ref().map(FindingKey::as_str))
                    .bind("driftfix")
                    .bind(if key.is_some() { "event.accepted" } else { "event.ignored" })
                    .bind(detail.to_string())
                    .execute(&mut *tx)
                    .await?;
                out.push(Recorded::New { event_id, finding_key: key, job_id });
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    /// Append one entry to the audit log.
    pub async fn audit(
        &self,
        finding_key: Option<&str>,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query(AUDIT).bind(now_ms()).bind(finding_key).bind(actor).bind(action).bind(detail.to_string()).execute(pool).await?;
        });
        Ok(())
    }

    /// A finding's audit trail, oldest first: `(at, actor, action, detail)`.
    pub async fn audit_trail(&self, finding_key: &str) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        const SQL: &str = "SELECT at, actor, action, detail FROM audit_log WHERE finding_key = $1 ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL).bind(finding_key).fetch_all(pool).await?))
    }

    /// A finding's state, when the store knows the finding.
    pub async fn finding_state(&self, key: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT state FROM findings WHERE key = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(SQL).bind(key).fetch_optional(pool).await?))
    }

    /// Row counts of `raw_events`, `findings` and `jobs`, for tests and metrics.
    pub async fn counts(&self) -> Result<(i64, i64, i64), StoreError> {
        const SQL: &str =
            "SELECT (SELECT COUNT(*) FROM raw_events), (SELECT COUNT(*) FROM findings), (SELECT COUNT(*) FROM jobs)";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL).fetch_one(pool).await?))
    }
}
