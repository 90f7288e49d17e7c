//! GitHub issues for outcomes without a pull request (advice, drift-only, no-match), when the
//! repository asks for them (`github_issues = true`): the suggested change, where the team works.
//!
//! Like pull requests, an issue is found before it is made: the number the store remembers, else
//! the issue labelled `driftfix` whose body carries the finding's hidden metadata (an issue made
//! by an attempt that crashed before the store heard of it). One finding, at most one issue.

use super::RepoName;
use super::client::{GitHubError, Installation};
use http::Method;
use serde_json::json;

/// Pages of `driftfix` issues searched for an earlier one (100 per page).
const MAX_PAGES: usize = 10;

/// An issue to make sure of.
#[derive(Debug, Clone)]
pub struct IssueRequest<'a> {
    pub finding_key: &'a str,
    pub title: &'a str,
    /// Markdown; the hidden metadata is appended.
    pub body: &'a str,
    /// Besides `driftfix`.
    pub labels: &'a [String],
    /// The number stored for this finding earlier, if any.
    pub known: Option<u64>,
}

/// The finding's issue and whether this call opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredIssue {
    pub number: u64,
    pub url: String,
    pub opened: bool,
}

#[derive(serde::Deserialize)]
struct Listed {
    number: u64,
    html_url: String,
    body: Option<String>,
    pull_request: Option<serde_json::Value>,
}

/// The hidden line that ties an issue (or pull request) to its finding.
pub fn metadata(finding_key: &str) -> String {
    format!("<!-- driftfix: {{\"key\": \"{finding_key}\", \"version\": 1}} -->")
}

/// The finding's issue: the known one, an earlier one found by its metadata, or a new one.
pub async fn ensure_issue(
    inst: &Installation,
    repo: &RepoName,
    req: &IssueRequest<'_>,
) -> Result<EnsuredIssue, GitHubError> {
    let base = repo.api_path();
    if let Some(number) = req.known {
        return Ok(EnsuredIssue { number, url: format!("https://github.com/{repo}/issues/{number}"), opened: false });
    }
    let marker = metadata(req.finding_key);
    let route = format!("{base}/issues?labels=driftfix&state=all");
    let found = inst
        .find_paged(&route, MAX_PAGES, |i: &Listed| {
            i.pull_request.is_none() && i.body.as_deref().is_some_and(|b| b.contains(&marker))
        })
        .await?;
    if let Some(found) = found {
        return Ok(EnsuredIssue { number: found.number, url: found.html_url, opened: false });
    }
    let mut labels = vec!["driftfix".to_owned()];
    labels.extend(req.labels.iter().filter(|l| *l != "driftfix").cloned());
    let body = match req.body.contains(&marker) {
        true => req.body.to_owned(),
        false => format!("{}\n\n{marker}\n", req.body.trim_end()),
    };
    let created: Listed = inst
        .write(Method::POST, &format!("{base}/issues"), &json!({ "title": req.title, "body": body, "labels": labels }))
        .await?;
    Ok(EnsuredIssue { number: created.number, url: created.html_url, opened: true })
}
