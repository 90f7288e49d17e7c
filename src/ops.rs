//! Operational endpoints and middleware: `/healthz` (the process answers), `/readyz` (the database is
//! reachable and fully migrated), `/metrics` (Prometheus text), and a request id on every request
//! (taken from `x-request-id` when the caller sent a sane one) that is echoed back and put on the
//! request's tracing span.

use crate::metrics::Metrics;
use crate::store::Store;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::Instrument;

/// State of the operational endpoints.
#[derive(Clone)]
pub struct OpsState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: OpsState) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(s): State<OpsState>) -> Response {
    match s.store.is_migrated().await {
        Ok(true) => Json(json!({ "status": "ready", "database": s.store.dialect() })).into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "migrations pending" }))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "database unreachable" }))).into_response()
        }
    }
}

async fn metrics(State(s): State<OpsState>) -> Response {
    let (jobs, findings) = match (s.store.job_states().await, s.store.finding_states().await) {
        (Ok(j), Ok(f)) => (j, f),
        _ => return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response(),
    };
    let mut res = s.metrics.render(&jobs, &findings).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    res
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Give each request an id, a span carrying it, and echo it in `x-request-id`.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| format!("{:x}-{:x}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed)));
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut res = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
