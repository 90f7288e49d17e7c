//! A stateful fake AWS Config over real HTTP, for the compliance APIs that moto does not implement
//! (moto answers them with HTTP 500), so the real `aws-sdk-config` client runs in the tests: its
//! signing, its JSON 1.1 serialisation, its error parsing and its retries.
//!
//! The wire protocol is awsJson1_1, as botocore's model for `config` 2014-11-12 declares it
//! (`protocol: json`, `jsonVersion: 1.1`, `targetPrefix: StarlingDoveService`): every call is
//! `POST /` with `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target:
//! StarlingDoveService.<Operation>` and a JSON body; timestamps are epoch seconds as JSON numbers;
//! errors are HTTP 400 with `{"__type": "<Code>", "message": "..."}` (protocol-level codes come
//! namespaced, `com.amazon.coral.service#<Code>`, which clients must strip).
//!
//! - It keeps config rules, the current evaluation result per rule and resource, the evaluations
//!   started, and results queued for the next evaluation of a rule (optionally visible only after a
//!   few more requests, as real evaluations take time).
//! - Requests must look SigV4-signed (structure, service `config`, region, an accepted access key
//!   id); the signature itself is not computed.
//! - Bodies are checked against the operation's input shape ([`OPERATIONS`], which
//!   `tests/aws_config_fake.rs` holds against botocore's model): a wrong JSON type answers
//!   `SerializationException`, a missing required member or a broken constraint
//!   `ValidationException` in AWS's wording. Unknown members are rejected too (`ValidationException`);
//!   AWS may ignore them, but a client that sends one has a typo.
//! - Every exchange is logged; a request no operation serves answers `UnknownOperationException`
//!   and is kept in [`FakeAwsConfig::unexpected`]: tests assert it stays empty.
//! - Faults (status and error code) can be queued per operation for the next N requests.
//! - With [`FakeAwsConfig::forward_to`] it fronts moto (`tests/support/moto.rs`): what the fake
//!   does not serve (`GetResourceConfigHistory`, `BatchGetResourceConfig`, …), and
//!   `DescribeConfigRules` since moto then owns the rules, is proxied to moto verbatim and moto's
//!   answer returned, so one SDK client with one endpoint reaches both. Forwarded exchanges are
//!   logged ([`Logged::forwarded`]) and are not unexpected.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const TARGET_PREFIX: &str = "StarlingDoveService";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The access key id the fake accepts from the start (more with [`FakeAwsConfig::accept_key`]).
pub const ACCESS_KEY_ID: &str = "AKIAFAKEDRIFTFIX0001";
/// Any secret works (signatures are not computed); this one goes with [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "fakeSecretKeyForDriftfixTests0000000000";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "123456789012";
/// The namespace AWS's service framework puts on protocol-level error codes.
const CORAL: &str = "com.amazon.coral.service#";

// ---------------------------------------------------------------------------------------------
// The operations and input shapes the fake serves (checked against botocore's model)

/// A member's type, with the constraints botocore's model gives it (`min`/`max` are lengths for
/// strings and lists, values for integers; a `pattern` is not anchored, as in Smithy). A
/// `Timestamp` is epoch seconds, a JSON number (the `json` protocols' default format).
#[derive(Debug)]
pub enum Ty {
    String { min: Option<u64>, max: Option<u64>, pattern: Option<&'static str>, values: &'static [&'static str] },
    Integer { min: Option<i64>, max: Option<i64> },
    List { item: &'static Ty, min: Option<u64>, max: Option<u64> },
    Structure(&'static [Member]),
    Timestamp,
}

#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    pub required: bool,
    pub ty: &'static Ty,
}

/// An operation: its name (the `X-Amz-Target` suffix), input members, and the error codes it can
/// answer besides [`COMMON_ERRORS`].
#[derive(Debug)]
pub struct Operation {
    pub name: &'static str,
    pub input: &'static [Member],
    pub errors: &'static [&'static str],
}

pub const fn text(min: Option<u64>, max: Option<u64>, pattern: Option<&'static str>) -> Ty {
    Ty::String { min, max, pattern, values: &[] }
}

pub const fn one_of(values: &'static [&'static str]) -> Ty {
    Ty::String { min: None, max: None, pattern: None, values }
}

pub const fn list(item: &'static Ty, min: u64, max: u64) -> Ty {
    Ty::List { item, min: Some(min), max: Some(max) }
}

pub const fn opt(name: &'static str, ty: &'static Ty) -> Member {
    Member { name, required: false, ty }
}

pub const fn req(name: &'static str, ty: &'static Ty) -> Member {
    Member { name, required: true, ty }
}

pub const COMPLIANCE_TYPES: &[&str] = &["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA"];
const ANY_STRING: Ty = text(None, None, None);
const RULE_NAME: Ty = text(Some(1), Some(128), Some(r".*\S.*"));
const RULE_NAME_64: Ty = text(Some(1), Some(64), None);
const RULE_NAMES: Ty = list(&RULE_NAME, 0, 25);
const REEVALUATE_RULE_NAMES: Ty = list(&RULE_NAME, 1, 25);
const COMPLIANCE: Ty = one_of(COMPLIANCE_TYPES);
const COMPLIANCE_LIST: Ty = list(&COMPLIANCE, 0, 3);
const LIMIT: Ty = Ty::Integer { min: Some(0), max: Some(100) };
const RESOURCE_TYPE: Ty = text(Some(1), Some(256), None);
const RESOURCE_ID: Ty = text(Some(1), Some(768), None);
const RESOURCE_EVALUATION_ID: Ty = text(Some(1), Some(128), None);
const AGGREGATOR_NAME: Ty = text(Some(1), Some(256), Some(r"[\w\-]+"));
const ACCOUNT: Ty = text(None, None, Some(r"\d{12}"));
const AWS_REGION: Ty = text(Some(1), Some(64), None);
const EVALUATION_MODE: Ty = one_of(&["DETECTIVE", "PROACTIVE"]);
const VISIBILITY: Ty = one_of(&["EXTERNAL", "INTERNAL"]);
const RULE_FILTERS: Ty =
    Ty::Structure(&[opt("EvaluationMode", &EVALUATION_MODE), opt("RuleEvaluationVisibility", &VISIBILITY)]);

/// Every operation the fake serves.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "DescribeConfigRules",
        input: &[opt("ConfigRuleNames", &RULE_NAMES), opt("NextToken", &ANY_STRING), opt("Filters", &RULE_FILTERS)],
        errors: &["NoSuchConfigRuleException", "InvalidNextTokenException"],
    },
    Operation {
        name: "GetComplianceDetailsByConfigRule",
        input: &[
            req("ConfigRuleName", &RULE_NAME_64),
            opt("ComplianceTypes", &COMPLIANCE_LIST),
            opt("Limit", &LIMIT),
            opt("NextToken", &ANY_STRING),
        ],
        errors: &["NoSuchConfigRuleException", "InvalidNextTokenException", "InvalidParameterValueException"],
    },
    Operation {
        name: "GetComplianceDetailsByResource",
        input: &[
            opt("ResourceType", &RESOURCE_TYPE),
            opt("ResourceId", &RESOURCE_ID),
            opt("ComplianceTypes", &COMPLIANCE_LIST),
            opt("NextToken", &ANY_STRING),
            opt("ResourceEvaluationId", &RESOURCE_EVALUATION_ID),
        ],
        errors: &["InvalidParameterValueException"],
    },
    Operation {
        name: "StartConfigRulesEvaluation",
        input: &[opt("ConfigRuleNames", &REEVALUATE_RULE_NAMES)],
        errors: &["NoSuchConfigRuleException", "LimitExceededException", "InvalidParameterValueException"],
    },
    Operation {
        name: "DescribeComplianceByConfigRule",
        input: &[
            opt("ConfigRuleNames", &RULE_NAMES),
            opt("ComplianceTypes", &COMPLIANCE_LIST),
            opt("NextToken", &ANY_STRING),
        ],
        errors: &["NoSuchConfigRuleException", "InvalidNextTokenException"],
    },
    Operation {
        name: "GetAggregateComplianceDetailsByConfigRule",
        input: &[
            req("ConfigurationAggregatorName", &AGGREGATOR_NAME),
            req("ConfigRuleName", &RULE_NAME),
            req("AccountId", &ACCOUNT),
            req("AwsRegion", &AWS_REGION),
            opt("ComplianceType", &COMPLIANCE),
            opt("Limit", &LIMIT),
            opt("NextToken", &ANY_STRING),
        ],
        errors: &["NoSuchConfigurationAggregatorException", "InvalidNextTokenException"],
    },
];

/// Codes AWS can answer for any operation, declared or not: throttling, authentication and
/// signing failures, IAM denials, protocol-level (de)serialisation errors and server faults.
pub const COMMON_ERRORS: &[&str] = &[
    "ThrottlingException",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "AccessDeniedException",
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "InternalFailure",
    "ServiceUnavailable",
];

pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// Operations the fake does not serve but knows by name, for a forward target to answer (moto
/// implements them for S3 buckets): logged under their name, and faults can be queued for them
/// (the fake answers those itself). `input` is empty: the target checks the bodies.
pub const FORWARDED_OPERATIONS: &[Operation] = &[
    Operation {
        name: "GetResourceConfigHistory",
        input: &[],
        errors: &[
            "ValidationException",
            "InvalidTimeRangeException",
            "InvalidLimitException",
            "InvalidNextTokenException",
            "NoAvailableConfigurationRecorderException",
            "ResourceNotDiscoveredException",
        ],
    },
    Operation {
        name: "BatchGetResourceConfig",
        input: &[],
        errors: &["ValidationException", "NoAvailableConfigurationRecorderException"],
    },
    Operation {
        name: "ListDiscoveredResources",
        input: &[],
        errors: &[
            "ValidationException",
            "InvalidLimitException",
            "InvalidNextTokenException",
            "NoAvailableConfigurationRecorderException",
        ],
    },
];

/// Served by the fake, and proxied once a forward target is set (the target owns the rules then).
const OWNED_BY_TARGET: &[&str] = &["DescribeConfigRules"];

fn known_operation(name: &str) -> Option<&'static Operation> {
    operation(name).or_else(|| FORWARDED_OPERATIONS.iter().find(|o| o.name == name))
}

/// The patterns of the model the fake knows how to check (the spec test requires every pattern
/// of [`OPERATIONS`] to be one of these).
pub fn pattern_known(pattern: &str) -> bool {
    matches!(pattern, r".*\S.*" | r"\d{12}" | r"[\w\-]+")
}

/// Smithy patterns are not anchored: a match anywhere in the value is enough.
fn pattern_matches(pattern: &str, s: &str) -> bool {
    match pattern {
        r".*\S.*" => s.chars().any(|c| !c.is_whitespace()),
        r"\d{12}" => s.as_bytes().windows(12).any(|w| w.iter().all(u8::is_ascii_digit)),
        r"[\w\-]+" => s.chars().any(|c| c.is_alphanumeric() || c == '_' || c == '-'),
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------------
// State

/// A config rule as the fake keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRule {
    pub name: String,
    pub arn: String,
    pub id: String,
    /// `AWS` for managed rules.
    pub owner: String,
    /// The managed rule's identifier, e.g. `INCOMING_SSH_DISABLED`.
    pub source_identifier: String,
    /// The rule's parameters as a JSON *string*, as AWS returns them.
    pub input_parameters: Option<String>,
    /// Scope: the resource types the rule evaluates (empty: every type).
    pub resource_types: Vec<String>,
}

/// The current evaluation result of one rule for one resource. Times are epoch seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub rule: String,
    pub resource_type: String,
    pub resource_id: String,
    pub compliance: String,
    pub ordering: f64,
    pub invoked: f64,
    pub recorded: f64,
    pub annotation: Option<String>,
}

/// One exchange as the fake saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The `X-Amz-Target` header as sent.
    pub target: String,
    /// The operation served (`None`: unexpected).
    pub operation: Option<&'static str>,
    /// The access key id of the `Authorization` header, if one could be read.
    pub access_key: Option<String>,
    pub status: u16,
    pub request: Option<Value>,
    pub response: Value,
    /// The error code answered (without namespace), if any.
    pub error: Option<String>,
    /// Whether a queued fault answered it.
    pub injected: bool,
    /// Whether it was proxied to the forward target ([`FakeAwsConfig::forward_to`]); `status`,
    /// `response` and `error` are then the target's.
    pub forwarded: bool,
}

impl Logged {
    /// Served by the fake, or forwarded.
    pub fn expected(&self) -> bool {
        self.operation.is_some() || self.forwarded
    }
}

/// An AWS error answer.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// An HTTP 400 error answer.
pub fn error(code: &str, message: impl Into<String>) -> AwsError {
    AwsError { status: 400, code: code.to_owned(), message: message.into() }
}

#[derive(Debug)]
struct Fault {
    operation: &'static str,
    remaining: usize,
    error: AwsError,
}

/// An evaluation started and not yet visible: the results it will record, and how many more
/// requests see the old ones.
#[derive(Debug)]
struct InFlight {
    rules: Vec<String>,
    results: Vec<Evaluation>,
    invoked: f64,
    remaining: usize,
}

#[derive(Debug)]
struct Inner {
    keys: Vec<String>,
    region: String,
    rules: Vec<ConfigRule>,
    evaluations: Vec<Evaluation>,
    next_results: Vec<Evaluation>,
    in_flight: Vec<InFlight>,
    starts: Vec<Vec<String>>,
    aggregators: Vec<String>,
    faults: Vec<Fault>,
    log: Vec<Logged>,
    page_size: Option<usize>,
    lag: usize,
    delay: Duration,
    now: Option<f64>,
    requests: u64,
    forward: Option<String>,
    repair_timestamps: bool,
    /// `GetResourceConfigHistory` answers the fake gives itself, by (resource type, resource id).
    histories: Vec<((String, String), Vec<Value>)>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake. Dropping it stops nothing (the server dies with the test's runtime).
#[derive(Clone)]
pub struct FakeAwsConfig {
    url: String,
    state: Shared,
}

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Epoch seconds with millisecond precision (what AWS sends).
fn clock() -> f64 {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    ms as f64 / 1000.0
}

/// A stable short hex id from a name (FNV-1a), for rule ids and ARNs.
fn short_id(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{:06x}", hash & 0xff_ffff)
}

impl FakeAwsConfig {
    /// Start the fake on a loopback port of the current runtime.
    pub async fn start() -> FakeAwsConfig {
        let state = Arc::new(Mutex::new(Inner {
            keys: vec![ACCESS_KEY_ID.to_owned()],
            region: REGION.to_owned(),
            rules: Vec::new(),
            evaluations: Vec::new(),
            next_results: Vec::new(),
            in_flight: Vec::new(),
            starts: Vec::new(),
            aggregators: Vec::new(),
            faults: Vec::new(),
            log: Vec::new(),
            page_size: None,
            lag: 0,
            delay: Duration::ZERO,
            now: None,
            requests: 0,
            forward: None,
            repair_timestamps: false,
            histories: Vec::new(),
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let url = format!("http://{}", super::loopback::serve(app, "fake AWS Config").await);
        FakeAwsConfig { url, state }
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

    /// Stop accepting this access key id (its requests answer `UnrecognizedClientException`).
    pub fn revoke_key(&self, access_key_id: &str) {
        self.lock().keys.retain(|k| k != access_key_id);
    }

    /// The region the credential scope must name (default [`REGION`]).
    pub fn set_region(&self, region: &str) {
        self.lock().region = region.to_owned();
    }

    /// Add (or replace) an AWS managed rule. `input_parameters` is the parameters object (`Null`:
    /// none); `resource_types` its scope.
    pub fn add_rule(
        &self,
        name: &str,
        source_identifier: &str,
        input_parameters: &Value,
        resource_types: &[&str],
    ) -> ConfigRule {
        let id = format!("config-rule-{}", short_id(name));
        let mut s = self.lock();
        let rule = ConfigRule {
            name: name.to_owned(),
            arn: format!("arn:aws:config:{}:{ACCOUNT_ID}:config-rule/{id}", s.region),
            id,
            owner: "AWS".to_owned(),
            source_identifier: source_identifier.to_owned(),
            input_parameters: (!input_parameters.is_null()).then(|| input_parameters.to_string()),
            resource_types: resource_types.iter().map(|t| (*t).to_owned()).collect(),
        };
        s.rules.retain(|r| r.name != name);
        s.rules.push(rule.clone());
        rule
    }

    /// Delete a rule and its results (later requests naming it answer `NoSuchConfigRuleException`).
    pub fn delete_rule(&self, name: &str) {
        let mut s = self.lock();
        s.rules.retain(|r| r.name != name);
        s.evaluations.retain(|e| e.rule != name);
        s.next_results.retain(|e| e.rule != name);
    }

    pub fn rules(&self) -> Vec<ConfigRule> {
        self.lock().rules.clone()
    }

    /// Declare a configuration aggregator (it sees this account and region).
    pub fn add_aggregator(&self, name: &str) {
        self.lock().aggregators.push(name.to_owned());
    }

    /// Record a result now, as if the rule had just evaluated the resource.
    pub fn set_compliance(&self, rule: &str, resource_type: &str, resource_id: &str, compliance: &str) {
        let mut s = self.lock();
        let e = s.result(rule, resource_type, resource_id, compliance);
        s.upsert(e);
    }

    /// Record a result exactly as given (times, annotation).
    pub fn set_evaluation(&self, evaluation: Evaluation) {
        assert!(
            COMPLIANCE_TYPES.contains(&evaluation.compliance.as_str()),
            "compliance type {}",
            evaluation.compliance
        );
        self.lock().upsert(evaluation);
    }

    /// What the next `StartConfigRulesEvaluation` naming `rule` records for this resource.
    pub fn set_compliance_on_next_evaluation(
        &self,
        rule: &str,
        resource_type: &str,
        resource_id: &str,
        compliance: &str,
    ) {
        let mut s = self.lock();
        let e = s.result(rule, resource_type, resource_id, compliance);
        s.next_results.retain(|n| !n.same_key(&e));
        s.next_results.push(e);
    }

    /// The resource is gone: Config drops its results.
    pub fn delete_resource(&self, resource_type: &str, resource_id: &str) {
        let mut s = self.lock();
        s.evaluations.retain(|e| !(e.resource_type == resource_type && e.resource_id == resource_id));
    }

    pub fn evaluation(&self, rule: &str, resource_type: &str, resource_id: &str) -> Option<Evaluation> {
        let s = self.lock();
        s.evaluations
            .iter()
            .find(|e| e.rule == rule && e.resource_type == resource_type && e.resource_id == resource_id)
            .cloned()
    }

    pub fn evaluations(&self) -> Vec<Evaluation> {
        self.lock().evaluations.clone()
    }

    /// The rule names of every accepted `StartConfigRulesEvaluation`, in order.
    pub fn evaluations_started(&self) -> Vec<Vec<String>> {
        self.lock().starts.clone()
    }

    /// An evaluation's results become visible only after `requests` more requests (of any
    /// operation); until then a new start for its rules answers `LimitExceededException`.
    pub fn set_evaluation_lag(&self, requests: usize) {
        self.lock().lag = requests;
    }

    /// Finish every evaluation in flight now.
    pub fn complete_evaluations(&self) {
        let mut s = self.lock();
        let done: Vec<InFlight> = s.in_flight.drain(..).collect();
        done.into_iter().for_each(|f| s.complete(f));
    }

    /// At most `n` items per page, whatever the client asks.
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = Some(n.max(1));
    }

    /// Wait this long before answering each request.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Pin the clock (epoch seconds) used for the times the fake records.
    pub fn set_now(&self, epoch_seconds: f64) {
        self.lock().now = Some(epoch_seconds);
    }

    /// The next `times` requests to `operation` answer `status` with this error code (before
    /// authentication and validation). The code must be one the operation can answer:
    /// declared for it or in [`COMMON_ERRORS`].
    ///
    /// Forwarded operations ([`FORWARDED_OPERATIONS`]) can fail too; the fake answers the fault
    /// itself.
    pub fn fail_next(&self, operation_name: &str, times: usize, status: u16, code: &str) {
        let op = known_operation(operation_name)
            .unwrap_or_else(|| panic!("the fake neither serves nor forwards {operation_name}"));
        assert!(
            op.errors.contains(&code) || COMMON_ERRORS.contains(&code),
            "{operation_name} cannot answer {code}: not declared by the model nor common"
        );
        let error = AwsError { status, code: code.to_owned(), message: fault_message(code, op.name) };
        self.lock().faults.push(Fault { operation: op.name, remaining: times, error });
    }

    pub fn log(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// The operation of every request, in order (`?target` for unexpected ones).
    pub fn calls(&self) -> Vec<String> {
        self.lock().log.iter().map(|l| l.operation.map_or_else(|| format!("?{}", l.target), str::to_owned)).collect()
    }

    /// Front `url` (moto): requests the fake does not serve, and [`OWNED_BY_TARGET`]'s
    /// (`DescribeConfigRules`), are sent there verbatim — method, path and query, headers
    /// (`X-Amz-Target`, `Authorization`, …; not the hop-by-hop ones), body — and its answer is
    /// returned as it came (status, headers, body). Rules the fake's compliance operations name
    /// must still be added to the fake ([`FakeAwsConfig::add_rule`]) as well as to the target.
    pub fn forward_to(&self, url: &str) {
        self.lock().forward = Some(url.trim_end_matches('/').to_owned());
    }

    /// A repair for a moto bug, off by default: moto 5.2.5 writes a resource item's
    /// `configurationItemCaptureTime` and `resourceCreationTime` as Python's `str(datetime)`
    /// (`"2026-11-23 09:16:58.867092+00:00"`) where the `json` protocol wants epoch seconds, and the
    /// Rust SDK then fails to read the whole answer. With this on, those two members of forwarded
    /// answers become epoch-seconds numbers (the log shows the repaired answer); nothing else
    /// changes.
    pub fn repair_moto_timestamps(&self) {
        self.lock().repair_timestamps = true;
    }

    /// Answer `GetResourceConfigHistory` for this resource with these configuration items, newest
    /// first, instead of forwarding it: for histories moto cannot record, such as an item with
    /// status `ResourceDeleted`. Build items with [`configuration_item`].
    pub fn set_history(&self, resource_type: &str, resource_id: &str, items: Vec<Value>) {
        let mut s = self.lock();
        let key = (resource_type.to_owned(), resource_id.to_owned());
        s.histories.retain(|(k, _)| *k != key);
        s.histories.push((key, items));
    }

    /// Requests no operation serves (nor the forward target).
    pub fn unexpected(&self) -> Vec<Logged> {
        self.lock().log.iter().filter(|l| !l.expected()).cloned().collect()
    }
}

/// The message AWS gives with an injected error code.
fn fault_message(code: &str, operation: &str) -> String {
    match code {
        "ThrottlingException" => "Rate exceeded".to_owned(),
        "ExpiredTokenException" => "The security token included in the request is expired".to_owned(),
        "UnrecognizedClientException" => "The security token included in the request is invalid.".to_owned(),
        "AccessDeniedException" => format!(
            "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/driftfix/session is not authorized to perform: \
             config:{operation} because no identity-based policy allows the config:{operation} action"
        ),
        "InternalFailure" => "An internal error occurred.".to_owned(),
        "ServiceUnavailable" => "Service is unavailable.".to_owned(),
        _ => format!("Injected {code}"),
    }
}

impl Evaluation {
    fn same_key(&self, other: &Evaluation) -> bool {
        self.rule == other.rule && self.resource_type == other.resource_type && self.resource_id == other.resource_id
    }

    fn json(&self) -> Value {
        let mut v = json!({
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": self.rule,
                    "ResourceType": self.resource_type,
                    "ResourceId": self.resource_id,
                    "EvaluationMode": "DETECTIVE",
                },
                "OrderingTimestamp": self.ordering,
            },
            "ComplianceType": self.compliance,
            "ResultRecordedTime": self.recorded,
            "ConfigRuleInvokedTime": self.invoked,
        });
        if let Some(a) = &self.annotation {
            v["Annotation"] = json!(a);
        }
        v
    }
}

impl ConfigRule {
    fn json(&self) -> Value {
        let mut v = json!({
            "ConfigRuleName": self.name,
            "ConfigRuleArn": self.arn,
            "ConfigRuleId": self.id,
            "Source": { "Owner": self.owner, "SourceIdentifier": self.source_identifier },
            "InputParameters": self.input_parameters.as_deref().unwrap_or("{}"),
            "ConfigRuleState": "ACTIVE",
            "EvaluationModes": [{ "Mode": "DETECTIVE" }],
        });
        if !self.resource_types.is_empty() {
            v["Scope"] = json!({ "ComplianceResourceTypes": self.resource_types });
        }
        v
    }
}

impl Inner {
    fn now(&self) -> f64 {
        self.now.unwrap_or_else(clock)
    }

    /// A result recorded now (test hooks; panics on misuse, which is the test's bug).
    fn result(&self, rule: &str, resource_type: &str, resource_id: &str, compliance: &str) -> Evaluation {
        assert!(COMPLIANCE_TYPES.contains(&compliance), "compliance type {compliance}");
        assert!(self.rules.iter().any(|r| r.name == rule), "no rule {rule}: add_rule first");
        let now = self.now();
        Evaluation {
            rule: rule.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_owned(),
            compliance: compliance.to_owned(),
            ordering: now,
            invoked: now,
            recorded: now,
            annotation: None,
        }
    }

    fn upsert(&mut self, e: Evaluation) {
        match self.evaluations.iter_mut().find(|x| x.same_key(&e)) {
            Some(x) => *x = e,
            None => self.evaluations.push(e),
        }
    }

    /// A finished evaluation: its new results replace the old ones; the rule's other results are
    /// re-confirmed (new invoked and recorded times, same compliance).
    fn complete(&mut self, done: InFlight) {
        let now = self.now();
        for e in self.evaluations.iter_mut().filter(|e| done.rules.contains(&e.rule)) {
            e.invoked = done.invoked;
            e.recorded = now;
        }
        for mut e in done.results {
            (e.ordering, e.invoked, e.recorded) = (done.invoked, done.invoked, now);
            self.upsert(e);
        }
    }

    /// Each request moves evaluations in flight one step closer to done.
    fn tick(&mut self) {
        let (done, waiting): (Vec<InFlight>, Vec<InFlight>) = self.in_flight.drain(..).partition(|f| f.remaining == 0);
        self.in_flight = waiting;
        self.in_flight.iter_mut().for_each(|f| f.remaining -= 1);
        done.into_iter().for_each(|f| self.complete(f));
    }

    fn take_fault(&mut self, operation: &str) -> Option<AwsError> {
        let f = self.faults.iter_mut().find(|f| f.operation == operation && f.remaining > 0)?;
        f.remaining -= 1;
        Some(f.error.clone())
    }

    /// The answer, or where to forward the request to.
    fn serve(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Served {
        self.requests += 1;
        self.tick();
        let target = header(headers, "x-amz-target").unwrap_or_default().to_owned();
        if let Some(answer) = self.canned_history(&target, headers, body) {
            return answer;
        }
        let op = route(method, uri, headers, &target);
        if let Some(to) = self.forward.clone() {
            let forwarded = op.is_none_or(|o| OWNED_BY_TARGET.contains(&o.name));
            if forwarded {
                let name = target.strip_prefix(TARGET_PREFIX).and_then(|t| t.strip_prefix('.'));
                let known = name.and_then(known_operation);
                return match known.and_then(|o| self.take_fault(o.name)) {
                    Some(e) => {
                        let response = error_body(&e);
                        self.log.push(Logged {
                            target,
                            operation: known.map(|o| o.name),
                            access_key: access_key(headers),
                            status: e.status,
                            request: serde_json::from_slice(body).ok(),
                            response: response.clone(),
                            error: Some(e.code),
                            injected: true,
                            forwarded: false,
                        });
                        Served::Answer(e.status, response)
                    }
                    None => Served::Forward { to, operation: known.map(|o| o.name), repair: self.repair_timestamps },
                };
            }
        }
        let (result, injected) = match op {
            None => (Err(unknown_operation(&target)), false),
            Some(op) => match self.take_fault(op.name) {
                Some(e) => (Err(e), true),
                None => (self.answer(op, headers, body), false),
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
        Served::Answer(status, response)
    }

    /// A [`FakeAwsConfig::set_history`] answer, when the request asks for that resource's history.
    fn canned_history(&mut self, target: &str, headers: &HeaderMap, body: &[u8]) -> Option<Served> {
        let name = target.strip_prefix(TARGET_PREFIX)?.strip_prefix('.')?;
        if name != "GetResourceConfigHistory" {
            return None;
        }
        let request: Value = serde_json::from_slice(body).ok()?;
        let key = (request["resourceType"].as_str()?.to_owned(), request["resourceId"].as_str()?.to_owned());
        let items = self.histories.iter().find(|(k, _)| *k == key)?.1.clone();
        let limit = request["limit"].as_u64().map_or(items.len(), |l| l as usize);
        let (status, response, error) = match self.authenticate(headers) {
            Ok(()) => (200, json!({ "configurationItems": items.into_iter().take(limit).collect::<Vec<_>>() }), None),
            Err(e) => (e.status, error_body(&e), Some(e.code)),
        };
        self.log.push(Logged {
            target: target.to_owned(),
            operation: known_operation(name).map(|o| o.name),
            access_key: access_key(headers),
            status,
            request: Some(request),
            response: response.clone(),
            error,
            injected: false,
            forwarded: false,
        });
        Some(Served::Answer(status, response))
    }

    fn answer(&mut self, op: &Operation, headers: &HeaderMap, body: &[u8]) -> Result<Value, AwsError> {
        self.authenticate(headers)?;
        let input = parse_body(body)?;
        validate(op.input, &input)?;
        match op.name {
            "DescribeConfigRules" => self.describe_config_rules(&input),
            "GetComplianceDetailsByConfigRule" => self.compliance_by_rule(&input),
            "GetComplianceDetailsByResource" => self.compliance_by_resource(&input),
            "StartConfigRulesEvaluation" => self.start_evaluation(&input),
            "DescribeComplianceByConfigRule" => self.describe_compliance(&input),
            "GetAggregateComplianceDetailsByConfigRule" => self.aggregate_compliance(&input),
            other => Err(unknown_operation(other)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // SigV4, in form

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), AwsError> {
        authenticate(headers, &self.keys, "config", &self.region)
    }

    // -----------------------------------------------------------------------------------------
    // Operations

    fn rule(&self, name: &str) -> Result<&ConfigRule, AwsError> {
        self.rules.iter().find(|r| r.name == name).ok_or_else(|| {
            error(
                "NoSuchConfigRuleException",
                format!(
                    "The ConfigRule '{name}' provided in the request is invalid. Please check the configRule name."
                ),
            )
        })
    }

    /// The named rules (each must exist), or every rule when none is named.
    fn named_rules(&self, input: &Value) -> Result<Vec<ConfigRule>, AwsError> {
        let names = strings(&input["ConfigRuleNames"]);
        if names.is_empty() {
            return Ok(self.rules.clone());
        }
        names.iter().map(|n| self.rule(n).cloned()).collect()
    }

    /// One page of `items`: `Limit` (0 or absent: `default`) capped by the fake's page size,
    /// resuming at the offset `NextToken` encodes for this operation.
    fn page<T>(
        &self,
        op: &str,
        items: Vec<T>,
        input: &Value,
        default: usize,
        bad_token: &str,
    ) -> Result<(Vec<T>, Option<String>), AwsError> {
        let start = match input["NextToken"].as_str().filter(|t| !t.is_empty()) {
            None => 0,
            Some(t) => decode_token(op, t)
                .filter(|&n| n <= items.len())
                .ok_or_else(|| error(bad_token, "The nextToken provided is invalid"))?,
        };
        let limit = input["Limit"].as_u64().filter(|&n| n > 0).map_or(default, |n| n as usize);
        let size = self.page_size.map_or(limit, |p| p.min(limit));
        let end = (start + size).min(items.len());
        let next = (end < items.len()).then(|| encode_token(op, end));
        Ok((items.into_iter().skip(start).take(end - start).collect(), next))
    }

    fn describe_config_rules(&self, input: &Value) -> Result<Value, AwsError> {
        let mut rules = self.named_rules(input)?;
        if input["Filters"]["EvaluationMode"].as_str().is_some_and(|m| m != "DETECTIVE") {
            rules.clear();
        }
        let (page, next) = self.page("DescribeConfigRules", rules, input, 25, "InvalidNextTokenException")?;
        Ok(with_token(json!({ "ConfigRules": page.iter().map(ConfigRule::json).collect::<Vec<_>>() }), next))
    }

    fn compliance_by_rule(&self, input: &Value) -> Result<Value, AwsError> {
        let rule = self.rule(input["ConfigRuleName"].as_str().unwrap_or_default())?.name.clone();
        let types = compliance_filter(&input["ComplianceTypes"])?;
        let results: Vec<Value> = self
            .evaluations
            .iter()
            .filter(|e| e.rule == rule && (types.is_empty() || types.contains(&e.compliance)))
            .map(Evaluation::json)
            .collect();
        let op = "GetComplianceDetailsByConfigRule";
        let (page, next) = self.page(op, results, input, 10, "InvalidNextTokenException")?;
        Ok(with_token(json!({ "EvaluationResults": page }), next))
    }

    fn compliance_by_resource(&self, input: &Value) -> Result<Value, AwsError> {
        let (kind, id) = (input["ResourceType"].as_str(), input["ResourceId"].as_str());
        let by_evaluation_id = input["ResourceEvaluationId"].is_string();
        let either = matches!((by_evaluation_id, kind, id), (true, None, None) | (false, Some(_), Some(_)));
        if !either {
            return Err(error(
                "InvalidParameterValueException",
                "Specify either a ResourceEvaluationId, or both a ResourceType and a ResourceId.",
            ));
        }
        let types = compliance_filter(&input["ComplianceTypes"])?;
        let results: Vec<Value> = self
            .evaluations
            .iter()
            .filter(|e| Some(e.resource_type.as_str()) == kind && Some(e.resource_id.as_str()) == id)
            .filter(|e| types.is_empty() || types.contains(&e.compliance))
            .map(Evaluation::json)
            .collect();
        let op = "GetComplianceDetailsByResource";
        let (page, next) = self.page(op, results, input, 100, "InvalidParameterValueException")?;
        Ok(with_token(json!({ "EvaluationResults": page }), next))
    }

    fn start_evaluation(&mut self, input: &Value) -> Result<Value, AwsError> {
        let names = strings(&input["ConfigRuleNames"]);
        if names.is_empty() {
            return Err(error("InvalidParameterValueException", "ConfigRuleNames must name at least one rule."));
        }
        for n in &names {
            self.rule(n)?;
        }
        if let Some(busy) = names.iter().find(|n| self.in_flight.iter().any(|f| f.rules.contains(n))) {
            return Err(error(
                "LimitExceededException",
                format!("An evaluation of the rule '{busy}' is in progress. Try again when it has finished."),
            ));
        }
        let (results, kept) = self.next_results.drain(..).partition(|e| names.contains(&e.rule));
        self.next_results = kept;
        self.starts.push(names.clone());
        let flight = InFlight { rules: names, results, invoked: self.now(), remaining: self.lag };
        if flight.remaining == 0 {
            self.complete(flight);
        } else {
            self.in_flight.push(flight);
        }
        Ok(json!({}))
    }

    fn describe_compliance(&self, input: &Value) -> Result<Value, AwsError> {
        let rules = self.named_rules(input)?;
        let types = strings(&input["ComplianceTypes"]);
        let summaries: Vec<Value> = rules
            .iter()
            .map(|r| self.rule_compliance(&r.name))
            .filter(|c| types.is_empty() || types.iter().any(|t| c["Compliance"]["ComplianceType"] == t.as_str()))
            .collect();
        let op = "DescribeComplianceByConfigRule";
        let (page, next) = self.page(op, summaries, input, 25, "InvalidNextTokenException")?;
        Ok(with_token(json!({ "ComplianceByConfigRules": page }), next))
    }

    /// A rule is NON_COMPLIANT if any resource is (with the count, capped at 100), COMPLIANT if
    /// some resource is and none is not, and INSUFFICIENT_DATA otherwise.
    fn rule_compliance(&self, rule: &str) -> Value {
        let of = |t: &str| self.evaluations.iter().filter(|e| e.rule == rule && e.compliance == t).count();
        let compliance = match (of("NON_COMPLIANT"), of("COMPLIANT")) {
            (0, 0) => json!({ "ComplianceType": "INSUFFICIENT_DATA" }),
            (0, _) => json!({ "ComplianceType": "COMPLIANT" }),
            (n, _) => json!({ "ComplianceType": "NON_COMPLIANT",
                "ComplianceContributorCount": { "CappedCount": n.min(100), "CapExceeded": n > 100 } }),
        };
        json!({ "ConfigRuleName": rule, "Compliance": compliance })
    }

    fn aggregate_compliance(&self, input: &Value) -> Result<Value, AwsError> {
        let aggregator = input["ConfigurationAggregatorName"].as_str().unwrap_or_default();
        if !self.aggregators.iter().any(|a| a == aggregator) {
            return Err(error(
                "NoSuchConfigurationAggregatorException",
                "The configuration aggregator does not exist. Check the configuration aggregator name and try again.",
            ));
        }
        let wanted = input["ComplianceType"].as_str();
        if wanted.is_some_and(|t| t != "COMPLIANT" && t != "NON_COMPLIANT") {
            return Err(error("ValidationException", "ComplianceType must be COMPLIANT or NON_COMPLIANT."));
        }
        let here = input["AccountId"] == ACCOUNT_ID && input["AwsRegion"] == self.region.as_str();
        let rule = input["ConfigRuleName"].as_str().unwrap_or_default();
        let results: Vec<Value> = self
            .evaluations
            .iter()
            .filter(|e| here && e.rule == rule && wanted.is_none_or(|t| e.compliance == t))
            .map(|e| self.aggregate_json(e))
            .collect();
        let op = "GetAggregateComplianceDetailsByConfigRule";
        let (page, next) = self.page(op, results, input, 50, "InvalidNextTokenException")?;
        Ok(with_token(json!({ "AggregateEvaluationResults": page }), next))
    }

    fn aggregate_json(&self, e: &Evaluation) -> Value {
        let mut v = e.json();
        v["AccountId"] = json!(ACCOUNT_ID);
        v["AwsRegion"] = json!(self.region);
        v
    }
}

/// The compliance types a details request filters by; `INSUFFICIENT_DATA` cannot be one.
fn compliance_filter(value: &Value) -> Result<Vec<String>, AwsError> {
    let types = strings(value);
    if types.iter().any(|t| t == "INSUFFICIENT_DATA") {
        return Err(error("InvalidParameterValueException", "INSUFFICIENT_DATA cannot be used to filter results."));
    }
    Ok(types)
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

fn with_token(mut out: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        out["NextToken"] = json!(t);
    }
    out
}

/// The `NextToken` the fake hands out for `offset` in `op`'s results (opaque to clients).
/// A configuration item in the `json` protocol's shape (`ConfigurationItem`), captured at
/// `captured_at` (epoch seconds). `status` is `OK`, `ResourceDiscovered`, `ResourceDeleted`, …; a
/// deleted resource has no configuration.
pub fn configuration_item(resource_type: &str, resource_id: &str, status: &str, captured_at: f64) -> Value {
    let mut item = json!({
        "version": "1.3",
        "accountId": ACCOUNT_ID,
        "configurationItemCaptureTime": captured_at,
        "configurationItemStatus": status,
        "configurationStateId": format!("{}", (captured_at * 1000.0) as u64),
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": resource_id,
        "awsRegion": REGION,
        "tags": {},
        "relatedEvents": [],
        "relationships": [],
        "supplementaryConfiguration": {}
    });
    if !status.starts_with("ResourceDeleted") {
        item["configuration"] = json!("{}");
    }
    item
}

pub fn encode_token(op: &str, offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{op}:{offset}"))
}

fn decode_token(op: &str, token: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (for_op, offset) = text.split_once(':')?;
    if for_op != op {
        return None;
    }
    offset.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// HTTP

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The operation a request is for: `POST /`, the JSON 1.1 content type, a served target.
fn route(method: &Method, uri: &Uri, headers: &HeaderMap, target: &str) -> Option<&'static Operation> {
    let json = header(headers, "content-type").is_some_and(|c| c.trim() == CONTENT_TYPE);
    if method != Method::POST || uri.path() != "/" || !json {
        return None;
    }
    operation(target.strip_prefix(TARGET_PREFIX)?.strip_prefix('.')?)
}

fn unknown_operation(target: &str) -> AwsError {
    error("UnknownOperationException", format!("The fake AWS Config serves no operation for target '{target}'."))
}

/// AWS's error body; protocol-level codes carry the framework's namespace.
pub fn error_body(e: &AwsError) -> Value {
    let namespaced = matches!(e.code.as_str(), "UnknownOperationException" | "SerializationException");
    let code = if namespaced { format!("{CORAL}{}", e.code) } else { e.code.clone() };
    json!({ "__type": code, "message": e.message })
}

/// An empty body reads as `{}`; anything but a JSON object is a serialisation error.
pub fn parse_body(body: &[u8]) -> Result<Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(error("SerializationException", "Start of structure or map found where not expected.")),
        Err(e) => Err(error("SerializationException", format!("Malformed JSON body: {e}"))),
    }
}

pub fn access_key(headers: &HeaderMap) -> Option<String> {
    SigV4::parse(header(headers, "authorization")?).map(|a| a.key_id.to_owned())
}

/// What the fake does with a request.
enum Served {
    Answer(u16, Value),
    /// Proxy it to `to` (logged under `operation` when known by name).
    Forward {
        to: String,
        operation: Option<&'static str>,
        repair: bool,
    },
}

async fn handle(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (served, delay, id) = {
        let mut s = lock(&state);
        let served = s.serve(&method, &uri, &headers, &body);
        (served, s.delay, s.requests)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (status, body) = match served {
        Served::Answer(status, body) => (status, body),
        Served::Forward { to, operation, repair } => {
            let answer = forward(&to, &method, &uri, &headers, body.clone(), repair).await;
            let logged = Logged {
                target: header(&headers, "x-amz-target").unwrap_or_default().to_owned(),
                operation,
                access_key: access_key(&headers),
                status: answer.status,
                request: serde_json::from_slice(&body).ok(),
                response: answer.json(),
                error: answer.error_code(),
                injected: false,
                forwarded: true,
            };
            lock(&state).log.push(logged);
            return answer.into_response();
        }
    };
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&format!("00000000-0000-4000-8000-{id:012x}")) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Forwarding

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1), and the ones the
/// HTTP client sets itself.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The forward target's answer.
struct Forwarded {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Forwarded {
    /// The body as JSON when it is JSON, else as a string.
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&self.body)))
    }

    /// The error code of a failed answer: `__type` (without namespace), else `X-Amzn-ErrorType`.
    fn error_code(&self) -> Option<String> {
        if self.status < 300 {
            return None;
        }
        let typed = self.json()["__type"].as_str().map(str::to_owned);
        let code = typed.or_else(|| header(&self.headers, "x-amzn-errortype").map(str::to_owned))?;
        let code = code.split(':').next().unwrap_or_default();
        Some(code.rsplit('#').next().unwrap_or_default().to_owned())
    }

    fn into_response(self) -> Response {
        let mut r = (StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_GATEWAY), self.body).into_response();
        let h = r.headers_mut();
        for (name, value) in &self.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                h.append(name.clone(), value.clone());
            }
        }
        r
    }
}

/// Send the request on to `to` as it came; an unreachable target answers 502 `InternalFailure`.
async fn forward(to: &str, method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes, repair: bool) -> Forwarded {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = reqwest::Client::new().request(method.clone(), format!("{to}{path}")).body(body);
    for (name, value) in headers.iter().filter(|(n, _)| !HOP_BY_HOP.contains(&n.as_str())) {
        request = request.header(name, value);
    }
    let answer = match request.send().await {
        Ok(r) => {
            let (status, headers) = (r.status().as_u16(), r.headers().clone());
            match r.bytes().await {
                Ok(body) => Forwarded { status, headers, body },
                Err(e) => unreachable_target(to, &e),
            }
        }
        Err(e) => unreachable_target(to, &e),
    };
    if repair && answer.status == 200 { repair_timestamps(answer) } else { answer }
}

fn unreachable_target(to: &str, e: &reqwest::Error) -> Forwarded {
    let body = error_body(&error("InternalFailure", format!("the forward target {to} did not answer: {e}")));
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    Forwarded { status: 502, headers, body: Bytes::from(body.to_string()) }
}

/// The members moto 5.2.5 writes as `str(datetime)` in resource items.
const MOTO_STRING_TIMESTAMPS: &[&str] = &["configurationItemCaptureTime", "resourceCreationTime"];

fn repair_timestamps(mut answer: Forwarded) -> Forwarded {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let epoch =
                        v.as_str().filter(|_| MOTO_STRING_TIMESTAMPS.contains(&k.as_str())).and_then(parse_datetime);
                    match epoch {
                        Some(t) => *v = json!(t),
                        None => walk(v),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Ok(mut v) = serde_json::from_slice::<Value>(&answer.body) {
        walk(&mut v);
        answer.body = Bytes::from(v.to_string());
    }
    answer
}

// ---------------------------------------------------------------------------------------------
// Dates (UTC, proleptic Gregorian calendar)

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, as CloudTrail records have it).
pub fn iso8601(epoch_seconds: f64) -> String {
    let secs = epoch_seconds.floor() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Epoch seconds of `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM]` (no offset: UTC).
pub fn parse_datetime(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 19 || !matches!(b[10], b'T' | b' ') || separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut fraction = 0.0;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        fraction = format!("0.{}", &f[..digits]).parse().ok()?;
        rest = &f[digits..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let whole = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(whole as f64 + fraction)
}

/// The SigV4 checks AWS makes before an operation runs, in AWS's words: an `Authorization` header
/// of the right form (the signature itself is not computed), one of `keys`, scoped to `service` and
/// `region`.
pub fn authenticate(headers: &HeaderMap, keys: &[String], service: &str, region: &str) -> Result<(), AwsError> {
    let Some(value) = header(headers, "authorization") else {
        return Err(error("MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let auth = SigV4::parse(value).ok_or_else(|| {
        error(
            "IncompleteSignatureException",
            format!(
                "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' \
                 parameter. Authorization header requires 'SignedHeaders' parameter. \
                 Authorization={value}"
            ),
        )
    })?;
    auth.check_form(headers)?;
    if !keys.iter().any(|k| k == auth.key_id) {
        return Err(error("UnrecognizedClientException", "The security token included in the request is invalid."));
    }
    if auth.service != service {
        return Err(error(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'. "),
        ));
    }
    if auth.region != region {
        return Err(error("InvalidSignatureException", "Credential should be scoped to a valid region. "));
    }
    Ok(())
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
/// header.
struct SigV4<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> SigV4<'a> {
    fn parse(value: &'a str) -> Option<SigV4<'a>> {
        let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',').map(str::trim) {
            let (k, v) = part.split_once('=')?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => return None,
            }
        }
        let scope: Vec<&str> = credential?.split('/').collect();
        let [key_id, date, region, service, terminator] = scope.as_slice() else { return None };
        Some(SigV4 {
            key_id,
            date,
            region,
            service,
            terminator,
            signed_headers: signed?.split(';').collect(),
            signature: signature?,
        })
    }

    /// The shape rules AWS checks before looking at the key: terminator, signature form, the
    /// request date, canonical signed headers that include `host`, `x-amz-date` and every other
    /// `x-amz-*` header sent.
    fn check_form(&self, headers: &HeaderMap) -> Result<(), AwsError> {
        let incomplete = |m: &str| error("IncompleteSignatureException", m);
        if self.terminator != "aws4_request" {
            return Err(incomplete("Credential should be scoped with a valid terminator: 'aws4_request'"));
        }
        if self.signature.len() != 64
            || !self.signature.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(incomplete("Signature must be 64 lowercase hexadecimal characters."));
        }
        let amz_date = header(headers, "x-amz-date").filter(|d| is_amz_date(d)).ok_or_else(|| {
            incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        })?;
        if !is_amz_date(&format!("{}T000000Z", self.date)) || &amz_date[..8] != self.date {
            return Err(error(
                "InvalidSignatureException",
                format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                     '{}' != '{}', from '{amz_date}'.",
                    self.date,
                    &amz_date[..8]
                ),
            ));
        }
        self.check_signed_headers(headers)
    }

    fn check_signed_headers(&self, headers: &HeaderMap) -> Result<(), AwsError> {
        let mismatch = || {
            error(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS \
                 Secret Access Key and signing method. Consult the service documentation for details.",
            )
        };
        let canonical = self.signed_headers.windows(2).all(|w| w[0] < w[1])
            && self.signed_headers.iter().all(|h| !h.is_empty() && h.bytes().all(|b| !b.is_ascii_uppercase()));
        let present = self.signed_headers.iter().all(|h| headers.contains_key(*h));
        let amz_signed = headers
            .keys()
            .map(|k| k.as_str())
            .filter(|k| k.starts_with("x-amz-") && *k != "x-amz-user-agent")
            .all(|k| self.signed_headers.contains(&k));
        let required = ["host", "x-amz-date"].iter().all(|h| self.signed_headers.contains(h));
        if canonical && present && amz_signed && required { Ok(()) } else { Err(mismatch()) }
    }
}

/// `YYYYMMDDTHHMMSSZ`.
fn is_amz_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 16 && b[8] == b'T' && b[15] == b'Z' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

// ---------------------------------------------------------------------------------------------
// Input validation, in AWS's wording

/// What is wrong with a request body: a JSON type error (reported alone, as AWS stops there) or
/// constraint violations.
#[derive(Default)]
struct Problems {
    serialization: Option<String>,
    violations: Vec<String>,
}

/// The fake's own check of a body, as `(error code, message)` when it rejects it.
pub fn validate_input(op: &Operation, input: &Value) -> Result<(), (String, String)> {
    validate(op.input, input).map_err(|e| (e.code, e.message))
}

/// A body against input members: the first JSON type error as `SerializationException`, else
/// every constraint violation as one `ValidationException`.
pub fn validate(members: &[Member], input: &Value) -> Result<(), AwsError> {
    let mut p = Problems::default();
    check_structure(members, input, "", &mut p);
    if let Some(m) = p.serialization {
        return Err(error("SerializationException", m));
    }
    match p.violations.len() {
        0 => Ok(()),
        1 => Err(error("ValidationException", format!("1 validation error detected: {}", p.violations[0]))),
        n => Err(error("ValidationException", format!("{n} validation errors detected: {}", p.violations.join("; ")))),
    }
}

/// AWS names members in lowerCamelCase in its messages: `configRuleName`, `filters.evaluationMode`.
fn member_path(parent: &str, name: &str) -> String {
    let mut chars = name.chars();
    let camel: String = chars.next().map(|c| c.to_ascii_lowercase()).into_iter().chain(chars).collect();
    if parent.is_empty() { camel } else { format!("{parent}.{camel}") }
}

fn violation(p: &mut Problems, value: &Value, path: &str, constraint: &str) {
    let shown = match value {
        Value::Null => "null".to_owned(),
        Value::String(s) => format!("'{s}'"),
        other => format!("'{other}'"),
    };
    p.violations.push(format!("Value {shown} at '{path}' failed to satisfy constraint: Member {constraint}"));
}

fn check_structure(members: &[Member], value: &Value, path: &str, p: &mut Problems) {
    let Some(object) = value.as_object() else {
        p.serialization.get_or_insert_with(|| format!("Expected a structure at '{path}'"));
        return;
    };
    for (name, v) in object {
        if !members.iter().any(|m| m.name == name) {
            violation(p, v, &member_path(path, name), "is not a member of the input shape (unknown member)");
        }
    }
    for m in members {
        let here = member_path(path, m.name);
        match object.get(m.name).filter(|v| !v.is_null()) {
            None if m.required => violation(p, &Value::Null, &here, "must not be null"),
            None => {}
            Some(v) => check_value(m.ty, v, &here, p),
        }
    }
}

fn check_value(ty: &Ty, value: &Value, path: &str, p: &mut Problems) {
    match ty {
        Ty::String { min, max, pattern, values } => match value.as_str() {
            None => type_error(p, "a string", value, path),
            Some(s) => check_string(s, (*min, *max), *pattern, values, value, path, p),
        },
        Ty::Integer { min, max } => match value.as_i64() {
            None => type_error(p, "an integer", value, path),
            Some(n) => check_range(n, (*min, *max), "value", value, path, p),
        },
        Ty::List { item, min, max } => match value.as_array() {
            None => type_error(p, "a list", value, path),
            Some(items) => {
                check_range(
                    items.len() as i64,
                    (min.map(|m| m as i64), max.map(|m| m as i64)),
                    "length",
                    value,
                    path,
                    p,
                );
                for (i, v) in items.iter().enumerate() {
                    check_value(item, v, &format!("{path}.{}.member", i + 1), p);
                }
            }
        },
        Ty::Structure(members) => check_structure(members, value, path, p),
        Ty::Timestamp if value.is_number() => {}
        Ty::Timestamp => type_error(p, "a timestamp (epoch seconds)", value, path),
    }
}

fn type_error(p: &mut Problems, expected: &str, value: &Value, path: &str) {
    p.serialization.get_or_insert_with(|| format!("Expected {expected} at '{path}', found {value}"));
}

fn check_string(
    s: &str,
    bounds: (Option<u64>, Option<u64>),
    pattern: Option<&str>,
    values: &[&str],
    value: &Value,
    path: &str,
    p: &mut Problems,
) {
    let (min, max) = (bounds.0.map(|m| m as i64), bounds.1.map(|m| m as i64));
    check_range(s.chars().count() as i64, (min, max), "length", value, path, p);
    if let Some(pat) = pattern.filter(|pat| !pattern_matches(pat, s)) {
        violation(p, value, path, &format!("must satisfy regular expression pattern: {pat}"));
    }
    if !values.is_empty() && !values.contains(&s) {
        violation(p, value, path, &format!("must satisfy enum value set: [{}]", values.join(", ")));
    }
}

fn check_range(
    n: i64,
    (min, max): (Option<i64>, Option<i64>),
    what: &str,
    value: &Value,
    path: &str,
    p: &mut Problems,
) {
    if let Some(min) = min.filter(|&m| n < m) {
        violation(p, value, path, &format!("must have {what} greater than or equal to {min}"));
    }
    if let Some(max) = max.filter(|&m| n > m) {
        violation(p, value, path, &format!("must have {what} less than or equal to {max}"));
    }
}
