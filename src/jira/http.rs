//! One place where requests leave for Jira: URLs under the configured base, the `Authorization`
//! header (marked sensitive, built from a secret), a named timeout around the whole exchange, and
//! the mapping of answers to [`JiraError`]. Every operation goes through [`Http::call`], so no
//! call can forget the timeout or leak the credential into an error.

use super::error::{JiraError, message_from_body, parse_retry_after};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::time::Duration;
use url::Url;

/// Time allowed to open a connection, inside the overall per-call timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Http {
    client: reqwest::Client,
    base: Url,
    /// The whole `Authorization` header value (`Basic …` or `Bearer …`).
    authorization: SecretString,
    /// The raw token, kept only to scrub it from any text that came back from the server.
    token: SecretString,
    timeout: Duration,
}

/// A complete answer with an expected status: its body.
pub(super) struct Reply {
    pub body: Vec<u8>,
}

impl Http {
    pub fn new(
        base: Url,
        authorization: SecretString,
        token: SecretString,
        timeout: Duration,
    ) -> Result<Http, JiraError> {
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(JiraError::Invalid(format!("Jira base URL `{base}`: must be an http(s) URL")));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // Never replay the credential to wherever a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| JiraError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Http { client, base, authorization, token, timeout })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `base` + `segments`, each segment percent-encoded (an issue key can never change the path).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Send one request and wait for the whole answer, within the timeout. Any status in `expected`
    /// is returned; any other becomes [`JiraError::Status`].
    pub async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        expected: &[StatusCode],
    ) -> Result<Reply, JiraError> {
        let mut auth = HeaderValue::from_str(self.authorization.expose_secret())
            .map_err(|_| JiraError::Invalid("credentials: not a valid header value".into()))?;
        auth.set_sensitive(true);
        let mut request =
            self.client.request(method, url).header(AUTHORIZATION, auth).header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let exchange = async {
            let response = request.send().await?;
            let status = response.status();
            let retry_after = parse_retry_after(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()));
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>((status, retry_after, body))
        };
        let (status, retry_after, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => return Err(JiraError::Timeout { operation, after: self.timeout }),
            Ok(Err(e)) if e.is_timeout() => return Err(JiraError::Timeout { operation, after: self.timeout }),
            Ok(Err(e)) => {
                return Err(JiraError::Transport { operation, message: self.scrub(&e.without_url().to_string()) });
            }
            Ok(Ok(answer)) => answer,
        };
        tracing::debug!(operation, status = status.as_u16(), "jira answered");
        if expected.contains(&status) {
            return Ok(Reply { body });
        }
        let message = self.scrub(&message_from_body(&body));
        Err(JiraError::Status { operation, status: status.as_u16(), message, retry_after })
    }

    /// Remove the token (raw, or inside the header value) from text that came from the network.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in [self.token.expose_secret(), self.authorization.expose_secret()] {
            let credential = secret.rsplit(' ').next().unwrap_or(secret);
            for s in [secret, credential] {
                if s.len() >= 4 {
                    text = text.replace(s, "[redacted]");
                }
            }
        }
        text
    }
}

impl Reply {
    /// The body as `T`, or a [`JiraError::Protocol`] naming the operation.
    pub fn json<T: DeserializeOwned>(&self, operation: &'static str) -> Result<T, JiraError> {
        serde_json::from_slice(&self.body).map_err(|e| JiraError::Protocol { operation, message: e.to_string() })
    }
}
