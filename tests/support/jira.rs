//! A stateful fake Jira over real HTTP, so the real client (reqwest, headers, JSON, timeouts) runs
//! in the tests. One instance is one site of one flavor: Cloud serves `/rest/api/3` with Basic
//! auth, Data Center `/rest/api/2` with a Bearer token; the other flavor's paths are *unexpected*.
//!
//! It keeps issues (labels, status, description), remote links by `globalId`, comments and a
//! workflow whose transition ids are shuffled per instance, so a client that hard-codes ids fails.
//! It rejects what Jira rejects (wrong credentials, descriptions in the wrong format, empty ADF text
//! nodes, unknown transitions, JQL it does not understand) and records every exchange, so tests
//! can assert exactly what was sent and check it against Jira's OpenAPI description.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use driftfix::jira::{Flavor, JiraConfig};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub const EMAIL: &str = "driftfix-bot@example.test";
pub const TOKEN: &str = "jira-test-token-7f3a91c4e2";
pub const PROJECT: &str = "SEC";
/// A second project of the site (a repository's `jira_project` may send tickets there).
pub const OTHER_PROJECT: &str = "PLAT";

/// One exchange as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Option<Value>,
    pub status: u16,
    pub response: Option<Value>,
    /// False when the fake serves no such route (answered 404).
    pub expected: bool,
}

#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub id: String,
    pub key: String,
    pub summary: String,
    pub labels: Vec<String>,
    pub description: Value,
    /// Index into [`STATUSES`].
    pub status: usize,
    /// Eventual consistency: not yet visible to search.
    pub searchable: bool,
}

#[derive(Debug, Clone)]
pub struct FakeLink {
    pub id: u64,
    pub issue: String,
    pub global_id: Option<String>,
    pub object: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionMade {
    pub issue: String,
    pub id: String,
    pub from: String,
    pub to: String,
}

/// (status id, name, category id, category key, category name, colour).
pub const STATUSES: [(&str, &str, u64, &str, &str, &str); 3] = [
    ("10000", "To Do", 2, "new", "To Do", "blue-gray"),
    ("3", "In Progress", 4, "indeterminate", "In Progress", "yellow"),
    ("10001", "Done", 3, "done", "Done", "green"),
];
/// A transition into Done that is listed first but never available.
pub const UNAVAILABLE_TRANSITION: &str = "41";

struct Fault {
    status: StatusCode,
    headers: Vec<(String, String)>,
}

struct Inner {
    flavor: Flavor,
    issues: Vec<FakeIssue>,
    links: Vec<FakeLink>,
    comments: Vec<(String, Value)>,
    transitions_made: Vec<TransitionMade>,
    requests: Vec<Recorded>,
    faults: VecDeque<Fault>,
    down: bool,
    search_lag: bool,
    page_size: usize,
    delay: Duration,
    /// Transition id into each status of [`STATUSES`] (shuffled per instance).
    transition_ids: [String; 3],
    /// Statuses whose transition is listed but not available.
    disabled: Vec<usize>,
    next_id: u64,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeJira {
    state: Shared,
    base: url::Url,
}

impl FakeJira {
    /// Start a fake site on 127.0.0.1 (a free port), served on the test's runtime.
    pub async fn start(flavor: Flavor) -> FakeJira {
        let state = Arc::new(Mutex::new(Inner {
            flavor,
            issues: Vec::new(),
            links: Vec::new(),
            comments: Vec::new(),
            transitions_made: Vec::new(),
            requests: Vec::new(),
            faults: VecDeque::new(),
            down: false,
            search_lag: false,
            page_size: 50,
            delay: Duration::ZERO,
            transition_ids: shuffled_ids(),
            disabled: Vec::new(),
            next_id: 10_000,
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let addr = super::loopback::serve(app, "fake Jira").await;
        FakeJira { state, base: url::Url::parse(&format!("http://{addr}/")).expect("url") }
    }

    pub fn url(&self) -> url::Url {
        self.base.clone()
    }

    /// A client configuration with this site's valid credentials.
    pub fn config(&self) -> JiraConfig {
        self.config_with_token(TOKEN)
    }

    pub fn config_with_token(&self, token: &str) -> JiraConfig {
        match self.lock().flavor {
            Flavor::Cloud => JiraConfig::cloud(self.url(), EMAIL, token.to_owned().into(), PROJECT),
            Flavor::DataCenter => JiraConfig::data_center(self.url(), token.to_owned().into(), PROJECT),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// `(method, path)` of every request, in order.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.lock().requests.iter().map(|r| (r.method.clone(), r.path.clone())).collect()
    }

    pub fn unexpected(&self) -> Vec<Recorded> {
        self.lock().requests.iter().filter(|r| !r.expected).cloned().collect()
    }

    pub fn issues(&self) -> Vec<FakeIssue> {
        self.lock().issues.clone()
    }

    pub fn issue(&self, key: &str) -> Option<FakeIssue> {
        self.lock().issues.iter().find(|i| i.key == key).cloned()
    }

    pub fn status_of(&self, key: &str) -> Option<&'static str> {
        self.issue(key).map(|i| STATUSES[i.status].1)
    }

    pub fn links(&self, key: &str) -> Vec<FakeLink> {
        self.lock().links.iter().filter(|l| l.issue == key).cloned().collect()
    }

    pub fn comments(&self, key: &str) -> Vec<Value> {
        self.lock().comments.iter().filter(|(k, _)| k == key).map(|(_, c)| c.clone()).collect()
    }

    pub fn transitions_made(&self) -> Vec<TransitionMade> {
        self.lock().transitions_made.clone()
    }

    /// The id of the (available) transition into `status` on this instance.
    pub fn transition_id_to(&self, status: &str) -> String {
        let i = STATUSES.iter().position(|s| s.1 == status).expect("known status");
        self.lock().transition_ids[i].clone()
    }

    /// The next `n` requests get `status` with `headers` (before auth or routing).
    pub fn fail_next(&self, n: usize, status: u16, headers: &[(&str, &str)]) {
        let mut s = self.lock();
        for _ in 0..n {
            s.faults.push_back(Fault {
                status: StatusCode::from_u16(status).expect("status"),
                headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            });
        }
    }

    /// While down, every request gets 503 (standing in for a connection failure).
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// While lagging, issues created are invisible to search until [`FakeJira::settle`].
    pub fn set_search_lag(&self, lag: bool) {
        self.lock().search_lag = lag;
    }

    pub fn settle(&self) {
        self.lock().issues.iter_mut().for_each(|i| i.searchable = true);
    }

    /// At most `n` issues per search page, whatever the client asks.
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = n.max(1);
    }

    /// The transition into `status` stays listed but becomes unavailable (a workflow condition).
    pub fn disable_transition_to(&self, status: &str) {
        let i = STATUSES.iter().position(|s| s.1 == status).expect("known status");
        self.lock().disabled.push(i);
    }

    /// Wait this long before answering each request.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// An issue made by someone else (no request recorded), e.g. a duplicate with the same label.
    pub fn seed_issue(&self, summary: &str, labels: &[&str]) -> String {
        let mut s = self.lock();
        let labels = labels.iter().map(|l| (*l).to_owned()).collect();
        s.create_issue(PROJECT, summary.to_owned(), labels, Value::Null).key
    }
}

/// ["11", "21", "31"] in a per-instance random order.
fn shuffled_ids() -> [String; 3] {
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    let p = perms[(hasher.finish() % 6) as usize];
    let ids = ["11", "21", "31"];
    [ids[p[0]].to_owned(), ids[p[1]].to_owned(), ids[p[2]].to_owned()]
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let delay = state.lock().unwrap_or_else(|p| p.into_inner()).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let parsed: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(&body).ok() };
    let (status, extra_headers, response, expected) = s.answer(&method, &uri, &headers, parsed.as_ref(), &body);
    s.requests.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        body: parsed,
        status: status.as_u16(),
        response: response.clone(),
        expected,
    });
    let mut out = match response {
        Some(v) => (status, axum::Json(v)).into_response(),
        None => status.into_response(),
    };
    for (k, v) in extra_headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            out.headers_mut().insert(k, v);
        }
    }
    out
}

type Answer = (StatusCode, Vec<(String, String)>, Option<Value>, bool);

fn errors(status: StatusCode, messages: &[&str], fields: Value) -> Answer {
    (status, Vec::new(), Some(json!({ "errorMessages": messages, "errors": fields })), true)
}

fn ok(status: StatusCode, body: Value) -> Answer {
    (status, Vec::new(), Some(body), true)
}

impl Inner {
    fn answer(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: Option<&Value>, raw: &[u8]) -> Answer {
        if self.down {
            return errors(StatusCode::SERVICE_UNAVAILABLE, &["Service unavailable"], json!({}));
        }
        if let Some(f) = self.faults.pop_front() {
            return (f.status, f.headers, Some(json!({ "errorMessages": ["injected failure"], "errors": {} })), true);
        }
        let Some(route) = route(self.flavor, method, uri.path()) else { return unexpected() };
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let wanted = match self.flavor {
            Flavor::Cloud => {
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}")))
            }
            Flavor::DataCenter => format!("Bearer {TOKEN}"),
        };
        if auth != wanted {
            // Jira does not echo what it was sent; the test checks the client does not either.
            return errors(StatusCode::UNAUTHORIZED, &["You are not authenticated."], json!({}));
        }
        if !raw.is_empty() && body.is_none() {
            return errors(StatusCode::BAD_REQUEST, &["Request body is not JSON."], json!({}));
        }
        let empty = json!({});
        let body = body.unwrap_or(&empty);
        match route {
            Route::Create => self.create(body),
            Route::Get(key) => match self.find(key) {
                Some(i) => ok(StatusCode::OK, self.issue_json(i)),
                None => not_found(),
            },
            Route::Search => self.search(body),
            Route::Link(key) => self.remote_link(key, body),
            Route::ListTransitions(key) => match self.find(key) {
                Some(i) => ok(StatusCode::OK, json!({ "transitions": self.transitions_from(self.issues[i].status) })),
                None => not_found(),
            },
            Route::Transition(key) => self.transition(key, body),
            Route::Comment(key) => self.comment(key, body),
        }
    }

    fn find(&self, key_or_id: &str) -> Option<usize> {
        self.issues.iter().position(|i| i.key == key_or_id || i.id == key_or_id)
    }

    fn create_issue(&mut self, project: &str, summary: String, labels: Vec<String>, description: Value) -> FakeIssue {
        self.next_id += 1;
        let issue = FakeIssue {
            id: self.next_id.to_string(),
            key: format!("{project}-{}", self.issues.len() + 1),
            summary,
            labels,
            description,
            status: 0,
            searchable: !self.search_lag,
        };
        self.issues.push(issue.clone());
        issue
    }

    fn create(&mut self, body: &Value) -> Answer {
        let f = &body["fields"];
        let mut problems = serde_json::Map::new();
        let project = f["project"]["key"].as_str().unwrap_or_default();
        if project != PROJECT && project != OTHER_PROJECT {
            problems.insert("project".into(), json!("valid project is required"));
        }
        if f["issuetype"]["name"].as_str().is_none_or(str::is_empty) {
            problems.insert("issuetype".into(), json!("Specify an issue type"));
        }
        let summary = f["summary"].as_str().unwrap_or_default();
        if summary.is_empty() || summary.chars().count() > 255 || summary.contains('\n') {
            problems.insert("summary".into(), json!("Summary must be one line of 1 to 255 characters."));
        }
        let labels: Option<Vec<String>> = f["labels"]
            .as_array()
            .map(|a| a.iter().filter_map(|l| l.as_str().filter(|l| !l.contains(' ')).map(str::to_owned)).collect());
        if labels.as_ref().map(Vec::len) != f["labels"].as_array().map(Vec::len) {
            problems.insert("labels".into(), json!("Labels are strings without spaces."));
        }
        if let Err(e) = self.check_document(&f["description"]) {
            problems.insert("description".into(), json!(e));
        }
        if !problems.is_empty() {
            return errors(StatusCode::BAD_REQUEST, &[], Value::Object(problems));
        }
        let issue =
            self.create_issue(project, summary.to_owned(), labels.unwrap_or_default(), f["description"].clone());
        ok(StatusCode::CREATED, json!({ "id": issue.id, "key": issue.key, "self": self.issue_self(&issue.id) }))
    }

    /// Cloud takes ADF (a `doc` without empty text nodes); Data Center takes a string.
    fn check_document(&self, doc: &Value) -> Result<(), String> {
        match self.flavor {
            Flavor::DataCenter if doc.is_string() => Ok(()),
            Flavor::DataCenter => Err("Operation value must be a string".into()),
            Flavor::Cloud if doc["type"] == "doc" && doc["version"] == 1 && doc["content"].is_array() => {
                check_adf_node(doc)
            }
            Flavor::Cloud => {
                Err("Operation value must be an Atlassian Document (see the Atlassian Document Format)".into())
            }
        }
    }

    fn issue_self(&self, id: &str) -> String {
        let version = if self.flavor == Flavor::Cloud { "3" } else { "2" };
        format!("http://jira.fake/rest/api/{version}/issue/{id}")
    }

    fn status_json(&self, status: usize) -> Value {
        let (id, name, cat_id, cat_key, cat_name, colour) = STATUSES[status];
        json!({ "id": id, "name": name, "self": format!("http://jira.fake/rest/api/3/status/{id}"),
            "statusCategory": { "id": cat_id, "key": cat_key, "name": cat_name, "colorName": colour } })
    }

    fn issue_json(&self, i: usize) -> Value {
        let issue = &self.issues[i];
        json!({
            "id": issue.id,
            "key": issue.key,
            "self": self.issue_self(&issue.id),
            "fields": { "summary": issue.summary, "labels": issue.labels, "status": self.status_json(issue.status) },
        })
    }

    fn search(&mut self, body: &Value) -> Answer {
        let Some(query) = body["jql"].as_str().and_then(|q| Query::parse(q).ok()) else {
            return errors(
                StatusCode::BAD_REQUEST,
                &["The fake understands only labels/statusCategory JQL."],
                json!({}),
            );
        };
        let mut hits: Vec<usize> = (0..self.issues.len())
            .filter(|&i| self.issues[i].searchable && query.matches(&self.issues[i], STATUSES[self.issues[i].status].3))
            .collect();
        if query.descending {
            hits.reverse();
        }
        let size = body["maxResults"].as_u64().map_or(50, |m| m as usize).min(self.page_size).max(1);
        let start = match self.flavor {
            Flavor::Cloud => match body["nextPageToken"].as_str() {
                None => 0,
                Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse().ok()) {
                    Some(n) => n,
                    None => return errors(StatusCode::BAD_REQUEST, &["Invalid nextPageToken."], json!({})),
                },
            },
            Flavor::DataCenter => body["startAt"].as_u64().unwrap_or(0) as usize,
        };
        let page: Vec<Value> = hits.iter().skip(start).take(size).map(|&i| self.issue_json(i)).collect();
        let end = start + page.len();
        match self.flavor {
            Flavor::Cloud => {
                let mut out = json!({ "issues": page, "isLast": end >= hits.len() });
                if end < hits.len() {
                    out["nextPageToken"] = json!(format!("page-{end}"));
                }
                ok(StatusCode::OK, out)
            }
            Flavor::DataCenter => {
                ok(StatusCode::OK, json!({ "startAt": start, "maxResults": size, "total": hits.len(), "issues": page }))
            }
        }
    }

    fn remote_link(&mut self, key: &str, body: &Value) -> Answer {
        let Some(i) = self.find(key) else { return not_found() };
        let issue = self.issues[i].key.clone();
        let object = &body["object"];
        if !object["url"].is_string() || !object["title"].is_string() {
            return errors(StatusCode::BAD_REQUEST, &[], json!({ "object": "url and title are required" }));
        }
        let global_id = body["globalId"].as_str().map(str::to_owned);
        let existing =
            self.links.iter_mut().find(|l| l.issue == issue && global_id.is_some() && l.global_id == global_id);
        let (status, id) = match existing {
            Some(link) => {
                link.object = object.clone();
                (StatusCode::OK, link.id)
            }
            None => {
                let id = 10_000 + self.links.len() as u64;
                self.links.push(FakeLink { id, issue: issue.clone(), global_id, object: object.clone() });
                (StatusCode::CREATED, id)
            }
        };
        ok(status, json!({ "id": id, "self": format!("http://jira.fake/rest/api/3/issue/{issue}/remotelink/{id}") }))
    }

    /// Every status other than the current one is reachable, plus one unavailable transition into Done
    /// listed first.
    fn transitions_from(&self, current: usize) -> Vec<Value> {
        let mut list = vec![json!({ "id": UNAVAILABLE_TRANSITION, "name": "Resolve (needs approval)",
            "to": self.status_json(2), "hasScreen": false, "isGlobal": false, "isInitial": false,
            "isAvailable": false, "isConditional": true, "looped": false })];
        for (target, id) in self.transition_ids.iter().enumerate().filter(|(t, _)| *t != current) {
            let name = ["Reopen", "Start progress", "Close"][target];
            let available = !self.disabled.contains(&target);
            list.push(json!({ "id": id, "name": name, "to": self.status_json(target), "hasScreen": false,
                "isGlobal": true, "isInitial": false, "isAvailable": available, "isConditional": !available, "looped": false }));
        }
        list
    }

    fn transition(&mut self, key: &str, body: &Value) -> Answer {
        let Some(i) = self.find(key) else { return not_found() };
        let id = body["transition"]["id"].as_str().unwrap_or_default();
        let current = self.issues[i].status;
        let target =
            self.transition_ids.iter().position(|t| t == id).filter(|&t| t != current && !self.disabled.contains(&t));
        let Some(target) = target else {
            let message = format!("Transition id '{id}' is not valid for this issue.");
            return errors(StatusCode::BAD_REQUEST, &[&message], json!({}));
        };
        self.issues[i].status = target;
        self.transitions_made.push(TransitionMade {
            issue: self.issues[i].key.clone(),
            id: id.to_owned(),
            from: STATUSES[current].1.to_owned(),
            to: STATUSES[target].1.to_owned(),
        });
        (StatusCode::NO_CONTENT, Vec::new(), None, true)
    }

    fn comment(&mut self, key: &str, body: &Value) -> Answer {
        let Some(i) = self.find(key) else { return not_found() };
        if let Err(e) = self.check_document(&body["body"]) {
            return errors(StatusCode::BAD_REQUEST, &[], json!({ "comment": e }));
        }
        let issue = self.issues[i].key.clone();
        self.comments.push((issue.clone(), body["body"].clone()));
        let id = (20_000 + self.comments.len()).to_string();
        let now = "2026-11-23T10:00:00.000+0000";
        ok(
            StatusCode::CREATED,
            json!({ "id": id, "self": format!("http://jira.fake/rest/api/3/issue/{issue}/comment/{id}"),
            "body": body["body"], "created": now, "updated": now }),
        )
    }
}

/// The operations the fake serves.
enum Route<'a> {
    Create,
    Get(&'a str),
    Search,
    Link(&'a str),
    ListTransitions(&'a str),
    Transition(&'a str),
    Comment(&'a str),
}

/// The route for a request: only this flavor's API version, and its own search endpoint.
fn route<'a>(flavor: Flavor, method: &Method, path: &'a str) -> Option<Route<'a>> {
    let prefix = if flavor == Flavor::Cloud { "/rest/api/3/" } else { "/rest/api/2/" };
    let segments: Vec<&'a str> = path.strip_prefix(prefix)?.split('/').collect();
    Some(match (method.as_str(), segments.as_slice()) {
        ("POST", ["issue"]) => Route::Create,
        ("GET", ["issue", key]) => Route::Get(key),
        ("POST", ["search", "jql"]) if flavor == Flavor::Cloud => Route::Search,
        ("POST", ["search"]) if flavor == Flavor::DataCenter => Route::Search,
        ("POST", ["issue", key, "remotelink"]) => Route::Link(key),
        ("GET", ["issue", key, "transitions"]) => Route::ListTransitions(key),
        ("POST", ["issue", key, "transitions"]) => Route::Transition(key),
        ("POST", ["issue", key, "comment"]) => Route::Comment(key),
        _ => return None,
    })
}

fn not_found() -> Answer {
    errors(StatusCode::NOT_FOUND, &["Issue does not exist or you do not have permission to see it."], json!({}))
}

fn unexpected() -> Answer {
    let (status, headers, body, _) =
        errors(StatusCode::NOT_FOUND, &["The fake Jira does not serve this route."], json!({}));
    (status, headers, body, false)
}

/// Jira rejects a text node without text, and any node without a type.
fn check_adf_node(node: &Value) -> Result<(), String> {
    let Some(kind) = node["type"].as_str() else { return Err(format!("node without a type: {node}")) };
    if kind == "text" && node["text"].as_str().is_none_or(str::is_empty) {
        return Err("text nodes must not be empty".into());
    }
    node["content"].as_array().into_iter().flatten().try_for_each(check_adf_node)
}

/// The JQL the fake understands: `labels = "x"`, `statusCategory (=|!=) Name` joined by AND,
/// then an optional `ORDER BY (created|key) [ASC|DESC]`.
struct Query {
    labels: Vec<String>,
    category: Option<(bool, String)>,
    descending: bool,
}

impl Query {
    fn parse(jql: &str) -> Result<Query, String> {
        let tokens = tokenize(jql)?;
        let mut q = Query { labels: Vec::new(), category: None, descending: false };
        let mut i = 0;
        let word = |i: usize| tokens.get(i).map(|t| t.1.as_str());
        loop {
            match (word(i), word(i + 1), tokens.get(i + 2)) {
                (Some("labels"), Some("="), Some((true, v))) => q.labels.push(v.clone()),
                (Some("statusCategory"), Some(op @ ("=" | "!=")), Some((_, v))) => {
                    q.category = Some((op == "=", v.to_ascii_lowercase()));
                }
                _ => return Err(format!("unsupported clause at token {i} of {jql}")),
            }
            i += 3;
            match word(i) {
                Some("AND") => i += 1,
                None => return Ok(q),
                Some("ORDER") if word(i + 1) == Some("BY") && matches!(word(i + 2), Some("created" | "key")) => {
                    q.descending = match word(i + 3) {
                        None | Some("ASC") => false,
                        Some("DESC") => true,
                        Some(other) => return Err(format!("bad order {other}")),
                    };
                    return if tokens.len() <= i + 4 { Ok(q) } else { Err("trailing tokens".into()) };
                }
                Some(other) => return Err(format!("unexpected {other}")),
            }
        }
    }

    fn matches(&self, issue: &FakeIssue, category_key: &str) -> bool {
        let category_name = match category_key {
            "new" => "to do",
            "indeterminate" => "in progress",
            _ => "done",
        };
        self.labels.iter().all(|l| issue.labels.contains(l))
            && self.category.as_ref().is_none_or(|(eq, name)| (name == category_name) == *eq)
    }
}

/// Tokens as (was quoted, text). Quoted strings take `\"`, `\\`, `\n`, `\r`, `\t` escapes.
fn tokenize(jql: &str) -> Result<Vec<(bool, String)>, String> {
    let mut out = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('r') => s.push('\r'),
                        Some('t') => s.push('\t'),
                        Some(e @ ('"' | '\\')) => s.push(e),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some(c) => s.push(c),
                    None => return Err("unterminated string".into()),
                }
            }
            out.push((true, s));
        } else if c == '=' {
            chars.next();
            out.push((false, "=".into()));
        } else if c == '!' {
            chars.next();
            if chars.next() != Some('=') {
                return Err("expected !=".into());
            }
            out.push((false, "!=".into()));
        } else if c.is_alphanumeric() || c == '-' || c == '_' {
            let mut s = String::new();
            while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '-' || **c == '_') {
                s.push(c);
                chars.next();
            }
            out.push((false, s));
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}
