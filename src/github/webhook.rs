//! GitHub webhooks the bot acts on, and the `@driftfix` comment commands.
//!
//! Intake decides from the payload alone whether an event is work ([`job_kind`]): a pull request on
//! a bot branch closed or reopened, someone else's pull request opened or pushed to (it may change
//! `.github/driftfix.toml`), a comment that mentions the bot (not written by a bot), an
//! installation change. The worker parses the stored body again with [`parse`], so a stored event
//! can be replayed.

use crate::render::BRANCH_PREFIX;
use serde_json::Value;

/// The mention that starts a command.
pub const MENTION: &str = "@driftfix";

/// A webhook the worker acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A bot pull request was closed (merged or not) or reopened.
    Pull { repo: String, number: u64, branch: String, action: PullAction, sender: String },
    /// Someone else's pull request was opened or got new commits: if it changes the repository
    /// configuration, the bot validates it.
    PullChanged { repo: String, number: u64, head_sha: String },
    /// A comment on a pull request or issue mentioning the bot.
    Comment { repo: String, number: u64, body: String, sender: String },
    /// The App was installed, removed, or its repositories changed.
    Installation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullAction {
    Merged,
    Closed,
    Reopened,
}

/// The job kind for an event the bot acts on (`github:<event>`), `None` for the rest.
pub fn job_kind(event: &str, payload: &Value) -> Option<String> {
    matches!(parse(event, payload), Ok(Some(_))).then(|| format!("github:{event}"))
}

/// The event, `Ok(None)` when the bot has nothing to do with it, `Err` when a field it needs is
/// missing.
pub fn parse(event: &str, p: &Value) -> Result<Option<Event>, String> {
    let s = |v: &Value, what: &str| v.as_str().map(str::to_owned).ok_or_else(|| format!("{event}: missing `{what}`"));
    let action = p["action"].as_str().unwrap_or_default();
    match event {
        "pull_request" => {
            let branch = s(&p["pull_request"]["head"]["ref"], "pull_request.head.ref")?;
            let by_bot = p["pull_request"]["user"]["type"] == "Bot";
            if matches!(action, "opened" | "synchronize" | "reopened") && !branch.starts_with(BRANCH_PREFIX) && !by_bot
            {
                return Ok(Some(Event::PullChanged {
                    repo: s(&p["repository"]["full_name"], "repository.full_name")?,
                    number: p["pull_request"]["number"].as_u64().ok_or("pull_request: missing `number`")?,
                    head_sha: s(&p["pull_request"]["head"]["sha"], "pull_request.head.sha")?,
                }));
            }
            // A fork's branch may carry a bot branch's name: only the repository's own branches count.
            let head_repo = p["pull_request"]["head"]["repo"]["full_name"].as_str();
            if head_repo.is_some_and(|h| Some(h) != p["repository"]["full_name"].as_str()) {
                return Ok(None);
            }
            let action = match (action, p["pull_request"]["merged"].as_bool()) {
                ("closed", Some(true)) => PullAction::Merged,
                ("closed", _) => PullAction::Closed,
                ("reopened", _) => PullAction::Reopened,
                _ => return Ok(None),
            };
            if !branch.starts_with(BRANCH_PREFIX) {
                return Ok(None);
            }
            Ok(Some(Event::Pull {
                repo: s(&p["repository"]["full_name"], "repository.full_name")?,
                number: p["pull_request"]["number"].as_u64().ok_or("pull_request: missing `number`")?,
                branch,
                action,
                sender: s(&p["sender"]["login"], "sender.login")?,
            }))
        }
        "issue_comment" => {
            let body = p["comment"]["body"].as_str().unwrap_or_default();
            let by_bot = p["sender"]["type"] == "Bot" || p["comment"]["user"]["type"] == "Bot";
            if action != "created" || by_bot || !body.to_ascii_lowercase().contains(MENTION) {
                return Ok(None);
            }
            Ok(Some(Event::Comment {
                repo: s(&p["repository"]["full_name"], "repository.full_name")?,
                number: p["issue"]["number"].as_u64().ok_or("issue_comment: missing `issue.number`")?,
                body: body.to_owned(),
                sender: s(&p["sender"]["login"], "sender.login")?,
            }))
        }
        "installation" | "installation_repositories" => Ok(Some(Event::Installation)),
        _ => Ok(None),
    }
}

/// A comment command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say why the pull request exists and what it changes.
    Explain,
    /// Lift an accepted risk and propose the fix again.
    Recreate,
    /// Accept the risk: no pull request for this finding (until the date, when given).
    Ignore { reason: String, until: Option<String> },
}

/// The command in a comment: the first line starting with `@driftfix`. `Err` holds the reply for a
/// command that is not understood.
pub fn command(body: &str) -> Option<Result<Command, String>> {
    let line = body.lines().map(str::trim).find(|l| l.to_ascii_lowercase().starts_with(MENTION))?;
    let rest = line[MENTION.len()..].trim();
    let (verb, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim();
    Some(match verb.to_ascii_lowercase().as_str() {
        "explain" => Ok(Command::Explain),
        "recreate" => Ok(Command::Recreate),
        "ignore" => parse_ignore(args),
        "" => Err(usage("a command is missing")),
        other => Err(usage(&format!("`{other}` is not a command I know"))),
    })
}

fn parse_ignore(args: &str) -> Result<Command, String> {
    let (reason, until) = match args.rsplit_once(" until ") {
        Some((reason, date)) => (reason.trim(), Some(date.trim())),
        None => (args, None),
    };
    if reason.is_empty() {
        return Err(usage("`ignore` needs a reason, so that the accepted risk says why"));
    }
    if let Some(d) = until
        && !is_date(d)
    {
        return Err(usage(&format!("`{d}` is not a date written YYYY-MM-DD")));
    }
    Ok(Command::Ignore { reason: reason.to_owned(), until: until.map(str::to_owned) })
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    let num = |x: &str, len: usize| x.len() == len && x.bytes().all(|b| b.is_ascii_digit());
    p.len() == 3
        && num(p[0], 4)
        && num(p[1], 2)
        && num(p[2], 2)
        && (1..=12).contains(&p[1].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&p[2].parse::<u32>().unwrap_or(0))
}

fn usage(problem: &str) -> String {
    format!(
        "Sorry, I did not understand that: {problem}.\n\nI know these commands:\n\
         - `{MENTION} explain`: why this pull request exists and what it changes\n\
         - `{MENTION} recreate`: propose the fix again after the pull request was closed\n\
         - `{MENTION} ignore <reason> [until YYYY-MM-DD]`: accept the risk; no pull request until then"
    )
}

#[cfg(test)]
mod tests {
    use super::{Command, Event, PullAction, command, job_kind, parse};
    use serde_json::json;

    fn pr(action: &str, merged: bool, branch: &str) -> serde_json::Value {
        json!({ "action": action, "pull_request": { "number": 7, "merged": merged, "head": { "ref": branch } },
                "repository": { "full_name": "acme/infra" }, "sender": { "login": "carol", "type": "User" } })
    }

    #[test]
    fn a_humans_pull_request_opened_or_pushed_to_is_work_and_the_bots_own_is_not() {
        let mut p = pr("opened", false, "feature/x");
        p["pull_request"]["head"]["sha"] = json!("abc123");
        p["pull_request"]["user"] = json!({ "login": "dana", "type": "User" });
        let changed = Event::PullChanged { repo: "acme/infra".into(), number: 7, head_sha: "abc123".into() };
        assert_eq!(parse("pull_request", &p).unwrap(), Some(changed));
        p["action"] = json!("synchronize");
        assert_eq!(job_kind("pull_request", &p).as_deref(), Some("github:pull_request"));
        p["action"] = json!("labeled");
        assert_eq!(job_kind("pull_request", &p), None);
        p["action"] = json!("opened");
        p["pull_request"]["user"]["type"] = json!("Bot");
        assert_eq!(job_kind("pull_request", &p), None, "another bot's pull request");
    }

    #[test]
    fn only_bot_branches_closing_or_reopening_are_work() {
        let merged = parse("pull_request", &pr("closed", true, "driftfix/x/y-1234")).unwrap();
        assert_eq!(
            merged,
            Some(Event::Pull {
                repo: "acme/infra".into(),
                number: 7,
                branch: "driftfix/x/y-1234".into(),
                action: PullAction::Merged,
                sender: "carol".into()
            })
        );
        assert!(matches!(
            parse("pull_request", &pr("closed", false, "driftfix/x")),
            Ok(Some(Event::Pull { action: PullAction::Closed, .. }))
        ));
        assert_eq!(job_kind("pull_request", &pr("closed", true, "feature/x")), None, "a human's branch");
        let mut from_fork = pr("closed", false, "driftfix/x/y-1234");
        from_fork["pull_request"]["head"]["repo"] = json!({ "full_name": "mallory/infra" });
        assert_eq!(job_kind("pull_request", &from_fork), None, "a fork's branch named like the bot's");
        assert_eq!(job_kind("pull_request", &pr("opened", false, "driftfix/x")), None);
        assert_eq!(
            job_kind("pull_request", &pr("reopened", false, "driftfix/x")).as_deref(),
            Some("github:pull_request")
        );
        assert!(parse("pull_request", &json!({ "action": "closed" })).is_err(), "fields it needs are missing");
    }

    #[test]
    fn comments_are_work_only_when_they_mention_the_bot_and_a_human_wrote_them() {
        let c = |body: &str, kind: &str| {
            json!({ "action": "created", "comment": { "body": body, "user": { "type": kind } }, "issue": { "number": 3, "pull_request": {} },
                    "repository": { "full_name": "acme/infra" }, "sender": { "login": "dan", "type": kind } })
        };
        assert_eq!(job_kind("issue_comment", &c("@driftfix explain", "User")).as_deref(), Some("github:issue_comment"));
        assert_eq!(job_kind("issue_comment", &c("@driftfix explain", "Bot")), None, "own comments are ignored");
        assert_eq!(job_kind("issue_comment", &c("looks good", "User")), None);
    }

    #[test]
    fn commands_parse_with_reasons_and_dates() {
        assert_eq!(command("thanks!\n@driftfix explain"), Some(Ok(Command::Explain)));
        assert_eq!(command("@DriftFix recreate please"), Some(Ok(Command::Recreate)));
        assert_eq!(
            command("@driftfix ignore legacy VPN needs SSH until 2027-03-31"),
            Some(Ok(Command::Ignore { reason: "legacy VPN needs SSH".into(), until: Some("2027-03-31".into()) }))
        );
        assert_eq!(
            command("@driftfix ignore accepted by the CISO"),
            Some(Ok(Command::Ignore { reason: "accepted by the CISO".into(), until: None }))
        );
        assert!(command("@driftfix ignore").unwrap().unwrap_err().contains("needs a reason"));
        assert!(command("@driftfix ignore x until tomorrow").unwrap().unwrap_err().contains("YYYY-MM-DD"));
        assert!(command("@driftfix deploy").unwrap().unwrap_err().contains("`deploy` is not a command"));
        assert_eq!(command("no mention here"), None);
    }
}
