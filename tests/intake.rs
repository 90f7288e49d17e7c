//! The intake routes, in-process over a real SQLite store: authentication (missing, wrong and
//! rotated secrets), status codes with JSON error bodies, the body limit, backpressure, and
//! de-duplication of redeliveries.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use driftfix::intake::sns::SubscriptionConfirmer;
use driftfix::intake::sns_verify::StaticCertFetcher;
use driftfix::intake::{IntakeSettings, IntakeState, router};
use driftfix::metrics::Metrics;
use driftfix::store::Store;
use secrecy::SecretString;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const SNS_CERT_URL: &str = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-test.pem";
const SNS_TOPIC: &str = "arn:aws:sns:us-east-2:123456789012:config-topic-ohio";

#[derive(Default)]
struct RecordingConfirmer(Mutex<Vec<String>>);

impl SubscriptionConfirmer for RecordingConfirmer {
    fn confirm<'a>(&'a self, url: &'a url::Url) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        self.0.lock().unwrap().push(url.to_string());
        Box::pin(async { Ok(()) })
    }
}

struct Harness {
    state: IntakeState,
    _dir: tempfile::TempDir,
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sns")
}

fn secrets(list: &[&str]) -> Vec<SecretString> {
    list.iter().map(|s| SecretString::from((*s).to_owned())).collect()
}

async fn harness(tweak: impl FnOnce(&mut IntakeSettings)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("d.db").display())).await.unwrap();
    store.migrate().await.unwrap();
    let mut settings = IntakeSettings {
        eventbridge_header: "x-api-key".into(),
        eventbridge_api_keys: secrets(&["old-key", "new-key"]),
        eventbridge_basic: secrets(&["config:s3cret"]),
        sns_topic_arns: vec![SNS_TOPIC.into()],
        github_secrets: secrets(&["gh-old", "gh-new"]),
        body_limit: 64 * 1024,
        max_attempts: 3,
        queue_high_water: 1000,
    };
    tweak(&mut settings);
    let cert = std::fs::read(fixtures().join("sns_test_cert.pem")).unwrap();
    let state = IntakeState {
        store: store.clone(),
        settings: Arc::new(settings),
        metrics: Arc::new(Metrics::default()),
        certs: Arc::new(StaticCertFetcher::new([(SNS_CERT_URL.to_owned(), cert)])),
        confirmer: Arc::new(RecordingConfirmer::default()),
        pipeline: driftfix::intake::recorder::Pipeline::start(store.clone()).0,
    };
    Harness { state, _dir: dir }
}

async fn post(
    h: &Harness,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
    let mut req = Request::post(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router(h.state.clone()).oneshot(req.body(body.into()).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json, headers)
}

fn example(name: &str) -> String {
    std::fs::read_to_string(support::examples().join("events").join(name)).unwrap()
}

#[tokio::test]
async fn eventbridge_authentication() {
    let h = harness(|_| {}).await;
    let body = example("eb_compliance_change.json");
    let (s, j, _) = post(&h, "/webhooks/eventbridge", &[], body.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(j["error"], "missing credentials");
    let (s, j, _) = post(&h, "/webhooks/eventbridge", &[("x-api-key", "wrong")], body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(j["error"], "invalid credentials");
    let (s, _, _) =
        post(&h, "/webhooks/eventbridge", &[("authorization", "Basic Y29uZmlnOndyb25n")], body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong Basic password");
    assert_eq!(h.state.store.counts().await.unwrap(), (0, 0, 0), "nothing stored before authentication");
    let (s, j, _) = post(&h, "/webhooks/eventbridge", &[("x-api-key", "new-key")], body.clone()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{j}");
    assert_eq!(j["status"], "accepted");
    assert_eq!(j["finding"].as_str().unwrap().len(), 64);
    let (s, j, _) = post(&h, "/webhooks/eventbridge", &[("x-api-key", "old-key")], body.clone()).await;
    assert_eq!(
        (s, j["status"].as_str()),
        (StatusCode::ACCEPTED, Some("duplicate")),
        "rotated key works; redelivery is a duplicate"
    );
    let (s, _, _) = post(&h, "/webhooks/eventbridge", &[("authorization", "Basic Y29uZmlnOnMzY3JldA==")], body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "Basic auth");
}

#[tokio::test]
async fn concurrent_deliveries_are_batched_and_each_answered() {
    let h = harness(|_| {}).await;
    let template = example("eb_compliance_change.json");
    let mut tasks = Vec::new();
    for i in 0..200 {
        // Every 4th is a redelivery of the previous event id: it must be answered as a duplicate.
        let id = if i % 4 == 3 { i - 1 } else { i };
        let body = template
            .replace("c0bb891c-77fe-8518-14fc-be78b966f95b", &format!("evt-{id}"))
            .replace("my-public-bucket", &format!("bucket-{id}"));
        let state = h.state.clone();
        tasks.push(tokio::spawn(async move {
            let req =
                Request::post("/webhooks/eventbridge").header("x-api-key", "new-key").body(Body::from(body)).unwrap();
            let res = router(state).oneshot(req).await.unwrap();
            let status = res.status();
            let json: serde_json::Value =
                serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap()).unwrap();
            (status, json["status"].as_str().unwrap_or_default().to_owned())
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let (status, verdict) = t.await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED);
        accepted += usize::from(verdict == "accepted");
    }
    assert_eq!(accepted, 150, "each distinct event accepted once; redeliveries are duplicates");
    assert_eq!(h.state.store.counts().await.unwrap(), (150, 150, 150));
}

#[tokio::test]
async fn eventbridge_redelivered_ten_times_is_one_finding_one_job() {
    let h = harness(|_| {}).await;
    let body = example("eb_ci_change.json");
    for i in 0..10 {
        let (s, j, _) = post(&h, "/webhooks/eventbridge", &[("x-api-key", "new-key")], body.clone()).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        assert_eq!(j["status"], if i == 0 { "accepted" } else { "duplicate" });
    }
    assert_eq!(h.state.store.counts().await.unwrap(), (1, 1, 1));
}

#[tokio::test]
async fn eventbridge_bad_bodies() {
    let h = harness(|s| s.body_limit = 2048).await;
    let key = [("x-api-key", "new-key")];
    let (s, j, _) = post(&h, "/webhooks/eventbridge", &key, "{not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(j["error"].as_str().unwrap().contains("not JSON"));
    let (s, _, _) = post(&h, "/webhooks/eventbridge", &key, r#"{"source":"aws.config","detail":{}}"#).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a Config event missing its fields is malformed");
    let (s, j, _) = post(
        &h,
        "/webhooks/eventbridge",
        &key,
        r#"{"id":"x1","source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}"#,
    )
    .await;
    assert_eq!((s, j["status"].as_str()), (StatusCode::ACCEPTED, Some("ignored")), "well-formed but unknown");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4096));
    let (s, j, _) = post(&h, "/webhooks/eventbridge", &key, big.clone()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(j["error"].as_str().unwrap().contains("2048"));
    // A declared Content-Length above the limit is refused before the body is read.
    let (s, _, _) =
        post(&h, "/webhooks/eventbridge", &[("x-api-key", "new-key"), ("content-length", "999999")], "{}").await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h.state.store.counts().await.unwrap().0, 1, "only the ignored event was stored");
}

#[tokio::test]
async fn backpressure_answers_503_with_retry_after() {
    let h = harness(|s| s.queue_high_water = 0).await;
    let key = [("x-api-key", "new-key")];
    let (s, _, _) = post(&h, "/webhooks/eventbridge", &key, example("eb_compliance_change.json")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "first job enters an empty queue");
    // The queue depth is sampled, at most GAUGE_MAX_AGE old.
    tokio::time::sleep(driftfix::intake::recorder::GAUGE_MAX_AGE + std::time::Duration::from_millis(50)).await;
    let (s, j, headers) = post(&h, "/webhooks/eventbridge", &key, example("eb_ci_change.json")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{j}");
    assert_eq!(headers.get("retry-after").unwrap(), "30");
    assert_eq!(h.state.store.counts().await.unwrap(), (1, 1, 1), "the refused event was not stored");
}

fn gh_sign(secret: &str, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[tokio::test]
async fn github_signatures_events_and_deliveries() {
    let h = harness(|_| {}).await;
    let body = r#"{"action":"closed","pull_request":{"number":1,"merged":false}}"#;
    let ev = ("x-github-event", "pull_request");
    let (s, j, _) = post(&h, "/webhooks/github", &[ev, ("x-github-delivery", "d-1")], body).await;
    assert_eq!((s, j["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing X-Hub-Signature-256")));
    let bad = gh_sign("not-a-secret", body);
    let (s, _, _) =
        post(&h, "/webhooks/github", &[ev, ("x-github-delivery", "d-1"), ("x-hub-signature-256", &bad)], body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let old = gh_sign("gh-old", body);
    let (s, j, _) =
        post(&h, "/webhooks/github", &[ev, ("x-github-delivery", "d-1"), ("x-hub-signature-256", &old)], body).await;
    assert_eq!(
        (s, j["status"].as_str()),
        (StatusCode::ACCEPTED, Some("ignored")),
        "stored, but no work: the pull request is not on a bot branch"
    );
    let (s, j, _) =
        post(&h, "/webhooks/github", &[ev, ("x-github-delivery", "d-1"), ("x-hub-signature-256", &old)], body).await;
    assert_eq!((s, j["status"].as_str()), (StatusCode::ACCEPTED, Some("duplicate")));
    let tampered = body.replace("false", "true");
    let (s, _, _) =
        post(&h, "/webhooks/github", &[ev, ("x-github-delivery", "d-2"), ("x-hub-signature-256", &old)], tampered)
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "signature over the raw body");
    let star = gh_sign("gh-new", "{}");
    let (s, j, _) =
        post(&h, "/webhooks/github", &[("x-github-event", "star"), ("x-hub-signature-256", &star)], "{}").await;
    assert_eq!((s, j["status"].as_str()), (StatusCode::OK, Some("ignored")), "unknown events answer 200");
    assert_eq!(h.state.store.counts().await.unwrap(), (1, 0, 0));
}

#[tokio::test]
async fn sns_signed_notifications_and_rejections() {
    let h = harness(|_| {}).await;
    let signed = std::fs::read_to_string(fixtures().join("sns_signed_v2.json")).unwrap();
    let (s, j, _) = post(&h, "/webhooks/sns", &[("content-type", "text/plain; charset=UTF-8")], signed.clone()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{j}");
    assert_eq!(j["status"], "accepted");
    let (s, j, _) = post(&h, "/webhooks/sns", &[], signed.clone()).await;
    assert_eq!((s, j["status"].as_str()), (StatusCode::ACCEPTED, Some("duplicate")), "MessageId de-duplicates");
    let v1 = std::fs::read_to_string(fixtures().join("sns_signed_v1.json")).unwrap();
    let tampered = v1.replace("cloudtrail-enabled", "restricted-ssh");
    let (s, _, _) = post(&h, "/webhooks/sns", &[], tampered).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "tampered message");
    let other_topic = v1.replace("config-topic-ohio", "someone-elses-topic");
    let (s, j, _) = post(&h, "/webhooks/sns", &[], other_topic).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{j}");
    let (s, _, _) = post(&h, "/webhooks/sns", &[], "{not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(h.state.store.counts().await.unwrap().0, 1);
}
