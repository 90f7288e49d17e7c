//! The whole loop through the real `driftfix serve` binary, configured from a file the way it is
//! deployed, against the stateful fake GitHub and fake Jira (real HTTP servers on loopback): an
//! authenticated EventBridge event goes in; a pull request with exactly the minimal Terraform change
//! comes out on GitHub; one Jira ticket is opened and linked both ways; redeliveries and new evaluations
//! open nothing new; a signed `pull_request` merged webhook marks the finding `merged` and moves the ticket to done.
//!
//! The in-process tests (`github.rs`, `jira.rs`, `worker.rs`) prove each piece; this one proves the
//! pieces are wired together in `serve`: configuration keys, the App key file, intake
//! authentication, the worker pool, webhook signatures and the read API.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::github::{APP_ID, BOT_LOGIN, FakeGitHub, app_key};
use support::jira::FakeJira;
use support::server::{Server, free_port, http, http_get};
use support::{example_event, examples, files_of};

const REPO: &str = "acme/infra";
const EVENTBRIDGE_KEY: &str = "e2e-eventbridge-key";
const WEBHOOK_SECRET: &str = "e2e-github-webhook-secret";
const API_TOKEN: &str = "e2e-api-token";
/// The file holding `module.network.aws_security_group.web`, whose SSH rule is open to the world.
const SG_FILE: &str = "modules/network/main.tf";
/// How long any one step of the loop may take.
const WITHIN: Duration = Duration::from_secs(30);

/// A configuration as an operator would write it: the App key in a file, secrets in the file too
/// (the environment overrides are covered by `config.rs`).
fn write_config(dir: &Path, gh: &FakeGitHub, jira: &FakeJira) -> PathBuf {
    let key_file = dir.join("app.pem");
    std::fs::write(&key_file, &app_key().0).unwrap();
    let db = format!("sqlite://{}", dir.join("driftfix.db").display());
    let text = format!(
        r#"database_url = "{db}"
dry_run = false
workers = 2
lease_seconds = 30

[intake.eventbridge]
api_keys = ["{EVENTBRIDGE_KEY}"]

[intake.github]
webhook_secrets = ["{WEBHOOK_SECRET}"]

[github]
app_id = {APP_ID}
private_key_file = "{key}"
api_url = "{gh_url}"

[jira]
url = "{jira_url}"
flavor = "cloud"
email = "{email}"
token = "{token}"
project = "{project}"
issue_type = "Task"

[api]
tokens = ["{API_TOKEN}"]

[policy]
ssh_allowed_cidrs = ["10.0.0.0/8"]

[[routes]]
name = "infra"
accounts = ["123456789012"]
regions = ["us-east-2"]
repo = "{REPO}"
"#,
        key = key_file.display(),
        gh_url = gh.url,
        jira_url = jira.url(),
        email = support::jira::EMAIL,
        token = support::jira::TOKEN,
        project = support::jira::PROJECT,
    );
    let path = dir.join("driftfix.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Poll `probe` until it answers `Ok`, at most [`WITHIN`]; the last `Err` explains a timeout.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WITHIN;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => assert!(Instant::now() < deadline, "timed out waiting for {what}; last seen: {last}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn post_event(base: &str, body: &str) -> (u16, Value) {
    let headers = [("x-api-key", EVENTBRIDGE_KEY), ("content-type", "application/json")];
    let (s, b) = http("POST", &format!("{base}/webhooks/eventbridge"), &headers, body).expect("POST answered");
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

/// GitHub's `X-Hub-Signature-256`: HMAC-SHA256 of the raw body with the webhook secret.
fn sign(secret: &str, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn post_webhook(base: &str, event: &str, delivery: &str, payload: &Value) -> (u16, Value) {
    let body = payload.to_string();
    let signature = sign(WEBHOOK_SECRET, &body);
    let headers = [
        ("content-type", "application/json"),
        ("x-github-event", event),
        ("x-github-delivery", delivery),
        ("x-hub-signature-256", signature.as_str()),
        ("user-agent", "GitHub-Hookshot/e2e"),
    ];
    let (s, b) = http("POST", &format!("{base}/webhooks/github"), &headers, &body).expect("POST answered");
    (s, serde_json::from_str(&b).unwrap_or(Value::Null))
}

fn finding(base: &str, key: &str) -> Value {
    let (s, b) = http_get(&format!("{base}/api/findings/{key}"), Some(API_TOKEN)).expect("GET answered");
    assert_eq!(s, 200, "{b}");
    serde_json::from_str(&b).unwrap()
}

/// `driftfix_jobs{state=…}` from `/metrics`.
fn jobs(base: &str) -> BTreeMap<String, u64> {
    let (_, text) = http_get(&format!("{base}/metrics"), None).expect("metrics answered");
    text.lines()
        .filter_map(|l| l.strip_prefix("driftfix_jobs{state=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(state, n)| (state.to_owned(), n.trim().parse().unwrap()))
        .collect()
}

/// `(line number, before, after)` of every line that differs; the line counts must match.
fn changed_lines<'a>(before: &'a str, after: &'a str) -> Vec<(usize, &'a str, &'a str)> {
    assert_eq!(before.lines().count(), after.lines().count(), "lines were added or removed:\n{after}");
    before
        .lines()
        .zip(after.lines())
        .enumerate()
        .filter(|(_, (b, a))| b != a)
        .map(|(i, (b, a))| (i + 1, b, a))
        .collect()
}

#[test]
fn an_eventbridge_event_becomes_a_pull_request_and_a_ticket_and_the_merge_closes_both() {
    // The fakes serve on this runtime's worker threads while the test thread blocks on the server.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (gh, jira) =
        rt.block_on(async { (FakeGitHub::start().await, FakeJira::start(driftfix::jira::Flavor::Cloud).await) });
    let originals: BTreeMap<String, String> = files_of(&examples().join("terraform")).into_iter().collect();
    gh.add_repo(REPO, &originals.clone().into_iter().collect::<Vec<_>>());
    let (main_before, _, _) = gh.head(REPO, "main").expect("main");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &gh, &jira);
    let server = Server::start(&config, free_port());
    let base = server.base.as_str();

    // 1. AWS Config, through EventBridge: SSH opened to 0.0.0.0/0 on sg-3f1fef43.
    let event = example_event("eb_ci_change.json");
    let (status, answer) = post_event(base, &event);
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")), "{answer}");
    let key = answer["finding"].as_str().expect("a finding key").to_owned();

    // 2. One pull request on the fake GitHub, from a bot branch onto the default branch (read once
    // the job is done: labels are added after the pull request is created).
    eventually("the finding to be proposed", || {
        let f = finding(base, &key);
        if f["state"] == "proposed" { Ok(()) } else { Err(f.to_string()) }
    });
    let pr = eventually("the pull request", || match gh.pulls(REPO).as_slice() {
        [] => Err(format!("no pull request; finding: {}", finding(base, &key))),
        [pr] => Ok(pr.clone()),
        more => panic!("more than one pull request: {more:?}"),
    });
    assert_eq!(pr.head, format!("driftfix/restricted-ssh/example-security-group-2-{}", &key[..8]));
    assert_eq!((pr.base.as_str(), pr.state.as_str(), pr.user.as_str()), ("main", "open", BOT_LOGIN));
    assert_eq!(pr.title, "driftfix: close SSH to the internet on module.network.aws_security_group.web");
    assert_eq!(pr.labels, ["driftfix", "risk:medium", "rule:INCOMING_SSH_DISABLED"]);
    assert!(pr.body.contains(&format!("<!-- driftfix: {{\"key\": \"{key}\", \"version\": 1}} -->")), "{}", pr.body);

    // The branch is one commit on main changing exactly one line: the SSH rule's source, narrowed to
    // the policy's allow-list. Every other file, and every other line of that file, is as it was.
    let (head, parents, message) = gh.head(REPO, &pr.head).expect("the bot branch");
    assert_eq!(parents, std::slice::from_ref(&main_before), "one commit on the default branch head");
    assert!(message.contains(&format!("Driftfix-Finding: {key}")), "{message}");
    let on_branch = gh.files(REPO, &pr.head);
    assert_eq!(on_branch.keys().collect::<Vec<_>>(), originals.keys().collect::<Vec<_>>(), "no file added or removed");
    for (path, text) in &originals {
        if path != SG_FILE {
            assert_eq!(&on_branch[path], text, "{path} is untouched");
        }
    }
    let (before, after) = (&originals[SG_FILE], &on_branch[SG_FILE]);
    assert_eq!(
        changed_lines(before, after),
        [(29, r#"    cidr_blocks = ["0.0.0.0/0"]"#, r#"    cidr_blocks = ["10.0.0.0/8"]"#)],
        "only the SSH rule's CIDR changes:\n{after}"
    );
    let ssh_rule: Vec<&str> = after.lines().skip(22).take(8).collect();
    assert_eq!(
        ssh_rule,
        [
            "  # Opened during the incident on 2024-03-02, never closed.",
            "  ingress {",
            "    description = \"SSH\"",
            "    from_port   = 22",
            "    to_port     = 22",
            "    protocol    = \"tcp\"",
            "    cidr_blocks = [\"10.0.0.0/8\"]",
            "  }",
        ],
        "the changed line is the SSH rule's (the HTTPS and egress rules keep 0.0.0.0/0)"
    );
    assert_eq!(gh.head(REPO, "main").expect("main").0, main_before, "main is not written to");
    assert!(pr.body.contains("```diff\n--- a/modules/network/main.tf"), "the diff is in the body: {}", pr.body);

    // 3. One Jira ticket, linked both ways: a remote link to the pull request, and the pull request's
    // body naming the ticket (the bot edits the body after the link exists).
    let ticket = eventually("the ticket linked from the pull request", || {
        let issues = jira.issues();
        let [issue] = issues.as_slice() else { return Err(format!("issues: {issues:?}")) };
        let body = &gh.pulls(REPO)[0].body;
        if body.contains(&format!("[{}](", issue.key)) { Ok(issue.clone()) } else { Err(format!("body: {body}")) }
    });
    assert!(ticket.labels.contains(&"driftfix".to_owned()), "{:?}", ticket.labels);
    assert!(ticket.labels.contains(&format!("driftfix-{}", &key[..12])), "{:?}", ticket.labels);
    let pr_url = format!("https://github.com/{REPO}/pull/{}", pr.number);
    let links = jira.links(&ticket.key);
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].object["url"], pr_url.as_str(), "{:?}", links[0]);
    assert_eq!(jira.status_of(&ticket.key), Some("To Do"));
    let body_now = gh.pulls(REPO)[0].body.clone();
    let jira_line = format!("**Jira:** [{key}]({url}browse/{key})", key = ticket.key, url = jira.url());
    assert_eq!(body_now.matches(&jira_line).count(), 1, "{body_now}");
    assert!(body_now.trim_end().ends_with("-->"), "the hidden metadata stays last: {body_now}");
    let f = eventually("the ticket in the read API", || {
        let f = finding(base, &key);
        if f["proposal"]["ticket_key"] == ticket.key.as_str() { Ok(f) } else { Err(f.to_string()) }
    });
    assert_eq!(f["state"], "proposed", "{f}");
    assert_eq!((&f["proposal"]["state"], &f["proposal"]["pr_url"]), (&json!("open"), &json!(pr_url)), "{f}");

    // 4. Redeliveries: the same event again (EventBridge retries) is a duplicate; two new evaluations of
    // the same resource are worked, and find the pull request and the ticket as they are.
    let seen = gh.log().len();
    assert_eq!(post_event(base, &event).1["status"], "duplicate");
    for n in 1..=2 {
        let mut again: Value = serde_json::from_str(&event).unwrap();
        again["id"] = json!(format!("47a37318-9c13-1eb8-33a6-607f6b88000{n}"));
        again["time"] = json!(format!("2017-01-09T23:0{n}:16Z"));
        let (status, answer) = post_event(base, &again.to_string());
        assert_eq!((status, &answer["status"], &answer["finding"]), (202, &json!("accepted"), &json!(key)), "{answer}");
    }
    eventually("the redeliveries to be worked", || {
        let j = jobs(base);
        let idle = j.get("queued").copied().unwrap_or(0) == 0 && j.get("running").copied().unwrap_or(0) == 0;
        if idle && j.get("done").copied().unwrap_or(0) >= 4 && !j.contains_key("dead") {
            Ok(())
        } else {
            Err(format!("{j:?}"))
        }
    });
    assert_eq!(gh.pulls(REPO).len(), 1, "still one pull request");
    assert_eq!(gh.head(REPO, &pr.head).expect("branch").0, head, "the branch is not rewritten");
    // No write at all: not the branch, not the pull request (its body already holds the Jira line,
    // which a re-render keeps), no label.
    let since: Vec<String> = gh.log()[seen..]
        .iter()
        .filter(|l| l.method != "GET" && l.template.is_some_and(|t| t.starts_with("/repos/")))
        .map(|l| format!("{} {} → {}", l.method, l.path, l.status))
        .collect();
    assert_eq!(
        since,
        Vec::<String>::new(),
        "nothing new written to GitHub for a finding whose pull request is current"
    );
    assert_eq!(gh.pulls(REPO)[0].body, body_now, "the pull request's text is as it was, Jira line included");
    assert_eq!(jira.issues().len(), 1, "still one ticket");
    assert_eq!(jira.links(&ticket.key).len(), 1, "still one link");

    // 5. A human merges; GitHub delivers the signed `pull_request` webhook.
    let merge = gh.merge_pull(REPO, pr.number, "erin");
    assert_eq!(gh.file(REPO, "main", SG_FILE).as_deref(), Some(after.as_str()), "the fix is on main");
    let payload = json!({
        "action": "closed",
        "number": pr.number,
        "pull_request": {
            "number": pr.number, "state": "closed", "merged": true, "merge_commit_sha": merge,
            "html_url": pr_url, "title": pr.title, "user": { "login": BOT_LOGIN, "type": "Bot" },
            "merged_by": { "login": "erin", "type": "User" },
            "head": { "ref": pr.head, "sha": head }, "base": { "ref": "main", "sha": main_before },
        },
        "repository": { "full_name": REPO, "name": "infra", "owner": { "login": "acme" }, "default_branch": "main" },
        "sender": { "login": "erin", "type": "User" },
    });
    let delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    let (status, answer) = post_webhook(base, "pull_request", delivery, &payload);
    assert_eq!((status, &answer["status"]), (202, &json!("accepted")), "{answer}");
    let (status, answer) = post_webhook(base, "pull_request", delivery, &payload);
    assert_eq!((status, &answer["status"]), (202, &json!("duplicate")), "a redelivery is not a second job: {answer}");

    // 6. The finding is `merged`; the ticket moved to a done-category status, with a comment.
    let f = eventually("the finding to be merged", || {
        let f = finding(base, &key);
        if f["state"] == "merged" { Ok(f) } else { Err(f.to_string()) }
    });
    assert_eq!(f["proposal"]["state"], "merged", "{f}");
    let merged_by: Vec<&Value> =
        f["audit"].as_array().unwrap().iter().filter(|a| a["action"] == "pull_request.merged").collect();
    assert_eq!(merged_by.len(), 1, "{f}");
    assert_eq!(merged_by[0]["actor"], "github:erin", "{f}");
    let (s, list) = http_get(&format!("{base}/api/findings?state=merged"), Some(API_TOKEN)).unwrap();
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        list["findings"].as_array().map(|l| l.iter().map(|f| f["key"].clone()).collect()),
        Some(vec![json!(key)])
    );
    eventually("the ticket to be done", || match jira.status_of(&ticket.key) {
        Some("Done") => Ok(()),
        other => Err(format!("{other:?}; jobs {:?}", jobs(base))),
    });
    let moves: Vec<(String, String)> = jira.transitions_made().into_iter().map(|t| (t.issue, t.to)).collect();
    assert_eq!(moves, [(ticket.key.clone(), "Done".to_owned())], "one transition, straight to Done");
    let comments = jira.comments(&ticket.key);
    assert!(comments.iter().any(|c| c.to_string().contains("Merged by @erin")), "{comments:?}");
    assert!(comments.iter().any(|c| c.to_string().contains(&pr_url)), "{comments:?}");

    // 7. Nothing else happened anywhere.
    assert_eq!(gh.unexpected(), Vec::<String>::new(), "requests the fake GitHub does not serve");
    let jira_unexpected: Vec<String> = jira.unexpected().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(jira_unexpected, Vec::<String>::new(), "requests the fake Jira does not serve");
    let ref_writes: Vec<String> = gh
        .log()
        .iter()
        .filter(|l| l.template.is_some_and(|t| t.contains("/git/refs")))
        .map(|l| match l.method.as_str() {
            "POST" => l.request.as_ref().and_then(|r| r["ref"].as_str()).unwrap_or_default().to_owned(),
            _ => {
                l.path.split("/git/refs/").nth(1).map(|r| format!("refs/{}", r.replace("%2F", "/"))).unwrap_or_default()
            }
        })
        .collect();
    assert_eq!(ref_writes, [format!("refs/heads/{}", pr.head)], "the bot created its branch and wrote no other ref");
    assert_eq!(gh.branches(REPO), [pr.head.clone(), "main".to_owned()]);
    assert_eq!(gh.pulls(REPO).len(), 1, "exactly one pull request");
    assert_eq!(gh.comments(REPO).len(), 0, "no bot comments on a clean loop");
    assert_eq!(jira.issues().len(), 1, "exactly one ticket");
    assert_eq!(jobs(base).get("dead"), None, "no job gave up");
    drop(server);
}
