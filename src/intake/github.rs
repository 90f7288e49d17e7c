//! `POST /webhooks/github`: GitHub App webhooks, verified by `X-Hub-Signature-256` over the raw body
//! before anything is parsed. Events of the subscribed kinds are stored; those the bot acts on
//! (see [`crate::github::webhook::job_kind`]) get a job, the rest are recorded as ignored. Events of
//! other kinds are answered 200 and dropped. `X-GitHub-Delivery` de-duplicates.

use super::{IntakeState, Reject, Work, read_body, record};
use crate::auth;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Events the bot subscribes to (the App manifest's list).
const HANDLED: &[&str] = &["pull_request", "issue_comment", "installation", "installation_repositories", "push"];

pub async fn handle(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Reject> {
    let bytes = read_body(&headers, body, state.settings.body_limit).await?;
    let Some(signature) = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok()) else {
        state.metrics.event("github", "unauthorized");
        return Err(Reject::new(StatusCode::UNAUTHORIZED, "missing X-Hub-Signature-256"));
    };
    if !auth::github_signature_valid(&bytes, signature, &state.settings.github_secrets) {
        state.metrics.event("github", "unauthorized");
        return Err(Reject::new(StatusCode::FORBIDDEN, "invalid signature"));
    }
    let event = headers.get("x-github-event").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !HANDLED.contains(&event) {
        state.metrics.event("github", "ignored");
        return Ok((StatusCode::OK, Json(json!({ "status": "ignored", "event": event }))).into_response());
    }
    let delivery = headers
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| super::content_id(&bytes), str::to_owned);
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Err(Reject::new(StatusCode::BAD_REQUEST, "body is not JSON"));
    };
    let work = crate::github::webhook::job_kind(event, &payload).map_or(Work::Nothing, Work::Job);
    record(&state, "github", &delivery, &String::from_utf8_lossy(&bytes), work).await
}
