//! The App and its installations: authentication through octocrab, and one request function that
//! classifies every answer (success, API error, rate limit, transient failure).

use super::RepoName;
use http::{HeaderMap, Method, StatusCode};
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::retry::RetryConfig;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the App needs to authenticate and how patient it is.
#[derive(Clone)]
pub struct GitHubSettings {
    pub app_id: u64,
    /// The App's private key, PEM (PKCS#1 as GitHub issues it, or PKCS#8).
    pub private_key: SecretString,
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    /// Rate-limit waits up to this long are slept through; longer ones park the finding.
    pub max_inline_wait: Duration,
    /// Per-request timeout (connect and read).
    pub timeout: Duration,
    /// Retries of a transport failure or a 5xx answer, with exponential backoff from `retry_base`.
    pub retries: u32,
    pub retry_base: Duration,
}

impl std::fmt::Debug for GitHubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubSettings")
            .field("app_id", &self.app_id)
            .field("api_url", &self.api_url)
            .field("max_inline_wait", &self.max_inline_wait)
            .finish_non_exhaustive()
    }
}

impl GitHubSettings {
    /// Settings with the production defaults for everything but identity and key.
    pub fn new(app_id: u64, private_key: SecretString, api_url: &str) -> GitHubSettings {
        GitHubSettings {
            app_id,
            private_key,
            api_url: api_url.trim_end_matches('/').to_owned(),
            max_inline_wait: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            retries: 3,
            retry_base: Duration::from_millis(500),
        }
    }
}

/// Why a GitHub call failed. Messages hold routes and GitHub's own message, never a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub App configuration: {0}")]
    Config(String),
    #[error("the GitHub App is not installed on {0} (install it, or remove the route)")]
    NotInstalled(RepoName),
    #[error("GitHub rate limit ({reason}); retry after {}", retry_at_text(*.retry_at))]
    RateLimited { retry_at: SystemTime, reason: String },
    #[error("GitHub {method} {route}: {status} {message}")]
    Api { method: String, route: String, status: u16, message: String },
    #[error("GitHub {method} {route}: {message}")]
    Transport { method: String, route: String, message: String },
    #[error("refused: {0}")]
    Refused(String),
}

fn retry_at_text(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("epoch {secs}")
}

/// A response, status and headers kept.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    /// Decode the body.
    pub fn json<T: DeserializeOwned>(&self, method: &Method, route: &str) -> Result<T, GitHubError> {
        serde_json::from_str(&self.body).map_err(|e| GitHubError::Transport {
            method: method.to_string(),
            route: route.to_owned(),
            message: format!("unexpected response shape: {e}"),
        })
    }
}

/// The App: its JWT client and the installation of each repository it has looked up.
pub struct GitHubApp {
    app: Octocrab,
    settings: Arc<GitHubSettings>,
    by_repo: Mutex<HashMap<RepoName, Arc<Installation>>>,
    by_id: Mutex<HashMap<u64, Arc<Installation>>>,
    /// Blob texts by SHA, shared by every repository.
    pub blobs: Arc<super::BlobCache>,
    /// Labels known to exist, per repository.
    pub labels: super::KnownLabels,
}

impl std::fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubApp").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// One installation: a client holding (and refreshing) its token, and the lock that keeps its
/// content writes one at a time.
pub struct Installation {
    pub id: u64,
    octo: Octocrab,
    settings: Arc<GitHubSettings>,
    writes: tokio::sync::Mutex<()>,
}

impl GitHubApp {
    /// Build the App client. Fails on a key that is not an RSA PEM or an unusable URL.
    pub fn new(settings: GitHubSettings) -> Result<GitHubApp, GitHubError> {
        let key = octocrab::EncodingKey::from_rsa_pem(settings.private_key.expose_secret().as_bytes())
            .map_err(|_| GitHubError::Config("the private key is not an RSA key in PEM form".into()))?;
        let app = Octocrab::builder()
            .base_uri(settings.api_url.as_str())
            .map_err(|_| GitHubError::Config(format!("`{}` is not a usable API URL", settings.api_url)))?
            .app(AppId(settings.app_id), key)
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(settings.timeout))
            .set_read_timeout(Some(settings.timeout))
            .build()
            .map_err(|e| GitHubError::Config(e.to_string()))?;
        Ok(GitHubApp {
            app,
            settings: Arc::new(settings),
            by_repo: Mutex::default(),
            by_id: Mutex::default(),
            blobs: Arc::default(),
            labels: super::KnownLabels::default(),
        })
    }

    /// The installation covering `repo` (looked up once, then cached).
    pub async fn installation(&self, repo: &RepoName) -> Result<Arc<Installation>, GitHubError> {
        if let Some(i) = lock(&self.by_repo).get(repo) {
            return Ok(i.clone());
        }
        let route = format!("{}/installation", repo.api_path());
        let response = send_with(&self.app, &self.settings, &Method::GET, &route, None).await;
        let response = match response {
            Err(GitHubError::Api { status: 404, .. }) => return Err(GitHubError::NotInstalled(repo.clone())),
            other => other?,
        };
        #[derive(serde::Deserialize)]
        struct Found {
            id: u64,
        }
        let found: Found = response.json(&Method::GET, &route)?;
        let installation = {
            let mut by_id = lock(&self.by_id);
            match by_id.get(&found.id) {
                Some(i) => i.clone(),
                None => {
                    let octo = self
                        .app
                        .installation(InstallationId(found.id))
                        .map_err(|e| GitHubError::Config(format!("installation {}: {e}", found.id)))?;
                    let i = Arc::new(Installation {
                        id: found.id,
                        octo,
                        settings: self.settings.clone(),
                        writes: tokio::sync::Mutex::new(()),
                    });
                    by_id.insert(found.id, i.clone());
                    i
                }
            }
        };
        lock(&self.by_repo).insert(repo.clone(), installation.clone());
        Ok(installation)
    }

    /// The repository's Terraform files (and `extra` paths) at its default branch head.
    pub async fn snapshot(&self, repo: &RepoName, extra: &[String]) -> Result<super::Snapshot, GitHubError> {
        let inst = self.installation(repo).await?;
        super::source::fetch(&inst, repo, &self.blobs, extra).await
    }

    /// Open the finding's pull request or bring it up to date (see [`super::propose::propose`]).
    pub async fn propose(&self, p: &super::Proposal<'_>) -> Result<super::Proposed, GitHubError> {
        let inst = self.installation(&p.snapshot.repo).await?;
        super::propose::propose(&inst, &self.labels, p).await
    }

    /// Drop what is cached about installations (after an `installation` or
    /// `installation_repositories` webhook): the next call looks them up again.
    pub fn forget_installations(&self) {
        lock(&self.by_repo).clear();
        lock(&self.by_id).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Items per page when listing (GitHub's maximum).
const PAGE_SIZE: usize = 100;

impl Installation {
    /// Send a request with the installation's token. GETs run in parallel; anything else holds the
    /// installation's write lock for its duration.
    pub async fn send(
        &self,
        method: Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, GitHubError> {
        let _write = if method == Method::GET { None } else { Some(self.writes.lock().await) };
        send_with(&self.octo, &self.settings, &method, route, body).await
    }

    /// GET and decode.
    pub async fn get<T: DeserializeOwned>(&self, route: &str) -> Result<T, GitHubError> {
        self.send(Method::GET, route, None).await?.json(&Method::GET, route)
    }

    /// GET and decode, `None` on 404.
    pub async fn get_optional<T: DeserializeOwned>(&self, route: &str) -> Result<Option<T>, GitHubError> {
        match self.send(Method::GET, route, None).await {
            Ok(r) => r.json(&Method::GET, route).map(Some),
            Err(GitHubError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Walk a list route 100 items a page, at most `max_pages` pages, handing each item to `visit`
    /// until it breaks or the list ends. Every list the bot reads goes through here, so none of
    /// them silently stops at the first page.
    pub async fn walk_paged<T: DeserializeOwned>(
        &self,
        route: &str,
        max_pages: usize,
        mut visit: impl FnMut(T) -> ControlFlow<()>,
    ) -> Result<(), GitHubError> {
        let sep = if route.contains('?') { '&' } else { '?' };
        for page in 1..=max_pages {
            let listed: Vec<T> = self.get(&format!("{route}{sep}per_page={PAGE_SIZE}&page={page}")).await?;
            let last = listed.len() < PAGE_SIZE;
            if listed.into_iter().any(|item| visit(item).is_break()) || last {
                break;
            }
        }
        Ok(())
    }

    /// The first item of a list route that `accept` takes (`None` when no page holds one).
    pub async fn find_paged<T: DeserializeOwned>(
        &self,
        route: &str,
        max_pages: usize,
        mut accept: impl FnMut(&T) -> bool,
    ) -> Result<Option<T>, GitHubError> {
        let mut found = None;
        self.walk_paged(route, max_pages, |item: T| {
            if accept(&item) {
                found = Some(item);
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
        Ok(found)
    }

    /// A write (POST, PATCH, PUT) with a JSON body, decoded.
    pub async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        route: &str,
        body: &serde_json::Value,
    ) -> Result<T, GitHubError> {
        let response = self.send(method.clone(), route, Some(body)).await?;
        response.json(&method, route)
    }
}

/// One request with retries: transport failures and 5xx are retried with exponential backoff; rate
/// limits are waited out when short and returned as [`GitHubError::RateLimited`] when long.
async fn send_with(
    octo: &Octocrab,
    settings: &GitHubSettings,
    method: &Method,
    route: &str,
    body: Option<&serde_json::Value>,
) -> Result<Response, GitHubError> {
    let mut attempt = 0u32;
    loop {
        let failure = match send_once(octo, method, route, body).await {
            Ok(r) if r.status.is_success() => return Ok(r),
            Ok(r) => match classify(&r) {
                Answer::RateLimited { wait, reason } => {
                    if wait > settings.max_inline_wait {
                        return Err(GitHubError::RateLimited { retry_at: SystemTime::now() + wait, reason });
                    }
                    tracing::info!(%method, route, wait_ms = wait.as_millis() as u64, reason, "GitHub rate limit: waiting");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Answer::Transient => api_error(method, route, &r),
                Answer::Final => return Err(api_error(method, route, &r)),
            },
            Err(e) => e,
        };
        attempt += 1;
        if attempt > settings.retries {
            return Err(failure);
        }
        let delay = settings.retry_base.saturating_mul(1 << (attempt - 1).min(10));
        tracing::warn!(%method, route, attempt, error = %failure, "GitHub request failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

async fn send_once(
    octo: &Octocrab,
    method: &Method,
    route: &str,
    body: Option<&serde_json::Value>,
) -> Result<Response, GitHubError> {
    let transport = |e: octocrab::Error| GitHubError::Transport {
        method: method.to_string(),
        route: route.to_owned(),
        message: transport_message(&e),
    };
    let response = match *method {
        Method::GET => octo._get(route).await,
        Method::POST => octo._post(route, body).await,
        Method::PATCH => octo._patch(route, body).await,
        Method::PUT => octo._put(route, body).await,
        Method::DELETE => octo._delete(route, body).await,
        _ => return Err(GitHubError::Refused(format!("method {method} is not used by driftfix"))),
    }
    .map_err(transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = octo.body_to_string(response).await.map_err(transport)?;
    Ok(Response { status, headers, body: text })
}

/// octocrab's errors can nest a source chain; keep the first line of each, nothing else.
fn transport_message(e: &octocrab::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.iter().map(|p| p.lines().next().unwrap_or_default()).collect::<Vec<_>>().join(": ")
}

/// How a non-success answer is treated.
enum Answer {
    RateLimited { wait: Duration, reason: String },
    Transient,
    Final,
}

/// GitHub's documented rate-limit signals (primary: 403/429 with `x-ratelimit-remaining: 0` until
/// `x-ratelimit-reset`; secondary: 403/429 mentioning it, with `retry-after` or else at least a
/// minute).
fn classify(r: &Response) -> Answer {
    let header = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let status = r.status;
    if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
            return Answer::RateLimited { wait: Duration::from_secs(secs), reason: "retry-after".into() };
        }
        if header("x-ratelimit-remaining") == Some("0") {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok()).unwrap_or(now + 60);
            let wait = Duration::from_secs(reset.saturating_sub(now).max(1));
            return Answer::RateLimited { wait, reason: "primary limit exhausted".into() };
        }
        let message = error_message(&r.body).to_ascii_lowercase();
        if status == StatusCode::TOO_MANY_REQUESTS || message.contains("secondary rate limit") {
            return Answer::RateLimited { wait: Duration::from_secs(60), reason: "secondary limit".into() };
        }
        return Answer::Final;
    }
    if status.is_server_error() { Answer::Transient } else { Answer::Final }
}

fn api_error(method: &Method, route: &str, r: &Response) -> GitHubError {
    GitHubError::Api {
        method: method.to_string(),
        route: route.to_owned(),
        status: r.status.as_u16(),
        message: error_message(&r.body),
    }
}

/// GitHub's `message` (and the first validation error's `message` or `code`), else the start of the
/// body.
fn error_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.chars().take(200).collect();
    };
    let message = v.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_owned();
    let detail = v
        .get("errors")
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("message").or_else(|| e.get("code")))
        .and_then(|m| m.as_str());
    match detail {
        Some(d) => format!("{message} ({d})"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::{Answer, Response, classify, error_message};
    use http::{HeaderMap, StatusCode};

    fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> Response {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().expect("header value"));
        }
        Response { status: StatusCode::from_u16(status).expect("status"), headers: h, body: body.to_owned() }
    }

    #[test]
    fn rate_limits_are_told_apart_from_permission_errors() {
        let wait = |r: &Response| match classify(r) {
            Answer::RateLimited { wait, .. } => Some(wait.as_secs()),
            _ => None,
        };
        assert_eq!(wait(&response(403, &[("retry-after", "7")], "{}")), Some(7));
        assert_eq!(wait(&response(429, &[], "{}")), Some(60));
        let secondary = r#"{"message":"You have exceeded a secondary rate limit."}"#;
        assert_eq!(wait(&response(403, &[], secondary)), Some(60));
        let reset = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
            + 120)
            .to_string();
        let w = wait(&response(403, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)], "{}"));
        assert!(w.is_some_and(|s| (118..=120).contains(&s)), "{w:?}");
        assert!(matches!(classify(&response(403, &[], r#"{"message":"Resource not accessible"}"#)), Answer::Final));
        assert!(matches!(classify(&response(502, &[], "")), Answer::Transient));
        assert!(matches!(classify(&response(422, &[], "{}")), Answer::Final));
    }

    #[test]
    fn error_messages_include_the_validation_detail() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:b."}]}"#;
        assert_eq!(error_message(body), "Validation Failed (A pull request already exists for o:b.)");
        assert_eq!(error_message("not json"), "not json");
    }
}
