//! The real Jira client against the fake Jira (tests/support/jira.rs) over HTTP, on both flavors:
//! one ticket per finding however often it is ensured, links and transitions that repeat safely,
//! errors that say whether to retry and never carry the token, requests that match Jira's OpenAPI
//! description, and the ADF and wiki renderings of the bot's own texts as snapshots.

mod support;

use driftfix::jira::{
    Flavor, JiraClient, JiraError, StatusCategory, Ticket, TicketRequest, TransitionResult, adf, finding_label, wiki,
};
use serde_json::{Value, json};
use std::time::Duration;
use support::jira::{FakeJira, TOKEN, UNAVAILABLE_TRANSITION};

const FINDING: &str = "3f2a9c1d7e4b5a6978877665544332211000ffeeddccbbaa9988776655443322";

/// Runs `$body(Flavor)` as one test per flavor.
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn cloud() {
                super::$body(driftfix::jira::Flavor::Cloud).await;
            }
            #[tokio::test]
            async fn data_center() {
                super::$body(driftfix::jira::Flavor::DataCenter).await;
            }
        }
    };
}

fn request(known_key: Option<&str>) -> TicketRequest {
    TicketRequest {
        finding_key: FINDING.to_owned(),
        summary: "Drift: sg-3f1fef43 (restricted-ssh)".to_owned(),
        description_markdown:
            "## Manual change needed\n\nThe rule **`restricted-ssh`** failed.\n\n```diff\n-a\n+b\n```\n".to_owned(),
        labels: vec!["security".to_owned()],
        known_key: known_key.map(str::to_owned),
        project: None,
    }
}

async fn started(flavor: Flavor) -> (FakeJira, JiraClient) {
    let fake = FakeJira::start(flavor).await;
    let client = JiraClient::new(fake.config()).unwrap();
    (fake, client)
}

fn search_path(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Cloud => "/rest/api/3/search/jql",
        Flavor::DataCenter => "/rest/api/2/search",
    }
}

fn api(flavor: Flavor, rest: &str) -> String {
    let v = if flavor == Flavor::Cloud { 3 } else { 2 };
    format!("/rest/api/{v}/{rest}")
}

fn call(method: &str, path: &str) -> (String, String) {
    (method.to_owned(), path.to_owned())
}

async fn ensure_creates_once(flavor: Flavor) {
    let (fake, client) = started(flavor).await;
    let first = client.ensure_ticket(&request(None)).await.unwrap();
    assert_eq!(
        first,
        Ticket { key: "SEC-1".into(), id: fake.issues()[0].id.clone(), url: format!("{}browse/SEC-1", fake.url()) }
    );
    let again = client.ensure_ticket(&request(None)).await.unwrap();
    assert_eq!(again, first, "found by its label, not created again");
    assert_eq!(fake.issues().len(), 1);
    assert_eq!(
        fake.calls(),
        [call("POST", search_path(flavor)), call("POST", &api(flavor, "issue")), call("POST", search_path(flavor))]
    );

    let issue = &fake.issues()[0];
    assert_eq!(issue.labels, ["driftfix", "driftfix-3f2a9c1d7e4b", "security"]);
    assert_eq!(finding_label(FINDING).unwrap(), "driftfix-3f2a9c1d7e4b");
    assert_eq!(issue.summary, "Drift: sg-3f1fef43 (restricted-ssh)");
    match flavor {
        Flavor::Cloud => {
            assert_eq!(issue.description["type"], "doc");
            assert_eq!(issue.description["content"][0]["type"], "heading");
        }
        Flavor::DataCenter => {
            let text = issue.description.as_str().unwrap();
            assert!(
                text.starts_with("h2. Manual change needed\n") && text.contains("{code:diff}\n-a\n+b\n{code}"),
                "{text}"
            );
        }
    }
    let jql = fake.requests()[0].body.clone().unwrap()["jql"].clone();
    assert_eq!(jql, r#"labels = "driftfix-3f2a9c1d7e4b" ORDER BY created ASC"#);
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}
on_both!(ensure_ticket_creates_once_then_finds_by_label, ensure_creates_once);

async fn known_key_first(flavor: Flavor) {
    let (fake, client) = started(flavor).await;
    fake.set_search_lag(true);
    let created = client.ensure_ticket(&request(None)).await.unwrap();
    let before = fake.requests().len();
    let again = client.ensure_ticket(&request(Some(&created.key))).await.unwrap();
    assert_eq!(again, created);
    assert_eq!(fake.issues().len(), 1, "the stored key is trusted while search has not caught up");
    assert_eq!(fake.calls()[before..], [call("GET", &api(flavor, "issue/SEC-1"))], "no search, no create");

    // A stored key whose issue is gone falls back to the label search.
    fake.settle();
    let found = client.ensure_ticket(&request(Some("SEC-404"))).await.unwrap();
    assert_eq!(found.key, "SEC-1");
    let tail: Vec<_> = fake.calls().into_iter().skip(before + 1).collect();
    assert_eq!(tail, [call("GET", &api(flavor, "issue/SEC-404")), call("POST", search_path(flavor))]);
    assert_eq!(fake.issues().len(), 1);
    assert!(fake.unexpected().is_empty());
}
on_both!(known_key_is_trusted_before_an_eventually_consistent_search, known_key_first);

async fn pages_and_oldest(flavor: Flavor) {
    let (fake, client) = started(flavor).await;
    fake.seed_issue("unrelated", &["driftfix", "driftfix-000000000000"]);
    let oldest = fake.seed_issue("first", &["driftfix", "driftfix-3f2a9c1d7e4b"]);
    fake.seed_issue("duplicate", &["driftfix", "driftfix-3f2a9c1d7e4b"]);
    fake.seed_issue("another duplicate", &["driftfix-3f2a9c1d7e4b"]);
    fake.set_page_size(1);
    let ticket = client.ensure_ticket(&request(None)).await.unwrap();
    assert_eq!(ticket.key, oldest);
    assert_eq!(fake.issues().len(), 4, "nothing created");
    assert_eq!(fake.calls(), vec![call("POST", search_path(flavor)); 3], "every page of three hits read");
    let bodies: Vec<Value> = fake.requests().into_iter().filter_map(|r| r.body).collect();
    match flavor {
        Flavor::Cloud => {
            assert_eq!(bodies[0].get("nextPageToken"), None);
            assert_eq!(bodies[2]["nextPageToken"], "page-2");
        }
        Flavor::DataCenter => assert_eq!(bodies.iter().map(|b| b["startAt"].clone()).collect::<Vec<_>>(), [0, 1, 2]),
    }
    assert!(fake.unexpected().is_empty());
}
on_both!(search_follows_every_page_and_picks_the_oldest, pages_and_oldest);

async fn link_twice(flavor: Flavor) {
    let (fake, client) = started(flavor).await;
    let ticket = client.ensure_ticket(&request(None)).await.unwrap();
    let pr = "https://github.com/acme/infra/pull/42";
    let first = client.link_pull_request(&ticket.key, pr, "driftfix: restrict SSH", FINDING).await.unwrap();
    let second = client.link_pull_request(&ticket.key, pr, "driftfix: restrict SSH (updated)", FINDING).await.unwrap();
    assert_eq!(first, second, "same globalId, same link");
    assert_eq!(first.global_id, driftfix::jira::pull_request_global_id(pr));
    let links = fake.links(&ticket.key);
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].global_id.as_deref(), Some("driftfix-pr=https://github.com/acme/infra/pull/42"));
    assert_eq!(links[0].object["url"], pr);
    assert_eq!(links[0].object["title"], "driftfix: restrict SSH (updated)", "updated in place");
    assert_eq!(links[0].object["summary"], "driftfix pull request for finding 3f2a9c1d7e4b");
    assert!(fake.unexpected().is_empty());
}
on_both!(linking_a_pull_request_twice_keeps_one_link, link_twice);

async fn transitions_by_category(flavor: Flavor) {
    let (fake, client) = started(flavor).await;
    let ticket = client.ensure_ticket(&request(None)).await.unwrap();
    assert_eq!(fake.status_of(&ticket.key), Some("To Do"));

    let done = client.transition_to_category(&ticket.key, StatusCategory::Done).await.unwrap();
    let close = fake.transition_id_to("Done");
    assert_eq!(
        done,
        TransitionResult::Transitioned {
            transition_id: close.clone(),
            transition_name: "Close".into(),
            status: "Done".into()
        }
    );
    assert_ne!(close, UNAVAILABLE_TRANSITION, "the unavailable transition listed first is skipped");
    assert_eq!(fake.status_of(&ticket.key), Some("Done"));

    let before = fake.requests().len();
    let again = client.transition_to_category(&ticket.key, StatusCategory::Done).await.unwrap();
    assert_eq!(again, TransitionResult::AlreadyThere { status: "Done".into() });
    assert_eq!(fake.calls()[before..], [call("GET", &api(flavor, "issue/SEC-1"))], "nothing posted");

    fake.disable_transition_to("In Progress");
    let stuck = client.transition_to_category(&ticket.key, StatusCategory::InProgress).await.unwrap();
    assert_eq!(
        stuck,
        TransitionResult::NoTransition {
            status: "Done".into(),
            available: vec!["Resolve (needs approval)".into(), "Reopen".into(), "Start progress".into()]
        }
    );

    let reopened = client.transition_to_category(&ticket.key, StatusCategory::ToDo).await.unwrap();
    assert!(matches!(reopened, TransitionResult::Transitioned { ref status, .. } if status == "To Do"), "{reopened:?}");
    let made: Vec<(String, String)> = fake.transitions_made().into_iter().map(|t| (t.id, t.to)).collect();
    assert_eq!(made, [(close, "Done".to_owned()), (fake.transition_id_to("To Do"), "To Do".to_owned())]);
    assert!(fake.unexpected().is_empty());
}
on_both!(transitions_are_chosen_by_status_category, transitions_by_category);

async fn comments_in_flavor_format(flavor: Flavor) {
    let (fake, client) = started(flavor).await;
    let ticket = client.ensure_ticket(&request(None)).await.unwrap();
    let id = client
        .comment(&ticket.key, "Merged: **fixed** in [#42](https://github.com/acme/infra/pull/42).")
        .await
        .unwrap();
    assert!(!id.is_empty());
    let comments = fake.comments(&ticket.key);
    assert_eq!(comments.len(), 1);
    match flavor {
        Flavor::Cloud => assert_eq!(
            comments[0]["content"][0]["content"][1],
            json!({ "type": "text", "text": "fixed", "marks": [{ "type": "strong" }] })
        ),
        Flavor::DataCenter => {
            assert_eq!(comments[0], json!("Merged: *fixed* in [#42|https://github.com/acme/infra/pull/42].\n"))
        }
    }
    assert!(fake.unexpected().is_empty());
}
on_both!(comments_use_the_flavors_format, comments_in_flavor_format);

async fn wrong_token(flavor: Flavor) {
    let fake = FakeJira::start(flavor).await;
    let wrong = "wrong-secret-token-0451";
    let client = JiraClient::new(fake.config_with_token(wrong)).unwrap();
    let err = client.ensure_ticket(&request(None)).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    let shown = format!("{err} {err:?} {client:?}");
    assert!(shown.contains("not authenticated"), "Jira's message is kept: {shown}");
    for secret in [wrong, TOKEN] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(fake.issues().is_empty());
}
on_both!(a_wrong_token_is_permanent_and_never_shown, wrong_token);

async fn unavailable_then_success(flavor: Flavor) {
    let (fake, client) = started(flavor).await;
    fake.fail_next(1, 503, &[]);
    let err = client.ensure_ticket(&request(None)).await.unwrap_err();
    assert!(err.is_retryable() && err.status() == Some(503), "{err}");
    fake.set_down(true);
    assert!(client.ensure_ticket(&request(None)).await.unwrap_err().is_retryable());
    fake.set_down(false);
    client.ensure_ticket(&request(None)).await.unwrap();
    client.ensure_ticket(&request(None)).await.unwrap();
    assert_eq!(fake.issues().len(), 1);
    assert!(fake.unexpected().is_empty());
}
on_both!(service_unavailable_is_retryable_then_one_ticket, unavailable_then_success);

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let (fake, client) = started(Flavor::Cloud).await;
    fake.fail_next(1, 429, &[("Retry-After", "1")]);
    let err = client.comment("SEC-1", "hi").await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert!(err.to_string().contains("HTTP 429"), "{err}");
}

#[tokio::test]
async fn slow_answers_time_out_as_retryable_errors() {
    let fake = FakeJira::start(Flavor::Cloud).await;
    let mut cfg = fake.config();
    cfg.timeout = Duration::from_millis(100);
    let client = JiraClient::new(cfg).unwrap();
    fake.set_delay(Duration::from_millis(600));
    let err = client.transition_to_category("SEC-1", StatusCategory::Done).await.unwrap_err();
    assert!(matches!(err, JiraError::Timeout { operation: "get issue", .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_client_on_the_wrong_api_version_is_caught_as_unexpected() {
    let fake = FakeJira::start(Flavor::Cloud).await;
    let mut cfg = fake.config();
    cfg.flavor = Flavor::DataCenter;
    let client = JiraClient::new(cfg).unwrap();
    let err = client.ensure_ticket(&request(None)).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_retryable());
    let unexpected = fake.unexpected();
    assert_eq!(unexpected.len(), 1, "the first call fails, so nothing else is tried");
    assert_eq!(unexpected[0].path, "/rest/api/2/search");
}

fn spec() -> support::openapi::Spec {
    support::openapi::Spec::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs/jira-swagger-v3.json"),
    )
}

#[tokio::test]
async fn a_cloud_scenario_matches_the_openapi_description() {
    let (fake, client) = started(Flavor::Cloud).await;
    let ticket = client.ensure_ticket(&request(None)).await.unwrap();
    client.ensure_ticket(&request(None)).await.unwrap();
    client.ensure_ticket(&request(Some(&ticket.key))).await.unwrap();
    let pr = "https://github.com/acme/infra/pull/42";
    client.link_pull_request(&ticket.key, pr, "driftfix: restrict SSH", FINDING).await.unwrap();
    client.link_pull_request(&ticket.key, pr, "driftfix: restrict SSH", FINDING).await.unwrap();
    client.transition_to_category(&ticket.key, StatusCategory::InProgress).await.unwrap();
    client.comment(&ticket.key, &rendered().1).await.unwrap();
    client.transition_to_category(&ticket.key, StatusCategory::Done).await.unwrap();
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());

    let spec = spec();
    // The checker is not vacuous: bodies Jira documents differently are refused.
    assert!(spec.validate_request("POST", "/rest/api/3/search/jql", &json!({ "jql": "x", "bogus": 1 })).is_err());
    assert!(spec.validate_response("POST", "/rest/api/3/issue", 201, &json!({ "id": 1, "key": "SEC-1" })).is_err());

    let mut templates = std::collections::BTreeSet::new();
    for r in fake.requests() {
        let what = format!("{} {}", r.method, r.path);
        let template = spec.match_path(&r.method, &r.path).unwrap_or_else(|| panic!("{what}: not in the spec"));
        if let Some(body) = &r.body {
            spec.validate_request(&r.method, &template, body).unwrap_or_else(|e| panic!("{what} request: {e:#?}"));
        }
        match &r.response {
            Some(body) => spec
                .validate_response(&r.method, &template, r.status, body)
                .unwrap_or_else(|e| panic!("{what} {} response: {e:#?}", r.status)),
            None => assert_eq!(r.status, 204, "{what}: only 204 has no body"),
        }
        templates.insert(format!("{} {template}", r.method));
    }
    assert_eq!(
        templates.into_iter().collect::<Vec<_>>(),
        [
            "GET /rest/api/3/issue/{issueIdOrKey}",
            "GET /rest/api/3/issue/{issueIdOrKey}/transitions",
            "POST /rest/api/3/issue",
            "POST /rest/api/3/issue/{issueIdOrKey}/comment",
            "POST /rest/api/3/issue/{issueIdOrKey}/remotelink",
            "POST /rest/api/3/issue/{issueIdOrKey}/transitions",
            "POST /rest/api/3/search/jql",
        ],
        "every operation the client uses was exercised and checked"
    );
}

/// The PR body of a fix (examples: world-open SSH) and the advice text of an advice outcome (two
/// blocks match one queue), both rendered with the built-in templates.
fn rendered() -> (String, String) {
    use driftfix::finding::parse_event;
    use driftfix::remediate::OutcomeKind;
    use driftfix::render::Templates;
    use driftfix::terraform::{state::parse_state, workspace::Workspace};
    use support::remediate_on as run;

    let templates = Templates::builtin().unwrap();

    let examples = support::examples();
    let ws = Workspace::load(&examples.join("terraform")).unwrap();
    let state = parse_state(&std::fs::read_to_string(examples.join("state/terraform.tfstate")).unwrap()).unwrap();
    let event = std::fs::read(examples.join("events/eb_ci_change.json")).unwrap();
    let finding = parse_event(&event).unwrap();
    let fix = run(&finding, &ws, &state);
    assert_eq!(fix.kind, OutcomeKind::Fix);
    let body = templates.pull_request(&finding, &fix).unwrap().unwrap().body;

    let queue = "resource \"aws_sqs_queue\" \"a\" {\n  name = \"jobs\"\n}\n";
    let ws = Workspace::from_sources([
        ("prod/main.tf".to_owned(), queue.to_owned()),
        ("staging/main.tf".to_owned(), queue.to_owned()),
    ]);
    let event = support::compliance_event(
        "sqs-queue-encrypted",
        "AWS::SQS::Queue",
        "https://sqs.us-east-1.amazonaws.com/1/jobs",
    );
    let finding = parse_event(event.as_bytes()).unwrap();
    let advice = run(&finding, &ws, &[]);
    assert_eq!(advice.kind, OutcomeKind::Advice);
    (body, templates.advice_text(&finding, &advice).unwrap())
}

/// Every text node of an ADF tree.
fn adf_texts(v: &Value, out: &mut String) {
    if let Some(t) = v["text"].as_str() {
        assert!(!t.is_empty(), "empty text node");
        out.push_str(t);
        out.push('\n');
    }
    for c in v["content"].as_array().into_iter().flatten() {
        adf_texts(c, out);
    }
}

#[test]
fn pull_request_body_renders_for_jira() {
    let (body, _) = rendered();
    assert!(body.contains("<details") && body.contains("<!-- driftfix:"), "the source has HTML to drop");
    let doc = adf::to_adf(&body);
    let mut texts = String::new();
    adf_texts(&doc, &mut texts);
    let markup = wiki::to_wiki(&body);
    for out in [&texts, &markup] {
        assert!(!out.contains('<') && !out.contains("driftfix: {"), "HTML or hidden metadata leaked:\n{out}");
        assert!(out.contains("Diff") && out.contains("Opened by driftfix"), "text inside tags is kept:\n{out}");
    }
    insta::assert_snapshot!("pr_body_adf", serde_json::to_string_pretty(&doc).unwrap());
    insta::assert_snapshot!("pr_body_wiki", markup);
}

#[test]
fn advice_renders_for_jira() {
    let (_, advice) = rendered();
    let doc = adf::to_adf(&advice);
    assert_eq!(doc["content"][0]["type"], "heading");
    insta::assert_snapshot!("advice_adf", serde_json::to_string_pretty(&doc).unwrap());
    insta::assert_snapshot!("advice_wiki", wiki::to_wiki(&advice));
}
