//! The pull request of one finding: created once, rebuilt when the base moves, left alone when a
//! human took it over, and never recreated after it was closed.
//!
//! A new pull request costs five writes (tree with the changed files inline, commit, ref, pull
//! request, labels) plus one when reviewers are requested; labels missing from the repository are
//! created once per repository. Everything else is reads.

use super::client::{GitHubError, Installation};
use super::source::Snapshot;
use super::{PullNumber, encode_path};
use crate::render::BRANCH_PREFIX;
use http::Method;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The commit trailer that marks a commit as the bot's own: a branch head without it was pushed by
/// someone else.
pub const TRAILER: &str = "Driftfix-Finding:";

/// The hidden marker of the comment the bot posts when it stops updating a branch.
const STOPPED_MARKER: &str = "<!-- driftfix:comment:stopped-updating -->";
/// Pages of a conversation searched for the bot's own comment (100 comments a page).
const MAX_COMMENT_PAGES: usize = 30;
/// Pages of a repository's labels read before creating missing ones (100 labels a page).
const MAX_LABEL_PAGES: usize = 10;

/// A label the bot puts on its pull requests (created with this colour and description if the
/// repository lacks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub name: String,
    pub color: &'static str,
    pub description: String,
}

/// Everything needed to open or refresh one finding's pull request.
#[derive(Debug)]
pub struct Proposal<'a> {
    pub snapshot: &'a Snapshot,
    pub finding_key: &'a str,
    pub branch: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// Changed files, `(path, new text)`.
    pub files: &'a [(String, String)],
    pub labels: &'a [Label],
    pub draft: bool,
    /// Logins and `org/team` names to request reviews from.
    pub reviewers: &'a [String],
    /// Someone asked for the fix again (`@driftfix recreate`, or an expired acceptance): a pull
    /// request closed unmerged no longer stops a new one.
    pub recreate: bool,
}

/// What happened to the finding's pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposed {
    Opened {
        number: PullNumber,
        url: String,
        head_sha: String,
    },
    /// The open pull request was rebuilt on the moved base.
    Updated {
        number: PullNumber,
        url: String,
        head_sha: String,
    },
    /// Open and already based on the current default branch head.
    Current {
        number: PullNumber,
        url: String,
        head_sha: String,
    },
    Merged {
        number: PullNumber,
        url: String,
    },
    /// Closed without merging: the finding is an accepted risk, not to be proposed again.
    Closed {
        number: PullNumber,
        url: String,
    },
    /// Someone else pushed to the branch; the bot said once that it stopped updating it.
    HumanEdited {
        number: PullNumber,
        url: String,
        head_sha: String,
    },
}

impl Proposed {
    pub fn number(&self) -> PullNumber {
        match self {
            Proposed::Opened { number, .. }
            | Proposed::Updated { number, .. }
            | Proposed::Current { number, .. }
            | Proposed::Merged { number, .. }
            | Proposed::Closed { number, .. }
            | Proposed::HumanEdited { number, .. } => *number,
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Proposed::Opened { url, .. }
            | Proposed::Updated { url, .. }
            | Proposed::Current { url, .. }
            | Proposed::Merged { url, .. }
            | Proposed::Closed { url, .. }
            | Proposed::HumanEdited { url, .. } => url,
        }
    }

    /// The finding state this leaves the finding in.
    pub fn finding_state(&self) -> &'static str {
        match self {
            Proposed::Opened { .. }
            | Proposed::Updated { .. }
            | Proposed::Current { .. }
            | Proposed::HumanEdited { .. } => "proposed",
            Proposed::Merged { .. } => "merged",
            Proposed::Closed { .. } => "accepted-risk",
        }
    }

    /// The proposal row's state.
    pub fn proposal_state(&self) -> &'static str {
        match self {
            Proposed::Merged { .. } => "merged",
            Proposed::Closed { .. } => "closed",
            _ => "open",
        }
    }

    /// The branch head after this step, when the pull request is open.
    pub fn head_sha(&self) -> Option<&str> {
        match self {
            Proposed::Opened { head_sha, .. }
            | Proposed::Updated { head_sha, .. }
            | Proposed::Current { head_sha, .. }
            | Proposed::HumanEdited { head_sha, .. } => Some(head_sha),
            _ => None,
        }
    }
}

#[derive(serde::Deserialize)]
struct PullSummary {
    number: u64,
    html_url: String,
    state: String,
    merged_at: Option<String>,
    head: PullHead,
}

#[derive(serde::Deserialize)]
struct PullHead {
    #[serde(rename = "ref")]
    branch: String,
    sha: String,
}

#[derive(serde::Deserialize)]
struct Created {
    sha: String,
}

#[derive(serde::Deserialize)]
struct CreatedPull {
    number: u64,
    html_url: String,
}

#[derive(serde::Deserialize)]
struct Commit {
    message: String,
    parents: Vec<Created>,
}

#[derive(serde::Deserialize)]
struct Comment {
    id: u64,
    body: Option<String>,
}

#[derive(serde::Deserialize)]
struct RepoLabel {
    name: String,
}

/// Labels known to exist, per repository (so they are listed and created once).
#[derive(Debug, Default)]
pub struct KnownLabels(Mutex<std::collections::HashMap<String, HashSet<String>>>);

impl KnownLabels {
    /// The labels known for a repository; `None` before it was listed.
    fn get(&self, repo: &str) -> Option<HashSet<String>> {
        self.lock().get(repo).cloned()
    }

    fn add(&self, repo: &str, names: impl IntoIterator<Item = String>) {
        self.lock().entry(repo.to_owned()).or_default().extend(names);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, HashSet<String>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Open the finding's pull request, or bring the existing one up to date.
pub async fn propose(
    inst: &Arc<Installation>,
    labels_seen: &KnownLabels,
    p: &Proposal<'_>,
) -> Result<Proposed, GitHubError> {
    if !p.branch.starts_with(BRANCH_PREFIX) || p.branch.contains("..") {
        return Err(GitHubError::Refused(format!(
            "branch `{}` is outside the bot's prefix `{BRANCH_PREFIX}`",
            p.branch
        )));
    }
    let snap = p.snapshot;
    let base = snap.repo.api_path();
    let existing = find_pull(inst, p).await?.filter(|pr| !(p.recreate && pr.state != "open" && pr.merged_at.is_none()));
    if let Some(pr) = existing {
        let (number, url) = (PullNumber(pr.number), pr.html_url);
        if pr.merged_at.is_some() {
            return Ok(Proposed::Merged { number, url });
        }
        if pr.state != "open" {
            return Ok(Proposed::Closed { number, url });
        }
        let head: Commit = inst.get(&format!("{base}/git/commits/{}", pr.head.sha)).await?;
        if !head.message.contains(&trailer(p.finding_key)) {
            stopped_comment(inst, &base, number, &pr.head.sha).await?;
            return Ok(Proposed::HumanEdited { number, url, head_sha: pr.head.sha });
        }
        if head.parents.first().is_some_and(|c| c.sha == snap.base_sha) {
            return Ok(Proposed::Current { number, url, head_sha: pr.head.sha });
        }
        let sha = commit(inst, p).await?;
        let route = format!("{base}/git/refs/heads/{}", encode_path(p.branch));
        let _: serde_json::Value = inst.write(Method::PATCH, &route, &json!({ "sha": sha, "force": true })).await?;
        return Ok(Proposed::Updated { number, url, head_sha: sha });
    }

    let sha = commit(inst, p).await?;
    point_branch(inst, &base, p.branch, &sha).await?;
    let body =
        json!({ "title": p.title, "head": p.branch, "base": snap.default_branch, "body": p.body, "draft": p.draft });
    let created: CreatedPull = match inst.write(Method::POST, &format!("{base}/pulls"), &body).await {
        Ok(c) => c,
        Err(GitHubError::Api { status: 422, message, .. }) if message.contains("already exists") => {
            // Another replica won the race between our lookup and our create: use its pull request.
            let pr = find_pull(inst, p).await?.ok_or_else(|| GitHubError::Refused(message.clone()))?;
            CreatedPull { number: pr.number, html_url: pr.html_url }
        }
        Err(e) => return Err(e),
    };
    let number = PullNumber(created.number);
    ensure_labels(inst, labels_seen, &base, p.labels).await?;
    let names: Vec<&str> = p.labels.iter().map(|l| l.name.as_str()).collect();
    if !names.is_empty() {
        let route = format!("{base}/issues/{}/labels", number.0);
        let _: serde_json::Value = inst.write(Method::POST, &route, &json!({ "labels": names })).await?;
    }
    request_reviewers(inst, &base, number, p.reviewers).await?;
    Ok(Proposed::Opened { number, url: created.html_url, head_sha: sha })
}

/// Ask for reviews: users and teams in separate requests, so that one GitHub refuses (a user who is
/// not a collaborator; a team, when the App lacks `members: read`) does not lose the other.
async fn request_reviewers(
    inst: &Installation,
    base: &str,
    number: PullNumber,
    reviewers: &[String],
) -> Result<(), GitHubError> {
    let route = format!("{base}/pulls/{}/requested_reviewers", number.0);
    let (teams, users): (Vec<&String>, Vec<&String>) = reviewers.iter().partition(|r| r.contains('/'));
    // `org/team` names a team: the API takes its slug.
    let teams: Vec<&str> = teams.iter().filter_map(|t| t.rsplit_once('/').map(|(_, slug)| slug)).collect();
    let users: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
    for (field, names) in [("reviewers", users), ("team_reviewers", teams)] {
        if names.is_empty() {
            continue;
        }
        match inst.write::<serde_json::Value>(Method::POST, &route, &json!({ field: names })).await {
            Ok(_) => {}
            // A reviewer GitHub will not ask must not sink the proposal.
            Err(GitHubError::Api { status: 422, message, .. }) => {
                tracing::warn!(pr = number.0, message, "could not request reviewers");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn trailer(key: &str) -> String {
    format!("{TRAILER} {key}")
}

/// The finding's pull request, looked up by head branch in every state.
async fn find_pull(inst: &Installation, p: &Proposal<'_>) -> Result<Option<PullSummary>, GitHubError> {
    let route = format!(
        "{}/pulls?head={}:{}&state=all&per_page=100",
        p.snapshot.repo.api_path(),
        encode_path(&p.snapshot.repo.owner),
        encode_path(p.branch)
    );
    let pulls: Vec<PullSummary> = inst.get(&route).await?;
    // Newest first: an open one wins over older closed ones.
    Ok(pulls.into_iter().filter(|pr| pr.head.branch == p.branch).max_by_key(|pr| (pr.state == "open", pr.number)))
}

/// Tree (changed files inline, on the base tree) and commit on the base head; returns the commit.
async fn commit(inst: &Installation, p: &Proposal<'_>) -> Result<String, GitHubError> {
    let base = p.snapshot.repo.api_path();
    let entries: Vec<_> = p
        .files
        .iter()
        .map(|(path, text)| json!({ "path": path, "mode": "100644", "type": "blob", "content": text }))
        .collect();
    let tree: Created = inst
        .write(
            Method::POST,
            &format!("{base}/git/trees"),
            &json!({ "base_tree": p.snapshot.base_tree, "tree": entries }),
        )
        .await?;
    let message = format!("{}\n\n{}\n", p.title, trailer(p.finding_key));
    let commit: Created = inst
        .write(
            Method::POST,
            &format!("{base}/git/commits"),
            &json!({ "message": message, "tree": tree.sha, "parents": [p.snapshot.base_sha] }),
        )
        .await?;
    Ok(commit.sha)
}

/// Create the branch at `sha`, or move a leftover one (a crash between ref and pull request).
async fn point_branch(inst: &Installation, base: &str, branch: &str, sha: &str) -> Result<(), GitHubError> {
    let create = json!({ "ref": format!("refs/heads/{branch}"), "sha": sha });
    match inst.write::<serde_json::Value>(Method::POST, &format!("{base}/git/refs"), &create).await {
        Ok(_) => Ok(()),
        Err(GitHubError::Api { status: 422, .. }) => {
            let route = format!("{base}/git/refs/heads/{}", encode_path(branch));
            inst.write::<serde_json::Value>(Method::PATCH, &route, &json!({ "sha": sha, "force": true })).await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Create the labels the repository lacks. Its labels are listed once per repository and process;
/// after that, only labels not seen before cost a request.
async fn ensure_labels(
    inst: &Installation,
    seen: &KnownLabels,
    base: &str,
    labels: &[Label],
) -> Result<(), GitHubError> {
    let missing = |names: Option<&HashSet<String>>| -> Vec<Label> {
        labels.iter().filter(|l| names.is_none_or(|n| !n.contains(&l.name))).cloned().collect()
    };
    if missing(seen.get(base).as_ref()).is_empty() {
        return Ok(());
    }
    if seen.get(base).is_none() {
        let mut names = HashSet::new();
        let route = format!("{base}/labels");
        inst.walk_paged(&route, MAX_LABEL_PAGES, |l: RepoLabel| {
            names.insert(l.name);
            std::ops::ControlFlow::Continue(())
        })
        .await?;
        seen.add(base, names);
    }
    for l in missing(seen.get(base).as_ref()) {
        let body = json!({ "name": l.name, "color": l.color, "description": l.description });
        match inst.write::<serde_json::Value>(Method::POST, &format!("{base}/labels"), &body).await {
            Ok(_) | Err(GitHubError::Api { status: 422, .. }) => {}
            Err(e) => return Err(e),
        }
        seen.add(base, [l.name]);
    }
    Ok(())
}

/// Say once (editing the earlier comment rather than adding another) that the bot stopped updating
/// the branch.
async fn stopped_comment(inst: &Installation, base: &str, number: PullNumber, head: &str) -> Result<(), GitHubError> {
    let body = format!(
        "{STOPPED_MARKER}\nSomeone else pushed to this branch (now at `{}`), so driftfix stopped updating it. \
         It will not rebase or rewrite these commits; merge or close the pull request as you see fit.",
        &head[..head.len().min(12)]
    );
    upsert_comment(inst, base, number, STOPPED_MARKER, &body).await
}

/// Post a comment carrying `marker`, or edit the bot's earlier one that carries it (nothing when it
/// already says the same).
pub async fn upsert_comment(
    inst: &Installation,
    base: &str,
    number: PullNumber,
    marker: &str,
    body: &str,
) -> Result<(), GitHubError> {
    let route = format!("{base}/issues/{}/comments", number.0);
    let mine: Option<Comment> = inst
        .find_paged(&route, MAX_COMMENT_PAGES, |c: &Comment| c.body.as_deref().is_some_and(|b| b.contains(marker)))
        .await?;
    match mine {
        Some(c) if c.body.as_deref() == Some(body) => Ok(()),
        Some(c) => {
            let route = format!("{base}/issues/comments/{}", c.id);
            inst.write::<serde_json::Value>(Method::PATCH, &route, &json!({ "body": body })).await.map(|_| ())
        }
        None => {
            let route = format!("{base}/issues/{}/comments", number.0);
            inst.write::<serde_json::Value>(Method::POST, &route, &json!({ "body": body })).await.map(|_| ())
        }
    }
}
