//! moto's standalone server (`moto_server`, from the PyPI package `moto[server]`) as a child
//! process of a test: a local AWS for the parts moto implements well enough to run the real SDK
//! clients against (S3, STS, and AWS Config's rules and S3 resource items; see
//! `/work/shared/FORMATS.md` §3 for what it does not do).
//!
//! - [`Moto::start`] takes the binary from `DRIFTFIX_TEST_MOTO_SERVER`, else `moto_server` on
//!   `PATH`; without either it panics when `CI` is set and otherwise returns `None` after a note on
//!   stderr, so a developer without moto skips these tests while CI cannot.
//! - Each server listens on its own loopback port, so tests run in parallel without sharing state;
//!   the child is killed when the [`Moto`] is dropped.
//! - The seeding helpers speak plain HTTP. moto checks no signature, but it picks the service from
//!   the credential scope of the `Authorization` header, so each request carries a SigV4-shaped
//!   header naming the service (`s3`, `config`).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable naming the `moto_server` binary (`.ci/run` sets it).
pub const SERVER_ENV: &str = "DRIFTFIX_TEST_MOTO_SERVER";
/// The account moto answers for (its default).
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// How long a starting server may take to answer (it imports every backend first).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `moto_server`; dropping it kills the process.
pub struct Moto {
    child: Child,
    url: String,
    http: reqwest::Client,
    /// moto's own output (one line per request), kept in a file so that a full pipe never blocks it
    /// and so that a failed start can show it.
    log: tempfile::NamedTempFile,
}

/// The `moto_server` to run: `DRIFTFIX_TEST_MOTO_SERVER` (which must exist when set), else
/// `moto_server` on `PATH`.
pub fn server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(SERVER_ENV) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{SERVER_ENV}={} is not a file", path.display());
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("moto_server")).find(|p| p.is_file())
}

/// A loopback port nobody listens on right now (the server may still lose a race for it; the
/// start is retried then).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

impl Moto {
    /// Start a fresh server and wait until it answers; `None` (with a note on stderr) when no
    /// `moto_server` is installed and `CI` is unset.
    pub async fn start() -> Option<Moto> {
        let Some(binary) = server_binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server not found: set {SERVER_ENV} (.ci/run installs moto[server] 5.2.5) or put it on PATH"
            );
            eprintln!("note: skipped, moto_server not found (set {SERVER_ENV} or put moto_server on PATH)");
            return None;
        };
        let mut last = String::new();
        for _ in 0..3 {
            match Moto::spawn(&binary).await {
                Ok(moto) => return Some(moto),
                Err(why) => last = why,
            }
        }
        panic!("{} did not start: {last}", binary.display());
    }

    async fn spawn(binary: &Path) -> Result<Moto, String> {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let out = log.reopen().map_err(|e| e.to_string())?;
        let err = log.reopen().map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let mut moto = Moto { child, url: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new(), log };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("exited with {status}: {}", moto.output()));
            }
            let probe = moto.http.get(format!("{}/moto-api/", moto.url)).timeout(Duration::from_secs(2)).send().await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                return Ok(moto);
            }
            if Instant::now() > deadline {
                return Err(format!("no answer within {READY_TIMEOUT:?}: {}", moto.output()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The endpoint URL to give the SDK clients (`endpoint_url`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// What the server printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The `Authorization` header moto routes on: SigV4 in shape, scoped to `service`.
    pub fn authorization(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, \
             Signature=00"
        )
    }

    // -----------------------------------------------------------------------------------------
    // S3

    /// Create a bucket (in us-east-1) and give it these tags (none: no tag set at all).
    pub async fn create_bucket(&self, bucket: &str, tags: &[(&str, &str)]) {
        let url = format!("{}/{}", self.url, encode_path(bucket));
        self.s3_ok(self.http.put(&url), "CreateBucket").await;
        if tags.is_empty() {
            return;
        }
        let tag_set: String = tags
            .iter()
            .map(|(k, v)| format!("<Tag><Key>{}</Key><Value>{}</Value></Tag>", xml_escape(k), xml_escape(v)))
            .collect();
        let body = format!("<Tagging><TagSet>{tag_set}</TagSet></Tagging>");
        let request = self.http.put(format!("{url}?tagging")).header("content-type", "application/xml").body(body);
        self.s3_ok(request, "PutBucketTagging").await;
    }

    /// Store an object (e.g. a Terraform state file); returns its `ETag` as S3 sends it (quoted).
    pub async fn put_object(&self, bucket: &str, key: &str, body: &[u8]) -> String {
        // A content type matters: moto runs on Werkzeug, which swallows a body sent as a form
        // (reqwest sends none by default, curl sends application/x-www-form-urlencoded).
        let url = format!("{}/{}/{}", self.url, encode_path(bucket), encode_path(key));
        let request = self.http.put(url).header("content-type", "application/octet-stream").body(body.to_vec());
        let response = self.s3_ok(request, "PutObject").await;
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        etag.expect("PutObject answers an ETag")
    }

    async fn s3_ok(&self, request: reqwest::RequestBuilder, what: &str) -> reqwest::Response {
        let response =
            request.header("authorization", Moto::authorization("s3")).send().await.expect("moto answers S3");
        let status = response.status();
        if !status.is_success() {
            panic!("{what}: {status}: {}", response.text().await.unwrap_or_default());
        }
        response
    }

    // -----------------------------------------------------------------------------------------
    // AWS Config

    /// One AWS Config call (JSON 1.1) as `(status, answer)`.
    pub async fn config_call(&self, operation: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/", self.url))
            .header("authorization", Moto::authorization("config"))
            .header("x-amz-target", format!("StarlingDoveService.{operation}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await
            .expect("moto answers AWS Config");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let answer =
            if text.trim().is_empty() { json!({}) } else { serde_json::from_str(&text).unwrap_or(json!(text)) };
        (status, answer)
    }

    async fn config_ok(&self, operation: &str, body: &Value) -> Value {
        let (status, answer) = self.config_call(operation, body).await;
        assert_eq!(status, 200, "moto {operation} {body}: {answer}");
        answer
    }

    /// Put an AWS managed rule (`Owner: AWS`). `input_parameters` is the parameters object (`Null`:
    /// none), sent as the JSON string AWS wants; moto refuses parameter names it does not know
    /// for the identifier (`InvalidParameterValueException`). `resource_types` is the scope.
    pub async fn put_config_rule(
        &self,
        name: &str,
        source_identifier: &str,
        input_parameters: &Value,
        resource_types: &[&str],
    ) {
        let mut rule = json!({
            "ConfigRuleName": name,
            "Source": { "Owner": "AWS", "SourceIdentifier": source_identifier },
        });
        if !input_parameters.is_null() {
            rule["InputParameters"] = json!(input_parameters.to_string());
        }
        if !resource_types.is_empty() {
            rule["Scope"] = json!({ "ComplianceResourceTypes": resource_types });
        }
        self.config_ok("PutConfigRule", &json!({ "ConfigRule": rule })).await;
    }

    /// A recorder of every supported type, delivering to `bucket`, started. moto 5.2.5 does not
    /// need it to answer `GetResourceConfigHistory` or `BatchGetResourceConfig` (real AWS Config
    /// answers `NoAvailableConfigurationRecorderException` without one); it makes a test's setup
    /// look like a real account's.
    pub async fn start_configuration_recorder(&self, bucket: &str) {
        let recorder = json!({ "ConfigurationRecorder": {
            "name": "default",
            "roleARN": format!("arn:aws:iam::{ACCOUNT_ID}:role/aws-config"),
            "recordingGroup": { "allSupported": true, "includeGlobalResourceTypes": true },
        } });
        self.config_ok("PutConfigurationRecorder", &recorder).await;
        let channel = json!({ "DeliveryChannel": { "name": "default", "s3BucketName": bucket } });
        self.config_ok("PutDeliveryChannel", &channel).await;
        self.config_ok("StartConfigurationRecorder", &json!({ "ConfigurationRecorderName": "default" })).await;
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encode a URL path, keeping `/` and the unreserved characters.
pub fn encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
