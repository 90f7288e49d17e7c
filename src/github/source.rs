//! Code from GitHub: the Terraform files of a repository at its default branch head.
//!
//! Three reads find the tree (repository → default branch, ref → commit, recursive tree), then only
//! blobs not seen before are fetched: blobs are content-addressed, so a cache keyed by SHA never goes
//! stale and a repository that changed one file costs one blob read on the next finding.

use super::client::{GitHubError, Installation};
use super::{RepoName, encode_path};
use base64::Engine;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Concurrent blob reads per snapshot.
const BLOB_READS: usize = 8;

/// The files of one repository at one commit.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub repo: RepoName,
    pub default_branch: String,
    /// The default branch head the files were read at (the new commit's parent).
    pub base_sha: String,
    /// That commit's tree (the new tree's base).
    pub base_tree: String,
    /// Terraform files and lock files, `(path, text)`, in path order.
    pub files: Vec<(String, String)>,
    /// The other files asked for (state, repo configuration) that exist, by path.
    pub extra: BTreeMap<String, String>,
}

/// One file of a pull request, as `GET /pulls/{n}/files` lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PullFile {
    pub filename: String,
    /// `added`, `removed`, `modified`, `renamed`, `copied`, `changed`, `unchanged`.
    pub status: String,
}

/// A pull request as it stands now (`GET /pulls/{n}`), reduced to what decides whether an event
/// about it is still current.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PullNow {
    /// `open` or `closed`.
    pub state: String,
    pub head: PullHead,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct PullHead {
    pub sha: String,
}

/// The pull request now, `None` when it no longer exists.
pub async fn pull_now(
    inst: &Installation,
    repo: &RepoName,
    number: super::PullNumber,
) -> Result<Option<PullNow>, GitHubError> {
    inst.get_optional(&format!("{}/pulls/{}", repo.api_path(), number.0)).await
}

/// Pages of pull request files read at most (GitHub lists up to 3,000 files, 100 per page).
const MAX_FILE_PAGES: usize = 30;

/// The pull request's entry for `path`, when it changes that file.
pub async fn pull_file(
    inst: &Installation,
    repo: &RepoName,
    number: super::PullNumber,
    path: &str,
) -> Result<Option<PullFile>, GitHubError> {
    let route = format!("{}/pulls/{}/files", repo.api_path(), number.0);
    inst.find_paged(&route, MAX_FILE_PAGES, |f: &PullFile| f.filename == path).await
}

/// A file's text at a commit (`None`: no such file there, or not UTF-8).
pub async fn file_at(
    inst: &Installation,
    repo: &RepoName,
    path: &str,
    commit: &str,
) -> Result<Option<String>, GitHubError> {
    let route = format!("{}/contents/{}?ref={}", repo.api_path(), encode_path(path), encode_path(commit));
    let found: Option<Blob> = inst.get_optional(&route).await?;
    Ok(found.as_ref().and_then(decode_blob))
}

/// Blob texts by SHA, bounded in bytes (cleared when full: simpler than LRU, and a cleared cache
/// only costs re-reads).
#[derive(Debug)]
pub struct BlobCache {
    inner: Mutex<(HashMap<String, Arc<str>>, usize)>,
    max_bytes: usize,
}

impl BlobCache {
    pub fn new(max_bytes: usize) -> BlobCache {
        BlobCache { inner: Mutex::default(), max_bytes }
    }

    fn get(&self, sha: &str) -> Option<Arc<str>> {
        self.lock().0.get(sha).cloned()
    }

    fn put(&self, sha: String, text: Arc<str>) {
        let mut g = self.lock();
        if g.1 + text.len() > self.max_bytes {
            g.0.clear();
            g.1 = 0;
        }
        g.1 += text.len();
        g.0.insert(sha, text);
    }

    /// Blobs held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, Arc<str>>, usize)> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for BlobCache {
    fn default() -> Self {
        BlobCache::new(256 * 1024 * 1024)
    }
}

#[derive(serde::Deserialize)]
struct Repository {
    default_branch: String,
}

#[derive(serde::Deserialize)]
struct GitRef {
    object: GitObject,
}

#[derive(serde::Deserialize)]
struct GitObject {
    sha: String,
}

#[derive(serde::Deserialize)]
struct Tree {
    sha: String,
    truncated: bool,
    tree: Vec<TreeEntry>,
}

#[derive(serde::Deserialize)]
struct TreeEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}

#[derive(serde::Deserialize)]
struct Blob {
    content: String,
    encoding: String,
}

/// Read the repository's Terraform files (and `extra` paths, when present) at the default branch
/// head.
pub async fn fetch(
    inst: &Arc<Installation>,
    repo: &RepoName,
    cache: &Arc<BlobCache>,
    extra: &[String],
) -> Result<Snapshot, GitHubError> {
    let base = repo.api_path();
    let info: Repository = inst.get(&base).await?;
    let head: GitRef = inst.get(&format!("{base}/git/ref/heads/{}", encode_path(&info.default_branch))).await?;
    let tree: Tree = inst.get(&format!("{base}/git/trees/{}?recursive=1", head.object.sha)).await?;
    if tree.truncated {
        return Err(GitHubError::Refused(format!(
            "the tree of {repo} is larger than GitHub lists in one answer; narrow the route with `paths`"
        )));
    }
    let wanted: Vec<&TreeEntry> = tree
        .tree
        .iter()
        .filter(|e| e.kind == "blob")
        .filter(|e| crate::terraform::workspace::is_workspace_path(&e.path) || extra.contains(&e.path))
        .collect();
    let texts = read_blobs(inst, &base, cache, wanted.iter().map(|e| e.sha.clone()).collect()).await?;
    let mut files = Vec::new();
    let mut extra_files = BTreeMap::new();
    for e in wanted {
        let Some(text) = texts.get(&e.sha) else { continue };
        if extra.contains(&e.path) {
            extra_files.insert(e.path.clone(), text.to_string());
        }
        if crate::terraform::workspace::is_workspace_path(&e.path) {
            files.push((e.path.clone(), text.to_string()));
        }
    }
    files.sort();
    Ok(Snapshot {
        repo: repo.clone(),
        default_branch: info.default_branch,
        base_sha: head.object.sha,
        base_tree: tree.sha,
        files,
        extra: extra_files,
    })
}

/// Texts of the given blobs, from the cache or read (a few at a time). Blobs that are not UTF-8
/// are left out (a binary file named `.tf` cannot be Terraform).
async fn read_blobs(
    inst: &Arc<Installation>,
    base: &str,
    cache: &Arc<BlobCache>,
    mut shas: Vec<String>,
) -> Result<HashMap<String, Arc<str>>, GitHubError> {
    shas.sort();
    shas.dedup();
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    for sha in shas {
        match cache.get(&sha) {
            Some(t) => {
                out.insert(sha, t);
            }
            None => missing.push(sha),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = missing.into_iter();
    loop {
        while tasks.len() < BLOB_READS {
            let Some(sha) = queue.next() else { break };
            let (inst, route) = (inst.clone(), format!("{base}/git/blobs/{sha}"));
            tasks.spawn(async move { (sha, inst.get::<Blob>(&route).await) });
        }
        let Some(done) = tasks.join_next().await else { break };
        let (sha, blob) = done.map_err(|e| GitHubError::Refused(format!("blob read task failed: {e}")))?;
        if let Some(text) = decode_blob(&blob?) {
            let text: Arc<str> = Arc::from(text);
            cache.put(sha.clone(), text.clone());
            out.insert(sha, text);
        }
    }
    Ok(out)
}

/// GitHub sends blobs base64-encoded with line breaks (or, rarely, as `utf-8`).
fn decode_blob(blob: &Blob) -> Option<String> {
    match blob.encoding.as_str() {
        "base64" => {
            let compact: String = blob.content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD.decode(compact).ok()?;
            String::from_utf8(bytes).ok()
        }
        "utf-8" => Some(blob.content.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Blob, BlobCache, decode_blob};
    use crate::terraform::workspace::is_workspace_path;
    use std::sync::Arc;

    #[test]
    fn only_terraform_files_outside_tool_directories_are_read() {
        assert!(is_workspace_path("main.tf"));
        assert!(is_workspace_path("envs/prod/.terraform.lock.hcl"));
        assert!(!is_workspace_path("envs/prod/.terraform/modules/vpc/main.tf"));
        assert!(!is_workspace_path("README.md"));
        assert!(!is_workspace_path("x/.git/config.tf"));
    }

    #[test]
    fn blobs_decode_with_line_breaks_and_reject_binary() {
        let b = Blob { content: "cmVzb3VyY2Ug\nImEiICJiIiB7fQo=\n".into(), encoding: "base64".into() };
        assert_eq!(decode_blob(&b).as_deref(), Some("resource \"a\" \"b\" {}\n"));
        let binary = Blob { content: "/w==".into(), encoding: "base64".into() };
        assert_eq!(decode_blob(&binary), None);
    }

    #[test]
    fn the_cache_is_bounded_in_bytes() {
        let c = BlobCache::new(10);
        c.put("a".into(), Arc::from("123456"));
        assert_eq!(c.len(), 1);
        c.put("b".into(), Arc::from("123456"));
        assert_eq!(c.len(), 1, "the full cache was cleared before b went in");
        assert!(c.get("b").is_some() && c.get("a").is_none());
    }
}
