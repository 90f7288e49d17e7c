//! What happened to each finding after intake: the worker writes outcomes, states and proposals
//! here, and the read API and `driftfix findings` read them back.
//!
//! Every write that changes what a finding *is* (its state, its outcome, its proposal) appends its
//! audit entry in the same transaction, so the audit log can never disagree with the row. Like the
//! rest of the store, each statement is one SQL text for both dialects: optional filters are
//! `($n IS NULL OR column = $n)` instead of SQL assembled at run time.
//!
//! Listings are ordered newest first (`updated_at DESC, key`) and paged with a keyset cursor (the
//! last row's `updated_at` and key), not an offset: a finding that changes state while someone
//! pages moves to the front instead of shifting every later page by one.

use super::jobs::{JOB_DONE, Job};
use super::{Store, StoreError, now_ms, on_pool};
use crate::remediate::Outcome;
use crate::render::PullRequest;
use serde::{Serialize, Serializer};
use serde_json::json;

/// Default page size of listings.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page a listing returns.
pub const MAX_PAGE: u32 = 500;
/// Most recent raw events and audit entries shown with one finding (older ones stay stored).
pub const DETAIL_HISTORY: i64 = 200;

/// Which findings to list. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub state: Option<String>,
    /// Matches the rule identifier (`SQS_QUEUE_ENCRYPTED`) or the rule name as the event gave it.
    pub rule: Option<String>,
    pub account: Option<String>,
    /// Matches the repository or the route name the worker sent the finding to.
    pub repo: Option<String>,
}

/// Where a page starts: just after this `(updated_at, key)` in the listing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub updated_at: i64,
    pub key: String,
}

impl Cursor {
    /// The cursor continuing after `row`.
    pub fn after(row: &FindingSummary) -> Cursor {
        Cursor { updated_at: row.updated_at, key: row.key.clone() }
    }

    /// The opaque text form, `<updated_at>.<key>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.updated_at, self.key)
    }

    /// Parse [`Cursor::encode`]'s text; `None` for anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (at, key) = text.split_once('.')?;
        let updated_at = at.parse().ok()?;
        let key_ok = !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_alphanumeric());
        key_ok.then(|| Cursor { updated_at, key: key.to_owned() })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Rows per page (at most [`MAX_PAGE`]).
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl Default for Page {
    fn default() -> Page {
        Page { limit: DEFAULT_PAGE, after: None }
    }
}

/// A finding as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingSummary {
    pub key: String,
    pub state: String,
    pub rule: RuleSummary,
    pub resource: ResourceSummary,
    /// The last outcome's kind (`fix`, `advice`, …); `None` before the worker ran or without a route.
    pub outcome: Option<String>,
    pub location: Option<LocationSummary>,
    pub route: Option<String>,
    pub repo: Option<String>,
    /// Epoch milliseconds; RFC 3339 in JSON.
    #[serde(serialize_with = "as_time")]
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    pub identifier: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceSummary {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    pub account: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationSummary {
    pub address: String,
    pub file: String,
    pub line: i64,
}

/// One finding with its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingDetail {
    #[serde(flatten)]
    pub summary: FindingSummary,
    pub compliance: Option<String>,
    /// AWS's `orderingTimestamp` of the last evaluation, as AWS wrote it.
    pub last_evaluated_at: Option<String>,
    #[serde(serialize_with = "as_time")]
    pub created_at: i64,
    pub reason: Option<String>,
    pub diff: Option<String>,
    /// The most recent [`DETAIL_HISTORY`] raw events, oldest first (bodies are not included).
    pub events: Vec<EventSummary>,
    pub proposal: Option<ProposalSummary>,
    /// The most recent [`DETAIL_HISTORY`] audit entries, oldest first.
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EventSummary {
    pub id: i64,
    pub source: String,
    pub dedup_id: String,
    #[serde(serialize_with = "as_time")]
    pub received_at: i64,
    pub verdict: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ProposalSummary {
    pub branch: String,
    /// `rendered` (dry run: stored, never pushed) | `open` | `merged` | `closed`.
    pub state: String,
    pub title: String,
    pub body: String,
    pub pr_number: Option<i64>,
    pub pr_url: Option<String>,
    pub ticket_key: Option<String>,
    #[serde(serialize_with = "as_time")]
    pub created_at: i64,
    #[serde(serialize_with = "as_time")]
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    #[serde(serialize_with = "as_time")]
    pub at: i64,
    pub actor: String,
    pub action: String,
    /// The stored JSON detail (a string when it is not valid JSON).
    pub detail: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    key: String,
    state: String,
    rule_identifier: String,
    rule_name: Option<String>,
    resource_type: String,
    resource_id: String,
    account: String,
    region: String,
    outcome: Option<String>,
    location_address: Option<String>,
    location_file: Option<String>,
    location_line: Option<i64>,
    route: Option<String>,
    repo: Option<String>,
    updated_at: i64,
}

impl From<SummaryRow> for FindingSummary {
    fn from(r: SummaryRow) -> FindingSummary {
        let location = match (r.location_address, r.location_file, r.location_line) {
            (Some(address), Some(file), Some(line)) => Some(LocationSummary { address, file, line }),
            _ => None,
        };
        FindingSummary {
            key: r.key,
            state: r.state,
            rule: RuleSummary { identifier: r.rule_identifier, name: r.rule_name },
            resource: ResourceSummary {
                resource_type: r.resource_type,
                id: r.resource_id,
                account: r.account,
                region: r.region,
            },
            outcome: r.outcome,
            location,
            route: r.route,
            repo: r.repo,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    compliance: Option<String>,
    last_evaluated_at: Option<String>,
    created_at: i64,
    reason: Option<String>,
    diff: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    at: i64,
    actor: String,
    action: String,
    detail: String,
}

const AUDIT: &str = "INSERT INTO audit_log (at, finding_key, actor, action, detail) VALUES ($1, $2, $3, $4, $5)";

const SAVE_OUTCOME: &str = "UPDATE findings SET state = $1, outcome = $2, location_address = $3, location_file = $4,
        location_line = $5, diff = $6, reason = $7, updated_at = $8
     WHERE key = $9";

const SET_STATE: &str = "UPDATE findings SET state = $1, reason = $2, outcome = NULL, location_address = NULL,
        location_file = NULL, location_line = NULL, diff = NULL, updated_at = $3
     WHERE key = $4";

const SET_ROUTE: &str = "UPDATE findings SET route = $1, repo = $2 WHERE key = $3";

const UPSERT_PROPOSAL: &str = "INSERT INTO proposals (finding_key, branch, state, title, body, created_at, updated_at)
     VALUES ($1, $2, 'rendered', $3, $4, $5, $5)
     ON CONFLICT (finding_key) DO UPDATE SET branch = excluded.branch, title = excluded.title, body = excluded.body,
        state = CASE WHEN proposals.state = 'rendered' THEN 'rendered' ELSE proposals.state END,
        updated_at = excluded.updated_at";

const ENQUEUE_TICKET: &str =
    "INSERT INTO jobs (kind, finding_key, payload, state, run_at, attempts, max_attempts, created_at, updated_at)
     VALUES ('ticket', $1, $2, 'queued', $3, 0, $4, $3, $3)
     ON CONFLICT (kind, finding_key) WHERE state IN ('queued', 'running') DO NOTHING";

const SAVE_PUSHED: &str = "UPDATE proposals SET state = $1, pr_number = $2, pr_url = $3, head_sha = $4, repo = $5,
        updated_at = $6,
        opened_at = CASE WHEN $8 = 'opened' OR COALESCE(pr_number, -1) <> $2 THEN $6 ELSE opened_at END
     WHERE finding_key = $7";

const LIST: &str =
    "SELECT key, state, rule_identifier, rule_name, resource_type, resource_id, account, region, outcome,
        location_address, location_file, location_line, route, repo, updated_at
     FROM findings
     WHERE ($1 IS NULL OR state = $1)
       AND ($2 IS NULL OR rule_identifier = $2 OR rule_name = $2)
       AND ($3 IS NULL OR account = $3)
       AND ($4 IS NULL OR repo = $4 OR route = $4)
       AND ($5 IS NULL OR updated_at < $5 OR (updated_at = $5 AND key > $6))
     ORDER BY updated_at DESC, key
     LIMIT $7";

const DETAIL: &str =
    "SELECT key, state, rule_identifier, rule_name, resource_type, resource_id, account, region, outcome,
        location_address, location_file, location_line, route, repo, updated_at,
        compliance, last_evaluated_at, created_at, reason, diff
     FROM findings WHERE key = $1";

const EVENTS: &str = "SELECT id, source, dedup_id, received_at, verdict FROM raw_events
     WHERE id IN (SELECT event_id FROM audit_log WHERE finding_key = $1 AND event_id IS NOT NULL
                  ORDER BY id DESC LIMIT $2)
     ORDER BY id";

const PROPOSAL: &str = "SELECT branch, state, title, body, pr_number, pr_url, ticket_key, created_at, updated_at
     FROM proposals WHERE finding_key = $1";

const AUDIT_TRAIL: &str = "SELECT at, actor, action, detail FROM
        (SELECT id, at, actor, action, detail FROM audit_log WHERE finding_key = $1 ORDER BY id DESC LIMIT $2) AS recent
     ORDER BY id";

/// How a job resolved its finding (see [`Store::resolve_job`]).
#[derive(Debug)]
pub enum Resolution<'a> {
    /// The engine ran: its outcome, the rendered pull request for a fix, and what became of it on
    /// GitHub when it was pushed.
    Outcome {
        state: &'a str,
        outcome: &'a Outcome,
        pr: Option<&'a PullRequest>,
        pushed: Option<&'a Pushed>,
        /// The payload of the `ticket` job to queue with this resolution (Jira is configured and the
        /// outcome deserves a ticket).
        ticket: Option<&'a str>,
    },
    /// A state without an engine outcome (e.g. `no-route`), clearing any earlier outcome.
    State { state: &'a str, reason: &'a str },
    /// The finding is left exactly as it is (an accepted risk still holds); the job ends and the
    /// audit log says why.
    Kept { state: &'a str, reason: &'a str },
}

/// A pull request as it stands on GitHub after the worker's step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `owner/name`.
    pub repo: String,
    pub number: i64,
    pub url: String,
    /// The commit the bot put on the branch (`None` once merged or closed).
    pub head_sha: Option<String>,
    /// `open` | `merged` | `closed`.
    pub state: &'static str,
    /// What the step did, for the audit log: `opened`, `updated`, `current`, `merged`, `closed`,
    /// `human-edited`.
    pub action: &'static str,
}

/// The finding's reason, with the advice's steps when there are some (as `driftfix remediate
/// --output json` reports it).
fn reason_text(outcome: &Outcome) -> String {
    match &outcome.advice {
        Some(a) if !a.steps.is_empty() => format!("{} What to do: {}", outcome.reason, a.steps.join(" ")),
        _ => outcome.reason.clone(),
    }
}

impl Store {
    /// Finish a job with its result, in one transaction guarded by the job's lease: the job is
    /// marked done only if this worker still holds it, and only then are the finding's new state,
    /// its proposal and their audit entries written. A worker whose lease expired (another replica
    /// took the job over) writes nothing, so every finding is resolved exactly once. Returns `false`
    /// when the lease was lost.
    pub async fn resolve_job(&self, job: &Job, resolution: &Resolution<'_>) -> Result<bool, StoreError> {
        let now = now_ms();
        let key = job.finding_key.as_deref().unwrap_or_default();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let owned = sqlx::query(JOB_DONE).bind(now).bind(job.id).bind(job.lease_until).execute(&mut *tx).await?.rows_affected();
            if owned != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            let (state, detail) = match resolution {
                Resolution::Outcome { state, outcome, .. } => {
                    let loc = outcome.location.as_ref();
                    let diff: Option<String> =
                        (!outcome.changes.is_empty()).then(|| outcome.changes.iter().map(|c| c.diff.as_str()).collect());
                    sqlx::query(SAVE_OUTCOME)
                        .bind(*state)
                        .bind(outcome.kind.as_str())
                        .bind(loc.map(|l| l.address.as_str()))
                        .bind(loc.map(|l| l.file.as_str()))
                        .bind(loc.map(|l| i64::try_from(l.line).unwrap_or(i64::MAX)))
                        .bind(diff.as_deref())
                        .bind(reason_text(outcome))
                        .bind(now)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                    let detail = json!({
                        "outcome": outcome.kind.as_str(),
                        "rule": outcome.rule.map(|r| r.meta().identifier),
                        "location": outcome.location,
                        "risk": outcome.risk.map(|r| r.as_str()),
                    });
                    (*state, detail)
                }
                Resolution::State { state, reason } => {
                    sqlx::query(SET_STATE).bind(*state).bind(*reason).bind(now).bind(key).execute(&mut *tx).await?;
                    (*state, json!({ "reason": reason }))
                }
                Resolution::Kept { state, reason } => (*state, json!({ "reason": reason, "unchanged": true })),
            };
            let action = format!("finding.{state}");
            sqlx::query(AUDIT).bind(now).bind(key).bind("driftfix").bind(&action).bind(detail.to_string()).execute(&mut *tx).await?;
            if let Resolution::Outcome { pr: Some(pr), pushed, .. } = resolution {
                let detail = json!({ "branch": pr.branch, "title": pr.title }).to_string();
                sqlx::query(UPSERT_PROPOSAL).bind(key).bind(&pr.branch).bind(&pr.title).bind(&pr.body).bind(now).execute(&mut *tx).await?;
                sqlx::query(AUDIT).bind(now).bind(key).bind("driftfix").bind("proposal.rendered").bind(&detail).execute(&mut *tx).await?;
                if let Some(p) = pushed {
                    sqlx::query(SAVE_PUSHED).bind(p.state).bind(p.number).bind(&p.url).bind(p.head_sha.as_deref()).bind(&p.repo).bind(now).bind(key).bind(p.action).execute(&mut *tx).await?;
                    let detail = json!({ "repo": p.repo, "number": p.number, "url": p.url, "head_sha": p.head_sha }).to_string();
                    let action = format!("pull_request.{}", p.action);
                    sqlx::query(AUDIT).bind(now).bind(key).bind("driftfix").bind(&action).bind(&detail).execute(&mut *tx).await?;
                }
            }
            if let Resolution::Outcome { ticket: Some(payload), .. } = resolution {
                sqlx::query(ENQUEUE_TICKET).bind(key).bind(*payload).bind(now).bind(job.max_attempts).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Put a job back in the queue until `run_at` without spending an attempt (a rate limit is not
    /// the job's failure), and mark its finding `rate-limited`. Guarded by the lease like
    /// [`Store::resolve_job`]; returns `false` when the lease was lost.
    pub async fn defer_job(&self, job: &Job, run_at: i64, reason: &str) -> Result<bool, StoreError> {
        const DEFER: &str =
            "UPDATE jobs SET state = 'queued', run_at = $1, attempts = attempts - 1, lease_until = NULL,
                last_error = $2, updated_at = $3
             WHERE id = $4 AND state = 'running' AND lease_until = $5";
        const MARK: &str = "UPDATE findings SET state = 'rate-limited', reason = $1, updated_at = $2 WHERE key = $3";
        let now = now_ms();
        let key = job.finding_key.as_deref().unwrap_or_default();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let owned = sqlx::query(DEFER).bind(run_at).bind(reason).bind(now).bind(job.id).bind(job.lease_until).execute(&mut *tx).await?.rows_affected();
            if owned != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(MARK).bind(reason).bind(now).bind(key).execute(&mut *tx).await?;
            let detail = json!({ "reason": reason, "retry_at": run_at }).to_string();
            sqlx::query(AUDIT).bind(now).bind(key).bind("driftfix").bind("finding.rate-limited").bind(&detail).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Record which route and repository a finding was sent to (`None`: no route covers it).
    pub async fn set_route(&self, key: &str, route: Option<(&str, &str)>) -> Result<bool, StoreError> {
        let (name, repo) = route.unzip();
        let n = on_pool!(self, pool => sqlx::query(SET_ROUTE).bind(name).bind(repo).bind(key).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Record the rule identifier AWS gave (`DescribeConfigRules`) where the event's rule name did not
    /// resolve, so listings by rule find the finding. The key does not change.
    pub async fn set_rule_identifier(&self, key: &str, identifier: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE findings SET rule_identifier = $1 WHERE key = $2";
        on_pool!(self, pool => { sqlx::query(SQL).bind(identifier).bind(key).execute(pool).await?; });
        Ok(())
    }

    /// The rule identifier a finding is keyed by, and its state.
    pub async fn finding_rule(&self, key: &str) -> Result<Option<(String, String)>, StoreError> {
        const SQL: &str = "SELECT rule_identifier, state FROM findings WHERE key = $1";
        Ok(on_pool!(self, pool => sqlx::query_as(SQL).bind(key).fetch_optional(pool).await?))
    }

    /// A raw event's body, for the worker and for replay.
    pub async fn raw_event_body(&self, event_id: i64) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT body FROM raw_events WHERE id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar(SQL).bind(event_id).fetch_optional(pool).await?))
    }

    /// Findings matching `filter`, newest first, at most `page.limit` (capped at [`MAX_PAGE`]) after
    /// `page.after`.
    pub async fn list_findings(&self, filter: &FindingFilter, page: &Page) -> Result<Vec<FindingSummary>, StoreError> {
        self.list_rows(filter, page.after.as_ref(), page.limit.min(MAX_PAGE)).await
    }

    /// One page and the cursor of the next one (`None` on the last page).
    pub async fn findings_page(
        &self,
        filter: &FindingFilter,
        page: &Page,
    ) -> Result<(Vec<FindingSummary>, Option<Cursor>), StoreError> {
        let limit = page.limit.min(MAX_PAGE);
        let mut rows = self.list_rows(filter, page.after.as_ref(), limit + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(Cursor::after) } else { None };
        Ok((rows, next))
    }

    async fn list_rows(
        &self,
        filter: &FindingFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<FindingSummary>, StoreError> {
        let rows: Vec<SummaryRow> = on_pool!(self, pool => {
            sqlx::query_as(LIST)
                .bind(filter.state.as_deref())
                .bind(filter.rule.as_deref())
                .bind(filter.account.as_deref())
                .bind(filter.repo.as_deref())
                .bind(after.map(|c| c.updated_at))
                .bind(after.map(|c| c.key.as_str()))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(FindingSummary::from).collect())
    }

    /// One finding with its recent events, its proposal and its recent audit trail.
    pub async fn finding_detail(&self, key: &str) -> Result<Option<FindingDetail>, StoreError> {
        let found: Option<DetailRow> =
            on_pool!(self, pool => sqlx::query_as(DETAIL).bind(key).fetch_optional(pool).await?);
        let Some(row) = found else { return Ok(None) };
        let (events, proposal, audit): (Vec<EventSummary>, Option<ProposalSummary>, Vec<AuditRow>) = on_pool!(self, pool => (
            sqlx::query_as(EVENTS).bind(key).bind(DETAIL_HISTORY).fetch_all(pool).await?,
            sqlx::query_as(PROPOSAL).bind(key).fetch_optional(pool).await?,
            sqlx::query_as(AUDIT_TRAIL).bind(key).bind(DETAIL_HISTORY).fetch_all(pool).await?,
        ));
        let audit = audit
            .into_iter()
            .map(|r| AuditEntry {
                at: r.at,
                actor: r.actor,
                action: r.action,
                detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail)),
            })
            .collect();
        Ok(Some(FindingDetail {
            summary: row.summary.into(),
            compliance: row.compliance,
            last_evaluated_at: row.last_evaluated_at,
            created_at: row.created_at,
            reason: row.reason,
            diff: row.diff,
            events,
            proposal,
            audit,
        }))
    }
}

/// Epoch milliseconds as RFC 3339 UTC, e.g. `2026-11-22T10:00:06.123Z`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The end of a UTC day written `YYYY-MM-DD` (the first millisecond of the next day), as epoch
/// milliseconds: "ignore until 2027-03-31" holds through that whole day. `None` for anything else.
pub fn date_end_ms(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (y, m, d) =
        (parts.next()?.parse::<i64>().ok()?, parts.next()?.parse::<i64>().ok()?, parts.next()?.parse::<i64>().ok()?);
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (the inverse of `civil_from_days`).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days + 1) * 86_400_000)
}

fn as_time<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*ms))
}

#[cfg(test)]
mod tests {
    use super::{Cursor, date_end_ms, format_time};

    #[test]
    fn dates_end_at_the_next_midnight_utc() {
        assert_eq!(date_end_ms("1970-01-01"), Some(86_400_000));
        let end = date_end_ms("2027-03-31").unwrap();
        assert_eq!(format_time(end), "2027-04-01T00:00:00.000Z");
        assert_eq!(format_time(date_end_ms("2028-02-29").unwrap()), "2028-03-01T00:00:00.000Z");
        assert_eq!(date_end_ms("2027-13-01"), None);
        assert_eq!(date_end_ms("tomorrow"), None);
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59.999Z");
        assert!(!format_time(i64::MAX).is_empty() && !format_time(i64::MIN).is_empty());
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor { updated_at: 1_700_000_000_000, key: "ab12".into() };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for bad in ["", "12", "x.ab", "12.", "12.a'b", "12.a.b"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
