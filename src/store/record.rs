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
    /// For an event without a finding that still needs work (a GitHub webhook): the kind of job
    /// to enqueue for it. Such an event is recorded as accepted.
    pub job_kind: Option<&'a str>,
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

// Multi-row statements: the VALUES list is generated for the batch size (see `values`).
const INSERT_EVENTS: &str =
    "INSERT INTO raw_events (source, dedup_id, received_at, verdict, finding_key, body) VALUES ";
const INSERT_EVENTS_END: &str = " ON CONFLICT (source, dedup_id) DO NOTHING RETURNING id, source, dedup_id";

const UPSERT_FINDINGS: &str = "INSERT INTO findings (key, account, region, resource_type, resource_id, rule_identifier,
        rule_name, state, compliance, last_evaluated_at, created_at, updated_at) VALUES ";
const UPSERT_FINDINGS_END: &str = " ON CONFLICT (key) DO UPDATE SET compliance = excluded.compliance,
        last_evaluated_at = excluded.last_evaluated_at, rule_name = excluded.rule_name, updated_at = excluded.updated_at";

const ENQUEUE: &str = "INSERT INTO jobs (kind, finding_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at) VALUES ";
const ENQUEUE_END: &str =
    " ON CONFLICT (kind, finding_key) WHERE state IN ('queued', 'running') DO NOTHING RETURNING id, finding_key";

const ENQUEUE_KEYLESS: &str =
    "INSERT INTO jobs (kind, finding_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at)
     VALUES ($1, NULL, $2, 'queued', $3, 0, $4, $5, $5) RETURNING id";

const AUDIT: &str = "INSERT INTO audit_log (at, finding_key, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";
const AUDIT_MANY: &str = "INSERT INTO audit_log (at, finding_key, actor, action, detail, event_id) VALUES ";

/// How a generated statement spells its placeholders.
#[derive(Clone, Copy)]
enum Placeholders {
    /// `$1, $2, …` (PostgreSQL).
    Numbered,
    /// `?, ?, …` (SQLite). Numbered ones work there too, but SQLite finds a numbered parameter's
    /// name by walking a list of all of them, so binding a batch costs O(parameters²): 18% of the
    /// intake write at 512 events × 12 columns.
    Anonymous,
}

/// `($1, $2), ($3, $4)` (or `(?, ?), (?, ?)`) for `rows` rows of `cols` placeholders.
fn values(rows: usize, cols: usize, style: Placeholders) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            s.push_str(if c == 0 { "" } else { ", " });
            match style {
                Placeholders::Numbered => {
                    let _ = write!(s, "${}", r * cols + c + 1);
                }
                Placeholders::Anonymous => s.push('?'),
            }
        }
        s.push(')');
    }
    s
}

fn sql(head: &str, rows: usize, cols: usize, tail: &str, style: Placeholders) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{head}{}{tail}", values(rows, cols, style)))
}

impl Store {
    /// Durably record an event (see the module docs).
    pub async fn record_event(&self, ev: &NewEvent<'_>) -> Result<Recorded, StoreError> {
        let mut out = self.record_events(std::slice::from_ref(ev)).await?;
        Ok(out.pop().unwrap_or(Recorded::Duplicate))
    }

    /// Durably record a batch of events in one transaction, each with the same semantics as
    /// [`Store::record_event`] applied in order: a redelivery within the batch or before it is a
    /// `Duplicate`, the finding keeps its latest evaluation, and a finding gets at most one open job.
    /// Four multi-row statements per batch, whatever its size; all or nothing.
    pub async fn record_events(&self, events: &[NewEvent<'_>]) -> Result<Vec<Recorded>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let style = match self {
            Store::Sqlite(_) => Placeholders::Anonymous,
            Store::Postgres(_) => Placeholders::Numbered,
        };
        let keys: Vec<Option<FindingKey>> =
            events.iter().map(|ev| ev.finding.map(|(f, rule)| FindingKey::new(&f.resource, rule))).collect();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // 1. Raw events. RETURNING order is not guaranteed: map rows back by their identity; the
            //    first occurrence in the batch owns the row, later ones are redeliveries.
            let mut q = sqlx::query_as::<_, (i64, String, String)>(sql(INSERT_EVENTS, events.len(), 6, INSERT_EVENTS_END, style));
            for (ev, key) in events.iter().zip(&keys) {
                let verdict = if key.is_some() || ev.job_kind.is_some() { "accepted" } else { "ignored" };
                q = q.bind(ev.source).bind(ev.dedup_id).bind(now).bind(verdict).bind(key.as_ref().map(FindingKey::as_str)).bind(ev.body);
            }
            let mut inserted: std::collections::HashMap<(String, String), i64> =
                q.fetch_all(&mut *tx).await?.into_iter().map(|(id, src, dedup)| ((src, dedup), id)).collect();
            let event_ids: Vec<Option<i64>> =
                events.iter().map(|ev| inserted.remove(&(ev.source.to_owned(), ev.dedup_id.to_owned()))).collect();

            // 2. Findings of new events; the latest evaluation of a key in the batch wins.
            let mut latest: std::collections::BTreeMap<&str, (&Finding, &str)> = std::collections::BTreeMap::new();
            for ((ev, key), id) in events.iter().zip(&keys).zip(&event_ids) {
                if let (Some(key), Some(_), Some(found)) = (key, id, ev.finding) {
                    latest.insert(key.as_str(), found);
                }
            }
            if !latest.is_empty() {
                let mut q = sqlx::query(sql(UPSERT_FINDINGS, latest.len(), 12, UPSERT_FINDINGS_END, style));
                for (key, (f, rule)) in &latest {
                    let r = &f.resource;
                    q = q.bind(*key).bind(&r.account).bind(&r.region).bind(&r.resource_type).bind(&r.id).bind(*rule)
                        .bind(f.rule.name.as_deref()).bind("received").bind(f.compliance.as_str())
                        .bind(f.ordering_timestamp.as_deref()).bind(now).bind(now);
                }
                q.execute(&mut *tx).await?;
            }

            // 3. Jobs: one per new event with a finding; the partial unique index keeps one open job per
            //    finding, so later rows for the same key (in or before the batch) enqueue nothing.
            let wants_job: Vec<(usize, &str, i64)> = keys
                .iter()
                .zip(&event_ids)
                .enumerate()
                .filter_map(|(i, (k, id))| Some((i, k.as_ref()?.as_str(), (*id)?)))
                .collect();
            let mut job_ids: Vec<Option<i64>> = vec![None; events.len()];
            if !wants_job.is_empty() {
                let mut q = sqlx::query_as::<_, (i64, String)>(sql(ENQUEUE, wants_job.len(), 9, ENQUEUE_END, style));
                for (i, key, event_id) in &wants_job {
                    let payload = json!({ "event_id": event_id }).to_string();
                    q = q.bind("remediate").bind(*key).bind(payload).bind("queued").bind(now).bind(0_i64)
                        .bind(events[*i].max_attempts).bind(now).bind(now);
                }
                let mut by_key: std::collections::HashMap<String, i64> = q.fetch_all(&mut *tx).await?.into_iter().map(|(id, k)| (k, id)).collect();
                for (i, key, _) in &wants_job {
                    job_ids[*i] = by_key.remove(*key);
                }
            }

            // 3b. Jobs for new events that carry work but no finding (rare: one statement each).
            for (i, ev) in events.iter().enumerate() {
                if let (None, Some(kind), Some(event_id)) = (&keys[i], ev.job_kind, event_ids[i]) {
                    let payload = json!({ "event_id": event_id }).to_string();
                    let id: i64 = sqlx::query_scalar(ENQUEUE_KEYLESS).bind(kind).bind(payload).bind(now).bind(ev.max_attempts).bind(now)
                        .fetch_one(&mut *tx).await?;
                    job_ids[i] = Some(id);
                }
            }

            // 4. One audit entry per new event, carrying its id: a finding's events are found through
            //    the audit log's index (see migrations/*/0005_audit_event_id.sql).
            let audited: Vec<usize> = (0..events.len()).filter(|&i| event_ids[i].is_some()).collect();
            if !audited.is_empty() {
                let mut q = sqlx::query(sql(AUDIT_MANY, audited.len(), 6, "", style));
                for &i in &audited {
                    let ev = &events[i];
                    let detail = json!({ "source": ev.source, "dedup_id": ev.dedup_id, "event_id": event_ids[i], "job_id": job_ids[i] });
                    let action = if keys[i].is_some() || ev.job_kind.is_some() { "event.accepted" } else { "event.ignored" };
                    q = q.bind(now).bind(keys[i].as_ref().map(FindingKey::as_str)).bind("driftfix").bind(action).bind(detail.to_string())
                        .bind(event_ids[i]);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(keys
                .into_iter()
                .zip(event_ids)
                .zip(job_ids)
                .map(|((finding_key, event_id), job_id)| match event_id {
                    Some(event_id) => Recorded::New { event_id, finding_key, job_id },
                    None => Recorded::Duplicate,
                })
                .collect())
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

    /// Append `action` to a finding's audit log unless its latest entry of that action holds the
    /// same detail: for facts a job re-finds on every run (a repository file's problems), which
    /// would otherwise fill the trail with copies. True when written.
    pub async fn audit_if_changed(
        &self,
        finding_key: &str,
        actor: &str,
        action: &str,
        detail: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        const LATEST: &str =
            "SELECT detail FROM audit_log WHERE finding_key = $1 AND action = $2 ORDER BY id DESC LIMIT 1";
        let latest: Option<String> = on_pool!(self, pool => sqlx::query_scalar(LATEST).bind(finding_key).bind(action).fetch_optional(pool).await?);
        if latest.and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()).as_ref() == Some(detail) {
            return Ok(false);
        }
        self.audit(Some(finding_key), actor, action, detail).await?;
        Ok(true)
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

#[cfg(test)]
mod tests {
    #[test]
    fn values_lists_placeholders_row_by_row_in_either_style() {
        use super::Placeholders::{Anonymous, Numbered};
        assert_eq!(super::values(2, 3, Numbered), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values(1, 1, Numbered), "($1)");
        assert_eq!(super::values(2, 2, Anonymous), "(?, ?), (?, ?)");
    }
}
