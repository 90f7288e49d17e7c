//! SNS message authentication (`driftfix::intake::sns_verify`), end to end: the shared signed fixtures, and
//! messages signed here with a throwaway RSA-2048 key and self-signed certificates made by the `openssl` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use driftfix::intake::sns_verify::{
    CertFetcher, CertFuture, SnsError, SnsKind, StaticCertFetcher, parse, string_to_sign, verify,
};
use serde_json::{Map, Value, json};

const TOPIC: &str = "arn:aws:sns:us-east-2:123456789012:config-topic-ohio";
const CERT_URL: &str = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";
const FIXTURE_CERT_URL: &str = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-test.pem";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sns").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn topics(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// --- a throwaway signer ------------------------------------------------------------------------------------------

/// A key and certificates in a temporary directory, made once per test binary.
struct Signer {
    dir: tempfile::TempDir,
    /// Valid now.
    cert: Vec<u8>,
    /// Same key, valid 2020-01-01 to 2021-01-01.
    expired: Vec<u8>,
    /// Same key, valid from 2090.
    future: Vec<u8>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A self-signed certificate for `key.pem` with explicit dates, through `openssl ca` (OpenSSL 3.0's `req` has no
/// start-date option).
fn dated_cert(dir: &Path, name: &str, start: &str, end: &str) -> Vec<u8> {
    let ca = dir.join(name);
    std::fs::create_dir(&ca).unwrap();
    std::fs::write(ca.join("index.txt"), "").unwrap();
    std::fs::write(ca.join("serial"), "01\n").unwrap();
    std::fs::write(
        ca.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\n\
         policy = p\n[p]\ncommonName = supplied\n",
    )
    .unwrap();
    openssl(&ca, &["req", "-new", "-key", "../key.pem", "-subj", "/CN=sns.amazonaws.com", "-out", "req.csr"]);
    openssl(
        &ca,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "../key.pem",
            "-in",
            "req.csr",
            "-notext",
            "-startdate",
            start,
            "-enddate",
            end,
            "-out",
            "cert.pem",
        ],
    );
    std::fs::read(ca.join("cert.pem")).unwrap()
}

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(d, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "key.pem"]);
        openssl(
            d,
            &["req", "-x509", "-key", "key.pem", "-subj", "/CN=sns.amazonaws.com", "-days", "2", "-out", "cert.pem"],
        );
        let cert = std::fs::read(d.join("cert.pem")).unwrap();
        let expired = dated_cert(d, "expired", "20200101000000Z", "20210101000000Z");
        let future = dated_cert(d, "future", "20900101000000Z", "20910101000000Z");
        Signer { dir, cert, expired, future }
    })
}

/// The documented string to sign, built independently of the library.
fn canonical(msg: &Map<String, Value>) -> String {
    let keys: &[&str] = if msg["Type"] == "Notification" {
        &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    } else {
        &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    };
    let mut out = String::new();
    for key in keys {
        if let Some(Value::String(v)) = msg.get(*key) {
            out.push_str(&format!("{key}\n{v}\n"));
        }
    }
    out
}

fn openssl_sign(data: &[u8], version: &str) -> String {
    let dir = &signer().dir;
    let input = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
    std::fs::write(input.path(), data).unwrap();
    let digest = if version == "1" { "-sha1" } else { "-sha256" };
    let key = dir.path().join("key.pem");
    let out = Command::new("openssl")
        .args(["dgst", digest, "-sign"])
        .arg(&key)
        .arg(input.path())
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

/// Sign `msg` in place with SignatureVersion `version` ("1" → SHA1, "2" → SHA256).
fn sign(mut msg: Map<String, Value>, version: &str) -> Map<String, Value> {
    msg.insert("SignatureVersion".into(), version.into());
    let signature = openssl_sign(canonical(&msg).as_bytes(), version);
    msg.insert("Signature".into(), signature.into());
    msg
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn notification(subject: Option<&str>) -> Map<String, Value> {
    let mut m = obj(json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": "{\"awsAccountId\":\"123456789012\",\"configRuleName\":\"s3-bucket-public-read-prohibited\",\n\"note\":\"café\"}",
        "Timestamp": "2026-11-23T05:00:00.000Z",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-2:123456789012:config-topic-ohio:1",
        "MessageAttributes": {"k": {"Type": "String", "Value": "unsigned"}}
    }));
    if let Some(s) = subject {
        m.insert("Subject".into(), s.into());
    }
    m
}

fn confirmation(kind: &str, subscribe_url: &str) -> Map<String, Value> {
    obj(json!({
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425dacbba1de8a5f",
        "TopicArn": TOPIC,
        "Message": format!("You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
        "SubscribeURL": subscribe_url,
        "Timestamp": "2026-11-23T05:00:00.000Z",
        "SigningCertURL": CERT_URL,
    }))
}

fn body(msg: &Map<String, Value>) -> Vec<u8> {
    // Escape non-ASCII so the test also covers JSON decoding of `\uXXXX` before signing.
    let text = serde_json::to_string(msg).unwrap();
    text.chars()
        .map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) })
        .collect::<String>()
        .into_bytes()
}

// --- fetchers ----------------------------------------------------------------------------------------------------

/// Serves certificates from a map and counts the calls.
struct CountingFetcher {
    inner: StaticCertFetcher,
    calls: AtomicUsize,
}

impl CountingFetcher {
    fn serving(url: &str, pem: &[u8]) -> Self {
        CountingFetcher { inner: StaticCertFetcher::new([(url.to_string(), pem.to_vec())]), calls: AtomicUsize::new(0) }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl CertFetcher for CountingFetcher {
    fn fetch<'a>(&'a self, url: &'a url::Url) -> CertFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch(url)
    }
}

fn our_fetcher() -> CountingFetcher {
    CountingFetcher::serving(CERT_URL, &signer().cert)
}

async fn check(
    msg: &Map<String, Value>,
    fetcher: &CountingFetcher,
) -> Result<driftfix::intake::sns_verify::SnsMessage, SnsError> {
    verify(&body(msg), &topics(&[TOPIC]), fetcher).await
}

// --- shared fixtures ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn shared_fixtures_verify() {
    let fetcher = StaticCertFetcher::new([(FIXTURE_CERT_URL.to_string(), fixture("sns_test_cert.pem"))]);
    for (name, version) in [("sns_signed_v1.json", "1"), ("sns_signed_v2.json", "2")] {
        let m = verify(&fixture(name), &topics(&[TOPIC]), &fetcher).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.kind, SnsKind::Notification);
        assert_eq!(m.signature_version, version);
        assert_eq!(m.topic_arn, TOPIC);
        assert_eq!(m.message_id, "11fd05dd-47e1-5523-bc01-55b988bb9478");
        assert!(m.subject.as_deref().is_some_and(|s| s.starts_with("[AWS Config:us-east-2]")));
        assert!(m.message.starts_with("{\"awsAccountId\":\"123456789012\""));
        assert_eq!((m.subscribe_url, m.token), (None, None));
    }
}

#[tokio::test]
async fn shared_fixture_with_another_topic_allowed_only() {
    let fetcher = CountingFetcher::serving(FIXTURE_CERT_URL, &fixture("sns_test_cert.pem"));
    let err = verify(&fixture("sns_signed_v1.json"), &topics(&["arn:aws:sns:us-east-2:123456789012:other"]), &fetcher)
        .await
        .unwrap_err();
    assert!(matches!(err, SnsError::TopicNotAllowed(_)), "{err:?}");
    let err = verify(&fixture("sns_signed_v1.json"), &[], &fetcher).await.unwrap_err();
    assert!(matches!(err, SnsError::TopicNotAllowed(_)), "{err:?}");
    assert_eq!(fetcher.calls(), 0);
}

#[tokio::test]
async fn shared_fixture_signature_does_not_verify_under_our_key() {
    let fetcher = CountingFetcher::serving(FIXTURE_CERT_URL, &signer().cert);
    let err = verify(&fixture("sns_signed_v2.json"), &topics(&[TOPIC]), &fetcher).await.unwrap_err();
    assert_eq!(err, SnsError::BadSignature);
    assert_eq!(err.status(), 403);
}

// --- messages signed here ----------------------------------------------------------------------------------------

#[tokio::test]
async fn signed_v1_and_v2_verify() {
    for version in ["1", "2"] {
        let fetcher = our_fetcher();
        let msg = sign(notification(Some("a subject")), version);
        let m = check(&msg, &fetcher).await.unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(m.signature_version, version);
        assert_eq!(m.subject.as_deref(), Some("a subject"));
        assert!(m.message.contains("\n\"note\":\"café\""), "decoded values: {:?}", m.message);
        assert_eq!(fetcher.calls(), 1);
    }
}

#[tokio::test]
async fn library_string_to_sign_matches_the_documented_one() {
    for msg in [
        notification(Some("s")),
        notification(None),
        confirmation("SubscriptionConfirmation", "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription"),
    ] {
        let signed = sign(msg, "2");
        let parsed = parse(&body(&signed)).unwrap();
        assert_eq!(string_to_sign(&parsed), canonical(&signed));
    }
}

#[tokio::test]
async fn tampering_breaks_the_signature() {
    let signed = sign(notification(Some("a subject")), "2");
    let tamper: [(&str, Value); 5] = [
        ("Message", "{\"awsAccountId\":\"999999999999\"}".into()),
        ("MessageId", "other".into()),
        ("Subject", "another subject".into()),
        ("Timestamp", "2026-11-23T05:00:01.000Z".into()),
        ("Type", "SubscriptionConfirmation".into()),
    ];
    for (field, value) in tamper {
        let mut msg = signed.clone();
        msg.insert(field.into(), value);
        if field == "Type" {
            msg.insert("SubscribeURL".into(), "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription".into());
            msg.insert("Token".into(), "t".into());
        }
        let err = check(&msg, &our_fetcher()).await.unwrap_err();
        assert_eq!(err, SnsError::BadSignature, "{field}");
    }
    // Removing the signed Subject breaks it too.
    let mut msg = signed.clone();
    msg.remove("Subject");
    assert_eq!(check(&msg, &our_fetcher()).await.unwrap_err(), SnsError::BadSignature);
    // Unsigned fields may change freely.
    let mut msg = signed.clone();
    msg.insert("UnsubscribeURL".into(), "https://sns.us-east-2.amazonaws.com/?x".into());
    msg.insert("SubscribeURL".into(), "https://evil.example/".into());
    let m = check(&msg, &our_fetcher()).await.unwrap();
    assert_eq!(m.subscribe_url, None);
}

#[tokio::test]
async fn signature_version_and_digest_must_match() {
    // A SHA1 signature labelled "2" (and the reverse) does not verify.
    let mut msg = sign(notification(None), "1");
    msg.insert("SignatureVersion".into(), "2".into());
    assert_eq!(check(&msg, &our_fetcher()).await.unwrap_err(), SnsError::BadSignature);
    let mut msg = sign(notification(None), "2");
    msg.insert("SignatureVersion".into(), "1".into());
    assert_eq!(check(&msg, &our_fetcher()).await.unwrap_err(), SnsError::BadSignature);
}

#[tokio::test]
async fn unsupported_signature_version() {
    for version in ["3", "0", ""] {
        let mut msg = sign(notification(None), "2");
        msg.insert("SignatureVersion".into(), version.into());
        let fetcher = our_fetcher();
        let err = check(&msg, &fetcher).await.unwrap_err();
        assert!(matches!(err, SnsError::UnsupportedSignatureVersion(_)), "{version:?}: {err:?}");
        assert_eq!(err.status(), 400);
        assert_eq!(fetcher.calls(), 0, "no fetch for a version we cannot verify");
    }
}

#[tokio::test]
async fn signature_that_is_not_base64() {
    let mut msg = sign(notification(None), "2");
    msg.insert("Signature".into(), "!!!not base64!!!".into());
    assert_eq!(check(&msg, &our_fetcher()).await.unwrap_err(), SnsError::BadSignature);
    msg.insert("Signature".into(), "".into());
    assert_eq!(check(&msg, &our_fetcher()).await.unwrap_err(), SnsError::BadSignature);
}

#[tokio::test]
async fn wrong_topic_is_rejected_before_any_fetch() {
    let mut msg = notification(None);
    msg.insert("TopicArn".into(), "arn:aws:sns:us-east-2:123456789012:someone-elses-topic".into());
    let msg = sign(msg, "2");
    let fetcher = our_fetcher();
    let err = check(&msg, &fetcher).await.unwrap_err();
    assert!(matches!(err, SnsError::TopicNotAllowed(_)), "{err:?}");
    assert_eq!(err.status(), 403);
    assert_eq!(fetcher.calls(), 0);
    // Even with a certificate URL that would be refused: the topic is checked first.
    let mut msg = msg;
    msg.insert("SigningCertURL".into(), "http://169.254.169.254/latest/meta-data.pem".into());
    assert!(matches!(check(&msg, &fetcher).await.unwrap_err(), SnsError::TopicNotAllowed(_)));
    assert_eq!(fetcher.calls(), 0);
}

#[tokio::test]
async fn bad_cert_urls_are_rejected_before_any_fetch() {
    for url in [
        "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem",
        "https://sns.us-east-2.amazonaws.com:443/SimpleNotificationService-a.pem",
        "https://sns.us-east-2.amazonaws.com:8443/SimpleNotificationService-a.pem",
        "https://user@sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem",
        "https://user:pass@sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem",
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.txt",
        "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-a.pem.html",
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-a.pem",
        "https://evilsns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/a.pem",
        "https://127.0.0.1/a.pem",
        "file:///etc/passwd.pem",
        "sns.us-east-2.amazonaws.com/a.pem",
    ] {
        let mut msg = notification(None);
        msg.insert("SigningCertURL".into(), url.into());
        let msg = sign(msg, "2");
        // The fetcher would even serve a valid certificate for that exact URL.
        let fetcher = CountingFetcher::serving(url, &signer().cert);
        let err = check(&msg, &fetcher).await.unwrap_err();
        assert!(matches!(err, SnsError::BadCertUrl(_)), "{url}: {err:?}");
        assert_eq!(err.status(), 403);
        assert_eq!(fetcher.calls(), 0, "{url}");
    }
}

#[tokio::test]
async fn china_region_cert_url_is_accepted() {
    let url = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0123.pem";
    let mut msg = notification(Some("s"));
    msg.insert("SigningCertURL".into(), url.into());
    let msg = sign(msg, "1");
    let fetcher = CountingFetcher::serving(url, &signer().cert);
    let m = check(&msg, &fetcher).await.unwrap();
    assert_eq!(m.signing_cert_url, url);
    assert_eq!(fetcher.calls(), 1);
}

#[tokio::test]
async fn confirmations_verify() {
    let subscribe =
        format!("https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb");
    for (kind, expected) in [
        ("SubscriptionConfirmation", SnsKind::SubscriptionConfirmation),
        ("UnsubscribeConfirmation", SnsKind::UnsubscribeConfirmation),
    ] {
        for version in ["1", "2"] {
            let msg = sign(confirmation(kind, &subscribe), version);
            let m = check(&msg, &our_fetcher()).await.unwrap_or_else(|e| panic!("{kind} v{version}: {e}"));
            assert_eq!(m.kind, expected);
            assert_eq!(m.subscribe_url.as_deref(), Some(subscribe.as_str()));
            assert_eq!(m.token.as_deref(), Some("2336412f37fb687f5d51e6e2425dacbba1de8a5f"));
            assert_eq!(m.subject, None);
        }
    }
    // Token and SubscribeURL are signed.
    let signed = sign(confirmation("SubscriptionConfirmation", &subscribe), "2");
    for (field, value) in
        [("Token", "other"), ("SubscribeURL", "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription&x=1")]
    {
        let mut msg = signed.clone();
        msg.insert(field.into(), value.into());
        assert_eq!(check(&msg, &our_fetcher()).await.unwrap_err(), SnsError::BadSignature, "{field}");
    }
}

#[tokio::test]
async fn bad_subscribe_url_is_rejected_before_any_fetch() {
    for url in [
        "https://sns.us-east-2.amazonaws.com.evil.example/?Action=ConfirmSubscription",
        "https://evil.example/?Action=ConfirmSubscription",
        "http://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-2.amazonaws.com:443/?Action=ConfirmSubscription",
        "https://me@sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription",
    ] {
        let msg = sign(confirmation("SubscriptionConfirmation", url), "2");
        let fetcher = our_fetcher();
        let err = check(&msg, &fetcher).await.unwrap_err();
        assert!(matches!(err, SnsError::BadSubscribeUrl(_)), "{url}: {err:?}");
        assert_eq!(err.status(), 403);
        assert_eq!(fetcher.calls(), 0);
    }
}

#[tokio::test]
async fn subject_is_signed_only_when_present() {
    let without = sign(notification(None), "2");
    let m = check(&without, &our_fetcher()).await.unwrap();
    assert_eq!(m.subject, None);
    assert!(!string_to_sign(&m).contains("Subject"));

    let with = sign(notification(Some("Compliance change")), "2");
    let m = check(&with, &our_fetcher()).await.unwrap();
    assert!(string_to_sign(&m).contains("\nSubject\nCompliance change\n"));

    // A Subject added to a message signed without one is not ignored: it breaks the signature.
    let mut added = without.clone();
    added.insert("Subject".into(), "injected".into());
    assert_eq!(check(&added, &our_fetcher()).await.unwrap_err(), SnsError::BadSignature);

    // `"Subject": null` counts as absent.
    let mut null_subject = without.clone();
    null_subject.insert("Subject".into(), Value::Null);
    assert!(check(&null_subject, &our_fetcher()).await.is_ok());
}

#[tokio::test]
async fn certificates_outside_their_validity_window_are_rejected() {
    let s = signer();
    for (label, pem) in [("expired", &s.expired), ("not yet valid", &s.future)] {
        let msg = sign(notification(None), "2");
        let fetcher = CountingFetcher::serving(CERT_URL, pem);
        let err = check(&msg, &fetcher).await.unwrap_err();
        assert!(matches!(&err, SnsError::BadCertificate(why) if why.contains(label)), "{label}: {err:?}");
        assert_eq!(err.status(), 403);
    }
}

#[tokio::test]
async fn unusable_certificates_are_rejected() {
    let msg = sign(notification(None), "2");
    for pem in [&b"not a certificate"[..], b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
        let err = check(&msg, &CountingFetcher::serving(CERT_URL, pem)).await.unwrap_err();
        assert!(matches!(err, SnsError::BadCertificate(_)), "{err:?}");
    }
}

#[tokio::test]
async fn certificate_fetch_failure_is_retryable() {
    let msg = sign(notification(None), "2");
    let fetcher = CountingFetcher::serving("https://sns.us-east-2.amazonaws.com/other.pem", &signer().cert);
    let err = check(&msg, &fetcher).await.unwrap_err();
    assert!(matches!(err, SnsError::CertFetch(_)), "{err:?}");
    assert_eq!(err.status(), 503);
}

#[tokio::test]
async fn malformed_bodies() {
    let fetcher = our_fetcher();
    let allowed = topics(&[TOPIC]);
    for raw in [&b""[..], b"{", b"null", b"[]", b"\"Notification\"", b"{\"Type\":\"Notification\"}", b"\xff\xfe"] {
        let err = verify(raw, &allowed, &fetcher).await.unwrap_err();
        assert!(matches!(err, SnsError::Malformed(_)), "{raw:?}: {err:?}");
        assert_eq!(err.status(), 400);
    }
    let signed = sign(notification(Some("s")), "2");
    for field in
        ["Type", "Message", "MessageId", "Timestamp", "TopicArn", "Signature", "SigningCertURL", "SignatureVersion"]
    {
        let mut msg = signed.clone();
        msg.remove(field);
        let err = check(&msg, &fetcher).await.unwrap_err();
        assert!(matches!(err, SnsError::Malformed(_)), "without {field}: {err:?}");
    }
    let confirm = sign(confirmation("SubscriptionConfirmation", "https://sns.us-east-2.amazonaws.com/?a=b"), "2");
    for field in ["SubscribeURL", "Token"] {
        let mut msg = confirm.clone();
        msg.remove(field);
        let err = check(&msg, &fetcher).await.unwrap_err();
        assert!(matches!(err, SnsError::Malformed(_)), "without {field}: {err:?}");
    }
    let mut msg = signed.clone();
    msg.insert("Type".into(), "Bogus".into());
    assert!(matches!(check(&msg, &fetcher).await.unwrap_err(), SnsError::Malformed(_)));
    let mut msg = signed.clone();
    msg.insert("Message".into(), json!({"an": "object"}));
    assert!(matches!(check(&msg, &fetcher).await.unwrap_err(), SnsError::Malformed(_)));
    assert_eq!(fetcher.calls(), 0);
}

#[test]
fn fixture_files_are_present() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sns");
    for name in ["sns_signed_v1.json", "sns_signed_v2.json", "sns_test_cert.pem"] {
        assert!(dir.join(name).is_file(), "{name}");
    }
}
