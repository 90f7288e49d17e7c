//! Validating a change to `.github/driftfix.toml` in the pull request that makes it, as triagebot
//! does for its own configuration: a broken file is cheaper to fix before it lands than after,
//! when the bot would quietly use the server's values for what it could not read.
//!
//! Every pull request opened or pushed to by a person (not a bot, not on a `driftfix/` branch) is
//! checked for the file; only a pull request that changes it gets a comment, which the bot edits on
//! each push instead of adding another.
//!
//! Pushes coalesce: a job first reads the pull request as it stands, and an event whose head is no
//! longer the pull request's head (a newer push has its own job), or whose pull request is closed,
//! is done without further requests, so quick pushes cost one check, at the newest head. A push
//! can still land while a check runs, and its own job may finish first (two workers): so after
//! writing the comment a job reads the head once more and, if it moved, checks again there.
//! Whichever job writes last has then described the head as it stands.

use super::{Failure, Worker};
use crate::config::repo;
use crate::github::propose::upsert_comment;
use crate::github::source::{file_at, pull_file, pull_now};
use crate::github::{Installation, PullNumber, RepoName};

/// The hidden marker of the validation comment.
const MARKER: &str = "<!-- driftfix:comment:config -->";

/// How many heads one job checks when pushes keep landing while it runs (each push also has its
/// own job, so stopping loses nothing).
const MAX_CHECKS: usize = 3;

impl Worker {
    /// Comment on pull request `repo#number` if it changes the repository configuration.
    pub(super) async fn check_config_change(&self, repo: &str, number: u64, head_sha: &str) -> Result<(), Failure> {
        let app = self.app()?;
        let name = RepoName::parse(repo).ok_or_else(|| Failure::Job(format!("`{repo}` is not owner/name")))?;
        let inst = app.installation(&name).await?;
        let number = PullNumber(number);
        match pull_now(&inst, &name, number).await? {
            Some(now) if now.state == "open" && now.head.sha == head_sha => {}
            now => {
                let why = now.map_or("gone", |n| if n.state == "open" { "pushed to since" } else { "closed" });
                tracing::info!(repo, pr = number.0, why, "skipped a configuration check for an outdated event");
                return Ok(());
            }
        }
        let mut head = head_sha.to_owned();
        for _ in 0..MAX_CHECKS {
            if !self.comment_on_config_change(&inst, &name, number, &head).await? {
                return Ok(());
            }
            match pull_now(&inst, &name, number).await? {
                Some(now) if now.state == "open" && now.head.sha != head => head = now.head.sha,
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Write (or edit) the validation comment for the pull request at commit `head`; false when
    /// the pull request does not change the file, and nothing was written.
    async fn comment_on_config_change(
        &self,
        inst: &Installation,
        name: &RepoName,
        number: PullNumber,
        head: &str,
    ) -> Result<bool, Failure> {
        let Some(change) = pull_file(inst, name, number, repo::PATH).await? else { return Ok(false) };
        let short = &head[..head.len().min(7)];
        let body = if change.status == "removed" {
            self.config_comment(None, short)
        } else {
            match file_at(inst, name, repo::PATH, head).await? {
                Some(text) => self.config_comment(Some(&text), short),
                None => format!(
                    "{MARKER}\n### driftfix configuration\n\nI could not read `{}` at {short} (not UTF-8 text, \
                     larger than GitHub shows, or not a regular file), so I cannot check it.\n",
                    repo::PATH
                ),
            }
        };
        upsert_comment(inst, &name.api_path(), number, MARKER, &body).await?;
        tracing::info!(repo = %name, pr = number.0, head = short, "validated a change to the repository configuration");
        Ok(true)
    }

    /// The comment for the file as it stands at commit `short` (`None`: removed).
    fn config_comment(&self, text: Option<&str>, short: &str) -> String {
        let Some(text) = text else {
            return format!(
                "{MARKER}\n### driftfix configuration\n\nThis pull request removes `{}` (at {short}): once merged, \
                 this repository gets the server's settings.\n",
                repo::PATH
            );
        };
        let (settings, problems) = self.resolve_repo(Some(text));
        let mut out = format!("{MARKER}\n### driftfix configuration\n\n");
        if problems.is_empty() {
            out.push_str(&format!("`{}` is valid (at {short}). Once merged, this repository gets:\n\n", repo::PATH));
        } else {
            let n = problems.len();
            out.push_str(&format!(
                "`{}` has {n} problem{} (at {short}). Where a key cannot be used, the server's value applies:\n\n",
                repo::PATH,
                if n == 1 { "" } else { "s" }
            ));
            for p in &problems {
                out.push_str(&format!("- {}\n", p.render(Some(repo::PATH))));
            }
            out.push_str("\nWith the file as it is, this repository would get:\n\n");
        }
        out.push_str("| setting | value |\n| --- | --- |\n");
        for (key, value) in settings.summary() {
            out.push_str(&format!("| `{key}` | {} |\n", value.replace('|', "\\|")));
        }
        out
    }
}
