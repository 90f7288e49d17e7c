//! Comments: Markdown in, the flavor's format out (ADF on Cloud, wiki markup on Data Center).

use super::{JiraClient, JiraError};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Created {
    id: String,
}

impl JiraClient {
    /// Add a comment to `ticket_key`; returns the comment's id. Not idempotent: a retry after a
    /// lost answer can add the comment twice, so callers comment on state changes, not on retries.
    pub async fn comment(&self, ticket_key: &str, markdown: &str) -> Result<String, JiraError> {
        const OP: &str = "comment";
        let body = json!({ "body": self.document(markdown) });
        let url = self.api(&["issue", ticket_key, "comment"]);
        let reply = self.http.call(OP, Method::POST, url, Some(&body), &[StatusCode::CREATED]).await?;
        Ok(reply.json::<Created>(OP)?.id)
    }
}
