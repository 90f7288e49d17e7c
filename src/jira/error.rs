//! What can go wrong talking to Jira, split the way a caller has to branch: retry later (transport,
//! timeout, 5xx, 429 with its `Retry-After`), or stop and tell a human (bad request, bad credentials,
//! missing issue). Messages carry Jira's own `errorMessages`/`errors` text, never a credential.

use std::time::Duration;

/// A failed Jira call. [`JiraError::is_retryable`] says whether trying again later can help.
#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    /// The configuration or the request cannot work, whatever Jira says (e.g. Cloud without an e-mail).
    #[error("jira: invalid {0}")]
    Invalid(String),
    /// The request did not get an HTTP answer (connection refused, reset, TLS).
    #[error("jira {operation}: request failed: {message}")]
    Transport { operation: &'static str, message: String },
    /// No complete answer within the configured timeout.
    #[error("jira {operation}: no answer within {}s", after.as_secs_f64())]
    Timeout { operation: &'static str, after: Duration },
    /// Jira answered with a status the operation does not expect.
    #[error("jira {operation}: HTTP {status}: {message}")]
    Status { operation: &'static str, status: u16, message: String, retry_after: Option<Duration> },
    /// A success status with a body that is not what the API documents.
    #[error("jira {operation}: unexpected response: {message}")]
    Protocol { operation: &'static str, message: String },
}

impl JiraError {
    /// Transport failures, timeouts, 408, 429 and 5xx: the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            JiraError::Transport { .. } | JiraError::Timeout { .. } => true,
            JiraError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            JiraError::Invalid(_) | JiraError::Protocol { .. } => false,
        }
    }

    /// How long Jira asked us to wait (`Retry-After` in seconds), when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            JiraError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when Jira answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            JiraError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Longest error text kept from a response body; Jira's HTML error pages can be large.
const MAX_MESSAGE_CHARS: usize = 500;

/// The human part of an error body: Jira's `ErrorCollection` (`errorMessages` and field `errors`)
/// when the body is one, else the start of the body text.
pub(super) fn message_from_body(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(messages) = v.get("errorMessages").and_then(|m| m.as_array()) {
                parts.extend(messages.iter().filter_map(|m| m.as_str()).map(str::to_owned));
            }
            if let Some(errors) = v.get("errors").and_then(|e| e.as_object()) {
                parts.extend(errors.iter().map(|(field, e)| format!("{field}: {}", e.as_str().unwrap_or_default())));
            }
            if parts.is_empty() { v.to_string() } else { parts.join("; ") }
        }
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let text = if text.is_empty() { "(no error text)".to_owned() } else { text };
    truncate(&text, MAX_MESSAGE_CHARS)
}

/// `Retry-After` as delay-seconds. The HTTP-date form is not used by Jira and reads as `None`.
pub(super) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value.and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_collections_become_one_line() {
        let body = br#"{"errorMessages":["Issue does not exist"],"errors":{"summary":"Summary is required."}}"#;
        assert_eq!(message_from_body(body), "Issue does not exist; summary: Summary is required.");
        assert_eq!(message_from_body(b"  <html>Bad gateway</html> "), "<html>Bad gateway</html>");
        assert_eq!(message_from_body(b""), "(no error text)");
        assert_eq!(message_from_body("x".repeat(600).as_bytes()).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn retryable_is_transport_timeout_429_and_5xx() {
        let status = |status| JiraError::Status { operation: "x", status, message: String::new(), retry_after: None };
        assert!(status(503).is_retryable() && status(429).is_retryable() && status(408).is_retryable());
        for permanent in [400, 401, 403, 404, 409, 422] {
            assert!(!status(permanent).is_retryable(), "{permanent}");
        }
        assert!(JiraError::Timeout { operation: "x", after: Duration::from_secs(1) }.is_retryable());
        assert!(!JiraError::Invalid("x".into()).is_retryable());
    }
}
