//! Proving a merged fix: a `verify` job is queued when a driftfix pull request merges, due after
//! `[aws] verify_delay_minutes` (time for the pipeline to apply it). It asks Config to evaluate the
//! rule again (`StartConfigRulesEvaluation`; the finding reads `verifying`), then polls what the
//! rule says about the resource every `verify_poll_seconds`:
//! - COMPLIANT, recorded after the merge (or within [`CLOCK_TOLERANCE_MS`] before it) → `verified`,
//!   and the ticket is closed with a comment;
//! - still not, `verify_timeout_minutes` after the evaluation started → `unverified`, and the
//!   ticket gets one comment asking whether the change was applied (it stays open).
//!
//! Waiting is not failing: the job goes back to the queue with its progress in the payload and no
//! attempt spent. A finding that moved on meanwhile (reopened, accepted, proposed again) ends the
//! job without a word; `drift-only` does not count as moving on (a NON_COMPLIANT evaluation between
//! merge and apply finds the code already fixed).

use super::{Failure, Step, Worker};
use crate::aws::{Kind, compliance, parse_rfc3339_ms};
use crate::finding::parse_event;
use crate::store::{Job, now_ms};
use serde_json::{Value, json};

/// The job kind.
pub const KIND: &str = "verify";

/// How much earlier than the merge a result may read and still count as after it. AWS stamps
/// results on its own clock, and its epoch seconds arrive as floating point: a result recorded in
/// the very millisecond of the merge can read as the millisecond before it.
const CLOCK_TOLERANCE_MS: i64 = 1_000;

impl Worker {
    /// Queue the verification of a merged finding (when `[aws]` and `verify` are on).
    pub(super) async fn queue_verify(&self, job: &Job, key: &str) -> Result<bool, Failure> {
        let Some(aws) = self.config.aws.as_deref().filter(|a| a.settings().verify) else { return Ok(false) };
        let now = now_ms();
        let delay = i64::try_from(aws.settings().verify_delay_minutes).unwrap_or(0).saturating_mul(60_000);
        let payload = json!({ "merged_at": now }).to_string();
        self.store.enqueue_at(KIND, key, &payload, now + delay, job.max_attempts).await?;
        Ok(true)
    }

    /// One step of a `verify` job.
    pub(super) async fn verify(&self, job: &Job) -> Result<Step, Failure> {
        let aws = self.config.aws.as_deref().ok_or_else(|| Failure::Job("`[aws]` is off: cannot verify".into()))?;
        let key = job.finding_key.as_deref().ok_or_else(|| Failure::Job("verify job names no finding".into()))?;
        let state = self.store.finding_state(key).await?.unwrap_or_default();
        // `drift-only`: a NON_COMPLIANT evaluation arrived between merge and apply; the code is fixed.
        if !matches!(state.as_str(), "merged" | "verifying" | "drift-only") {
            return Ok(Step::Done);
        }
        let body =
            self.store.latest_event(key).await?.ok_or_else(|| Failure::Job("the finding has no event".into()))?;
        let finding = parse_event(body.as_bytes()).map_err(|e| Failure::Job(format!("the finding's event: {e}")))?;
        let Some(rule) = finding.rule.name.clone() else {
            let reason = "The finding names no Config rule, so it cannot be re-evaluated.";
            self.store.set_state(key, "unverified", reason, "driftfix", "verify.impossible", &json!({})).await?;
            return Ok(Step::Done);
        };
        let mut p: Value = serde_json::from_str(&job.payload).unwrap_or_else(|_| json!({}));
        let merged_at = p["merged_at"].as_i64().unwrap_or(0);
        let settings = aws.settings();
        let poll = i64::try_from(settings.verify_poll_seconds).unwrap_or(60).max(1) * 1000;
        let scope = aws.scope(self.role_for(&finding).as_deref(), &finding.resource.region).await;
        let now = now_ms();

        let Some(started_at) = p["started_at"].as_i64() else {
            match compliance::start_evaluation(&scope, &rule).await {
                Ok(()) => {}
                Err(e) if e.kind == Kind::NotFound => {
                    let reason = format!("The Config rule `{rule}` no longer exists, so the fix cannot be verified.");
                    self.store
                        .set_state(key, "unverified", &reason, "aws:config", "verify.no-rule", &json!({}))
                        .await?;
                    return Ok(Step::Done);
                }
                Err(e) => return Err(e.into()),
            }
            let reason = format!("AWS Config was asked to re-evaluate `{rule}`.");
            self.store
                .set_state(key, "verifying", &reason, "aws:config", "verify.started", &json!({ "rule": rule }))
                .await?;
            p["started_at"] = json!(now);
            return Ok(Step::At { run_at: now + poll, payload: p.to_string() });
        };

        let r = &finding.resource;
        let result = compliance::of_resource(&scope, &rule, &r.resource_type, &r.id).await?;
        let recorded = result.as_ref().and_then(|e| e.recorded_at.as_deref()).and_then(parse_rfc3339_ms);
        let compliant = result.as_ref().is_some_and(|e| e.compliance == "COMPLIANT");
        if compliant && recorded.is_none_or(|t| t >= merged_at - CLOCK_TOLERANCE_MS) {
            let reason = format!("AWS Config evaluates the resource COMPLIANT with `{rule}` after the merge.");
            let detail = json!({ "rule": rule, "recorded_at": result.and_then(|e| e.recorded_at) });
            self.store.set_state(key, "verified", &reason, "aws:config", "verify.compliant", &detail).await?;
            self.queue_ticket(job, key, "ticket:verified", json!({ "rule": rule })).await?;
            return Ok(Step::Done);
        }
        let timeout = i64::try_from(settings.verify_timeout_minutes).unwrap_or(0).saturating_mul(60_000);
        if now < started_at + timeout {
            return Ok(Step::At { run_at: now + poll, payload: p.to_string() });
        }
        let verdict = result.map_or_else(|| "no result".to_owned(), |e| e.compliance);
        let minutes = settings.verify_timeout_minutes;
        let reason =
            format!("Still {verdict} for `{rule}` {minutes} minutes after re-evaluation: was the change applied?");
        self.store
            .set_state(key, "unverified", &reason, "aws:config", "verify.timeout", &json!({ "compliance": verdict }))
            .await?;
        let detail = json!({ "rule": rule, "compliance": verdict, "minutes": minutes });
        self.queue_ticket(job, key, "ticket:unverified", detail).await?;
        Ok(Step::Done)
    }
}
