//! A Terraform tree loaded for format-preserving work: every `.tf` file under a directory, parsed
//! with `hcl-edit` (which keeps comments, spacing and heredocs byte-for-byte), plus the parse errors
//! of the files that could not be read, so one broken file never hides the rest of the repository.

use hcl_edit::structure::{Block, Body, Structure};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Files larger than this are reported as errors instead of parsed (generated blobs, not code).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Directories never descended into: Terraform's own cache and VCS metadata.
const SKIPPED_DIRS: &[&str] = &[".terraform", ".git", "node_modules", ".terragrunt-cache"];

/// Identifies a file in a [`Workspace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub usize);

/// One parsed `.tf` file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the workspace root, with `/` separators.
    pub path: String,
    pub text: String,
    pub body: Body,
}

impl SourceFile {
    /// The directory (module) this file belongs to, relative to the root ("" for the root itself).
    pub fn dir(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(d, _)| d)
    }

    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        line_of(&self.text, offset)
    }
}

/// A file that could not be loaded, with the position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// All `.tf` files of a tree, parsed. Files are kept in path order so every walk is deterministic.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    files: Vec<SourceFile>,
    errors: Vec<LoadError>,
    /// Extra non-HCL files the engine reads (`.terraform.lock.hcl` is HCL but not a `.tf` file).
    lock_files: BTreeMap<String, String>,
}

impl Workspace {
    /// Load every `.tf` file under `root`. Unreadable or unparsable files become [`LoadError`]s.
    pub fn load(root: &Path) -> std::io::Result<Workspace> {
        let mut paths = Vec::new();
        collect(root, root, &mut paths, 0)?;
        paths.sort();
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        let mut lock_files = BTreeMap::new();
        for (rel, abs) in paths {
            match std::fs::metadata(&abs) {
                Ok(m) if m.len() > MAX_FILE_BYTES => {
                    errors.push(LoadError {
                        file: rel,
                        line: 1,
                        column: 1,
                        message: format!("file is {} bytes, larger than the {MAX_FILE_BYTES}-byte limit", m.len()),
                    });
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    errors.push(LoadError { file: rel, line: 1, column: 1, message: e.to_string() });
                    continue;
                }
            }
            match std::fs::read(&abs) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) if rel.ends_with(".terraform.lock.hcl") => {
                        lock_files.insert(rel, text);
                    }
                    Ok(text) => sources.push((rel, text)),
                    Err(_) => errors.push(LoadError {
                        file: rel,
                        line: 1,
                        column: 1,
                        message: "file is not valid UTF-8".into(),
                    }),
                },
                Err(e) => errors.push(LoadError { file: rel, line: 1, column: 1, message: e.to_string() }),
            }
        }
        let mut ws = Workspace::from_sources(sources);
        ws.errors.extend(errors);
        ws.errors.sort_by(|a, b| a.file.cmp(&b.file));
        ws.lock_files = lock_files;
        Ok(ws)
    }

    /// Build a workspace from in-memory `(relative path, text)` pairs.
    pub fn from_sources(sources: impl IntoIterator<Item = (String, String)>) -> Workspace {
        let mut ws = Workspace::default();
        let mut sources: Vec<_> = sources.into_iter().collect();
        sources.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, text) in sources {
            if path.ends_with(".terraform.lock.hcl") {
                ws.lock_files.insert(path, text);
                continue;
            }
            match parse(&text) {
                Ok(body) => ws.files.push(SourceFile { path, text, body }),
                Err(e) => ws.errors.push(LoadError { file: path, ..e }),
            }
        }
        ws
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    pub fn file_id(&self, path: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(FileId)
    }

    pub fn errors(&self) -> &[LoadError] {
        &self.errors
    }

    /// `.terraform.lock.hcl` files by relative path.
    pub fn lock_files(&self) -> &BTreeMap<String, String> {
        &self.lock_files
    }

    /// Replace the text of one file (after an edit). Fails, leaving the workspace untouched, when
    /// the new text does not parse.
    pub fn replace(&mut self, id: FileId, text: String) -> Result<(), LoadError> {
        let path = self.files[id.0].path.clone();
        let body = parse(&text).map_err(|e| LoadError { file: path, ..e })?;
        let f = &mut self.files[id.0];
        f.text = text;
        f.body = body;
        Ok(())
    }

    /// Top-level blocks of every file, with their file.
    pub fn top_blocks(&self) -> impl Iterator<Item = (FileId, &Block)> {
        self.files.iter().enumerate().flat_map(|(i, f)| {
            f.body.iter().filter_map(move |s| match s {
                Structure::Block(b) => Some((FileId(i), b)),
                Structure::Attribute(_) => None,
            })
        })
    }
}

/// Parse HCL text, turning a parser error into a positioned [`LoadError`] (file left empty).
pub fn parse(text: &str) -> Result<Body, LoadError> {
    hcl_edit::parser::parse_body(text).map_err(|e| LoadError {
        file: String::new(),
        line: e.location().line(),
        column: e.location().column(),
        message: e.message().to_owned(),
    })
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>, depth: usize) -> std::io::Result<()> {
    if depth > 32 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                collect(root, &entry.path(), out, depth + 1)?;
            }
        } else if ft.is_file() && is_terraform_file_name(&name) {
            let abs = entry.path();
            let rel = abs
                .strip_prefix(root)
                .unwrap_or(&abs)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, abs));
        }
    }
    Ok(())
}

/// Whether a file of this name belongs in a workspace (`.tf` sources and the provider lock file).
fn is_terraform_file_name(name: &str) -> bool {
    name.ends_with(".tf") || name == ".terraform.lock.hcl"
}

/// Whether a repository path (`/`-separated, relative) is one [`Workspace::load`] would read: a
/// Terraform file outside the tool directories it skips. For trees listed remotely.
pub fn is_workspace_path(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    let Some(name) = parts.pop() else { return false };
    parts.len() <= 32 && parts.iter().all(|d| !SKIPPED_DIRS.contains(d)) && is_terraform_file_name(name)
}

/// 1-based line number of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
}

/// Join a module directory and a relative `source`, resolving `.` and `..` lexically.
/// Returns `None` when the path escapes the workspace root.
pub fn join_module_path(dir: &str, source: &str) -> Option<String> {
    let mut parts: Vec<String> = if dir.is_empty() { Vec::new() } else { dir.split('/').map(str::to_owned).collect() };
    for c in Path::new(source).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}
