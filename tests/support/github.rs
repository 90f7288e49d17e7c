//! A stateful fake GitHub: a real HTTP server keeping repositories (git objects, refs), pull
//! requests, labels, comments, installations and App tokens in memory, so the real octocrab client,
//! App authentication and the bot's own request layer run in tests.
//!
//! - App routes need a JWT signed (RS256) by the test App's key with GitHub's time rules; every
//!   other route needs an unexpired installation token for that repository's installation.
//! - Every request is logged with the route template it matched (for the OpenAPI check) and its
//!   request and response bodies. A request no route serves answers 404 and is kept in
//!   [`FakeGitHub::unexpected`]: tests assert it stays empty.
//! - Faults (status, headers, body) can be queued per route for the next N matching requests.
//! - Answers carry every field GitHub's OpenAPI description marks required, so strict clients and the
//!   spec check both accept them.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Every route the fake serves, as `(method, OpenAPI path template)`. A parameter named `ref` takes
/// the rest of the path (refs contain `/`).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/repos/{owner}/{repo}/installation"),
    ("POST", "/app/installations/{installation_id}/access_tokens"),
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}"),
    ("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}"),
    ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("GET", "/repos/{owner}/{repo}/labels"),
    ("POST", "/repos/{owner}/{repo}/labels"),
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues"),
];

/// The test App's id.
pub const APP_ID: u64 = 424_242;
/// The login GitHub gives the App's bot user.
pub const BOT_LOGIN: &str = "driftfix[bot]";

/// The test App's RSA key: PKCS#8 PEM (what the bot is configured with) and the public key (what
/// the fake verifies JWTs with). Generated once per test process.
pub fn app_key() -> &'static (String, Vec<u8>) {
    static KEY: OnceLock<(String, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
        let der = pair.as_der().expect("PKCS#8");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> =
            b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
        (pem, pair.public_key().as_ref().to_vec())
    })
}

/// One logged request.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// The matched route template (`None`: unexpected).
    pub template: Option<&'static str>,
    pub status: u16,
    pub request: Option<Value>,
    pub response: Value,
    /// Whether a fault answered it.
    pub injected: bool,
}

/// A queued failure.
#[derive(Debug, Clone)]
struct Fault {
    method: &'static str,
    template: &'static str,
    remaining: usize,
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

#[derive(Debug, Clone)]
enum Object {
    Blob(Vec<u8>),
    /// A tree, flat: full path → blob SHA.
    Tree(BTreeMap<String, String>),
    Commit {
        tree: String,
        parents: Vec<String>,
        message: String,
        author: String,
    },
}

/// A pull request as the fake keeps it.
#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub draft: bool,
    pub state: String,
    pub merged: bool,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    /// Team slugs asked to review.
    pub teams: Vec<String>,
    pub user: String,
}

/// An issue (not a pull request).
#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub state: String,
    pub user: String,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
    pub user: String,
}

#[derive(Debug, Clone)]
struct Repo {
    id: u64,
    owner: String,
    name: String,
    default_branch: String,
    installation: u64,
    refs: BTreeMap<String, String>,
    pulls: Vec<Pull>,
    labels: Vec<(u64, String, String, Option<String>)>,
    comments: Vec<Comment>,
    /// Collaborator permissions (`admin`, `write`, `read`); anyone else reads.
    permissions: BTreeMap<String, String>,
    issues: Vec<Issue>,
}

/// A change [`FakeGitHub::before_next`] makes just before a request is answered.
struct Interleaved {
    method: &'static str,
    template: &'static str,
    change: Box<dyn FnOnce(&mut State) + Send>,
}

impl std::fmt::Debug for Interleaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "before {} {}", self.method, self.template)
    }
}

#[derive(Debug, Default)]
pub struct State {
    repos: BTreeMap<String, Repo>,
    objects: HashMap<String, Object>,
    tokens: HashMap<String, (u64, u64)>,
    token_lifetime: u64,
    faults: Vec<Fault>,
    interleaved: Vec<Interleaved>,
    log: Vec<Logged>,
    next_id: u64,
}

/// The running fake. Dropping it stops nothing (the server dies with the test's runtime).
#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

fn sha(kind: &str, content: &[u8]) -> String {
    let mut h = sha2::Sha256::new();
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(content);
    h.finalize().iter().take(20).map(|b| format!("{b:02x}")).collect()
}

impl FakeGitHub {
    /// Start the fake on a loopback port of the current runtime.
    pub async fn start() -> FakeGitHub {
        let state = Arc::new(Mutex::new(State { token_lifetime: 3600, next_id: 1000, ..State::default() }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let url = format!("http://{}", super::loopback::serve(app, "fake GitHub").await);
        FakeGitHub { url, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Create `owner/name` with the App installed, its default branch `main` holding `files`.
    pub fn add_repo(&self, full: &str, files: &[(String, String)]) {
        let (owner, name) = full.split_once('/').expect("owner/name");
        let mut s = self.lock();
        let id = s.id();
        let installation = 7000 + u64::from(owner.bytes().map(u32::from).sum::<u32>());
        let tree: BTreeMap<String, String> =
            files.iter().map(|(p, t)| (p.clone(), s.put(Object::Blob(t.as_bytes().to_vec())))).collect();
        let tree = s.put(Object::Tree(tree));
        let commit =
            s.put(Object::Commit { tree, parents: vec![], message: "Initial commit".into(), author: "alice".into() });
        let repo = Repo {
            id,
            owner: owner.into(),
            name: name.into(),
            default_branch: "main".into(),
            installation,
            refs: BTreeMap::from([("main".to_owned(), commit)]),
            pulls: Vec::new(),
            labels: Vec::new(),
            comments: Vec::new(),
            permissions: BTreeMap::new(),
            issues: Vec::new(),
        };
        s.repos.insert(full.to_owned(), repo);
    }

    /// Commit `files` (path → new text; `None` deletes) on `branch` as `author`. Returns the commit.
    pub fn push(
        &self,
        full: &str,
        branch: &str,
        author: &str,
        message: &str,
        files: &[(&str, Option<&str>)],
    ) -> String {
        self.lock().push(full, branch, author, message, files)
    }

    /// The next request to `(method, template)` first sees `change` made (a person pushing while
    /// the bot is between two requests).
    pub fn before_next(
        &self,
        method: &'static str,
        template: &'static str,
        change: impl FnOnce(&mut State) + Send + 'static,
    ) {
        assert!(ROUTES.contains(&(method, template)), "a change before a route the fake does not serve: {template}");
        self.lock().interleaved.push(Interleaved { method, template, change: Box::new(change) });
    }

    /// A file's text at a branch head.
    pub fn file(&self, full: &str, branch: &str, path: &str) -> Option<String> {
        let s = self.lock();
        let head = s.repos.get(full)?.refs.get(branch)?;
        let Object::Commit { tree, .. } = &s.objects[head] else { return None };
        let Object::Tree(entries) = &s.objects[tree] else { return None };
        let Object::Blob(b) = &s.objects[entries.get(path)?] else { return None };
        Some(String::from_utf8_lossy(b).into_owned())
    }

    /// Every file at a branch head, path → text.
    pub fn files(&self, full: &str, branch: &str) -> BTreeMap<String, String> {
        let s = self.lock();
        let head = &s.repos[full].refs[branch];
        let Object::Commit { tree, .. } = &s.objects[head] else { panic!("not a commit") };
        let Object::Tree(entries) = &s.objects[tree] else { panic!("not a tree") };
        let text = |sha: &String| match &s.objects[sha] {
            Object::Blob(b) => String::from_utf8_lossy(b).into_owned(),
            _ => panic!("not a blob"),
        };
        entries.iter().map(|(path, sha)| (path.clone(), text(sha))).collect()
    }

    /// The head commit of a branch, its parents and message.
    pub fn head(&self, full: &str, branch: &str) -> Option<(String, Vec<String>, String)> {
        let s = self.lock();
        let head = s.repos.get(full)?.refs.get(branch)?.clone();
        let Object::Commit { parents, message, .. } = &s.objects[&head] else { return None };
        Some((head.clone(), parents.clone(), message.clone()))
    }

    pub fn branches(&self, full: &str) -> Vec<String> {
        self.lock().repos[full].refs.keys().cloned().collect()
    }

    pub fn pulls(&self, full: &str) -> Vec<Pull> {
        self.lock().repos[full].pulls.clone()
    }

    pub fn comments(&self, full: &str) -> Vec<Comment> {
        self.lock().repos[full].comments.clone()
    }

    pub fn repo_labels(&self, full: &str) -> Vec<String> {
        self.lock().repos[full].labels.iter().map(|l| l.1.clone()).collect()
    }

    /// Create `branch` at the head of `from`.
    pub fn branch(&self, full: &str, from: &str, branch: &str) {
        let mut s = self.lock();
        let repo = s.repos.get_mut(full).expect("repo");
        let head = repo.refs[from].clone();
        repo.refs.insert(branch.to_owned(), head);
    }

    /// A pull request opened by a human from `head` onto the default branch. Returns its number.
    pub fn open_pull_as(&self, full: &str, head: &str, user: &str, title: &str) -> u64 {
        let mut s = self.lock();
        let number = s.id() % 100_000;
        let repo = s.repos.get_mut(full).expect("repo");
        let base = repo.default_branch.clone();
        repo.pulls.push(Pull {
            number,
            title: title.into(),
            body: String::new(),
            head: head.into(),
            base,
            draft: false,
            state: "open".into(),
            merged: false,
            labels: Vec::new(),
            reviewers: Vec::new(),
            teams: Vec::new(),
            user: user.into(),
        });
        number
    }

    /// The repository's issues.
    pub fn issues(&self, full: &str) -> Vec<Issue> {
        self.lock().repos[full].issues.clone()
    }

    /// Give `user` a permission on the repository.
    pub fn set_permission(&self, full: &str, user: &str, permission: &str) {
        self.lock().repos.get_mut(full).expect("repo").permissions.insert(user.into(), permission.into());
    }

    /// A comment written by a human.
    pub fn comment_as(&self, full: &str, number: u64, user: &str, body: &str) {
        let mut s = self.lock();
        let id = s.id();
        s.repos.get_mut(full).expect("repo").comments.push(Comment {
            id,
            issue: number,
            body: body.into(),
            user: user.into(),
        });
    }

    /// Merge (or close unmerged) a pull request, as a human would in the UI.
    pub fn close_pull(&self, full: &str, number: u64, merged: bool) {
        let mut s = self.lock();
        let repo = s.repos.get_mut(full).expect("repo");
        let pr = repo.pulls.iter_mut().find(|p| p.number == number).expect("pull");
        pr.state = "closed".into();
        pr.merged = merged;
    }

    /// Merge an open pull request as a human would with GitHub's merge button: a merge commit of the
    /// head onto the base (whose tree is the head's, so the base must not have moved since the
    /// branch was cut), the base branch moved to it, the pull request closed and merged. Returns the
    /// merge commit.
    pub fn merge_pull(&self, full: &str, number: u64, by: &str) -> String {
        let mut s = self.lock();
        let pr = s.repos[full].pulls.iter().find(|p| p.number == number).expect("pull").clone();
        assert_eq!(pr.state, "open", "only an open pull request can be merged");
        let (base, head) = (s.repos[full].refs[&pr.base].clone(), s.repos[full].refs[&pr.head].clone());
        assert!(is_ancestor(&s, &base, &head), "the base moved: this fake merges only up-to-date branches");
        let Object::Commit { tree, .. } = s.objects[&head].clone() else { panic!("not a commit") };
        let message = format!("Merge pull request #{number} from {}/{}", s.repos[full].owner, pr.head);
        let merge = s.put(Object::Commit { tree, parents: vec![base, head], message, author: by.into() });
        let repo = s.repos.get_mut(full).expect("repo");
        repo.refs.insert(pr.base.clone(), merge.clone());
        let pr = repo.pulls.iter_mut().find(|p| p.number == number).expect("pull");
        pr.state = "closed".into();
        pr.merged = true;
        merge
    }

    /// Installation tokens issued from now on live this many seconds; `expire_tokens` ends the
    /// current ones.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().token_lifetime = secs;
    }

    pub fn expire_tokens(&self) {
        self.lock().tokens.values_mut().for_each(|t| t.1 = 0);
    }

    /// The next `times` requests to `(method, template)` answer `status` with these headers and body.
    pub fn fail(
        &self,
        method: &'static str,
        template: &'static str,
        times: usize,
        status: u16,
        headers: &[(&str, &str)],
        body: Value,
    ) {
        assert!(ROUTES.contains(&(method, template)), "fault on a route the fake does not serve: {method} {template}");
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.lock().faults.push(Fault { method, template, remaining: times, status, headers, body });
    }

    pub fn log(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// Requests no route serves.
    pub fn unexpected(&self) -> Vec<String> {
        self.lock().log.iter().filter(|l| l.template.is_none()).map(|l| format!("{} {}", l.method, l.path)).collect()
    }

    /// Successful writes (anything but GET and the token exchange) made to a repository.
    pub fn writes(&self) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|l| l.method != "GET" && l.status < 300 && l.template.is_some_and(|t| t.starts_with("/repos/")))
            .count()
    }
}

impl State {
    /// See [`FakeGitHub::push`].
    pub fn push(
        &mut self,
        full: &str,
        branch: &str,
        author: &str,
        message: &str,
        files: &[(&str, Option<&str>)],
    ) -> String {
        let head = self.repos[full].refs[branch].clone();
        let Object::Commit { tree, .. } = self.objects[&head].clone() else { panic!("not a commit") };
        let Object::Tree(mut entries) = self.objects[&tree].clone() else { panic!("not a tree") };
        for (path, text) in files {
            match text {
                Some(t) => {
                    let blob = self.put(Object::Blob(t.as_bytes().to_vec()));
                    entries.insert((*path).to_owned(), blob);
                }
                None => {
                    entries.remove(*path);
                }
            }
        }
        let tree = self.put(Object::Tree(entries));
        let commit =
            self.put(Object::Commit { tree, parents: vec![head], message: message.into(), author: author.into() });
        self.repos.get_mut(full).expect("repo").refs.insert(branch.to_owned(), commit.clone());
        commit
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn put(&mut self, o: Object) -> String {
        let key = match &o {
            Object::Blob(b) => sha("blob", b),
            Object::Tree(t) => sha("tree", format!("{t:?}").as_bytes()),
            Object::Commit { tree, parents, message, author } => {
                let n = self.next_id;
                sha("commit", format!("{tree}{parents:?}{message}{author}{n}").as_bytes())
            }
        };
        self.next_id += 1;
        self.objects.insert(key.clone(), o);
        key
    }
}

/// Match a concrete path against a template; returns the parameters.
fn matches(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut params = HashMap::new();
    for (i, seg) in t.iter().enumerate() {
        // `{ref}` and `{path}` take the rest of the path, slashes included.
        if *seg == "{ref}" || *seg == "{path}" {
            if i >= p.len() {
                return None;
            }
            params.insert(seg[1..seg.len() - 1].to_owned(), p[i..].join("/"));
            return Some(params);
        }
        let got = p.get(i)?;
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_owned(), (*got).to_owned());
            }
            None if seg == got => {}
            None => return None,
        }
    }
    (t.len() == p.len()).then_some(params)
}

fn query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

/// The slice of `items` that `?page=&per_page=` asks for (GitHub's defaults: page 1, 30 a page;
/// at most 100).
fn page_of<T>(query: &HashMap<String, String>, items: impl IntoIterator<Item = T>) -> impl Iterator<Item = T> {
    let per_page: usize = query.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30).clamp(1, 100);
    let page: usize = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    items.into_iter().skip((page - 1) * per_page).take(per_page)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%' && i + 3 <= b.len())
            .then(|| std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = percent_decode(uri.path());
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let found =
        ROUTES.iter().find_map(|(m, t)| (*m == method.as_str()).then(|| matches(t, &path).map(|p| (*t, p))).flatten());
    let Some((template, params)) = found else {
        let response = json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest" });
        s.log.push(Logged {
            method: method.to_string(),
            path: uri.to_string(),
            template: None,
            status: 404,
            request,
            response: response.clone(),
            injected: false,
        });
        return (StatusCode::NOT_FOUND, axum::Json(response)).into_response();
    };
    if let Some(i) = s.interleaved.iter().position(|c| c.method == method.as_str() && c.template == template) {
        (s.interleaved.remove(i).change)(&mut s);
    }
    let fault = s.faults.iter_mut().find(|f| f.method == method.as_str() && f.template == template && f.remaining > 0);
    let (status, extra, response, injected) = if let Some(f) = fault {
        f.remaining -= 1;
        (f.status, f.headers.clone(), f.body.clone(), true)
    } else {
        let (status, response) = match authorize(&s, template, &params, &headers) {
            Err(e) => e,
            Ok(()) => serve(&mut s, &method, template, &params, &query(&uri), request.as_ref()),
        };
        (status, Vec::new(), response, false)
    };
    s.log.push(Logged {
        method: method.to_string(),
        path: uri.to_string(),
        template: Some(template),
        status,
        request,
        response: response.clone(),
        injected,
    });
    let mut r = (StatusCode::from_u16(status).expect("status"), axum::Json(response)).into_response();
    for (k, v) in extra {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            HeaderValue::from_str(&v).expect("header value"),
        );
    }
    r
}

type Answer = (u16, Value);

fn unauthorized() -> Answer {
    (401, json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" }))
}

/// App routes need a valid App JWT; repository routes an unexpired token of the repo's installation.
fn authorize(s: &State, template: &str, params: &HashMap<String, String>, headers: &HeaderMap) -> Result<(), Answer> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("token ")))
        .ok_or_else(unauthorized)?;
    if template.starts_with("/app/") || template.ends_with("/installation") {
        return verify_jwt(bearer).map_err(|why| (401, json!({ "message": format!("A JSON web token could not be decoded ({why})"), "documentation_url": "https://docs.github.com/rest" })));
    }
    let (installation, expires) = s.tokens.get(bearer).ok_or_else(unauthorized)?;
    if *expires <= now() {
        return Err(unauthorized());
    }
    let full =
        format!("{}/{}", params.get("owner").map_or("", String::as_str), params.get("repo").map_or("", String::as_str));
    match s.repos.get(&full) {
        Some(r) if r.installation == *installation => Ok(()),
        Some(_) => Err((
            403,
            json!({ "message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest" }),
        )),
        None => Err((404, json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest" }))),
    }
}

/// RS256 with the App's key; `iss` the App id; `iat` in the past, `exp` in the future, at most ten
/// minutes apart (GitHub's rules).
fn verify_jwt(token: &str) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("not a JWT".into());
    };
    let header: Value =
        serde_json::from_slice(&b64.decode(h).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {}", header["alg"]));
    }
    let sig = b64.decode(sig).map_err(|e| e.to_string())?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &app_key().1)
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "bad signature".to_owned())?;
    let claims: Value =
        serde_json::from_slice(&b64.decode(c).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let iss = claims["iss"].as_u64().or_else(|| claims["iss"].as_str().and_then(|s| s.parse().ok()));
    let (iat, exp) = (claims["iat"].as_u64().unwrap_or(u64::MAX), claims["exp"].as_u64().unwrap_or(0));
    let t = now();
    if iss != Some(APP_ID) {
        return Err("wrong issuer".into());
    }
    if iat > t + 5 || exp <= t || exp - iat > 660 {
        return Err("iat/exp outside GitHub's window".into());
    }
    Ok(())
}

fn not_found() -> Answer {
    (404, json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest" }))
}

fn invalid(message: &str) -> Answer {
    (
        422,
        json!({ "message": "Validation Failed", "errors": [{ "resource": "Request", "code": "custom", "message": message }], "documentation_url": "https://docs.github.com/rest" }),
    )
}

fn serve(
    s: &mut State,
    method: &Method,
    template: &'static str,
    params: &HashMap<String, String>,
    query: &HashMap<String, String>,
    body: Option<&Value>,
) -> Answer {
    let full =
        format!("{}/{}", params.get("owner").map_or("", String::as_str), params.get("repo").map_or("", String::as_str));
    let empty = Value::Null;
    let body = body.unwrap_or(&empty);
    match (method.as_str(), template) {
        ("POST", "/app/installations/{installation_id}/access_tokens") => {
            let id: u64 = params["installation_id"].parse().unwrap_or(0);
            if !s.repos.values().any(|r| r.installation == id) {
                return not_found();
            }
            let n = s.id();
            let token = format!("ghs_{APP_ID}_{n:012}fake{id}");
            let expires = now() + s.token_lifetime;
            s.tokens.insert(token.clone(), (id, expires));
            let at = driftfix::store::format_time(i64::try_from(expires * 1000).unwrap_or(i64::MAX));
            (
                201,
                json!({ "token": token, "expires_at": at, "permissions": { "contents": "write", "pull_requests": "write", "issues": "write", "metadata": "read" }, "repository_selection": "all" }),
            )
        }
        ("GET", "/repos/{owner}/{repo}/installation") => match s.repos.get(&full) {
            Some(r) => (200, installation_json(r)),
            None => not_found(),
        },
        ("GET", "/repos/{owner}/{repo}") => (200, repository_json(&s.repos[&full], true)),
        ("GET", "/repos/{owner}/{repo}/git/ref/{ref}") => {
            let Some(branch) = params["ref"].strip_prefix("heads/") else { return not_found() };
            match s.repos[&full].refs.get(branch) {
                Some(sha) => (200, ref_json(&full, branch, sha)),
                None => not_found(),
            }
        }
        ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}") => {
            let mut key = params["tree_sha"].clone();
            if let Some(Object::Commit { tree, .. }) = s.objects.get(&key) {
                key = tree.clone();
            }
            match s.objects.get(&key) {
                Some(Object::Tree(entries)) => {
                    (200, tree_json(s, &full, &key, entries, query.get("recursive").is_some()))
                }
                _ => not_found(),
            }
        }
        ("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}") => match s.objects.get(&params["file_sha"]) {
            Some(Object::Blob(b)) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(b);
                let wrapped: Vec<&str> =
                    encoded.as_bytes().chunks(60).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
                let sha = &params["file_sha"];
                (
                    200,
                    json!({ "sha": sha, "node_id": format!("B_{sha}"), "size": b.len(), "url": api(&format!("repos/{full}/git/blobs/{sha}")), "content": wrapped.join("\n") + "\n", "encoding": "base64" }),
                )
            }
            _ => not_found(),
        },
        ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files") => {
            let n: u64 = params["pull_number"].parse().unwrap_or(0);
            let repo = &s.repos[&full];
            let Some(pr) = repo.pulls.iter().find(|p| p.number == n) else { return not_found() };
            let (Some(base), Some(head)) = (repo.refs.get(&pr.base), repo.refs.get(&pr.head)) else {
                return not_found();
            };
            let (old, new) = (tree_entries(s, base), tree_entries(s, head));
            let mut changed: Vec<(String, &str, String)> = Vec::new();
            for (path, sha) in &new {
                match old.get(path) {
                    None => changed.push((path.clone(), "added", sha.clone())),
                    Some(o) if o != sha => changed.push((path.clone(), "modified", sha.clone())),
                    Some(_) => {}
                }
            }
            changed.extend(
                old.iter().filter(|(p, _)| !new.contains_key(*p)).map(|(p, sha)| (p.clone(), "removed", sha.clone())),
            );
            changed.sort();
            let items: Vec<Value> = page_of(query, &changed)
                .map(|(path, status, sha)| {
                    json!({
                        "sha": sha, "filename": path, "status": status, "additions": 1, "deletions": 1, "changes": 2,
                        "blob_url": format!("https://github.com/{full}/blob/{sha}/{path}"),
                        "raw_url": format!("https://github.com/{full}/raw/{sha}/{path}"),
                        "contents_url": api(&format!("repos/{full}/contents/{path}?ref={sha}")),
                    })
                })
                .collect();
            (200, Value::Array(items))
        }
        ("GET", "/repos/{owner}/{repo}/contents/{path}") => {
            let path = params["path"].clone();
            let Some(commit) =
                query.get("ref").cloned().or_else(|| s.repos[&full].refs.get(&s.repos[&full].default_branch).cloned())
            else {
                return not_found();
            };
            let commit = s.repos[&full].refs.get(&commit).cloned().unwrap_or(commit);
            if !matches!(s.objects.get(&commit), Some(Object::Commit { .. })) {
                return not_found();
            }
            let Some(sha) = tree_entries(s, &commit).get(&path).cloned() else { return not_found() };
            let Some(Object::Blob(b)) = s.objects.get(&sha) else { return not_found() };
            let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
            let self_url = api(&format!("repos/{full}/contents/{path}?ref={commit}"));
            let git_url = api(&format!("repos/{full}/git/blobs/{sha}"));
            let html_url = format!("https://github.com/{full}/blob/{commit}/{path}");
            (
                200,
                json!({
                    "type": "file", "encoding": "base64", "size": b.len(), "name": name, "path": path,
                    "content": base64::engine::general_purpose::STANDARD.encode(b), "sha": sha, "url": self_url,
                    "git_url": git_url, "html_url": html_url,
                    "download_url": format!("https://raw.githubusercontent.com/{full}/{commit}/{path}"),
                    "_links": { "git": git_url, "html": html_url, "self": self_url },
                }),
            )
        }
        ("GET", "/repos/{owner}/{repo}/issues") => {
            // Pull requests are issues too, and GitHub lists them here; so does the fake.
            let repo = &s.repos[&full];
            let state = query.get("state").map_or("open", String::as_str);
            let wanted: Vec<&str> = query.get("labels").map(|l| l.split(',').collect()).unwrap_or_default();
            let keep = |st: &str, labels: &[String]| {
                (state == "all" || st == state) && wanted.iter().all(|w| labels.iter().any(|l| l == w))
            };
            let mut items: Vec<(u64, Value)> = repo
                .issues
                .iter()
                .filter(|i| keep(&i.state, &i.labels))
                .map(|i| (i.number, issue_json(repo, i)))
                .chain(repo.pulls.iter().filter(|p| keep(&p.state, &p.labels)).map(|p| {
                    let mut v = issue_json(repo, &Issue { number: p.number, title: p.title.clone(), body: p.body.clone(), labels: p.labels.clone(), state: p.state.clone(), user: p.user.clone() });
                    v["pull_request"] = json!({ "url": api(&format!("repos/{full}/pulls/{}", p.number)), "html_url": format!("https://github.com/{full}/pull/{}", p.number), "diff_url": null, "patch_url": null });
                    (p.number, v)
                }))
                .collect();
            items.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
            (200, Value::Array(page_of(query, items).map(|(_, v)| v).collect()))
        }
        ("POST", "/repos/{owner}/{repo}/issues") => {
            let Some(title) = body["title"].as_str().filter(|t| !t.is_empty()) else {
                return invalid("title is required");
            };
            let labels: Vec<String> =
                body["labels"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(str::to_owned)).collect();
            for name in &labels {
                if !s.repos[&full].labels.iter().any(|l| &l.1 == name) {
                    let id = s.id();
                    s.repos.get_mut(&full).expect("repo").labels.push((id, name.clone(), "ededed".into(), None));
                }
            }
            let number = s.id() % 100_000;
            let issue = Issue {
                number,
                title: title.into(),
                body: body["body"].as_str().unwrap_or_default().into(),
                labels,
                state: "open".into(),
                user: BOT_LOGIN.into(),
            };
            let repo = s.repos.get_mut(&full).expect("repo");
            repo.issues.push(issue.clone());
            (201, issue_json(repo, &issue))
        }
        ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}") => match s.objects.get(&params["commit_sha"]) {
            Some(Object::Commit { .. }) => (200, commit_json(s, &full, &params["commit_sha"])),
            _ => not_found(),
        },
        ("POST", "/repos/{owner}/{repo}/git/trees") => {
            let mut entries = match body["base_tree"].as_str().map(|b| s.objects.get(b)) {
                Some(Some(Object::Tree(t))) => t.clone(),
                Some(_) => return invalid("base_tree is not a tree"),
                None => BTreeMap::new(),
            };
            for e in body["tree"].as_array().cloned().unwrap_or_default() {
                let Some(path) = e["path"].as_str() else { return invalid("tree entry without path") };
                if let Some(text) = e["content"].as_str() {
                    let blob = s.put(Object::Blob(text.as_bytes().to_vec()));
                    entries.insert(path.to_owned(), blob);
                } else if e["sha"].is_null() {
                    entries.remove(path);
                } else if let Some(sha) = e["sha"].as_str() {
                    entries.insert(path.to_owned(), sha.to_owned());
                }
            }
            let key = s.put(Object::Tree(entries.clone()));
            (201, tree_json(s, &full, &key, &entries, false))
        }
        ("POST", "/repos/{owner}/{repo}/git/commits") => {
            let (Some(tree), Some(message)) = (body["tree"].as_str(), body["message"].as_str()) else {
                return invalid("tree and message are required");
            };
            if !matches!(s.objects.get(tree), Some(Object::Tree(_))) {
                return invalid("tree is not a tree");
            }
            let parents: Vec<String> = body["parents"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect();
            let key =
                s.put(Object::Commit { tree: tree.into(), parents, message: message.into(), author: BOT_LOGIN.into() });
            (201, commit_json(s, &full, &key))
        }
        ("POST", "/repos/{owner}/{repo}/git/refs") => {
            let (Some(r), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
                return invalid("ref and sha are required");
            };
            let Some(branch) = r.strip_prefix("refs/heads/") else { return invalid("ref must start with refs/") };
            if !matches!(s.objects.get(sha), Some(Object::Commit { .. })) {
                return invalid("Object does not exist");
            }
            let repo = s.repos.get_mut(&full).expect("authorized repo");
            if repo.refs.contains_key(branch) {
                return invalid("Reference already exists");
            }
            repo.refs.insert(branch.to_owned(), sha.to_owned());
            (201, ref_json(&full, branch, sha))
        }
        ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}") => {
            let Some(branch) = params["ref"].strip_prefix("heads/") else { return not_found() };
            let Some(sha) = body["sha"].as_str() else { return invalid("sha is required") };
            let force = body["force"].as_bool().unwrap_or(false);
            let Some(old) = s.repos[&full].refs.get(branch).cloned() else {
                return invalid("Reference does not exist");
            };
            if !force && !is_ancestor(s, &old, sha) {
                return invalid("Update is not a fast forward");
            }
            s.repos.get_mut(&full).expect("repo").refs.insert(branch.to_owned(), sha.to_owned());
            (200, ref_json(&full, branch, sha))
        }
        ("GET", "/repos/{owner}/{repo}/pulls") => {
            let want_state = query.get("state").map_or("open", String::as_str);
            let head = query.get("head").cloned();
            let repo = &s.repos[&full];
            let list: Vec<Value> = repo
                .pulls
                .iter()
                .filter(|p| want_state == "all" || p.state == want_state)
                .filter(|p| head.as_deref().is_none_or(|h| h == format!("{}:{}", repo.owner, p.head)))
                .rev()
                .map(|p| pull_json(repo, p, false))
                .collect();
            (200, Value::Array(list))
        }
        ("POST", "/repos/{owner}/{repo}/pulls") => {
            let (Some(title), Some(head), Some(base)) =
                (body["title"].as_str(), body["head"].as_str(), body["base"].as_str())
            else {
                return invalid("title, head and base are required");
            };
            let number = s.id() % 100_000;
            let repo = s.repos.get_mut(&full).expect("repo");
            if !repo.refs.contains_key(head) || !repo.refs.contains_key(base) {
                return invalid("head or base does not exist");
            }
            if repo.pulls.iter().any(|p| p.head == head && p.state == "open") {
                return invalid(&format!("A pull request already exists for {}:{head}.", repo.owner));
            }
            let pr = Pull {
                number,
                title: title.into(),
                body: body["body"].as_str().unwrap_or_default().into(),
                head: head.into(),
                base: base.into(),
                draft: body["draft"].as_bool().unwrap_or(false),
                state: "open".into(),
                merged: false,
                labels: Vec::new(),
                reviewers: Vec::new(),
                teams: Vec::new(),
                user: BOT_LOGIN.into(),
            };
            repo.pulls.push(pr.clone());
            let repo = s.repos[&full].clone();
            (201, pull_json(&repo, &pr, true))
        }
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels") => {
            let n: u64 = params["issue_number"].parse().unwrap_or(0);
            let names: Vec<String> =
                body["labels"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(str::to_owned)).collect();
            for name in &names {
                if !s.repos[&full].labels.iter().any(|l| &l.1 == name) {
                    let id = s.id();
                    s.repos.get_mut(&full).expect("repo").labels.push((id, name.clone(), "ededed".into(), None));
                }
            }
            let repo = s.repos.get_mut(&full).expect("repo");
            let Some(pr) = repo.pulls.iter_mut().find(|p| p.number == n) else { return not_found() };
            for name in names {
                if !pr.labels.contains(&name) {
                    pr.labels.push(name);
                }
            }
            let labels = pr.labels.clone();
            let repo = &s.repos[&full];
            (
                200,
                Value::Array(
                    labels
                        .iter()
                        .filter_map(|n| repo.labels.iter().find(|l| &l.1 == n))
                        .map(|l| label_json(&full, l))
                        .collect(),
                ),
            )
        }
        ("GET", "/repos/{owner}/{repo}/labels") => {
            (200, Value::Array(page_of(query, &s.repos[&full].labels).map(|l| label_json(&full, l)).collect()))
        }
        ("POST", "/repos/{owner}/{repo}/labels") => {
            let Some(name) = body["name"].as_str() else { return invalid("name is required") };
            if s.repos[&full].labels.iter().any(|l| l.1 == name) {
                return (
                    422,
                    json!({ "message": "Validation Failed", "errors": [{ "resource": "Label", "code": "already_exists", "field": "name" }], "documentation_url": "https://docs.github.com/rest" }),
                );
            }
            let id = s.id();
            let label = (
                id,
                name.to_owned(),
                body["color"].as_str().unwrap_or("ededed").to_owned(),
                body["description"].as_str().map(str::to_owned),
            );
            s.repos.get_mut(&full).expect("repo").labels.push(label.clone());
            (201, label_json(&full, &label))
        }
        ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers") => {
            let n: u64 = params["pull_number"].parse().unwrap_or(0);
            let names = |key: &str| -> Vec<String> {
                body[key].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(str::to_owned)).collect()
            };
            let (reviewers, teams) = (names("reviewers"), names("team_reviewers"));
            let repo = s.repos.get_mut(&full).expect("repo");
            if reviewers.iter().any(|r| !repo.permissions.contains_key(r)) {
                let message = format!(
                    "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {full} repository."
                );
                return (
                    422,
                    json!({ "message": message, "documentation_url": "https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request" }),
                );
            }
            let Some(pr) = repo.pulls.iter_mut().find(|p| p.number == n) else { return not_found() };
            pr.reviewers.extend(reviewers);
            pr.teams.extend(teams);
            let pr = pr.clone();
            let repo = repo.clone();
            (201, pull_json(&repo, &pr, false))
        }
        ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
            let n: u64 = params["issue_number"].parse().unwrap_or(0);
            let comments = s.repos[&full].comments.iter().filter(|c| c.issue == n);
            let list = page_of(query, comments).map(|c| comment_json(&full, c)).collect();
            (200, Value::Array(list))
        }
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
            let n: u64 = params["issue_number"].parse().unwrap_or(0);
            let Some(text) = body["body"].as_str() else { return invalid("body is required") };
            if !s.repos[&full].pulls.iter().any(|p| p.number == n) {
                return not_found();
            }
            let c = Comment { id: s.id(), issue: n, body: text.into(), user: BOT_LOGIN.into() };
            s.repos.get_mut(&full).expect("repo").comments.push(c.clone());
            (201, comment_json(&full, &c))
        }
        ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
            let id: u64 = params["comment_id"].parse().unwrap_or(0);
            let Some(text) = body["body"].as_str() else { return invalid("body is required") };
            let repo = s.repos.get_mut(&full).expect("repo");
            let Some(c) = repo.comments.iter_mut().find(|c| c.id == id) else { return not_found() };
            c.body = text.into();
            let c = c.clone();
            (200, comment_json(&full, &c))
        }
        ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}") => {
            let n: u64 = params["pull_number"].parse().unwrap_or(0);
            let repo = &s.repos[&full];
            match repo.pulls.iter().find(|p| p.number == n) {
                Some(pr) => (200, pull_json(repo, pr, true)),
                None => not_found(),
            }
        }
        ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}") => {
            let n: u64 = params["pull_number"].parse().unwrap_or(0);
            let repo = s.repos.get_mut(&full).expect("repo");
            let Some(pr) = repo.pulls.iter_mut().find(|p| p.number == n) else { return not_found() };
            if let Some(state) = body["state"].as_str() {
                if !matches!(state, "open" | "closed") {
                    return invalid("state must be open or closed");
                }
                pr.state = state.into();
            }
            if let Some(t) = body["title"].as_str() {
                pr.title = t.into();
            }
            if let Some(b) = body["body"].as_str() {
                pr.body = b.into();
            }
            let pr = pr.clone();
            let repo = repo.clone();
            (200, pull_json(&repo, &pr, true))
        }
        ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission") => {
            let user = &params["username"];
            let permission = s.repos[&full].permissions.get(user).cloned().unwrap_or_else(|| "read".into());
            let mut collaborator = user_json(user);
            collaborator["role_name"] = json!(permission);
            collaborator["permissions"] = json!({ "admin": permission == "admin", "maintain": false, "push": permission != "read", "triage": false, "pull": true });
            (200, json!({ "permission": permission, "role_name": permission, "user": collaborator }))
        }
        _ => not_found(),
    }
}

/// The files of a commit's tree, path → blob.
fn tree_entries(s: &State, commit: &str) -> BTreeMap<String, String> {
    let Some(Object::Commit { tree, .. }) = s.objects.get(commit) else { return BTreeMap::new() };
    match s.objects.get(tree) {
        Some(Object::Tree(entries)) => entries.clone(),
        _ => BTreeMap::new(),
    }
}

fn is_ancestor(s: &State, ancestor: &str, of: &str) -> bool {
    let mut todo = vec![of.to_owned()];
    while let Some(c) = todo.pop() {
        if c == ancestor {
            return true;
        }
        if let Some(Object::Commit { parents, .. }) = s.objects.get(&c) {
            todo.extend(parents.iter().cloned());
        }
    }
    false
}

fn api(path: &str) -> String {
    format!("https://api.github.com/{path}")
}

fn user_json(login: &str) -> Value {
    let id = u64::from(login.bytes().map(u32::from).sum::<u32>());
    let u = api(&format!("users/{login}"));
    json!({
        "login": login, "id": id, "node_id": format!("U_{id}"), "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}"),
        "gravatar_id": "", "url": u, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"), "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"), "received_events_url": format!("{u}/received_events"),
        "type": if login.ends_with("[bot]") { "Bot" } else { "User" }, "site_admin": false,
    })
}

/// URL fields of a repository, as suffixes of its API URL.
const REPO_URLS: &[(&str, &str)] = &[
    ("archive_url", "/{archive_format}{/ref}"),
    ("assignees_url", "/assignees{/user}"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("branches_url", "/branches{/branch}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("comments_url", "/comments{/number}"),
    ("commits_url", "/commits{/sha}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("contents_url", "/contents/{+path}"),
    ("contributors_url", "/contributors"),
    ("deployments_url", "/deployments"),
    ("downloads_url", "/downloads"),
    ("events_url", "/events"),
    ("forks_url", "/forks"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("hooks_url", "/hooks"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("issue_events_url", "/issues/events{/number}"),
    ("issues_url", "/issues{/number}"),
    ("keys_url", "/keys{/key_id}"),
    ("labels_url", "/labels{/name}"),
    ("languages_url", "/languages"),
    ("merges_url", "/merges"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("pulls_url", "/pulls{/number}"),
    ("releases_url", "/releases{/id}"),
    ("stargazers_url", "/stargazers"),
    ("statuses_url", "/statuses/{sha}"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("tags_url", "/tags"),
    ("teams_url", "/teams"),
    ("trees_url", "/git/trees{/sha}"),
];

fn repository_json(r: &Repo, full_repo: bool) -> Value {
    let full = format!("{}/{}", r.owner, r.name);
    let u = api(&format!("repos/{full}"));
    let mut v = json!({
        "id": r.id, "node_id": format!("R_{}", r.id), "name": r.name, "full_name": full, "owner": user_json(&r.owner),
        "private": true, "html_url": format!("https://github.com/{full}"), "description": null, "fork": false, "url": u,
        "git_url": format!("git://github.com/{full}.git"), "ssh_url": format!("git@github.com:{full}.git"),
        "clone_url": format!("https://github.com/{full}.git"), "svn_url": format!("https://github.com/{full}"),
        "mirror_url": null, "homepage": null, "language": "HCL", "license": null, "default_branch": r.default_branch,
        "pushed_at": "2026-11-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
    });
    for (k, suffix) in REPO_URLS {
        v[*k] = json!(format!("{u}{suffix}"));
    }
    for k in [
        "forks_count",
        "forks",
        "stargazers_count",
        "watchers_count",
        "watchers",
        "size",
        "open_issues_count",
        "open_issues",
    ] {
        v[k] = json!(0);
    }
    v["has_issues"] = json!(true);
    for k in ["has_projects", "has_wiki", "has_pages", "has_downloads", "has_discussions", "archived", "disabled"] {
        v[k] = json!(false);
    }
    if full_repo {
        v["network_count"] = json!(0);
        v["subscribers_count"] = json!(0);
    }
    v
}

fn installation_json(r: &Repo) -> Value {
    let id = r.installation;
    json!({
        "id": id, "app_id": APP_ID, "app_slug": "driftfix", "target_id": r.id, "target_type": "Organization",
        "account": user_json(&r.owner), "repository_selection": "all", "single_file_name": null,
        "access_tokens_url": api(&format!("app/installations/{id}/access_tokens")),
        "repositories_url": api("installation/repositories"), "html_url": format!("https://github.com/organizations/{}/settings/installations/{id}", r.owner),
        "events": ["pull_request", "issue_comment", "installation", "installation_repositories", "push"],
        "permissions": { "contents": "write", "pull_requests": "write", "issues": "write", "metadata": "read" },
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "suspended_by": null, "suspended_at": null,
    })
}

fn ref_json(full: &str, branch: &str, sha: &str) -> Value {
    json!({
        "ref": format!("refs/heads/{branch}"), "node_id": format!("REF_{sha}"), "url": api(&format!("repos/{full}/git/refs/heads/{branch}")),
        "object": { "type": "commit", "sha": sha, "url": api(&format!("repos/{full}/git/commits/{sha}")) },
    })
}

fn tree_json(s: &State, full: &str, key: &str, entries: &BTreeMap<String, String>, recursive: bool) -> Value {
    let mut dirs = std::collections::BTreeSet::new();
    let mut list = Vec::new();
    for (path, sha) in entries {
        let mut parts: Vec<&str> = path.split('/').collect();
        parts.pop();
        for i in 1..=parts.len() {
            dirs.insert(parts[..i].join("/"));
        }
        if !recursive && path.contains('/') {
            continue;
        }
        let size = match s.objects.get(sha) {
            Some(Object::Blob(b)) => b.len(),
            _ => 0,
        };
        list.push(json!({ "path": path, "mode": "100644", "type": "blob", "sha": sha, "size": size, "url": api(&format!("repos/{full}/git/blobs/{sha}")) }));
    }
    for d in dirs.iter().filter(|d| recursive || !d.contains('/')) {
        let sha = sha("dir", format!("{key}/{d}").as_bytes());
        list.push(json!({ "path": d, "mode": "040000", "type": "tree", "sha": sha, "url": api(&format!("repos/{full}/git/trees/{sha}")) }));
    }
    json!({ "sha": key, "url": api(&format!("repos/{full}/git/trees/{key}")), "tree": list, "truncated": false })
}

fn commit_json(s: &State, full: &str, key: &str) -> Value {
    let Some(Object::Commit { tree, parents, message, author }) = s.objects.get(key) else { return Value::Null };
    let person = json!({ "name": author, "email": format!("{author}@users.noreply.github.com"), "date": "2026-11-01T00:00:00Z" });
    json!({
        "sha": key, "node_id": format!("C_{key}"), "url": api(&format!("repos/{full}/git/commits/{key}")),
        "html_url": format!("https://github.com/{full}/commit/{key}"), "author": person, "committer": person, "message": message,
        "tree": { "sha": tree, "url": api(&format!("repos/{full}/git/trees/{tree}")) },
        "parents": parents.iter().map(|p| json!({ "sha": p, "url": api(&format!("repos/{full}/git/commits/{p}")), "html_url": format!("https://github.com/{full}/commit/{p}") })).collect::<Vec<_>>(),
        "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null },
    })
}

fn label_json(full: &str, l: &(u64, String, String, Option<String>)) -> Value {
    json!({ "id": l.0, "node_id": format!("L_{}", l.0), "url": api(&format!("repos/{full}/labels/{}", l.1)), "name": l.1, "color": l.2, "description": l.3, "default": false })
}

fn issue_json(r: &Repo, i: &Issue) -> Value {
    let full = format!("{}/{}", r.owner, r.name);
    let u = api(&format!("repos/{full}/issues/{}", i.number));
    let labels: Vec<Value> =
        i.labels.iter().filter_map(|n| r.labels.iter().find(|l| &l.1 == n)).map(|l| label_json(&full, l)).collect();
    json!({
        "id": i.number + 8_000_000, "node_id": format!("I_{}", i.number), "url": u, "repository_url": api(&format!("repos/{full}")),
        "labels_url": format!("{u}/labels{{/name}}"), "comments_url": format!("{u}/comments"), "events_url": format!("{u}/events"),
        "html_url": format!("https://github.com/{full}/issues/{}", i.number), "number": i.number, "state": i.state,
        "title": i.title, "body": i.body, "user": user_json(&i.user), "labels": labels, "assignee": null, "assignees": [],
        "milestone": null, "locked": false, "comments": 0, "created_at": "2026-11-01T00:00:00Z",
        "updated_at": "2026-11-01T00:00:00Z", "closed_at": null, "author_association": "NONE",
    })
}

fn comment_json(full: &str, c: &Comment) -> Value {
    json!({
        "id": c.id, "node_id": format!("IC_{}", c.id), "url": api(&format!("repos/{full}/issues/comments/{}", c.id)),
        "html_url": format!("https://github.com/{full}/pull/{}#issuecomment-{}", c.issue, c.id), "body": c.body,
        "user": user_json(&c.user), "issue_url": api(&format!("repos/{full}/issues/{}", c.issue)),
        "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z", "author_association": "NONE",
    })
}

/// A team as pull requests list it (`team` in the OpenAPI description).
fn team_json(org: &str, slug: &str) -> Value {
    let u = api(&format!("orgs/{org}/teams/{slug}"));
    json!({
        "id": 7000 + slug.len(), "node_id": format!("T_{slug}"), "url": u, "html_url": format!("https://github.com/orgs/{org}/teams/{slug}"),
        "name": slug, "slug": slug, "description": null, "privacy": "closed", "notification_setting": "notifications_enabled",
        "permission": "pull", "members_url": format!("{u}/members{{/member}}"), "repositories_url": format!("{u}/repos"), "parent": null, "type": "organization",
    })
}

fn pull_json(r: &Repo, p: &Pull, full_pull: bool) -> Value {
    let full = format!("{}/{}", r.owner, r.name);
    let u = api(&format!("repos/{full}/pulls/{}", p.number));
    let html = format!("https://github.com/{full}/pull/{}", p.number);
    let issue = api(&format!("repos/{full}/issues/{}", p.number));
    let sha_of = |b: &str| r.refs.get(b).cloned().unwrap_or_default();
    let end = |b: &str| json!({ "label": format!("{}:{b}", r.owner), "ref": b, "sha": sha_of(b), "user": user_json(&r.owner), "repo": repository_json(r, false) });
    let labels: Vec<Value> = p
        .labels
        .iter()
        .filter_map(|n| r.labels.iter().find(|l| &l.1 == n))
        .map(|l| {
            let mut v = label_json(&full, l);
            if v["description"].is_null() {
                v["description"] = json!("");
            }
            v
        })
        .collect();
    let link = |h: String| json!({ "href": h });
    let mut v = json!({
        "url": u, "id": p.number + 9_000_000, "node_id": format!("PR_{}", p.number), "html_url": html,
        "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"), "issue_url": issue, "number": p.number,
        "state": p.state, "locked": false, "title": p.title, "user": user_json(&p.user), "body": p.body, "labels": labels,
        "milestone": null, "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
        "closed_at": if p.state == "closed" { json!("2026-11-02T00:00:00Z") } else { Value::Null },
        "merged_at": if p.merged { json!("2026-11-02T00:00:00Z") } else { Value::Null },
        "merge_commit_sha": null, "assignee": null, "draft": p.draft,
        "requested_reviewers": p.reviewers.iter().map(|r| user_json(r)).collect::<Vec<_>>(),
        "requested_teams": p.teams.iter().map(|t| team_json(&r.owner, t)).collect::<Vec<_>>(),
        "commits_url": format!("{u}/commits"), "review_comments_url": format!("{u}/comments"),
        "review_comment_url": api(&format!("repos/{full}/pulls/comments{{/number}}")), "comments_url": format!("{issue}/comments"),
        "statuses_url": api(&format!("repos/{full}/statuses/{}", sha_of(&p.head))), "head": end(&p.head), "base": end(&p.base),
        "_links": {
            "self": link(u.clone()), "html": link(html.clone()), "issue": link(issue.clone()), "comments": link(format!("{issue}/comments")),
            "review_comments": link(format!("{u}/comments")), "review_comment": link(api(&format!("repos/{full}/pulls/comments{{/number}}"))),
            "commits": link(format!("{u}/commits")), "statuses": link(api(&format!("repos/{full}/statuses/{}", sha_of(&p.head)))),
        },
        "author_association": "NONE", "auto_merge": null,
    });
    if full_pull {
        for (k, val) in [
            ("merged", json!(p.merged)),
            ("mergeable", Value::Null),
            ("mergeable_state", json!("unknown")),
            ("merged_by", Value::Null),
            ("comments", json!(0)),
            ("review_comments", json!(0)),
            ("maintainer_can_modify", json!(false)),
            ("commits", json!(1)),
            ("additions", json!(1)),
            ("deletions", json!(1)),
            ("changed_files", json!(1)),
        ] {
            v[k] = val;
        }
    }
    v
}

impl FakeGitHub {
    /// Settings for the real App client pointed at this fake, with short retry waits for tests.
    pub fn app_settings(&self) -> driftfix::github::GitHubSettings {
        let mut s = driftfix::github::GitHubSettings::new(APP_ID, app_key().0.clone().into(), &self.url);
        s.retry_base = std::time::Duration::from_millis(10);
        s.max_inline_wait = std::time::Duration::from_secs(2);
        s
    }
}

/// The worker configuration the GitHub tests share: one route to `repo` on this fake, the default
/// policy and templates, Jira when configured, and the `[repos]` table.
pub fn worker_config(
    gh: &FakeGitHub,
    repo: &str,
    dry_run: bool,
    jira: Option<driftfix::jira::JiraConfig>,
    repos: driftfix::config::repo::RepoDefaults,
) -> driftfix::worker::WorkerConfig {
    use std::time::Duration;
    let app = driftfix::github::GitHubApp::new(gh.app_settings()).expect("App client");
    let jira = jira.map(|j| Arc::new(driftfix::jira::JiraClient::new(j).expect("Jira client")));
    let route = driftfix::config::Route {
        name: "infra".into(),
        accounts: Vec::new(),
        regions: Vec::new(),
        resource_tags: Default::default(),
        repo: repo.into(),
        paths: Vec::new(),
        state: Vec::new(),
        role_arn: None,
    };
    driftfix::worker::WorkerConfig {
        routes: vec![route],
        policy: driftfix::policy::Policy::default(),
        lease_ms: 60_000,
        poll_interval: Duration::from_millis(20),
        dry_run,
        templates: Arc::new(driftfix::render::Templates::builtin().expect("templates")),
        github: Some(Arc::new(app)),
        jira,
        repos,
        aws: None,
    }
}

/// A `pull_request` webhook payload for a bot pull request in `repo` (closed, merged or reopened).
pub fn pull_event(repo: &str, action: &str, merged: bool, number: u64, branch: &str, sender: &str) -> Value {
    json!({
        "action": action, "number": number,
        "pull_request": { "number": number, "merged": merged, "head": { "ref": branch }, "state": "closed" },
        "repository": { "full_name": repo }, "sender": { "login": sender, "type": "User" },
    })
}

/// Record a webhook delivery the way `POST /webhooks/github` does (after its signature check).
/// `true` when it queued a job.
pub async fn deliver(store: &driftfix::store::Store, event: &str, delivery: &str, payload: Value) -> bool {
    use driftfix::store::{NewEvent, Recorded};
    let kind = driftfix::github::webhook::job_kind(event, &payload);
    let body = payload.to_string();
    let ev = NewEvent {
        source: "github",
        dedup_id: delivery,
        body: &body,
        finding: None,
        job_kind: kind.as_deref(),
        max_attempts: 3,
    };
    matches!(store.record_event(&ev).await.expect("recorded"), Recorded::New { job_id: Some(_), .. })
}
