//! Authenticated intake: each source is verified before anything is parsed or stored, and a
//! delivery is acknowledged (202) only once it is durably recorded.
//!
//! Answers follow what the senders retry: EventBridge and SNS retry 429 and 5xx, never other 4xx.
//! So a bad credential or a malformed body is a 4xx (retrying cannot help), a full queue or an
//! unavailable database is 503 (retrying later can), and a redelivery is 202 with no new work.

pub mod eventbridge;
pub mod github;
pub mod recorder;
pub mod sns_verify;

use crate::catalog::{self, Params};
use crate::finding::{EventError, Finding};
use crate::metrics::Metrics;
use crate::store::{Recorded, Store};
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::json;
use std::sync::Arc;

/// What intake needs from the configuration.
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    /// Header carrying the EventBridge API key (`x-api-key` by default).
    pub eventbridge_header: String,
    pub eventbridge_api_keys: Vec<SecretString>,
    /// `user:password` pairs for EventBridge Basic auth.
    pub eventbridge_basic: Vec<SecretString>,
    pub sns_topic_arns: Vec<String>,
    pub github_secrets: Vec<SecretString>,
    pub body_limit: usize,
    pub max_attempts: i64,
    /// Queued jobs above which intake answers 503 (EventBridge and SNS retry it).
    pub queue_high_water: i64,
}

/// Shared state of the intake handlers.
#[derive(Clone)]
pub struct IntakeState {
    pub store: Store,
    pub settings: Arc<IntakeSettings>,
    pub metrics: Arc<Metrics>,
    pub certs: Arc<dyn sns_verify::CertFetcher>,
    pub confirmer: Arc<dyn sns::SubscriptionConfirmer>,
    /// The batching writer and the queue gauge ([`recorder`]).
    pub pipeline: recorder::Pipeline,
}

pub mod sns;

/// An intake answer that is not 202: status plus a JSON `{"error": …}` body.
#[derive(Debug)]
pub struct Reject {
    pub status: StatusCode,
    pub message: String,
    /// `Retry-After` seconds for 429/503.
    pub retry_after: Option<u64>,
}

impl Reject {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Reject {
        Reject { status, message: message.into(), retry_after: None }
    }

    fn unavailable(message: impl Into<String>) -> Reject {
        Reject { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into(), retry_after: Some(30) }
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// Read the whole body, refusing (413) anything above the limit without buffering it.
pub async fn read_body(headers: &HeaderMap, body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, Reject> {
    let too_large =
        || Reject::new(StatusCode::PAYLOAD_TOO_LARGE, format!("body is larger than the {limit}-byte limit"));
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| too_large())
}

/// Refuse new work while the queue is above its high-water mark (the sender retries later).
pub async fn check_backpressure(state: &IntakeState) -> Result<(), Reject> {
    let queued = state.pipeline.gauge.queued(&state.store).await.map_err(|e| {
        tracing::error!(error = %e, "store unavailable");
        Reject::unavailable("the store is unavailable; retry later")
    })?;
    if queued > state.settings.queue_high_water {
        return Err(Reject::unavailable(format!("{queued} jobs are queued; retry later")));
    }
    Ok(())
}

/// Map an event parse error: well-formed but unknown events are accepted and recorded as ignored;
/// everything else is the sender's mistake.
pub fn is_ignorable(e: &EventError) -> bool {
    matches!(e, EventError::Unrecognised(_) | EventError::NoConfigFinding)
}

/// The identifier a finding is keyed by: the catalog rule when one resolves, else the rule name as
/// the event gave it (unsupported findings are still recorded and visible).
pub fn rule_key(f: &Finding) -> String {
    catalog::resolve(f, &Params::default())
        .map(|r| r.meta().identifier.to_owned())
        .or_else(|| f.rule.name.clone())
        .or_else(|| f.rule.security_control.clone())
        .unwrap_or_else(|| "UNKNOWN".to_owned())
}

/// Durably record a delivery (batched with concurrent ones by the [`recorder`]) and answer for it.
/// What an accepted event asks of the worker.
pub enum Work {
    /// A finding to remediate.
    Finding(Box<Finding>),
    /// A job of this kind for the event itself (GitHub webhooks).
    Job(String),
    /// Nothing: recorded as ignored.
    Nothing,
}

pub async fn record(
    state: &IntakeState,
    source: &'static str,
    dedup_id: &str,
    body: &str,
    work: Work,
) -> Result<Response, Reject> {
    let (finding, job_kind) = match work {
        Work::Finding(f) => {
            let rule = rule_key(&f);
            (Some((*f, rule)), None)
        }
        Work::Job(kind) => (None, Some(kind)),
        Work::Nothing => (None, None),
    };
    let delivery = recorder::Delivery {
        source,
        dedup_id: dedup_id.to_owned(),
        body: body.to_owned(),
        finding,
        job_kind,
        max_attempts: state.settings.max_attempts,
    };
    let recorded = state.pipeline.recorder.record(delivery).await.map_err(|e| {
        tracing::error!(source, error = %e, "could not record an event");
        Reject::unavailable("the event could not be stored; retry later")
    })?;
    let (verdict, body) = match &recorded {
        Recorded::Duplicate => ("duplicate", json!({ "status": "duplicate" })),
        Recorded::New { finding_key: Some(k), .. } => ("accepted", json!({ "status": "accepted", "finding": k })),
        Recorded::New { finding_key: None, job_id: Some(_), .. } => ("accepted", json!({ "status": "accepted" })),
        Recorded::New { finding_key: None, .. } => ("ignored", json!({ "status": "ignored" })),
    };
    state.metrics.event(source, verdict);
    tracing::debug!(source, verdict, "event recorded");
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// A content hash, for deliveries that carry no id of their own.
pub fn content_id(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The intake routes.
pub fn router(state: IntakeState) -> axum::Router {
    use axum::routing::post;
    axum::Router::new()
        .route("/webhooks/eventbridge", post(eventbridge::handle))
        .route("/webhooks/sns", post(sns::handle))
        .route("/webhooks/github", post(github::handle))
        .with_state(state)
}
