//! Finding or creating the one ticket of a finding: the stored key first, then the finding's
//! label, then a new issue. Search pages are followed to the end so that, if a human or a race ever
//! made two tickets, the oldest one is chosen every time (and the duplicate is logged).

use super::{Flavor, JiraClient, JiraError, LABEL, Ticket, TicketRequest, finding_label, jql};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// Issues asked for per search page.
const PAGE_SIZE: u32 = 50;
/// Pages followed before giving up: a label is per finding, so more means something is wrong.
const MAX_PAGES: usize = 20;
/// Jira's limit on a summary.
const MAX_SUMMARY_CHARS: usize = 255;

/// An issue as search and GET return it (only what the bot reads).
#[derive(Debug, Deserialize)]
pub(super) struct IssueRef {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub fields: IssueFields,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct IssueFields {
    pub status: Option<StatusRef>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusRef {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "statusCategory")]
    pub category: Option<CategoryRef>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CategoryRef {
    pub key: String,
}

/// Cloud `search/jql`: token-paged, no total.
#[derive(Deserialize)]
struct CloudPage {
    #[serde(default)]
    issues: Vec<IssueRef>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(rename = "isLast")]
    is_last: Option<bool>,
}

/// Data Center `search`: offset-paged with a total.
#[derive(Deserialize)]
struct DcPage {
    #[serde(default)]
    issues: Vec<IssueRef>,
    #[serde(rename = "startAt", default)]
    start_at: u64,
    #[serde(default)]
    total: u64,
}

#[derive(Deserialize)]
struct Created {
    id: String,
    key: String,
}

impl JiraClient {
    /// The finding's ticket, created only if none exists: `known_key` if that issue still exists,
    /// else the oldest issue with the finding's label, else a new issue in the project with the
    /// labels `driftfix`, `driftfix-<key12>` and `t.labels`.
    pub async fn ensure_ticket(&self, t: &TicketRequest) -> Result<Ticket, JiraError> {
        let label = finding_label(&t.finding_key)?;
        if let Some(key) = t.known_key.as_deref().filter(|k| !k.is_empty()) {
            match self.get_issue(key).await {
                Ok(issue) => return Ok(self.ticket(issue)),
                Err(JiraError::Status { status: 404, .. }) => {
                    tracing::info!(key, "stored Jira ticket no longer exists; searching by label");
                }
                Err(e) => return Err(e),
            }
        }
        let mut found = self.search(&jql::by_label(&label)).await?;
        found.sort_by_key(|i| (i.id.parse::<u64>().unwrap_or(u64::MAX), i.id.clone()));
        if found.len() > 1 {
            let keys: Vec<&str> = found.iter().map(|i| i.key.as_str()).collect();
            tracing::warn!(label, ?keys, "several Jira tickets carry one finding's label; using the oldest");
        }
        if let Some(oldest) = found.into_iter().next() {
            return Ok(self.ticket(oldest));
        }
        self.create(t, &label).await
    }

    /// One issue with its status (404 is a [`JiraError::Status`] the caller can match).
    pub(super) async fn get_issue(&self, key: &str) -> Result<IssueRef, JiraError> {
        let mut url = self.api(&["issue", key]);
        url.query_pairs_mut().append_pair("fields", "summary,status");
        let reply = self.http.call("get issue", Method::GET, url, None, &[StatusCode::OK]).await?;
        reply.json("get issue")
    }

    /// Every issue matching `jql`, following pages (token on Cloud, offset on Data Center).
    async fn search(&self, jql: &str) -> Result<Vec<IssueRef>, JiraError> {
        const OP: &str = "search issues";
        let fields = ["summary", "status"];
        let mut issues = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (url, body) = match self.flavor {
                Flavor::Cloud => {
                    let mut body = json!({ "jql": jql, "fields": fields, "maxResults": PAGE_SIZE });
                    if let Some(t) = &token {
                        body["nextPageToken"] = json!(t);
                    }
                    (self.api(&["search", "jql"]), body)
                }
                Flavor::DataCenter => {
                    let body =
                        json!({ "jql": jql, "fields": fields, "maxResults": PAGE_SIZE, "startAt": issues.len() });
                    (self.api(&["search"]), body)
                }
            };
            let reply = self.http.call(OP, Method::POST, url, Some(&body), &[StatusCode::OK]).await?;
            let more = match self.flavor {
                Flavor::Cloud => {
                    let page: CloudPage = reply.json(OP)?;
                    issues.extend(page.issues);
                    token = page.next_page_token.filter(|t| !t.is_empty() && page.is_last != Some(true));
                    token.is_some()
                }
                Flavor::DataCenter => {
                    let page: DcPage = reply.json(OP)?;
                    let got = page.issues.len() as u64;
                    issues.extend(page.issues);
                    got > 0 && page.start_at + got < page.total
                }
            };
            if !more {
                return Ok(issues);
            }
        }
        tracing::warn!(jql, pages = MAX_PAGES, "Jira search has more pages than expected; using what was read");
        Ok(issues)
    }

    async fn create(&self, t: &TicketRequest, label: &str) -> Result<Ticket, JiraError> {
        const OP: &str = "create issue";
        let mut labels = vec![LABEL.to_owned(), label.to_owned()];
        for extra in &t.labels {
            if !extra.is_empty() && !labels.contains(extra) {
                labels.push(extra.clone());
            }
        }
        let body = json!({
            "fields": {
                "project": { "key": t.project.as_deref().unwrap_or(&self.project) },
                "issuetype": { "name": self.issue_type },
                "summary": one_line(&t.summary, MAX_SUMMARY_CHARS),
                "labels": labels,
                "description": self.document(&t.description_markdown),
            }
        });
        let reply = self.http.call(OP, Method::POST, self.api(&["issue"]), Some(&body), &[StatusCode::CREATED]).await?;
        let created: Created = reply.json(OP)?;
        tracing::info!(key = created.key, label, "created Jira ticket");
        Ok(Ticket { url: self.browse_url(&created.key), key: created.key, id: created.id })
    }

    fn ticket(&self, issue: IssueRef) -> Ticket {
        Ticket { url: self.browse_url(&issue.key), key: issue.key, id: issue.id }
    }
}

/// `s` on one line (line breaks and tabs become spaces), at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    flat.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn summaries_are_one_bounded_line() {
        assert_eq!(one_line(" a\nb\tc ", 10), "a b c");
        assert_eq!(one_line(&"é".repeat(300), 255).chars().count(), 255);
    }
}
