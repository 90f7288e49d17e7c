//! The read API: what happened to each finding, for dashboards and on-call humans.
//!
//! `GET /api/findings` lists findings (filters `state`, `rule`, `repo`, `account`; paging with
//! `limit` and the opaque `after` cursor from the previous page's `next`), `GET /api/findings/{key}`
//! shows one with its events, diff, proposal and audit trail. Every route requires
//! `Authorization: Bearer <token>`; the token is compared in constant time against every configured
//! token (SHA-256 digests, so neither length nor position leaks). Errors are JSON `{"error": …}`.

use crate::store::{Cursor, DEFAULT_PAGE, FindingFilter, MAX_PAGE, Page, Store};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    /// Accepted bearer tokens; empty tokens never match.
    pub tokens: Arc<Vec<SecretString>>,
}

/// The API routes, with their state.
pub fn router(state: ApiState) -> Router {
    Router::new().route("/api/findings", get(list)).route("/api/findings/{key}", get(detail)).with_state(state)
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn internal(e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "read API: store failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

/// Proof that the request carried a valid bearer token.
struct Authorized;

impl FromRequestParts<ApiState> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer_token)
            .filter(|t| !t.is_empty());
        let Some(presented) = presented else {
            let mut res = error(StatusCode::UNAUTHORIZED, "a bearer token is required");
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Err(res);
        };
        if crate::auth::matches_any(presented.as_bytes(), &state.tokens) {
            Ok(Authorized)
        } else {
            Err(error(StatusCode::FORBIDDEN, "the bearer token is not valid"))
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListParams {
    state: Option<String>,
    rule: Option<String>,
    repo: Option<String>,
    account: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// An empty query value means "no filter".
fn filter_value(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

async fn list(
    _: Authorized,
    State(state): State<ApiState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let Ok(Query(p)) = params else { return error(StatusCode::BAD_REQUEST, "malformed query string") };
    let limit = match p.limit.as_deref().filter(|s| !s.is_empty()) {
        None => DEFAULT_PAGE,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => return error(StatusCode::BAD_REQUEST, format!("`limit` must be a whole number from 1 to {MAX_PAGE}")),
        },
    };
    let after = match p.after.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match Cursor::parse(s) {
            Some(c) => Some(c),
            None => return error(StatusCode::BAD_REQUEST, "`after` is not a cursor from a previous page's `next`"),
        },
    };
    let filter = FindingFilter {
        state: filter_value(p.state),
        rule: filter_value(p.rule),
        account: filter_value(p.account),
        repo: filter_value(p.repo),
    };
    match state.store.findings_page(&filter, &Page { limit, after }).await {
        Ok((findings, next)) => Json(json!({ "findings": findings, "next": next.map(|c| c.encode()) })).into_response(),
        Err(e) => internal(&e),
    }
}

async fn detail(_: Authorized, State(state): State<ApiState>, key: Result<Path<String>, PathRejection>) -> Response {
    let not_found = || error(StatusCode::NOT_FOUND, "no such finding");
    let Ok(Path(key)) = key else { return not_found() };
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return not_found();
    }
    match state.store.finding_detail(&key).await {
        Ok(Some(d)) => Json(d).into_response(),
        Ok(None) => not_found(),
        Err(e) => internal(&e),
    }
}
