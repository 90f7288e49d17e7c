//! Jira tickets, worked as their own jobs so that Jira being down never holds a pull request back:
//! the remediation job queues `ticket` in the transaction that resolves the finding, and webhooks
//! queue `ticket:merged`, `ticket:accepted` and `ticket:reopened`. A failed attempt is retried by
//! the queue with backoff; `ensure_ticket` (known key, then label search, then create) keeps retries
//! from making a second ticket.

use super::{Failure, Worker};
use crate::github::RepoName;
use crate::jira::{JiraClient, JiraError, StatusCategory, TicketRequest};
use crate::store::Job;
use http::Method;
use serde_json::{Value, json};

/// How long a ticket job waits after a 429 that names no `Retry-After`.
const JIRA_RATE_LIMIT_WAIT_MS: i64 = 60_000;

impl From<JiraError> for Failure {
    /// A 429 is Jira asking to wait, not a failed attempt: the job waits for `Retry-After` (or a
    /// minute) without spending an attempt. Everything else fails the attempt, retried with backoff.
    fn from(e: JiraError) -> Failure {
        if e.status() == Some(429) {
            let wait_ms = e
                .retry_after()
                .map_or(JIRA_RATE_LIMIT_WAIT_MS, |d| i64::try_from(d.as_millis()).unwrap_or(JIRA_RATE_LIMIT_WAIT_MS));
            return Failure::RateLimited {
                retry_at_ms: crate::store::now_ms() + wait_ms,
                reason: format!("Jira rate limit: {e}"),
            };
        }
        Failure::Job(format!("Jira: {e}"))
    }
}

impl Worker {
    /// Work one `ticket` or `ticket:*` job.
    pub(super) async fn ticket(&self, job: &Job) -> Result<(), Failure> {
        let jira = self.config.jira.as_deref().ok_or_else(|| Failure::Job("no Jira is configured".into()))?;
        let key = job.finding_key.as_deref().ok_or_else(|| Failure::Job("ticket job names no finding".into()))?;
        let p: Value = serde_json::from_str(&job.payload).map_err(|e| Failure::Job(format!("ticket payload: {e}")))?;
        let known = self.store.ticket_key(key).await?;
        match job.kind.as_str() {
            "ticket" => self.open_ticket(jira, key, &p, known).await,
            other => {
                // Later steps need the ticket the first job made; until then, try again later.
                let ticket = known.ok_or_else(|| Failure::Job("the finding has no ticket yet".into()))?;
                let by = p["by"].as_str().unwrap_or("someone");
                match other {
                    "ticket:merged" if p["verify"].as_bool() == Some(true) => {
                        let pr = p["url"].as_str().unwrap_or("the pull request");
                        let text = format!(
                            "Merged by @{by}: {pr}. Once it is applied, AWS Config re-evaluates the rule and this \
                             ticket closes when the resource is compliant."
                        );
                        jira.comment(&ticket, &text).await?;
                    }
                    "ticket:merged" => {
                        let pr = p["url"].as_str().unwrap_or("the pull request");
                        jira.comment(&ticket, &format!("Merged by @{by}: {pr}. Apply the change to close the drift."))
                            .await?;
                        jira.transition_to_category(&ticket, StatusCategory::Done).await?;
                    }
                    "ticket:verified" | "ticket:resolved" => {
                        let rule = p["rule"].as_str().map(|r| format!(" with `{r}`")).unwrap_or_default();
                        let text = if other == "ticket:verified" {
                            format!("Verified: AWS Config now evaluates the resource COMPLIANT{rule}. Closing.")
                        } else {
                            let verdict = p["compliance"].as_str().unwrap_or("COMPLIANT");
                            format!("AWS Config now reports the resource {verdict}. Closing as resolved.")
                        };
                        jira.comment(&ticket, &text).await?;
                        jira.transition_to_category(&ticket, StatusCategory::Done).await?;
                    }
                    "ticket:unverified" => {
                        let rule = p["rule"].as_str().unwrap_or("the rule");
                        let verdict = p["compliance"].as_str().unwrap_or("NON_COMPLIANT");
                        let minutes = p["minutes"].as_u64().unwrap_or_default();
                        let text = format!(
                            "AWS Config still evaluates the resource {verdict} for `{rule}` {minutes} minutes after \
                             re-evaluation. Was the merged change applied (`terraform apply`)?"
                        );
                        jira.comment(&ticket, &text).await?;
                    }
                    "ticket:recurred" => {
                        let text = "AWS Config reports the resource NON_COMPLIANT again: the drift is back.";
                        jira.comment(&ticket, text).await?;
                        jira.transition_to_category(&ticket, StatusCategory::ToDo).await?;
                    }
                    "ticket:accepted" => {
                        let reason = p["reason"].as_str().unwrap_or_default();
                        let until = p["until"].as_str().map(|u| format!(" until {u}")).unwrap_or_default();
                        let text = format!("Risk accepted by @{by}{until}: {reason}");
                        jira.comment(&ticket, &text).await?;
                        jira.transition_to_category(&ticket, StatusCategory::Done).await?;
                    }
                    "ticket:reopened" => {
                        jira.comment(&ticket, &format!("The pull request was reopened by @{by}.")).await?;
                        jira.transition_to_category(&ticket, StatusCategory::ToDo).await?;
                    }
                    unknown => return Err(Failure::Job(format!("unknown job kind `{unknown}`"))),
                }
                Ok(())
            }
        }
    }

    /// Make sure the finding has its ticket, linked both ways with its pull request.
    async fn open_ticket(&self, jira: &JiraClient, key: &str, p: &Value, known: Option<String>) -> Result<(), Failure> {
        let request = TicketRequest {
            finding_key: key.to_owned(),
            summary: p["summary"].as_str().unwrap_or("driftfix finding").to_owned(),
            description_markdown: p["description"].as_str().unwrap_or_default().to_owned(),
            labels: Vec::new(),
            known_key: known,
            project: p["project"].as_str().map(str::to_owned),
        };
        let ticket = jira.ensure_ticket(&request).await?;
        self.store.set_ticket(key, &ticket.key).await?;
        let Some(pull) = self.store.pushed_pull(key).await? else { return Ok(()) };
        jira.link_pull_request(&ticket.key, &pull.pr_url, &pull.title, key).await?;
        // The other direction: the ticket in the pull request's body, once.
        if pull.body.contains(&ticket.url) {
            return Ok(());
        }
        let (Some(app), Some(repo)) = (self.config.github.as_deref(), RepoName::parse(&pull.repo)) else {
            return Ok(());
        };
        let body = with_ticket_line(&pull.body, &ticket.key, &ticket.url);
        let inst = app.installation(&repo).await?;
        let route = format!("{}/pulls/{}", repo.api_path(), pull.pr_number);
        inst.write::<Value>(Method::PATCH, &route, &json!({ "body": body })).await?;
        self.store.set_pull_body(key, &body).await?;
        Ok(())
    }
}

/// The body with `Jira: [KEY](url)` added before the hidden metadata line (which stays last).
pub(super) fn with_ticket_line(body: &str, key: &str, url: &str) -> String {
    let line = format!("**Jira:** [{key}]({url})\n\n");
    match body.rfind("<!-- driftfix:") {
        Some(at) => format!("{}{line}{}", &body[..at], &body[at..]),
        None => format!("{body}\n\n{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_ticket_line;

    #[test]
    fn the_ticket_line_goes_before_the_hidden_metadata() {
        let body = "Text.\n\n<!-- driftfix: {\"key\": \"k\", \"version\": 1} -->";
        let out = with_ticket_line(body, "SEC-1", "https://j/browse/SEC-1");
        assert_eq!(
            out,
            "Text.\n\n**Jira:** [SEC-1](https://j/browse/SEC-1)\n\n<!-- driftfix: {\"key\": \"k\", \"version\": 1} -->"
        );
        assert!(with_ticket_line("plain", "SEC-2", "u").ends_with("[SEC-2](u)\n\n"));
    }
}
