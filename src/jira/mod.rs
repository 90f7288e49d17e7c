//! Jira: one ticket per finding, linked to its pull request, commented on, and moved through the
//! project's workflow. Jira Cloud (REST v3, ADF documents, e-mail + API token) and Jira Data Center
//! (REST v2, wiki markup, personal access token) share this one client; [`Flavor`] picks the paths,
//! the credential and the document format.
//!
//! Why it looks like this:
//! - **Plain reqwest.** No maintained Rust Jira client covers both flavors without a second
//!   reqwest major, and the bot needs five calls.
//! - **Idempotent by label.** Every ticket carries `driftfix` and `driftfix-<first 12 hex of the
//!   finding key>` ([`finding_label`]). [`JiraClient::ensure_ticket`] first trusts a key the caller
//!   stored (Jira search is eventually consistent, so a ticket created a moment ago may not be
//!   found yet), then searches the label, and creates only when both come back empty.
//! - **Workflows are data.** Transition ids differ per workflow, so
//!   [`JiraClient::transition_to_category`] picks a transition by the status *category* it leads
//!   to, and reports when none is available instead of guessing.
//! - **Errors say what to do next.** [`JiraError::is_retryable`] separates "try later" (transport,
//!   timeout, 5xx, 429 with `Retry-After`) from "a human must fix something". The token never
//!   appears in an error, a log line or `Debug` output.

pub mod adf;
mod comments;
mod error;
mod http;
mod issues;
mod jql;
mod markdown;
mod remote;
pub mod wiki;
mod workflow;

pub use error::JiraError;
pub use remote::{RemoteLink, pull_request_global_id};
pub use workflow::{StatusCategory, TransitionResult};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use url::Url;

/// How long one Jira call (request and complete answer) may take before it is a retryable timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// The issue type tickets are created with unless configured otherwise.
pub const DEFAULT_ISSUE_TYPE: &str = "Task";
/// The label every driftfix ticket carries.
pub const LABEL: &str = "driftfix";

/// Which Jira the bot talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Jira Cloud: `/rest/api/3`, Basic auth with an account e-mail and API token, ADF documents.
    Cloud,
    /// Jira Data Center / Server ≥ 8.14: `/rest/api/2`, Bearer personal access token, wiki markup.
    DataCenter,
}

/// Where tickets go and how to authenticate. `Debug` shows the token as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// The site, e.g. `https://example.atlassian.net` or `https://jira.example.com/jira`.
    pub base_url: Url,
    pub flavor: Flavor,
    /// The account e-mail; required for Cloud, unused for Data Center.
    pub email: Option<String>,
    /// Cloud API token, or Data Center personal access token.
    pub token: SecretString,
    /// Project key tickets are created in, e.g. `SEC`.
    pub project: String,
    /// Issue type name for new tickets ([`DEFAULT_ISSUE_TYPE`] unless set).
    pub issue_type: String,
    /// Per-call timeout ([`DEFAULT_TIMEOUT`] unless set).
    pub timeout: Duration,
}

impl JiraConfig {
    /// Jira Cloud with an account e-mail and API token; `Task` issues, default timeout.
    pub fn cloud(base_url: Url, email: impl Into<String>, api_token: SecretString, project: impl Into<String>) -> Self {
        JiraConfig {
            base_url,
            flavor: Flavor::Cloud,
            email: Some(email.into()),
            token: api_token,
            project: project.into(),
            issue_type: DEFAULT_ISSUE_TYPE.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Jira Data Center with a personal access token; `Task` issues, default timeout.
    pub fn data_center(base_url: Url, pat: SecretString, project: impl Into<String>) -> Self {
        JiraConfig {
            base_url,
            flavor: Flavor::DataCenter,
            email: None,
            token: pat,
            project: project.into(),
            issue_type: DEFAULT_ISSUE_TYPE.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A Jira issue the bot owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// e.g. `SEC-42`.
    pub key: String,
    /// Jira's numeric id, as Jira writes it (a string).
    pub id: String,
    /// The page a human opens: `<base>/browse/<key>`.
    pub url: String,
}

/// What [`JiraClient::ensure_ticket`] needs to find or create the one ticket of a finding.
#[derive(Debug, Clone)]
pub struct TicketRequest {
    /// The finding key (64 hex characters); its first 12 name the ticket's label.
    pub finding_key: String,
    /// One line; longer than Jira's 255 characters is cut, line breaks become spaces.
    pub summary: String,
    /// The description as Markdown (rendered advice or PR text); converted per [`Flavor`].
    pub description_markdown: String,
    /// Labels beside `driftfix` and `driftfix-<key12>`.
    pub labels: Vec<String>,
    /// The ticket key stored for this finding earlier, if any: checked before searching.
    pub known_key: Option<String>,
    /// The project to create the ticket in instead of the configured one (a repository's
    /// `jira_project`). Finding an existing ticket does not depend on it.
    pub project: Option<String>,
}

/// The label that names a finding's ticket: `driftfix-<first 12 hex of the finding key>`.
pub fn finding_label(finding_key: &str) -> Result<String, JiraError> {
    let key12 = finding_key.get(..12).filter(|k| k.chars().all(|c| c.is_ascii_hexdigit()));
    match key12 {
        Some(k) => Ok(format!("{LABEL}-{}", k.to_ascii_lowercase())),
        None => Err(JiraError::Invalid(format!("finding key `{finding_key}`: expected hex, at least 12 characters"))),
    }
}

/// A Jira client for one site and project. Cheap to share behind an `Arc`; calls are independent.
pub struct JiraClient {
    flavor: Flavor,
    project: String,
    issue_type: String,
    http: http::Http,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient")
            .field("base_url", &self.http.base().as_str())
            .field("flavor", &self.flavor)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl JiraClient {
    /// A client for `config`. Fails when the configuration cannot work: Cloud without an e-mail,
    /// a base URL that is not http(s), an empty project or issue type.
    pub fn new(config: JiraConfig) -> Result<JiraClient, JiraError> {
        if config.project.trim().is_empty() || config.issue_type.trim().is_empty() {
            return Err(JiraError::Invalid("configuration: project and issue type must not be empty".into()));
        }
        let authorization = match config.flavor {
            Flavor::Cloud => {
                let email = config.email.as_deref().filter(|e| !e.trim().is_empty()).ok_or_else(|| {
                    JiraError::Invalid("configuration: Jira Cloud needs the account e-mail for its API token".into())
                })?;
                let pair = format!("{email}:{}", config.token.expose_secret());
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            }
            Flavor::DataCenter => format!("Bearer {}", config.token.expose_secret()),
        };
        let http = http::Http::new(config.base_url, authorization.into(), config.token, config.timeout)?;
        Ok(JiraClient { flavor: config.flavor, project: config.project, issue_type: config.issue_type, http })
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// `<base>/browse/<key>`: the page a human opens.
    pub fn browse_url(&self, key: &str) -> String {
        self.http.url(&["browse", key]).to_string()
    }

    /// `<base>/rest/api/{3|2}/<segments>`.
    fn api(&self, segments: &[&str]) -> Url {
        let version = match self.flavor {
            Flavor::Cloud => "3",
            Flavor::DataCenter => "2",
        };
        let mut all = vec!["rest", "api", version];
        all.extend_from_slice(segments);
        self.http.url(&all)
    }

    /// A description or comment body in this flavor's format: ADF (Cloud) or wiki markup (DC).
    fn document(&self, markdown: &str) -> serde_json::Value {
        match self.flavor {
            Flavor::Cloud => adf::to_adf(markdown),
            Flavor::DataCenter => serde_json::Value::String(wiki::to_wiki(markdown)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_finding_key() {
        assert_eq!(finding_label(&"AB12".repeat(16)).unwrap(), "driftfix-ab12ab12ab12");
        assert!(finding_label("not-hex-at-all-really").is_err());
        assert!(finding_label("abc").is_err());
    }

    #[test]
    fn urls_keep_a_context_path_and_encode_keys() {
        let cfg =
            JiraConfig::data_center(Url::parse("https://j.test/jira/").unwrap(), "t0ken".to_owned().into(), "SEC");
        let c = JiraClient::new(cfg).unwrap();
        assert_eq!(c.api(&["issue", "SEC-1/../x"]).as_str(), "https://j.test/jira/rest/api/2/issue/SEC-1%2F..%2Fx");
        assert_eq!(c.browse_url("SEC-1"), "https://j.test/jira/browse/SEC-1");
    }

    #[test]
    fn cloud_needs_an_email_and_debug_hides_the_token() {
        let mut cfg =
            JiraConfig::cloud(Url::parse("https://x.test").unwrap(), "", "s3cr3t-token".to_owned().into(), "SEC");
        assert!(matches!(JiraClient::new(cfg.clone()), Err(JiraError::Invalid(_))));
        cfg.email = Some("bot@x.test".into());
        let c = JiraClient::new(cfg.clone()).unwrap();
        assert!(!format!("{c:?}{cfg:?}").contains("s3cr3t"));
    }
}
