//! GitHub webhooks, worked like any other job: merged → `merged`; closed unmerged → an accepted
//! risk owned by whoever closed it (with their last comment as the reason); reopened → `proposed`;
//! `@driftfix` commands from people with write access; installation changes drop cached lookups.
//!
//! Replies go into one comment per pull request that the bot edits, so a conversation with the bot
//! never buries the pull request under its messages.

use super::{Failure, Worker};
use crate::github::webhook::{self, Command, Event, PullAction};
use crate::github::{GitHubApp, PullNumber, RepoName, propose::upsert_comment};
use crate::store::{Job, date_end_ms, format_time};
use http::Method;
use serde_json::json;

/// The hidden marker of the bot's reply comment.
const REPLY_MARKER: &str = "<!-- driftfix:comment:reply -->";

/// Permissions that may command the bot.
const MAY_COMMAND: &[&str] = &["admin", "maintain", "write"];

impl Worker {
    /// Work one stored webhook of kind `event`.
    pub(super) async fn webhook(&self, job: &Job, event: &str) -> Result<(), Failure> {
        let (event_id, body) = self.job_event(job).await?;
        let payload: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| Failure::Job(format!("raw event {event_id}: {e}")))?;
        match webhook::parse(event, &payload).map_err(Failure::Job)? {
            None => Ok(()),
            Some(Event::Installation) => {
                if let Some(app) = &self.config.github {
                    app.forget_installations();
                }
                Ok(())
            }
            Some(Event::PullChanged { repo, number, head_sha }) => {
                self.check_config_change(&repo, number, &head_sha).await
            }
            Some(Event::Pull { repo, number, branch, action, sender }) => {
                let Some(key) = self.store.finding_by_branch(&branch).await? else { return Ok(()) };
                let n = i64::try_from(number).unwrap_or(i64::MAX);
                let url = format!("https://github.com/{repo}/pull/{number}");
                match action {
                    PullAction::Merged => {
                        self.store.pull_merged(&key, &sender, n).await?;
                        let verifying = self.queue_verify(job, &key).await?;
                        let detail = json!({ "by": sender, "url": url, "verify": verifying });
                        self.queue_ticket(job, &key, "ticket:merged", detail).await?;
                    }
                    PullAction::Reopened => {
                        self.store.pull_reopened(&key, &sender, n).await?;
                        self.queue_ticket(job, &key, "ticket:reopened", json!({ "by": sender })).await?;
                    }
                    PullAction::Closed => {
                        // `@driftfix ignore` closes the pull request itself: that acceptance stands.
                        if self.store.acceptance(&key).await?.is_some_and(|a| a.state == "accepted-risk") {
                            return Ok(());
                        }
                        let reason = self.closing_reason(&repo, number, &sender).await?;
                        self.store.accept_risk(&key, &sender, &reason, None, Some(n)).await?;
                        let detail = json!({ "by": sender, "reason": reason });
                        self.queue_ticket(job, &key, "ticket:accepted", detail).await?;
                    }
                }
                if matches!(action, PullAction::Merged | PullAction::Closed) {
                    let woken = self.store.wake_limited(&repo).await?;
                    if woken > 0 {
                        tracing::info!(repo, findings = woken, "a pull request slot is free: waiting findings retried");
                    }
                }
                tracing::info!(repo, pr = number, ?action, "bot pull request changed");
                Ok(())
            }
            Some(Event::Comment { repo, number, body, sender }) => {
                let n = i64::try_from(number).unwrap_or(i64::MAX);
                let Some(key) = self.store.finding_by_pull(&repo, n).await? else { return Ok(()) };
                let Some(command) = webhook::command(&body) else { return Ok(()) };
                let app = self.app()?;
                let name = RepoName::parse(&repo).ok_or_else(|| Failure::Job(format!("`{repo}` is not owner/name")))?;
                let inst = app.installation(&name).await?;
                let reply = if !self.may_command(app, &name, &sender).await? {
                    format!(
                        "Thanks @{sender}, but only people with write access to {repo} can give me commands, \
                         so I left everything as it was."
                    )
                } else {
                    match command {
                        Err(usage) => usage,
                        Ok(Command::Explain) => self.explain(&key).await?,
                        Ok(Command::Ignore { reason, until }) => {
                            let until_ms = until.as_deref().and_then(date_end_ms);
                            self.store.accept_risk(&key, &sender, &reason, until_ms, Some(n)).await?;
                            let detail = json!({ "by": sender, "reason": reason, "until": until });
                            self.queue_ticket(job, &key, "ticket:accepted", detail).await?;
                            let route = format!("{}/pulls/{number}", name.api_path());
                            inst.write::<serde_json::Value>(Method::PATCH, &route, &json!({ "state": "closed" }))
                                .await?;
                            let until =
                                until.map(|u| format!(" until {u} (then I will propose it again)")).unwrap_or_default();
                            format!(
                                "Understood, @{sender}: the risk is accepted{until} and recorded with your reason \
                                 (\"{reason}\"). I closed this pull request. `@driftfix recreate` brings it back."
                            )
                        }
                        Ok(Command::Recreate) => match self.store.recreate(&key, &sender, job.max_attempts).await? {
                            Some(_) => format!(
                                "On it, @{sender}: I will propose this fix again on the current default branch."
                            ),
                            None => "A proposal for this finding is already queued; nothing more to do.".to_owned(),
                        },
                    }
                };
                let body = format!("{REPLY_MARKER}\n{reply}");
                upsert_comment(&inst, &name.api_path(), PullNumber(number), REPLY_MARKER, &body).await?;
                Ok(())
            }
        }
    }

    /// Queue a Jira step for the finding, when Jira is configured.
    pub(super) async fn queue_ticket(
        &self,
        job: &Job,
        key: &str,
        kind: &str,
        payload: serde_json::Value,
    ) -> Result<(), Failure> {
        if self.config.jira.is_some() && !self.config.dry_run {
            self.store.enqueue(kind, key, &payload.to_string(), job.max_attempts).await?;
        }
        Ok(())
    }

    pub(super) fn app(&self) -> Result<&GitHubApp, Failure> {
        self.config.github.as_deref().ok_or_else(|| Failure::Job("no GitHub App is configured".into()))
    }

    /// Whether `user` has write access to `repo` (GitHub's collaborator permission).
    async fn may_command(&self, app: &GitHubApp, repo: &RepoName, user: &str) -> Result<bool, Failure> {
        #[derive(serde::Deserialize)]
        struct Permission {
            permission: String,
        }
        let inst = app.installation(repo).await?;
        let route = format!("{}/collaborators/{}/permission", repo.api_path(), crate::github::encode_path(user));
        let p: Option<Permission> = inst.get_optional(&route).await?;
        Ok(p.is_some_and(|p| MAY_COMMAND.contains(&p.permission.as_str())))
    }

    /// The closer's last comment on the pull request, else a plain statement.
    async fn closing_reason(&self, repo: &str, number: u64, closer: &str) -> Result<String, Failure> {
        const DEFAULT: &str = "closed without merging";
        let (Some(app), Some(name)) = (self.config.github.as_deref(), RepoName::parse(repo)) else {
            return Ok(DEFAULT.into());
        };
        #[derive(serde::Deserialize)]
        struct Comment {
            body: Option<String>,
            user: Option<User>,
        }
        #[derive(serde::Deserialize)]
        struct User {
            login: String,
        }
        let inst = app.installation(&name).await?;
        let comments: Vec<Comment> =
            inst.get(&format!("{}/issues/{number}/comments?per_page=100", name.api_path())).await?;
        let last = comments
            .into_iter()
            .rev()
            .find(|c| c.user.as_ref().is_some_and(|u| u.login == closer))
            .and_then(|c| c.body)
            .map(|b| b.trim().chars().take(500).collect::<String>())
            .filter(|b| !b.is_empty());
        Ok(last.unwrap_or_else(|| DEFAULT.into()))
    }

    /// Why the pull request exists, from the stored finding.
    async fn explain(&self, key: &str) -> Result<String, Failure> {
        let Some(d) = self.store.finding_detail(key).await? else { return Ok("I no longer know this finding.".into()) };
        let s = &d.summary;
        let location = s
            .location
            .as_ref()
            .map(|l| format!("`{}` in `{}` at line {}", l.address, l.file, l.line))
            .unwrap_or_else(|| "no block".into());
        Ok(format!(
            "AWS Config reported `{}` ({}) in account {} ({}) as breaking rule `{}` (`{}`).\n\n\
             I changed {location}. {}\n\nFinding `{}`, state `{}`, last updated {}.",
            s.resource.id,
            s.resource.resource_type,
            s.resource.account,
            s.resource.region,
            s.rule.name.as_deref().unwrap_or(&s.rule.identifier),
            s.rule.identifier,
            d.reason.as_deref().unwrap_or_default(),
            &key[..12.min(key.len())],
            s.state,
            format_time(s.updated_at),
        ))
    }
}
