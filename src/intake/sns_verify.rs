//! Authentication of Amazon SNS HTTPS deliveries (FORMATS.md §1d and §2).
//!
//! SNS signs every message with an RSA key whose certificate it publishes at `SigningCertURL`. The URL travels
//! *inside* the message, so until the signature has been checked every field, that URL included, is chosen by
//! whoever sent the request. [`verify`] therefore works in a fixed order, and the order is the security property:
//!
//! 1. **Parse** the JSON body and require the documented fields (otherwise [`SnsError::Malformed`]).
//! 2. **Topic allow-list** before anything else happens, in particular before any network request: a message for a
//!    topic we do not subscribe to is rejected without costing an outbound fetch, so the endpoint cannot be used
//!    to make us fetch things for strangers ([`SnsError::TopicNotAllowed`]).
//! 3. **URL guard** on `SigningCertURL` (and on `SubscribeURL`, which the caller will GET to confirm a
//!    subscription): `https`, no port, no userinfo, a host that *parses* to `sns.<region>.amazonaws.com[.cn]`, and
//!    for the certificate a path ending in `.pem`. This is the SSRF guard; it must run before the fetch, and the
//!    fetcher must only ever see URLs that passed it. The signature version is also checked here (a local check;
//!    an unsupported version would make the fetch pointless).
//! 4. **Fetch** the certificate through a [`CertFetcher`]; production uses [`HttpsCertFetcher`] (timeout, size cap,
//!    cache keyed by the full URL).
//! 5. **Verify**: parse the X.509 PEM, reject it outside its validity window, take its RSA public key and check
//!    the RSA PKCS#1 v1.5 signature (SHA1 for `SignatureVersion` "1", SHA256 for "2") over the string to sign.
//!
//! Only fields covered by the signature are exposed on [`SnsMessage`] (plus the signature metadata): a
//! `Notification`'s `SubscribeURL`/`Token` and a confirmation's `Subject` are not signed, so they are dropped.
//! Nothing here logs message bodies, tokens or signatures; error texts never echo `Message` or `SubscribeURL`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey, VerificationAlgorithm,
};
use base64::Engine as _;
use serde::Deserialize;
use url::Url;
use x509_parser::certificate::Validity;
use x509_parser::public_key::PublicKey;

/// Timeout for one certificate download (connect, headers and body).
pub const CERT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest certificate accepted; SNS certificates are about 2 KiB.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// Number of certificates [`HttpsCertFetcher`] keeps in memory.
pub const CERT_CACHE_CAPACITY: usize = 64;
/// Clock-skew allowance on a certificate's not-before date, in seconds.
pub const NOT_BEFORE_LEEWAY_SECS: i64 = 300;

/// The three SNS message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnsKind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl SnsKind {
    /// The `Type` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SnsKind::Notification => "Notification",
            SnsKind::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsKind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    fn from_wire(s: &str) -> Option<SnsKind> {
        [SnsKind::Notification, SnsKind::SubscriptionConfirmation, SnsKind::UnsubscribeConfirmation]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An SNS message. Returned by [`verify`] only once its signature has been checked; [`parse`] alone
/// authenticates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    pub kind: SnsKind,
    pub message_id: String,
    pub topic_arn: String,
    /// The JSON-decoded `Message` (for Config, itself a JSON document in a string).
    pub message: String,
    /// Notifications only (`None` when absent or `null`; never set for confirmations, where it is not signed).
    pub subject: Option<String>,
    pub timestamp: String,
    /// Confirmations only (required there; not signed on notifications, so never set for them).
    pub subscribe_url: Option<String>,
    /// Confirmations only, like `subscribe_url`.
    pub token: Option<String>,
    pub signature_version: String,
    pub signature: String,
    pub signing_cert_url: String,
}

/// Why a delivery was refused. [`SnsError::status`] gives the HTTP status to answer SNS with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    #[error("malformed SNS message: {0}")]
    Malformed(String),
    #[error("topic not allowed: {0}")]
    TopicNotAllowed(String),
    #[error("SigningCertURL rejected: {0}")]
    BadCertUrl(String),
    #[error("SubscribeURL rejected: {0}")]
    BadSubscribeUrl(String),
    #[error("unsupported SignatureVersion: {0}")]
    UnsupportedSignatureVersion(String),
    #[error("could not fetch the signing certificate: {0}")]
    CertFetch(String),
    #[error("signing certificate rejected: {0}")]
    BadCertificate(String),
    #[error("SNS signature does not verify")]
    BadSignature,
}

impl SnsError {
    /// HTTP status for the response: 400 for a message we cannot use, 403 for one we do not trust, 503 when the
    /// certificate could not be fetched (SNS retries 5xx, and the failure may be ours).
    pub fn status(&self) -> u16 {
        match self {
            SnsError::Malformed(_) | SnsError::UnsupportedSignatureVersion(_) => 400,
            SnsError::TopicNotAllowed(_)
            | SnsError::BadCertUrl(_)
            | SnsError::BadSubscribeUrl(_)
            | SnsError::BadCertificate(_)
            | SnsError::BadSignature => 403,
            SnsError::CertFetch(_) => 503,
        }
    }
}

/// A short, escaped copy of an untrusted value for an error message (no control characters reach the logs).
fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_debug).collect();
    if s.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Parsing

/// The wire shape. Unknown fields (`UnsubscribeURL`, `MessageAttributes`) are ignored; duplicate keys are rejected
/// by serde; a field of the wrong JSON type is an error; `null` counts as absent.
#[derive(Deserialize)]
struct WireMessage {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "MessageId")]
    message_id: Option<String>,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Timestamp")]
    timestamp: Option<String>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
    #[serde(rename = "Signature")]
    signature: Option<String>,
    #[serde(rename = "SignatureVersion")]
    signature_version: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
}

fn required(value: Option<String>, name: &str) -> Result<String, SnsError> {
    value.ok_or_else(|| SnsError::Malformed(format!("missing field `{name}`")))
}

/// Parse an SNS HTTPS body (sent as `text/plain`) and check that the documented fields are present.
/// This authenticates nothing: use [`verify`].
pub fn parse(body: &[u8]) -> Result<SnsMessage, SnsError> {
    // serde would also accept a JSON array for a struct (fields by position); only an object is an SNS message.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(SnsError::Malformed("body is not a JSON object".into()));
    }
    let wire: WireMessage = serde_json::from_slice(body).map_err(|e| SnsError::Malformed(excerpt(&e.to_string())))?;
    let type_value = required(wire.kind, "Type")?;
    let kind = SnsKind::from_wire(&type_value)
        .ok_or_else(|| SnsError::Malformed(format!("unknown Type `{}`", excerpt(&type_value))))?;
    let is_notification = kind == SnsKind::Notification;
    let (subscribe_url, token) = if is_notification {
        (None, None)
    } else {
        (Some(required(wire.subscribe_url, "SubscribeURL")?), Some(required(wire.token, "Token")?))
    };
    Ok(SnsMessage {
        kind,
        message: required(wire.message, "Message")?,
        message_id: required(wire.message_id, "MessageId")?,
        timestamp: required(wire.timestamp, "Timestamp")?,
        topic_arn: required(wire.topic_arn, "TopicArn")?,
        signature: required(wire.signature, "Signature")?,
        signing_cert_url: required(wire.signing_cert_url, "SigningCertURL")?,
        signature_version: required(wire.signature_version, "SignatureVersion")?,
        subject: if is_notification { wire.subject } else { None },
        subscribe_url,
        token,
    })
}

/// The fields covered by the signature, in byte-sort order of their names; `None` means absent (skipped).
fn signed_fields(m: &SnsMessage) -> Vec<(&'static str, Option<&str>)> {
    let common_head = [("Message", Some(m.message.as_str())), ("MessageId", Some(m.message_id.as_str()))];
    let tail = [("TopicArn", Some(m.topic_arn.as_str())), ("Type", Some(m.kind.as_str()))];
    let middle: Vec<(&'static str, Option<&str>)> = match m.kind {
        SnsKind::Notification => vec![("Subject", m.subject.as_deref()), ("Timestamp", Some(m.timestamp.as_str()))],
        SnsKind::SubscriptionConfirmation | SnsKind::UnsubscribeConfirmation => vec![
            ("SubscribeURL", m.subscribe_url.as_deref()),
            ("Timestamp", Some(m.timestamp.as_str())),
            ("Token", m.token.as_deref()),
        ],
    };
    common_head.into_iter().chain(middle).chain(tail).collect()
}

/// The canonical string SNS signs: `name\nvalue\n` for each signed field present, in byte-sort order of the names,
/// over the JSON-decoded values.
pub fn string_to_sign(m: &SnsMessage) -> String {
    let mut out = String::new();
    for (name, value) in signed_fields(m) {
        if let Some(value) = value {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Topic allow-list

fn check_topic(m: &SnsMessage, allowed_topics: &[String]) -> Result<(), SnsError> {
    if allowed_topics.contains(&m.topic_arn) { Ok(()) } else { Err(SnsError::TopicNotAllowed(excerpt(&m.topic_arn))) }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. URL guard

/// `^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`, on the parsed host.
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let Some(region) = rest.strip_suffix(".amazonaws.com.cn").or_else(|| rest.strip_suffix(".amazonaws.com")) else {
        return false;
    };
    !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The authority exactly as written (between `https://` and the first `/`, `?` or `#`; backslashes, which the
/// `url` crate reads as `/`, are refused earlier).
fn raw_authority(u: &str) -> Option<&str> {
    let rest = u.strip_prefix("https://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Scheme, port, userinfo and host rules shared by `SigningCertURL` and `SubscribeURL`.
///
/// The `url` crate drops a default port (`:443`) and forgives odd spellings (`https:host`, extra slashes,
/// tabs, upper case), so besides checking the parsed URL we require the authority *as written* to be exactly the
/// parsed host: that rejects any explicit port, any userinfo and any unusual spelling.
fn check_sns_url(u: &str) -> Result<Url, String> {
    if !u.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err("must be printable ASCII without spaces or backslashes".into());
    }
    let url = Url::parse(u).map_err(|e| format!("not a URL ({e})"))?;
    if url.scheme() != "https" {
        return Err("scheme must be https".into());
    }
    if url.port().is_some() {
        return Err("must not carry a port".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry userinfo".into());
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err("host must be a domain name".into());
    };
    if !is_sns_host(host) {
        return Err("host is not sns.<region>.amazonaws.com[.cn]".into());
    }
    if raw_authority(u) != Some(host) {
        return Err("authority must be exactly the host (no port, no userinfo)".into());
    }
    Ok(url)
}

/// Validate `SigningCertURL`: the shared SNS URL rules, a path ending in `.pem`, and no query or fragment (real
/// certificate URLs have neither, and a query would only serve to defeat the cache).
pub fn validate_cert_url(u: &str) -> Result<Url, SnsError> {
    let url = check_sns_url(u).map_err(SnsError::BadCertUrl)?;
    if !url.path().ends_with(".pem") {
        return Err(SnsError::BadCertUrl("path must end in .pem".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SnsError::BadCertUrl("must not carry a query or fragment".into()));
    }
    Ok(url)
}

/// Validate `SubscribeURL` (the caller GETs it to confirm a subscription): the shared SNS URL rules.
pub fn validate_subscribe_url(u: &str) -> Result<Url, SnsError> {
    check_sns_url(u).map_err(SnsError::BadSubscribeUrl)
}

fn signature_algorithm(version: &str) -> Result<&'static dyn VerificationAlgorithm, SnsError> {
    match version {
        "1" => Ok(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
        "2" => Ok(&RSA_PKCS1_2048_8192_SHA256),
        other => Err(SnsError::UnsupportedSignatureVersion(excerpt(other))),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Fetching certificates

/// The future returned by [`CertFetcher::fetch`].
pub type CertFuture<'a> = Pin<Box<dyn Future<Output = Result<Arc<Vec<u8>>, SnsError>> + Send + 'a>>;

/// Source of signing certificates (PEM bytes), given a URL that passed [`validate_cert_url`].
pub trait CertFetcher: Send + Sync {
    fn fetch<'a>(&'a self, url: &'a Url) -> CertFuture<'a>;
}

/// A fixed map from certificate URL to PEM bytes, **for tests only**.
///
/// It is a plain library type so integration tests can use it, but nothing in production can select it:
/// `serve` always constructs an [`HttpsCertFetcher`], and there is deliberately no configuration switch for the
/// certificate source, so trusting test certificates cannot be turned on in production by accident.
#[derive(Debug, Default, Clone)]
pub struct StaticCertFetcher {
    certs: HashMap<String, Arc<Vec<u8>>>,
}

impl StaticCertFetcher {
    /// Serve each PEM for its URL (URLs are normalised as `url` serialises them, when they parse).
    pub fn new(certs: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        let certs =
            certs.into_iter().map(|(u, pem)| (Url::parse(&u).map(String::from).unwrap_or(u), Arc::new(pem))).collect();
        StaticCertFetcher { certs }
    }
}

impl CertFetcher for StaticCertFetcher {
    fn fetch<'a>(&'a self, url: &'a Url) -> CertFuture<'a> {
        let found = self.certs.get(url.as_str()).cloned();
        Box::pin(async move { found.ok_or_else(|| SnsError::CertFetch("no certificate for this URL".into())) })
    }
}

/// Fetches certificates over HTTPS with a [`CERT_FETCH_TIMEOUT`], a [`MAX_CERT_BYTES`] cap, no redirects, and an
/// in-memory cache keyed by the full URL (certificate names are content-addressed, so entries never go stale;
/// at most [`CERT_CACHE_CAPACITY`] are kept). Only successful downloads are cached.
///
/// It re-checks every URL with [`validate_cert_url`] before touching the network, but callers must still only
/// pass URLs that already passed validation (as [`verify`] does).
pub struct HttpsCertFetcher {
    client: Result<reqwest::Client, String>,
    cache: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// Unit tests only: send the request to this origin instead (a local plain-HTTP server).
    #[cfg(test)]
    origin_override: Option<Url>,
}

impl Default for HttpsCertFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpsCertFetcher {
    /// A fetcher with its own HTTPS-only client. If the TLS stack cannot be initialised the fetcher is still
    /// returned, and every fetch fails with [`SnsError::CertFetch`] (logged once here).
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(CERT_FETCH_TIMEOUT)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "cannot build the HTTPS client for SNS certificates");
                format!("HTTPS client unavailable: {e}")
            });
        HttpsCertFetcher {
            client,
            cache: Mutex::new(HashMap::new()),
            #[cfg(test)]
            origin_override: None,
        }
    }

    fn cached(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    /// Store a download, returning the entry the cache now holds (a concurrent fetch may have stored one first).
    fn remember(&self, key: &str, pem: Vec<u8>) -> Arc<Vec<u8>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = cache.get(key) {
            return existing.clone();
        }
        if cache.len() >= CERT_CACHE_CAPACITY
            && let Some(evict) = cache.keys().next().cloned()
        {
            cache.remove(&evict);
        }
        let pem = Arc::new(pem);
        cache.insert(key.to_owned(), pem.clone());
        pem
    }

    #[cfg(not(test))]
    fn target_for(&self, url: &Url) -> Url {
        url.clone()
    }

    #[cfg(test)]
    fn target_for(&self, url: &Url) -> Url {
        match &self.origin_override {
            Some(origin) => {
                let mut target = origin.clone();
                target.set_path(url.path());
                target
            }
            None => url.clone(),
        }
    }

    async fn download(&self, target: Url) -> Result<Vec<u8>, SnsError> {
        let client = self.client.as_ref().map_err(|e| SnsError::CertFetch(e.clone()))?;
        let response =
            client.get(target).send().await.map_err(|e| SnsError::CertFetch(format!("request failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SnsError::CertFetch(format!("HTTP status {status}")));
        }
        read_capped(response).await
    }
}

/// Read a body of at most [`MAX_CERT_BYTES`]; a larger one is refused as soon as that is known (from
/// `Content-Length`, or while streaming), without reading the rest.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, SnsError> {
    let too_large = || SnsError::BadCertificate(format!("certificate larger than {MAX_CERT_BYTES} bytes"));
    if response.content_length().is_some_and(|n| n > MAX_CERT_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| SnsError::CertFetch(format!("reading the body failed: {e}")))?
    {
        if body.len() + chunk.len() > MAX_CERT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl CertFetcher for HttpsCertFetcher {
    fn fetch<'a>(&'a self, url: &'a Url) -> CertFuture<'a> {
        Box::pin(async move {
            let url = validate_cert_url(url.as_str())?;
            if let Some(hit) = self.cached(url.as_str()) {
                return Ok(hit);
            }
            let pem = self.download(self.target_for(&url)).await?;
            Ok(self.remember(url.as_str(), pem))
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Certificate and signature

fn now_unix() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn check_validity(validity: &Validity, now: i64) -> Result<(), SnsError> {
    if now.saturating_add(NOT_BEFORE_LEEWAY_SECS) < validity.not_before.timestamp() {
        return Err(SnsError::BadCertificate("certificate is not yet valid".into()));
    }
    if now > validity.not_after.timestamp() {
        return Err(SnsError::BadCertificate("certificate has expired".into()));
    }
    Ok(())
}

/// The DER `RSAPublicKey` of the first certificate in `pem`, if the certificate is valid at `now` (Unix seconds).
fn rsa_key_from_pem(pem: &[u8], now: i64) -> Result<Vec<u8>, SnsError> {
    let bad = |why: &str| SnsError::BadCertificate(why.to_owned());
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|_| bad("not a PEM certificate"))?;
    if pem.label != "CERTIFICATE" {
        return Err(bad("PEM block is not a CERTIFICATE"));
    }
    let cert = pem.parse_x509().map_err(|_| bad("not an X.509 certificate"))?;
    check_validity(cert.validity(), now)?;
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(_)) => Ok(spki.subject_public_key.data.to_vec()),
        _ => Err(bad("public key is not RSA")),
    }
}

fn check_signature(
    algorithm: &'static dyn VerificationAlgorithm,
    rsa_key: &[u8],
    m: &SnsMessage,
) -> Result<(), SnsError> {
    let signature =
        base64::engine::general_purpose::STANDARD.decode(m.signature.as_bytes()).map_err(|_| SnsError::BadSignature)?;
    UnparsedPublicKey::new(algorithm, rsa_key)
        .verify(string_to_sign(m).as_bytes(), &signature)
        .map_err(|_| SnsError::BadSignature)
}

/// Authenticate an SNS delivery: parse, topic allow-list, URL guard, certificate fetch, signature, in that order
/// (see the module documentation). Returns the message only if every step passes.
pub async fn verify(body: &[u8], allowed_topics: &[String], fetcher: &dyn CertFetcher) -> Result<SnsMessage, SnsError> {
    let message = parse(body)?;
    check_topic(&message, allowed_topics)?;
    let cert_url = validate_cert_url(&message.signing_cert_url)?;
    if let Some(subscribe_url) = &message.subscribe_url {
        validate_subscribe_url(subscribe_url)?;
    }
    let algorithm = signature_algorithm(&message.signature_version)?;
    let pem = fetcher.fetch(&cert_url).await?;
    let rsa_key = rsa_key_from_pem(&pem, now_unix())?;
    check_signature(algorithm, &rsa_key, &message)?;
    tracing::debug!(message_id = ?message.message_id, kind = message.kind.as_str(), "SNS signature verified");
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> SnsMessage {
        SnsMessage {
            kind: SnsKind::Notification,
            message_id: "id-1".into(),
            topic_arn: "arn:aws:sns:us-east-2:123456789012:t".into(),
            message: "line one\nline two".into(),
            subject: Some("subj".into()),
            timestamp: "2026-11-23T00:00:00.000Z".into(),
            subscribe_url: None,
            token: None,
            signature_version: "1".into(),
            signature: "AAAA".into(),
            signing_cert_url: "https://sns.us-east-2.amazonaws.com/x.pem".into(),
        }
    }

    #[test]
    fn signed_field_names_are_byte_sorted() {
        let mut confirmation = notification();
        confirmation.kind = SnsKind::SubscriptionConfirmation;
        for m in [notification(), confirmation] {
            let names: Vec<&str> = signed_fields(&m).into_iter().map(|(n, _)| n).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
        }
    }

    #[test]
    fn string_to_sign_for_notification_with_and_without_subject() {
        let mut m = notification();
        assert_eq!(
            string_to_sign(&m),
            "Message\nline one\nline two\nMessageId\nid-1\nSubject\nsubj\nTimestamp\n2026-11-23T00:00:00.000Z\n\
             TopicArn\narn:aws:sns:us-east-2:123456789012:t\nType\nNotification\n"
        );
        m.subject = None;
        assert!(!string_to_sign(&m).contains("Subject"));
    }

    #[test]
    fn string_to_sign_for_confirmation() {
        let mut m = notification();
        m.kind = SnsKind::UnsubscribeConfirmation;
        m.subject = Some("ignored".into());
        m.subscribe_url = Some("https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription".into());
        m.token = Some("tok".into());
        assert_eq!(
            string_to_sign(&m),
            "Message\nline one\nline two\nMessageId\nid-1\n\
             SubscribeURL\nhttps://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription\n\
             Timestamp\n2026-11-23T00:00:00.000Z\nToken\ntok\nTopicArn\narn:aws:sns:us-east-2:123456789012:t\n\
             Type\nUnsubscribeConfirmation\n"
        );
    }

    #[test]
    fn parse_drops_unsigned_fields() {
        let body = br#"{"Type":"Notification","Message":"m","MessageId":"i","Timestamp":"t","TopicArn":"a",
            "Signature":"s","SigningCertURL":"u","SignatureVersion":"1","SubscribeURL":"x","Token":"y",
            "UnsubscribeURL":"z","MessageAttributes":{"k":{"Type":"String","Value":"v"}}}"#;
        let m = parse(body).unwrap();
        assert_eq!((m.subscribe_url, m.token, m.subject), (None, None, None));
        let body = br#"{"Type":"SubscriptionConfirmation","Message":"m","MessageId":"i","Timestamp":"t",
            "TopicArn":"a","Signature":"s","SigningCertURL":"u","SignatureVersion":"1","SubscribeURL":"x",
            "Token":"y","Subject":"unsigned"}"#;
        let m = parse(body).unwrap();
        assert_eq!(m.kind, SnsKind::SubscriptionConfirmation);
        assert_eq!((m.subscribe_url.as_deref(), m.token.as_deref(), m.subject), (Some("x"), Some("y"), None));
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        let full = r#""Type":"Notification","Message":"m","MessageId":"i","Timestamp":"t","TopicArn":"a","Signature":"s","SigningCertURL":"u","SignatureVersion":"1""#;
        let cases = [
            String::new(),
            "not json".to_owned(),
            format!("[{full}]"),
            r#"["Notification","m","i",null,"t","a",null,null,"s","1","u"]"#.to_owned(),
            format!("{{{full},\"Type\":\"Notification\"}}"),
            format!("{{{}}}", full.replace(r#""SignatureVersion":"1""#, r#""SignatureVersion":1"#)),
            format!("{{{}}}", full.replace("Notification", "Bogus")),
            format!(
                "{{{}}}",
                full.replace("SubscriptionConfirmation", "x").replace("Notification", "SubscriptionConfirmation")
            ),
        ];
        for case in cases {
            let err = parse(case.as_bytes()).unwrap_err();
            assert!(matches!(err, SnsError::Malformed(_)), "{case}: {err:?}");
            assert_eq!(err.status(), 400);
        }
        assert!(parse(format!("  {{{full}}}").as_bytes()).is_ok());
    }

    #[test]
    fn sns_host_pattern() {
        for ok in ["sns.us-east-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn", "sns.a.amazonaws.com"] {
            assert!(is_sns_host(ok), "{ok}");
        }
        for bad in [
            "sns.amazonaws.com",
            "sns..amazonaws.com",
            "sns.us-east-1.amazonaws.com.evil.example",
            "evilsns.us-east-1.amazonaws.com",
            "sns.us.east.amazonaws.com",
            "sns.us_east.amazonaws.com",
            "sns.us-east-1.amazonaws.com.",
            "sns.us-east-1.amazonaws.cn",
            "xsns.us-east-1.amazonaws.com",
        ] {
            assert!(!is_sns_host(bad), "{bad}");
        }
    }

    #[test]
    fn cert_url_guard() {
        let ok = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem";
        assert_eq!(validate_cert_url(ok).unwrap().as_str(), ok);
        assert!(validate_cert_url("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-a.pem").is_ok());
        for bad in [
            "http://sns.us-east-1.amazonaws.com/a.pem",
            "HTTPS://sns.us-east-1.amazonaws.com/a.pem",
            "https:sns.us-east-1.amazonaws.com/a.pem",
            "https:///sns.us-east-1.amazonaws.com:443/a.pem",
            "https://sns.us-east-1.amazonaws.com:443/a.pem",
            "https://sns.us-east-1.amazonaws.com:8443/a.pem",
            "https://sns.us-east-1.amazonaws.com:/a.pem",
            "https://user@sns.us-east-1.amazonaws.com/a.pem",
            "https://user:pw@sns.us-east-1.amazonaws.com/a.pem",
            "https://@sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
            "https://evilsns.us-east-1.amazonaws.com/a.pem",
            "https://SNS.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com./a.pem",
            "https://sns%2eus-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com\\a.pem",
            "https://sns.us-east-1.amazonaws.com/a.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/a.pem#f",
            "https://sns.us-east-1.amazonaws.com/a.pem.txt",
            "https://sns.us-east-1.amazonaws.com/",
            " https://sns.us-east-1.amazonaws.com/a.pem",
            "https://sns.us-east-1.amazonaws.com/a\t.pem",
            "https://sns.us-east-1.amazonaws.com/a.pém",
            "https://127.0.0.1/a.pem",
            "https://[::1]/a.pem",
            "not a url",
            "",
        ] {
            let err = validate_cert_url(bad).unwrap_err();
            assert!(matches!(err, SnsError::BadCertUrl(_)), "{bad}: {err:?}");
            assert_eq!(err.status(), 403);
        }
    }

    #[test]
    fn subscribe_url_guard() {
        let ok = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:1:T&Token=abc";
        assert!(validate_subscribe_url(ok).is_ok());
        for bad in [
            "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-west-2.amazonaws.com:443/?Action=ConfirmSubscription",
            "https://u@sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-west-2.amazonaws.com.evil.example/?Action=ConfirmSubscription",
        ] {
            assert!(matches!(validate_subscribe_url(bad), Err(SnsError::BadSubscribeUrl(_))), "{bad}");
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(SnsError::UnsupportedSignatureVersion("3".into()).status(), 400);
        assert_eq!(SnsError::TopicNotAllowed("t".into()).status(), 403);
        assert_eq!(SnsError::BadSubscribeUrl("x".into()).status(), 403);
        assert_eq!(SnsError::BadCertificate("x".into()).status(), 403);
        assert_eq!(SnsError::BadSignature.status(), 403);
        assert_eq!(SnsError::CertFetch("x".into()).status(), 503);
    }

    #[test]
    fn signature_versions() {
        assert!(signature_algorithm("1").is_ok());
        assert!(signature_algorithm("2").is_ok());
        for bad in ["3", "0", "", "1 ", "01"] {
            assert!(matches!(signature_algorithm(bad), Err(SnsError::UnsupportedSignatureVersion(_))));
        }
    }

    #[test]
    fn excerpt_escapes_and_truncates() {
        assert_eq!(excerpt("a\nb"), "a\\nb");
        assert!(excerpt(&"x".repeat(500)).ends_with("..."));
    }

    const FIXTURE_CERT: &[u8] = include_bytes!("../../tests/fixtures/sns/sns_test_cert.pem");

    #[test]
    fn validity_window_with_leeway() {
        let (_, pem) = x509_parser::pem::parse_x509_pem(FIXTURE_CERT).unwrap();
        let cert = pem.parse_x509().unwrap();
        let v = cert.validity();
        let nb = v.not_before.timestamp();
        let na = v.not_after.timestamp();
        assert!(check_validity(v, nb).is_ok());
        assert!(check_validity(v, nb - NOT_BEFORE_LEEWAY_SECS).is_ok());
        assert!(check_validity(v, nb - NOT_BEFORE_LEEWAY_SECS - 1).is_err());
        assert!(check_validity(v, na).is_ok());
        assert!(matches!(check_validity(v, na + 1), Err(SnsError::BadCertificate(_))));
        assert!(rsa_key_from_pem(FIXTURE_CERT, nb).is_ok());
        assert!(rsa_key_from_pem(FIXTURE_CERT, na + 1).is_err());
    }

    #[test]
    fn rejects_non_certificates() {
        for bad in [&b""[..], b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            assert!(matches!(rsa_key_from_pem(bad, now_unix()), Err(SnsError::BadCertificate(_))));
        }
    }

    // --- HttpsCertFetcher, against a tiny local plain-HTTP server -------------------------------------------

    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serve `response` (raw HTTP) to every connection; count the connections.
    async fn serve(response: Vec<u8>) -> (Url, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(&response).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (origin, hits)
    }

    fn local_fetcher(origin: Url) -> HttpsCertFetcher {
        let client = reqwest::Client::builder().timeout(CERT_FETCH_TIMEOUT).no_proxy().build().unwrap();
        HttpsCertFetcher { client: Ok(client), cache: Mutex::new(HashMap::new()), origin_override: Some(origin) }
    }

    fn http_response(body: &[u8], content_length: bool) -> Vec<u8> {
        let mut r = b"HTTP/1.1 200 OK\r\nConnection: close\r\n".to_vec();
        if content_length {
            r.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        r.extend_from_slice(b"\r\n");
        r.extend_from_slice(body);
        r
    }

    fn cert_url(name: &str) -> Url {
        validate_cert_url(&format!("https://sns.us-east-2.amazonaws.com/{name}.pem")).unwrap()
    }

    #[tokio::test]
    async fn https_fetcher_caches_by_full_url() {
        let (origin, hits) = serve(http_response(FIXTURE_CERT, true)).await;
        let fetcher = local_fetcher(origin);
        let a = fetcher.fetch(&cert_url("a")).await.unwrap();
        let again = fetcher.fetch(&cert_url("a")).await.unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(a.as_slice(), FIXTURE_CERT);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let b = fetcher.fetch(&cert_url("b")).await.unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn https_fetcher_cache_is_capped() {
        let fetcher = local_fetcher(Url::parse("http://127.0.0.1:9/").unwrap());
        for i in 0..CERT_CACHE_CAPACITY + 10 {
            fetcher.remember(&format!("k{i}"), vec![1]);
        }
        assert_eq!(fetcher.cache.lock().unwrap().len(), CERT_CACHE_CAPACITY);
    }

    #[tokio::test]
    async fn https_fetcher_size_cap() {
        let big = vec![b'A'; MAX_CERT_BYTES + 1];
        for content_length in [true, false] {
            let (origin, _) = serve(http_response(&big, content_length)).await;
            let err = local_fetcher(origin).fetch(&cert_url("big")).await.unwrap_err();
            assert!(matches!(err, SnsError::BadCertificate(_)), "{content_length}: {err:?}");
        }
        let exact = vec![b'A'; MAX_CERT_BYTES];
        let (origin, _) = serve(http_response(&exact, false)).await;
        assert_eq!(local_fetcher(origin).fetch(&cert_url("exact")).await.unwrap().len(), MAX_CERT_BYTES);
    }

    #[tokio::test]
    async fn https_fetcher_error_status_is_not_cached() {
        let (origin, hits) =
            serve(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()).await;
        let fetcher = local_fetcher(origin);
        for _ in 0..2 {
            let err = fetcher.fetch(&cert_url("missing")).await.unwrap_err();
            assert!(matches!(err, SnsError::CertFetch(_)), "{err:?}");
            assert_eq!(err.status(), 503);
        }
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn https_fetcher_refuses_unvalidated_urls() {
        let (origin, hits) = serve(http_response(FIXTURE_CERT, true)).await;
        let fetcher = local_fetcher(origin);
        for bad in ["http://sns.us-east-2.amazonaws.com/a.pem", "https://evil.example/a.pem", "http://127.0.0.1/a.pem"]
        {
            let err = fetcher.fetch(&Url::parse(bad).unwrap()).await.unwrap_err();
            assert!(matches!(err, SnsError::BadCertUrl(_)), "{bad}: {err:?}");
        }
        // The production fetcher too (no override, real client): refused before any network access.
        let real = HttpsCertFetcher::new();
        let err = real.fetch(&Url::parse("http://sns.us-east-2.amazonaws.com/a.pem").unwrap()).await.unwrap_err();
        assert!(matches!(err, SnsError::BadCertUrl(_)), "{err:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }
}
