//! `POST /webhooks/eventbridge`: an EventBridge API destination. EventBridge signs nothing, so the
//! connection's secret (an API-key header or Basic auth) is the only authentication: checked first,
//! in constant time, against every configured secret.

use super::{IntakeState, Reject, Work, check_backpressure, content_id, is_ignorable, read_body, record};
use crate::auth;
use crate::finding::{Finding, parse_event};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

pub async fn handle(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Reject> {
    authenticate(&state, &headers).inspect_err(|_| state.metrics.event("eventbridge", "unauthorized"))?;
    let bytes = read_body(&headers, body, state.settings.body_limit).await?;
    let text = String::from_utf8_lossy(&bytes);
    match parse_event(&bytes) {
        Ok(f) => {
            check_backpressure(&state).await?;
            let dedup = dedup_id(&f);
            record(&state, "eventbridge", &dedup, &text, Work::Finding(Box::new(f))).await
        }
        Err(e) if is_ignorable(&e) => {
            let id = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|d| d.get("id").and_then(|v| v.as_str()).map(str::to_owned));
            let dedup = id.unwrap_or_else(|| content_id(&bytes));
            record(&state, "eventbridge", &dedup, &text, Work::Nothing).await
        }
        Err(e) => {
            state.metrics.event("eventbridge", "malformed");
            let message = match e {
                crate::finding::EventError::NotJson(m) => format!("body is not JSON: {m}"),
                other => other.to_string(),
            };
            Err(Reject::new(StatusCode::BAD_REQUEST, message))
        }
    }
}

fn authenticate(state: &IntakeState, headers: &HeaderMap) -> Result<(), Reject> {
    let s = &state.settings;
    if s.eventbridge_api_keys.is_empty() && s.eventbridge_basic.is_empty() {
        return Err(Reject::new(StatusCode::FORBIDDEN, "the EventBridge intake has no credentials configured"));
    }
    let key = headers.get(s.eventbridge_header.as_str()).map(|v| v.as_bytes());
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(auth::basic_credentials);
    match (key, basic) {
        (None, None) => Err(Reject::new(StatusCode::UNAUTHORIZED, "missing credentials")),
        (key, basic) => {
            let key_ok = key.is_some_and(|k| auth::matches_any(k, &s.eventbridge_api_keys));
            let basic_ok = basic.is_some_and(|b| auth::matches_any(&b, &s.eventbridge_basic));
            if key_ok || basic_ok { Ok(()) } else { Err(Reject::new(StatusCode::FORBIDDEN, "invalid credentials")) }
        }
    }
}

/// EventBridge's own event `id` (the finding's `event_id`); else rule + resource + evaluation time (a
/// re-sent evaluation).
fn dedup_id(f: &Finding) -> String {
    if let Some(id) = &f.event_id {
        return id.clone();
    }
    format!(
        "{}|{}|{}|{}",
        f.rule.arn.as_deref().or(f.rule.name.as_deref()).unwrap_or_default(),
        f.resource.resource_type,
        f.resource.id,
        f.ordering_timestamp.as_deref().unwrap_or_default()
    )
}
