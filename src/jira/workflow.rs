//! Moving a ticket by status *category*. Every Jira workflow has its own statuses and transition
//! ids, but each status belongs to one of three fixed categories (`new`, `indeterminate`, `done`),
//! so "put this ticket in Done" is asked of whatever transition the workflow offers right now.

use super::{JiraClient, JiraError};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// Jira's three status categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCategory {
    ToDo,
    InProgress,
    Done,
}

impl StatusCategory {
    /// The category's key in Jira's API (`statusCategory.key`).
    pub fn key(self) -> &'static str {
        match self {
            StatusCategory::ToDo => "new",
            StatusCategory::InProgress => "indeterminate",
            StatusCategory::Done => "done",
        }
    }
}

/// What [`JiraClient::transition_to_category`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionResult {
    /// The ticket's status (named) is already in the category; nothing was sent.
    AlreadyThere { status: String },
    /// The transition (id and name) was made; the ticket is now in `status`.
    Transitioned { transition_id: String, transition_name: String, status: String },
    /// No available transition leads to the category from `status`; `available` names those that
    /// exist (to tell a human which workflow step is missing).
    NoTransition { status: String, available: Vec<String> },
}

#[derive(Deserialize)]
struct Transitions {
    #[serde(default)]
    transitions: Vec<Transition>,
}

#[derive(Deserialize)]
struct Transition {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "isAvailable")]
    is_available: Option<bool>,
    to: Option<Target>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(default)]
    name: String,
    #[serde(rename = "statusCategory")]
    category: Option<super::issues::CategoryRef>,
}

impl JiraClient {
    /// Move `ticket_key` into `category` with the first available transition that leads there.
    /// Does nothing when the ticket is already in that category.
    pub async fn transition_to_category(
        &self,
        ticket_key: &str,
        category: StatusCategory,
    ) -> Result<TransitionResult, JiraError> {
        let issue = self.get_issue(ticket_key).await?;
        let status = issue.fields.status.as_ref();
        let status_name = status.map(|s| s.name.clone()).unwrap_or_default();
        if status.and_then(|s| s.category.as_ref()).is_some_and(|c| c.key == category.key()) {
            return Ok(TransitionResult::AlreadyThere { status: status_name });
        }

        const LIST: &str = "list transitions";
        let url = self.api(&["issue", ticket_key, "transitions"]);
        let reply = self.http.call(LIST, Method::GET, url.clone(), None, &[StatusCode::OK]).await?;
        let offered: Transitions = reply.json(LIST)?;
        let chosen = offered.transitions.iter().find(|t| {
            t.is_available != Some(false)
                && t.to.as_ref().and_then(|to| to.category.as_ref()).is_some_and(|c| c.key == category.key())
        });
        let Some(chosen) = chosen else {
            let available = offered.transitions.iter().map(|t| t.name.clone()).collect();
            tracing::warn!(ticket_key, category = category.key(), "no Jira transition leads to the category");
            return Ok(TransitionResult::NoTransition { status: status_name, available });
        };

        let body = json!({ "transition": { "id": chosen.id } });
        self.http.call("transition issue", Method::POST, url, Some(&body), &[StatusCode::NO_CONTENT]).await?;
        Ok(TransitionResult::Transitioned {
            transition_id: chosen.id.clone(),
            transition_name: chosen.name.clone(),
            status: chosen.to.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
        })
    }
}
