//! A stateful fake AWS CloudTrail over real HTTP, serving `LookupEvents` (who changed a resource,
//! and when), so the real `aws-sdk-cloudtrail` client runs in the tests: its signing, its JSON 1.1
//! serialisation, its error parsing and its retries. moto has no `LookupEvents` worth the name, so
//! this is a fake in the style of the AWS Config one (`aws_config.rs`), sharing its SigV4 check,
//! its input validation and its log entries.
//!
//! The wire protocol is awsJson1_1, as botocore's model for `cloudtrail` 2013-11-01 declares it
//! (`protocol: json`, `jsonVersion: 1.1`, `targetPrefix:
//! com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101`): `POST /` with `Content-Type:
//! application/x-amz-json-1.1`, `X-Amz-Target: <prefix>.LookupEvents` and a JSON body; timestamps
//! are epoch seconds; errors are HTTP 400 with `{"__type": "<Code>", "message": "..."}`. The Rust
//! SDK names the target after the Smithy service shape instead, `CloudTrail_20131101.LookupEvents`;
//! both prefixes are accepted ([`TARGET_PREFIXES`]).
//!
//! - Events are seeded with [`FakeCloudTrail::add_event`]; each carries `CloudTrailEvent`, the
//!   whole CloudTrail record as a JSON *string* (as the service sends it), with the `userIdentity`
//!   of an IAM user, an assumed role or the root user as real records have them.
//! - A lookup filters by at most one attribute (`ResourceName`, `ResourceType`, `EventName`,
//!   `Username`, `ReadOnly`, `EventSource`, `AccessKeyId`, `EventId`) and by the time window
//!   (`StartTime`/`EndTime`, both inclusive; no implicit 90-day window), answers newest first, and
//!   pages with `MaxResults` (1–50, default 50) and a `NextToken` that is only good for the same
//!   parameters.
//! - Errors use the codes the model declares for `LookupEvents`: more than one lookup attribute, an
//!   unknown key, a value out of bounds (the documentation counts `_`, space, `,` and newline twice
//!   towards the 2,000) or a `ReadOnly` value other than `true`/`false` answer
//!   `InvalidLookupAttributesException`; `MaxResults` out of 1–50 `InvalidMaxResultsException`;
//!   `EventCategory` other than `insight` `InvalidEventCategoryException` (the fake keeps no
//!   Insights events, so `insight` finds none); a start after the end `InvalidTimeRangeException`;
//!   a foreign token `InvalidNextTokenException`. JSON type errors answer `SerializationException`,
//!   unknown members `ValidationException`.
//! - Faults can be queued; every exchange is logged, and requests no operation serves are kept in
//!   [`FakeCloudTrail::unexpected`].

use super::aws_config::{
    self, AwsError, COMMON_ERRORS, CONTENT_TYPE, Logged, Member, Operation, Ty, access_key, error, error_body, header,
    iso8601, one_of, opt, parse_body, req, text,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::aws_config::{ACCESS_KEY_ID, ACCOUNT_ID, REGION};

/// botocore's `targetPrefix`.
pub const TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101";
/// The prefix `aws-sdk-cloudtrail` sends: the Smithy service shape's name.
pub const SDK_TARGET_PREFIX: &str = "CloudTrail_20131101";
pub const TARGET_PREFIXES: &[&str] = &[TARGET_PREFIX, SDK_TARGET_PREFIX];
/// The lookup attribute keys (botocore's `LookupAttributeKey` enum).
pub const ATTRIBUTE_KEYS: &[&str] =
    &["EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"];
/// The most events one page holds, and the default.
pub const MAX_RESULTS: usize = 50;

const ATTRIBUTE_KEY: Ty = one_of(ATTRIBUTE_KEYS);
const ATTRIBUTE_VALUE: Ty = text(Some(1), Some(2000), None);
const LOOKUP_ATTRIBUTE: Ty =
    Ty::Structure(&[req("AttributeKey", &ATTRIBUTE_KEY), req("AttributeValue", &ATTRIBUTE_VALUE)]);
const LOOKUP_ATTRIBUTES: Ty = Ty::List { item: &LOOKUP_ATTRIBUTE, min: None, max: None };
const DATE: Ty = Ty::Timestamp;
const EVENT_CATEGORY: Ty = one_of(&["insight"]);
const MAX_RESULTS_TY: Ty = Ty::Integer { min: Some(1), max: Some(50) };
const NEXT_TOKEN: Ty = text(None, None, None);

const LOOKUP_EVENTS_INPUT: &[Member] = &[
    opt("LookupAttributes", &LOOKUP_ATTRIBUTES),
    opt("StartTime", &DATE),
    opt("EndTime", &DATE),
    opt("EventCategory", &EVENT_CATEGORY),
    opt("MaxResults", &MAX_RESULTS_TY),
    opt("NextToken", &NEXT_TOKEN),
];

/// Every operation the fake serves.
pub const OPERATIONS: &[Operation] = &[Operation {
    name: "LookupEvents",
    input: LOOKUP_EVENTS_INPUT,
    errors: &[
        "InvalidLookupAttributesException",
        "InvalidTimeRangeException",
        "InvalidMaxResultsException",
        "InvalidNextTokenException",
        "InvalidEventCategoryException",
    ],
}];

pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

// ---------------------------------------------------------------------------------------------
// Events

/// Who made the call, as CloudTrail's `userIdentity` records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    IamUser {
        user_name: String,
    },
    /// Temporary credentials of a role (`AssumeRole`): `Username` is the role session's name.
    AssumedRole {
        role_name: String,
        session_name: String,
    },
    Root,
}

/// A management event as the fake keeps it. Times are epoch seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEvent {
    /// Empty: [`FakeCloudTrail::add_event`] assigns one.
    pub event_id: String,
    pub event_name: String,
    /// The service's endpoint name, e.g. `s3.amazonaws.com`.
    pub event_source: String,
    pub event_time: f64,
    pub read_only: bool,
    pub access_key_id: String,
    pub identity: Identity,
    /// `(ResourceType, ResourceName)` pairs, e.g. `("AWS::S3::Bucket", "my-bucket")`.
    pub resources: Vec<(String, String)>,
    pub source_ip: String,
    pub request_parameters: Value,
}

impl TrailEvent {
    /// A write call (`ReadOnly` false) by the IAM user `alice` with access key
    /// `AKIAALICEEXAMPLE0001`, from 203.0.113.7, touching no resource yet.
    pub fn new(event_name: &str, event_source: &str, event_time: f64) -> TrailEvent {
        TrailEvent {
            event_id: String::new(),
            event_name: event_name.to_owned(),
            event_source: event_source.to_owned(),
            event_time,
            read_only: false,
            access_key_id: "AKIAALICEEXAMPLE0001".to_owned(),
            identity: Identity::IamUser { user_name: "alice".to_owned() },
            resources: Vec::new(),
            source_ip: "203.0.113.7".to_owned(),
            request_parameters: Value::Null,
        }
    }

    pub fn resource(mut self, resource_type: &str, resource_name: &str) -> TrailEvent {
        self.resources.push((resource_type.to_owned(), resource_name.to_owned()));
        self
    }

    pub fn by_user(mut self, user_name: &str, access_key_id: &str) -> TrailEvent {
        self.identity = Identity::IamUser { user_name: user_name.to_owned() };
        self.access_key_id = access_key_id.to_owned();
        self
    }

    /// By a session of `role_name` (its access key id should start `ASIA`).
    pub fn by_role(mut self, role_name: &str, session_name: &str, access_key_id: &str) -> TrailEvent {
        self.identity =
            Identity::AssumedRole { role_name: role_name.to_owned(), session_name: session_name.to_owned() };
        self.access_key_id = access_key_id.to_owned();
        self
    }

    pub fn by_root(mut self, access_key_id: &str) -> TrailEvent {
        self.identity = Identity::Root;
        self.access_key_id = access_key_id.to_owned();
        self
    }

    pub fn read_only(mut self) -> TrailEvent {
        self.read_only = true;
        self
    }

    pub fn id(mut self, event_id: &str) -> TrailEvent {
        self.event_id = event_id.to_owned();
        self
    }

    pub fn source_ip(mut self, ip: &str) -> TrailEvent {
        self.source_ip = ip.to_owned();
        self
    }

    pub fn request_parameters(mut self, parameters: Value) -> TrailEvent {
        self.request_parameters = parameters;
        self
    }

    /// The `Username` a lookup shows and filters by: the IAM user's name, the role session's
    /// name, or `root`.
    pub fn username(&self) -> String {
        match &self.identity {
            Identity::IamUser { user_name } => user_name.clone(),
            Identity::AssumedRole { session_name, .. } => session_name.clone(),
            Identity::Root => "root".to_owned(),
        }
    }

    /// The CloudTrail record, which `CloudTrailEvent` carries as a JSON string.
    pub fn record(&self, region: &str) -> Value {
        json!({
            "eventVersion": "1.09",
            "userIdentity": self.user_identity(),
            "eventTime": iso8601(self.event_time),
            "eventSource": self.event_source,
            "eventName": self.event_name,
            "awsRegion": region,
            "sourceIPAddress": self.source_ip,
            "userAgent": "aws-cli/2.22.0 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6",
            "requestParameters": self.request_parameters,
            "responseElements": Value::Null,
            "requestID": format!("{:016X}", fnv(&self.event_id)),
            "eventID": self.event_id,
            "readOnly": self.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": ACCOUNT_ID,
            "eventCategory": "Management",
        })
    }

    fn user_identity(&self) -> Value {
        match &self.identity {
            Identity::IamUser { user_name } => json!({
                "type": "IAMUser",
                "principalId": principal_id("AIDA", user_name),
                "arn": format!("arn:aws:iam::{ACCOUNT_ID}:user/{user_name}"),
                "accountId": ACCOUNT_ID,
                "accessKeyId": self.access_key_id,
                "userName": user_name,
            }),
            Identity::AssumedRole { role_name, session_name } => {
                let role_id = principal_id("AROA", role_name);
                json!({
                    "type": "AssumedRole",
                    "principalId": format!("{role_id}:{session_name}"),
                    "arn": format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{session_name}"),
                    "accountId": ACCOUNT_ID,
                    "accessKeyId": self.access_key_id,
                    "sessionContext": {
                        "sessionIssuer": {
                            "type": "Role",
                            "principalId": role_id,
                            "arn": format!("arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"),
                            "accountId": ACCOUNT_ID,
                            "userName": role_name,
                        },
                        "attributes": {
                            "creationDate": iso8601(self.event_time - 300.0),
                            "mfaAuthenticated": "false",
                        },
                    },
                })
            }
            Identity::Root => json!({
                "type": "Root",
                "principalId": ACCOUNT_ID,
                "arn": format!("arn:aws:iam::{ACCOUNT_ID}:root"),
                "accountId": ACCOUNT_ID,
                "accessKeyId": self.access_key_id,
            }),
        }
    }

    /// The event as `LookupEvents` answers it.
    fn json(&self, region: &str) -> Value {
        let resources: Vec<Value> =
            self.resources.iter().map(|(t, n)| json!({ "ResourceType": t, "ResourceName": n })).collect();
        json!({
            "EventId": self.event_id,
            "EventName": self.event_name,
            "ReadOnly": self.read_only.to_string(),
            "AccessKeyId": self.access_key_id,
            "EventTime": self.event_time,
            "EventSource": self.event_source,
            "Username": self.username(),
            "Resources": resources,
            "CloudTrailEvent": self.record(region).to_string(),
        })
    }

    fn matches(&self, key: &str, value: &str) -> bool {
        match key {
            "EventId" => self.event_id == value,
            "EventName" => self.event_name == value,
            "ReadOnly" => self.read_only.to_string() == value,
            "Username" => self.username() == value,
            "ResourceType" => self.resources.iter().any(|(t, _)| t == value),
            "ResourceName" => self.resources.iter().any(|(_, n)| n == value),
            "EventSource" => self.event_source == value,
            "AccessKeyId" => self.access_key_id == value,
            _ => false,
        }
    }
}

/// FNV-1a, for stable ids.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// An IAM unique id: the prefix and 17 characters of `A-Z2-7`, stable per name.
fn principal_id(prefix: &str, name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h = fnv(name);
    let mut id = prefix.to_owned();
    for i in 0..17 {
        if i == 12 {
            h = fnv(&format!("{name}#"));
        }
        id.push(ALPHABET[(h % 32) as usize] as char);
        h /= 32;
    }
    id
}

// ---------------------------------------------------------------------------------------------
// State

#[derive(Debug)]
struct Fault {
    operation: &'static str,
    remaining: usize,
    error: AwsError,
}

#[derive(Debug)]
struct Inner {
    keys: Vec<String>,
    region: String,
    events: Vec<TrailEvent>,
    faults: Vec<Fault>,
    log: Vec<Logged>,
    page_size: Option<usize>,
    requests: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake. Dropping it stops nothing (the server dies with the test's runtime).
#[derive(Clone)]
pub struct FakeCloudTrail {
    url: String,
    state: Shared,
}

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeCloudTrail {
    /// Start the fake on a loopback port of the current runtime.
    pub async fn start() -> FakeCloudTrail {
        let state = Arc::new(Mutex::new(Inner {
            keys: vec![ACCESS_KEY_ID.to_owned()],
            region: REGION.to_owned(),
            events: Vec::new(),
            faults: Vec::new(),
            log: Vec::new(),
            page_size: None,
            requests: 0,
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let url = format!("http://{}", super::loopback::serve(app, "fake CloudTrail").await);
        FakeCloudTrail { url, state }
    }

    /// The endpoint URL to give the client (`endpoint_url`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.state)
    }

    /// Accept requests signed with this access key id too.
    pub fn accept_key(&self, access_key_id: &str) {
        self.lock().keys.push(access_key_id.to_owned());
    }

    /// Record an event (its `event_id` assigned when empty); returns it as stored.
    pub fn add_event(&self, mut event: TrailEvent) -> TrailEvent {
        let mut s = self.lock();
        if event.event_id.is_empty() {
            let n = s.events.len() as u64 + 1;
            event.event_id =
                format!("{:08x}-{:04x}-4{:03x}-8000-{n:012x}", fnv(&event.event_name) as u32, n & 0xffff, n & 0xfff);
        }
        s.events.push(event.clone());
        event
    }

    pub fn events(&self) -> Vec<TrailEvent> {
        self.lock().events.clone()
    }

    /// At most `n` events per page, whatever the client asks.
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = Some(n.max(1));
    }

    /// The next `times` requests to `operation` answer `status` with this error code (before
    /// authentication and validation). The code must be one the operation declares or a common one.
    pub fn fail_next(&self, operation_name: &str, times: usize, status: u16, code: &str) {
        let op = operation(operation_name).unwrap_or_else(|| panic!("the fake does not serve {operation_name}"));
        assert!(
            op.errors.contains(&code) || COMMON_ERRORS.contains(&code),
            "{operation_name} cannot answer {code}: not declared by the model nor common"
        );
        let message = match code {
            "ThrottlingException" => "Rate exceeded".to_owned(),
            "AccessDeniedException" => format!(
                "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/driftfix/session is not authorized to perform: \
                 cloudtrail:{operation_name} because no identity-based policy allows the cloudtrail:{operation_name} \
                 action"
            ),
            _ => format!("Injected {code}"),
        };
        let error = AwsError { status, code: code.to_owned(), message };
        self.lock().faults.push(Fault { operation: op.name, remaining: times, error });
    }

    pub fn log(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// The operation of every request, in order (`?target` for unexpected ones).
    pub fn calls(&self) -> Vec<String> {
        self.lock().log.iter().map(|l| l.operation.map_or_else(|| format!("?{}", l.target), str::to_owned)).collect()
    }

    /// Requests no operation serves.
    pub fn unexpected(&self) -> Vec<Logged> {
        self.lock().log.iter().filter(|l| !l.expected()).cloned().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Serving

impl Inner {
    fn take_fault(&mut self, operation: &str) -> Option<AwsError> {
        let f = self.faults.iter_mut().find(|f| f.operation == operation && f.remaining > 0)?;
        f.remaining -= 1;
        Some(f.error.clone())
    }

    fn serve(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (u16, Value) {
        self.requests += 1;
        let target = header(headers, "x-amz-target").unwrap_or_default().to_owned();
        let op = route(method, uri, headers, &target);
        let (result, injected) = match op {
            None => (Err(unknown_operation(&target)), false),
            Some(op) => match self.take_fault(op.name) {
                Some(e) => (Err(e), true),
                None => (self.answer(headers, body), false),
            },
        };
        let (status, response, error) = match result {
            Ok(v) => (200, v, None),
            Err(e) => (e.status, error_body(&e), Some(e.code)),
        };
        self.log.push(Logged {
            target,
            operation: op.map(|o| o.name),
            access_key: access_key(headers),
            status,
            request: serde_json::from_slice(body).ok(),
            response: response.clone(),
            error,
            injected,
            forwarded: false,
        });
        (status, response)
    }

    fn answer(&self, headers: &HeaderMap, body: &[u8]) -> Result<Value, AwsError> {
        aws_config::authenticate(headers, &self.keys, "cloudtrail", &self.region)?;
        let input = parse_body(body)?;
        let generic = aws_config::validate(LOOKUP_EVENTS_INPUT, &input);
        if let Err(e) = &generic
            && e.code == "SerializationException"
        {
            return Err(e.clone());
        }
        check_lookup(&input)?;
        generic?;
        self.lookup(&input)
    }

    fn lookup(&self, input: &Value) -> Result<Value, AwsError> {
        let attribute = input["LookupAttributes"].get(0);
        let key = attribute.and_then(|a| a["AttributeKey"].as_str());
        let value = attribute.and_then(|a| a["AttributeValue"].as_str()).unwrap_or_default();
        let (start, end) = (input["StartTime"].as_f64(), input["EndTime"].as_f64());
        let insights = input["EventCategory"] == "insight";
        let mut found: Vec<(usize, &TrailEvent)> = self
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| !insights && key.is_none_or(|k| e.matches(k, value)))
            .filter(|(_, e)| start.is_none_or(|t| e.event_time >= t) && end.is_none_or(|t| e.event_time <= t))
            .collect();
        // Newest first; of two at the same time, the one recorded later.
        found.sort_by(|(i, a), (j, b)| b.event_time.total_cmp(&a.event_time).then(j.cmp(i)));
        let fingerprint = fingerprint(input);
        let offset = match input["NextToken"].as_str() {
            None => 0,
            Some(t) => decode_token(t, &fingerprint).filter(|&n| n <= found.len()).ok_or_else(|| {
                error(
                    "InvalidNextTokenException",
                    "Invalid NextToken: it is not valid, or was issued for a request with other parameters.",
                )
            })?,
        };
        let asked = input["MaxResults"].as_u64().map_or(MAX_RESULTS, |n| n as usize);
        let size = self.page_size.map_or(asked, |p| p.min(asked));
        let end = (offset + size).min(found.len());
        let events: Vec<Value> = found[offset..end].iter().map(|(_, e)| e.json(&self.region)).collect();
        let mut out = json!({ "Events": events });
        if end < found.len() {
            out["NextToken"] = json!(encode_token(end, &fingerprint));
        }
        Ok(out)
    }
}

/// The checks CloudTrail answers with its own codes (see the module documentation).
pub fn check_lookup(input: &Value) -> Result<(), AwsError> {
    let invalid = |m: String| error("InvalidLookupAttributesException", m);
    let attributes = input["LookupAttributes"].as_array().cloned().unwrap_or_default();
    if attributes.len() > 1 {
        return Err(invalid(format!(
            "You can specify only one lookup attribute; the request has {}.",
            attributes.len()
        )));
    }
    if let Some(a) = attributes.first() {
        let key = a["AttributeKey"].as_str().unwrap_or_default();
        if !ATTRIBUTE_KEYS.contains(&key) {
            return Err(invalid(format!(
                "'{key}' is not a valid AttributeKey; valid keys: {}.",
                ATTRIBUTE_KEYS.join(", ")
            )));
        }
        let value = a["AttributeValue"].as_str().unwrap_or_default();
        let weight: usize = value.chars().map(|c| if matches!(c, '_' | ' ' | ',' | '\n') { 2 } else { 1 }).sum();
        if value.is_empty() || weight > 2000 {
            return Err(invalid(format!("The AttributeValue for {key} must have 1 to 2000 characters.")));
        }
        if key == "ReadOnly" && value != "true" && value != "false" {
            return Err(invalid(format!("The AttributeValue for ReadOnly must be true or false, not '{value}'.")));
        }
    }
    if let Some(n) = input.get("MaxResults").and_then(Value::as_i64).filter(|n| !(1..=50).contains(n)) {
        return Err(error("InvalidMaxResultsException", format!("MaxResults must be from 1 to 50, not {n}.")));
    }
    if let Some(c) = input["EventCategory"].as_str().filter(|c| *c != "insight") {
        return Err(error("InvalidEventCategoryException", format!("'{c}' is not a valid EventCategory.")));
    }
    if let (Some(start), Some(end)) = (input["StartTime"].as_f64(), input["EndTime"].as_f64())
        && start > end
    {
        return Err(error("InvalidTimeRangeException", "The StartTime must not be after the EndTime."));
    }
    Ok(())
}

/// What a `NextToken` is bound to: every parameter but the page's size and position.
fn fingerprint(input: &Value) -> String {
    let bound =
        json!([input["LookupAttributes"], input["StartTime"], input["EndTime"], input["EventCategory"]]).to_string();
    format!("{:016x}", fnv(&bound))
}

fn encode_token(offset: usize, fingerprint: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{fingerprint}:{offset}"))
}

fn decode_token(token: &str, fingerprint: &str) -> Option<usize> {
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(token).ok()?).ok()?;
    let (bound, offset) = text.split_once(':')?;
    (bound == fingerprint).then(|| offset.parse().ok())?
}

/// The operation a request is for: `POST /`, the JSON 1.1 content type, a served target.
fn route(method: &Method, uri: &Uri, headers: &HeaderMap, target: &str) -> Option<&'static Operation> {
    let json = header(headers, "content-type").is_some_and(|c| c.trim() == CONTENT_TYPE);
    if method != Method::POST || uri.path() != "/" || !json {
        return None;
    }
    let name = TARGET_PREFIXES.iter().find_map(|p| target.strip_prefix(p)?.strip_prefix('.'))?;
    operation(name)
}

fn unknown_operation(target: &str) -> AwsError {
    error("UnknownOperationException", format!("The fake CloudTrail serves no operation for target '{target}'."))
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let ((status, body), id) = {
        let mut s = lock(&state);
        let answer = s.serve(&method, &uri, &headers, &body);
        (answer, s.requests)
    };
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&format!("00000000-0000-4000-8000-{id:012x}")) {
        h.insert("x-amzn-requestid", v);
    }
    r
}
