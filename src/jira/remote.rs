//! The pull request as a remote link on the ticket. Jira updates a link in place when its
//! `globalId` is already on the issue, so deriving the id from the PR URL makes linking
//! idempotent: a retry or a re-run never adds a second link.

use super::{JiraClient, JiraError};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Jira's limit on a `globalId`.
const MAX_GLOBAL_ID: usize = 255;

/// A remote link as Jira identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLink {
    /// Jira's id for the link.
    pub id: u64,
    /// The id the bot gave it ([`pull_request_global_id`]).
    pub global_id: String,
}

#[derive(Deserialize)]
struct Identifies {
    id: u64,
}

/// The link's `globalId` for a pull request: `driftfix-pr=<url>`, or a SHA-256 of the URL when
/// that would exceed Jira's 255 characters.
pub fn pull_request_global_id(pr_url: &str) -> String {
    let plain = format!("driftfix-pr={pr_url}");
    if plain.len() <= MAX_GLOBAL_ID {
        return plain;
    }
    let digest = Sha256::digest(pr_url.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("driftfix-pr-sha256={hex}")
}

impl JiraClient {
    /// Link `pr_url` (titled `title`) from `ticket_key`, creating or updating the one link with
    /// [`pull_request_global_id`]`(pr_url)`. `finding_key` goes into the link's summary, so the ticket shows
    /// which finding the pull request fixes.
    pub async fn link_pull_request(
        &self,
        ticket_key: &str,
        pr_url: &str,
        title: &str,
        finding_key: &str,
    ) -> Result<RemoteLink, JiraError> {
        const OP: &str = "link pull request";
        let global_id = pull_request_global_id(pr_url);
        let key12: String = finding_key.chars().take(12).collect();
        let body = json!({
            "globalId": global_id,
            "application": { "type": "com.github", "name": "GitHub" },
            "relationship": "fixed by",
            "object": {
                "url": pr_url,
                "title": title,
                "summary": format!("driftfix pull request for finding {key12}"),
            },
        });
        let url = self.api(&["issue", ticket_key, "remotelink"]);
        let reply = self.http.call(OP, Method::POST, url, Some(&body), &[StatusCode::OK, StatusCode::CREATED]).await?;
        let link: Identifies = reply.json(OP)?;
        Ok(RemoteLink { id: link.id, global_id })
    }
}

#[cfg(test)]
mod tests {
    use super::pull_request_global_id as global_id;

    #[test]
    fn global_ids_are_deterministic_and_bounded() {
        let url = "https://github.com/o/r/pull/7";
        assert_eq!(global_id(url), "driftfix-pr=https://github.com/o/r/pull/7");
        let long = format!("https://github.com/o/r/pull/{}", "9".repeat(300));
        assert_eq!(global_id(&long), global_id(&long));
        assert!(global_id(&long).len() <= 255 && global_id(&long).starts_with("driftfix-pr-sha256="));
    }
}
