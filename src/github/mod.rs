//! The GitHub App adapter: authenticate as the App, read a repository's Terraform tree at the default
//! branch head, and open (or keep up to date) the one pull request of a finding.
//!
//! Why it is built this way:
//! - **octocrab for authentication, our own thin request layer for the rest.** octocrab signs the App
//!   JWT (RS256, issued 60 s in the past, 9 min lifetime), exchanges it for installation tokens,
//!   caches them and refreshes them 30 s before expiry (and once more on a 401). Its typed models
//!   are strict and its errors drop the response headers, so every REST call goes through
//!   [`client::Installation::send`], which sees status and headers and so can honour `retry-after`,
//!   `x-ratelimit-reset` and secondary limits itself. octocrab's own retry is off: a blind retry of a
//!   POST is how duplicates happen.
//! - **Rate limits park the finding, they do not fail it.** A short wait is slept through; a long
//!   one comes back as [`GitHubError::RateLimited`] with the time to retry, and the worker parks the
//!   finding as `rate-limited` until then without spending an attempt.
//! - **One content write at a time per installation** (GitHub's secondary limits punish parallel
//!   content creation), reads in parallel.
//! - **Idempotency from GitHub's own state.** The branch name is the finding's idempotency key;
//!   before creating anything the PR is looked up by head branch (`state=all`), and a leftover
//!   branch from a crash between "ref" and "pull request" is reused.
//! - **Never a write outside the bot's branch prefix**: checked before any ref is written.

pub mod client;
pub mod codeowners;
pub mod issues;
pub mod propose;
pub mod source;
pub mod webhook;

pub use client::{GitHubApp, GitHubError, GitHubSettings, Installation};
pub use propose::{KnownLabels, Label, Proposal, Proposed};
pub use source::{BlobCache, Snapshot};

use std::fmt;

/// A repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl RepoName {
    /// Parse `owner/name`. Owners are GitHub logins (letters, digits, `-`); names also allow `.` and
    /// `_`. Anything else (a path, a URL) is `None`.
    pub fn parse(s: &str) -> Option<RepoName> {
        let (owner, name) = s.split_once('/')?;
        let owner_ok =
            !owner.is_empty() && owner.len() <= 39 && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let name_ok = !name.is_empty()
            && name.len() <= 100
            && name != "."
            && name != ".."
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        (owner_ok && name_ok).then(|| RepoName { owner: owner.to_owned(), name: name.to_owned() })
    }

    /// `/repos/{owner}/{name}`, the prefix of every repository route.
    pub fn api_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A pull request number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PullNumber(pub u64);

impl fmt::Display for PullNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Percent-encode one path segment (branch names contain `/`, which must stay literal in
/// `git/ref/heads/{branch}` but other reserved characters must not).
pub(crate) fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{RepoName, encode_path};

    #[test]
    fn repo_names_are_owner_slash_name_only() {
        let r = RepoName::parse("acme-corp/infra.live").expect("valid");
        assert_eq!((r.owner.as_str(), r.name.as_str()), ("acme-corp", "infra.live"));
        assert_eq!(r.to_string(), "acme-corp/infra.live");
        for bad in ["/srv/terraform", "./infra", "acme", "a/b/c", "https://github.com/a/b", "a/..", "a b/c", "/a"] {
            assert!(RepoName::parse(bad).is_none(), "{bad} is not owner/name");
        }
    }

    #[test]
    fn path_segments_keep_slashes_and_escape_the_rest() {
        assert_eq!(encode_path("driftfix/s3-x/b-1234"), "driftfix/s3-x/b-1234");
        assert_eq!(encode_path("a b#c"), "a%20b%23c");
    }
}
