//! Every AWS payload shape that can carry a Config finding, turned into one [`Finding`].
//!
//! AWS delivers the same fact in many envelopes: EventBridge events (compliance change, configuration
//! item change, oversized item change), the same notifications wrapped in SNS (`Message` is a JSON
//! *string*), bare Config notifications, and Security Hub ASFF findings produced by Config. The
//! shape is auto-detected here so that nothing downstream cares where a finding came from.
//!
//! Parsing walks `serde_json::Value` instead of strict structs on purpose: AWS adds fields, omits
//! optional ones (`oldEvaluationResult`, `annotation`) and varies casing inside `configuration`, and
//! a missing optional field must never turn a valid finding into a rejected one.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

/// Largest event document accepted, in bytes. Real Config events are a few KiB; oversized CIs are
/// delivered by reference (`OversizedConfigurationItemChangeNotification`).
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Which envelope a finding arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventShape {
    EventBridgeComplianceChange,
    EventBridgeConfigurationItemChange,
    EventBridgeOversizedItemChange,
    ConfigComplianceChange,
    ConfigConfigurationItemChange,
    ConfigOversizedItemChange,
    SecurityHubFinding,
}

/// Compliance verdict carried by the event, when it carries one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    Compliant,
    NonCompliant,
    NotApplicable,
    InsufficientData,
    /// The event reports a change, not an evaluation (configuration item notifications).
    Unknown,
}

impl Compliance {
    fn parse(s: &str) -> Compliance {
        match s {
            "COMPLIANT" | "PASSED" => Compliance::Compliant,
            "NON_COMPLIANT" | "FAILED" => Compliance::NonCompliant,
            "NOT_APPLICABLE" | "NOT_AVAILABLE" => Compliance::NotApplicable,
            "INSUFFICIENT_DATA" | "WARNING" => Compliance::InsufficientData,
            _ => Compliance::Unknown,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Compliance::Compliant => "COMPLIANT",
            Compliance::NonCompliant => "NON_COMPLIANT",
            Compliance::NotApplicable => "NOT_APPLICABLE",
            Compliance::InsufficientData => "INSUFFICIENT_DATA",
            Compliance::Unknown => "UNKNOWN",
        }
    }
}

/// The cloud resource a finding is about, in Config's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    /// Config resource type, e.g. `AWS::S3::Bucket` (ASFF names are translated).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Config resource id: bucket name, `sg-…`, SQS queue URL, RDS `db-…`, …
    pub id: String,
    /// Config resource name when known (RDS identifier, SG group name, IAM role name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    pub account: String,
    pub region: String,
}

/// The rule as the event names it. Names are not stable (conformance packs and Security Hub add
/// prefixes and suffixes); the catalog resolves them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Security Hub control id (`S3.8`, `SQS.1`) when the finding came through Security Hub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_control: Option<String>,
}

/// One finding, independent of its envelope.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub shape: EventShape,
    /// Delivery id for de-duplication (EventBridge `id`, SNS `MessageId`, ASFF `Id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub resource: ResourceRef,
    pub rule: RuleRef,
    pub compliance: Compliance,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordering_timestamp: Option<String>,
    /// The configuration item's `configuration`, when the event carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Value>,
    /// Resource tags from the configuration item or ASFF resource, when present.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Who last changed the resource (CloudTrail), when driftfix could ask AWS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<Change>,
}

/// A write to the resource, as CloudTrail recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The caller's ARN (`arn:aws:sts::…:assumed-role/Admin/alice`), else its user name.
    pub actor: String,
    /// The API call, e.g. `AuthorizeSecurityGroupIngress`.
    pub action: String,
    /// When, RFC 3339.
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

/// Why an event was not accepted. These are user errors: the CLI exits 2 and the server answers 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("event is {0} bytes, larger than the {MAX_EVENT_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("event is not valid JSON: {0}")]
    NotJson(String),
    #[error("event is not a JSON object")]
    NotObject,
    #[error("unrecognised event: {0}")]
    Unrecognised(String),
    #[error("event is missing required field `{0}`")]
    Missing(&'static str),
    #[error("SNS envelope's `Message` is not a JSON document: {0}")]
    SnsMessageNotJson(String),
    #[error("Security Hub event holds no finding produced by AWS Config")]
    NoConfigFinding,
}

/// Parse any supported event document into a finding.
pub fn parse_event(bytes: &[u8]) -> Result<Finding, EventError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(EventError::TooLarge(bytes.len()));
    }
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| EventError::NotJson(e.to_string()))?;
    parse_value(&doc, None)
}

fn parse_value(doc: &Value, sns_id: Option<&str>) -> Result<Finding, EventError> {
    let obj = doc.as_object().ok_or(EventError::NotObject)?;
    if obj.get("Type").and_then(Value::as_str).is_some() && obj.contains_key("TopicArn") {
        return parse_sns(doc);
    }
    if let Some(source) = str_at(doc, &["source"]) {
        let detail_type = str_at(doc, &["detail-type"]).unwrap_or_default();
        return match (source, detail_type) {
            ("aws.config", _) => {
                let detail = doc.get("detail").ok_or(EventError::Missing("detail"))?;
                let mut f = parse_config_notification(detail, true)?;
                f.event_id = sns_id.map(str::to_owned).or_else(|| str_at(doc, &["id"]).map(str::to_owned));
                if f.resource.account.is_empty() {
                    f.resource.account = str_at(doc, &["account"]).unwrap_or_default().to_owned();
                }
                if f.resource.region.is_empty() {
                    f.resource.region = str_at(doc, &["region"]).unwrap_or_default().to_owned();
                }
                if f.resource.arn.is_none() {
                    f.resource.arn = doc
                        .get("resources")
                        .and_then(Value::as_array)
                        .and_then(|r| r.first())
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                Ok(f)
            }
            ("aws.securityhub", _) => {
                let mut f = parse_security_hub(doc)?;
                if sns_id.is_some() {
                    f.event_id = sns_id.map(str::to_owned);
                }
                Ok(f)
            }
            (other, dt) => Err(EventError::Unrecognised(format!(
                "EventBridge source `{other}` (detail-type `{dt}`) is not AWS Config or Security Hub"
            ))),
        };
    }
    if obj.contains_key("messageType") {
        let mut f = parse_config_notification(doc, false)?;
        f.event_id = sns_id.map(str::to_owned);
        return Ok(f);
    }
    if obj.contains_key("findings") || obj.contains_key("SchemaVersion") {
        return parse_security_hub(doc);
    }
    Err(EventError::Unrecognised(
        "expected an EventBridge event, an SNS notification, a Config notification or a Security Hub finding".into(),
    ))
}

fn parse_sns(doc: &Value) -> Result<Finding, EventError> {
    let kind = str_at(doc, &["Type"]).unwrap_or_default();
    if kind != "Notification" {
        return Err(EventError::Unrecognised(format!("SNS message of type `{kind}` carries no finding")));
    }
    let message = str_at(doc, &["Message"]).ok_or(EventError::Missing("Message"))?;
    let inner: Value = serde_json::from_str(message).map_err(|e| EventError::SnsMessageNotJson(e.to_string()))?;
    if inner.get("Type").is_some() && inner.get("TopicArn").is_some() {
        return Err(EventError::Unrecognised("SNS envelope nested in an SNS envelope".into()));
    }
    parse_value(&inner, str_at(doc, &["MessageId"]))
}

/// A Config notification: the EventBridge `detail`, or the SNS `Message` body.
fn parse_config_notification(n: &Value, eventbridge: bool) -> Result<Finding, EventError> {
    let message_type = str_at(n, &["messageType"]).ok_or(EventError::Missing("messageType"))?;
    match message_type {
        "ComplianceChangeNotification" => {
            let qualifier = n
                .pointer("/newEvaluationResult/evaluationResultIdentifier/evaluationResultQualifier")
                .cloned()
                .unwrap_or(Value::Null);
            let resource_type = str_at(n, &["resourceType"])
                .or_else(|| str_at(&qualifier, &["resourceType"]))
                .ok_or(EventError::Missing("resourceType"))?;
            let resource_id = str_at(n, &["resourceId"])
                .or_else(|| str_at(&qualifier, &["resourceId"]))
                .ok_or(EventError::Missing("resourceId"))?;
            let rule_name = str_at(n, &["configRuleName"]).or_else(|| str_at(&qualifier, &["configRuleName"]));
            let compliance = n
                .pointer("/newEvaluationResult/complianceType")
                .and_then(Value::as_str)
                .map(Compliance::parse)
                .unwrap_or(Compliance::Unknown);
            Ok(Finding {
                shape: if eventbridge {
                    EventShape::EventBridgeComplianceChange
                } else {
                    EventShape::ConfigComplianceChange
                },
                event_id: None,
                resource: ResourceRef {
                    resource_type: resource_type.to_owned(),
                    id: resource_id.to_owned(),
                    name: None,
                    arn: None,
                    account: str_at(n, &["awsAccountId"]).unwrap_or_default().to_owned(),
                    region: str_at(n, &["awsRegion"]).unwrap_or_default().to_owned(),
                },
                rule: RuleRef {
                    name: rule_name.map(str::to_owned),
                    arn: str_at(n, &["configRuleARN"]).map(str::to_owned),
                    security_control: None,
                },
                compliance,
                annotation: n.pointer("/newEvaluationResult/annotation").and_then(Value::as_str).map(str::to_owned),
                ordering_timestamp: n
                    .pointer("/newEvaluationResult/evaluationResultIdentifier/orderingTimestamp")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                configuration: None,
                tags: Vec::new(),
                changed_by: None,
            })
        }
        "ConfigurationItemChangeNotification" => {
            let ci = n.get("configurationItem").ok_or(EventError::Missing("configurationItem"))?;
            // The 2014 documentation shows an array here; take its first element.
            let ci = match ci {
                Value::Array(items) => items.first().ok_or(EventError::Missing("configurationItem"))?,
                other => other,
            };
            let mut f = finding_from_item(ci, eventbridge, false)?;
            f.configuration = ci.get("configuration").filter(|c| !c.is_null()).cloned();
            f.tags = tags_from(ci.get("tags"));
            if f.resource.name.is_none() {
                f.resource.name = name_from_configuration(&f.resource.resource_type, f.configuration.as_ref());
            }
            Ok(f)
        }
        "OversizedConfigurationItemChangeNotification" => {
            let summary = n.get("configurationItemSummary").ok_or(EventError::Missing("configurationItemSummary"))?;
            finding_from_item(summary, eventbridge, true)
        }
        other => Err(EventError::Unrecognised(format!("Config message type `{other}` carries no finding"))),
    }
}

fn finding_from_item(ci: &Value, eventbridge: bool, oversized: bool) -> Result<Finding, EventError> {
    let shape = match (eventbridge, oversized) {
        (true, false) => EventShape::EventBridgeConfigurationItemChange,
        (true, true) => EventShape::EventBridgeOversizedItemChange,
        (false, false) => EventShape::ConfigConfigurationItemChange,
        (false, true) => EventShape::ConfigOversizedItemChange,
    };
    Ok(Finding {
        shape,
        event_id: None,
        resource: ResourceRef {
            resource_type: str_at(ci, &["resourceType"]).ok_or(EventError::Missing("resourceType"))?.to_owned(),
            id: str_at(ci, &["resourceId"]).ok_or(EventError::Missing("resourceId"))?.to_owned(),
            name: str_at(ci, &["resourceName"]).map(str::to_owned),
            arn: str_at(ci, &["ARN"]).or_else(|| str_at(ci, &["arn"])).map(str::to_owned),
            account: str_at(ci, &["awsAccountId"]).unwrap_or_default().to_owned(),
            region: str_at(ci, &["awsRegion"]).unwrap_or_default().to_owned(),
        },
        rule: RuleRef::default(),
        compliance: Compliance::Unknown,
        annotation: None,
        ordering_timestamp: str_at(ci, &["configurationItemCaptureTime"]).map(str::to_owned),
        configuration: None,
        tags: Vec::new(),
        changed_by: None,
    })
}

/// A Security Hub "Findings - Imported" event, or a bare ASFF finding / `{"findings": [...]}`.
fn parse_security_hub(doc: &Value) -> Result<Finding, EventError> {
    let findings: Vec<&Value> = if let Some(list) = doc.pointer("/detail/findings").and_then(Value::as_array) {
        list.iter().collect()
    } else if let Some(list) = doc.get("findings").and_then(Value::as_array) {
        list.iter().collect()
    } else if doc.get("SchemaVersion").is_some() {
        vec![doc]
    } else {
        return Err(EventError::Missing("detail.findings"));
    };
    let asff = findings.into_iter().find(|f| is_config_produced(f)).ok_or(EventError::NoConfigFinding)?;
    let resource = asff
        .get("Resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .ok_or(EventError::Missing("Resources"))?;
    let asff_type = str_at(resource, &["Type"]).ok_or(EventError::Missing("Resources[].Type"))?;
    let resource_type = config_type_from_asff(asff_type).map(str::to_owned).unwrap_or_else(|| asff_type.to_owned());
    let raw_id = str_at(resource, &["Id"]).ok_or(EventError::Missing("Resources[].Id"))?;
    let (id, name) = config_id_from_arn(&resource_type, raw_id);
    let account = str_at(asff, &["AwsAccountId"]).unwrap_or_default().to_owned();
    let region = str_at(resource, &["Region"]).or_else(|| str_at(asff, &["Region"])).unwrap_or_default().to_owned();
    let rule_name =
        asff.pointer("/ProductFields/aws~1config~1ConfigRuleName").and_then(Value::as_str).map(str::to_owned);
    let control =
        asff.pointer("/Compliance/SecurityControlId").and_then(Value::as_str).map(str::to_owned).or_else(|| {
            str_at(asff, &["GeneratorId"]).and_then(|g| g.strip_prefix("security-control/")).map(str::to_owned)
        });
    let tags = resource
        .get("Tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default();
    Ok(Finding {
        shape: EventShape::SecurityHubFinding,
        event_id: str_at(asff, &["Id"]).map(str::to_owned),
        resource: ResourceRef {
            resource_type,
            id: id.unwrap_or_else(|| raw_id.to_owned()),
            name,
            arn: raw_id.starts_with("arn:").then(|| raw_id.to_owned()),
            account,
            region,
        },
        rule: RuleRef {
            name: rule_name,
            arn: asff.pointer("/ProductFields/aws~1config~1ConfigRuleArn").and_then(Value::as_str).map(str::to_owned),
            security_control: control,
        },
        compliance: asff
            .pointer("/Compliance/Status")
            .and_then(Value::as_str)
            .map(Compliance::parse)
            .unwrap_or(Compliance::Unknown),
        annotation: asff.pointer("/Title").and_then(Value::as_str).map(str::to_owned),
        ordering_timestamp: str_at(asff, &["UpdatedAt"]).map(str::to_owned),
        configuration: None,
        tags,
        changed_by: None,
    })
}

fn is_config_produced(asff: &Value) -> bool {
    let product = str_at(asff, &["ProductArn"]).unwrap_or_default();
    let generator = str_at(asff, &["GeneratorId"]).unwrap_or_default();
    product.ends_with("/aws/config")
        || product.ends_with("/aws/securityhub")
        || generator.contains(":config-rule/")
        || generator.starts_with("security-control/")
        || asff.pointer("/ProductFields/aws~1config~1ConfigRuleName").is_some()
}

/// ASFF resource type names (`AwsS3Bucket`) to Config resource types (`AWS::S3::Bucket`).
pub fn config_type_from_asff(asff: &str) -> Option<&'static str> {
    Some(match asff {
        "AwsS3Bucket" => "AWS::S3::Bucket",
        "AwsEc2SecurityGroup" => "AWS::EC2::SecurityGroup",
        "AwsEc2Instance" => "AWS::EC2::Instance",
        "AwsEc2Volume" => "AWS::EC2::Volume",
        "AwsSqsQueue" => "AWS::SQS::Queue",
        "AwsRdsDbInstance" => "AWS::RDS::DBInstance",
        "AwsDynamoDbTable" => "AWS::DynamoDB::Table",
        "AwsKmsKey" => "AWS::KMS::Key",
        "AwsCloudTrailTrail" => "AWS::CloudTrail::Trail",
        "AwsIamRole" => "AWS::IAM::Role",
        "AwsIamUser" => "AWS::IAM::User",
        "AwsLambdaFunction" => "AWS::Lambda::Function",
        "AwsSnsTopic" => "AWS::SNS::Topic",
        "AwsAccount" => "AWS::::Account",
        _ => return None,
    })
}

/// Derive the Config resource id (and name) from an ARN, per the identifier conventions of each type.
/// Returns `(None, None)` when the ARN does not say (e.g. RDS ARNs carry the identifier, not `db-…`).
pub fn config_id_from_arn(resource_type: &str, arn: &str) -> (Option<String>, Option<String>) {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return (Some(arn.to_owned()), None);
    };
    // arn:partition:service:region:account:resource
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() < 5 {
        return (None, None);
    }
    let (region, account, res) = (parts[2], parts[3], parts[4]);
    let after = |prefix: &str| res.strip_prefix(prefix).map(str::to_owned);
    match resource_type {
        "AWS::S3::Bucket" => (Some(res.to_owned()), Some(res.to_owned())),
        "AWS::EC2::SecurityGroup" => (after("security-group/"), None),
        "AWS::EC2::Instance" => (after("instance/"), None),
        "AWS::EC2::Volume" => (after("volume/"), None),
        "AWS::SQS::Queue" => {
            (Some(format!("https://sqs.{region}.amazonaws.com/{account}/{res}")), Some(res.to_owned()))
        }
        "AWS::RDS::DBInstance" => (None, after("db:")),
        "AWS::DynamoDB::Table" => {
            let name = after("table/");
            (name.clone(), name)
        }
        "AWS::KMS::Key" => (after("key/"), None),
        "AWS::CloudTrail::Trail" => {
            let name = after("trail/");
            (name.clone(), name)
        }
        "AWS::Lambda::Function" => {
            let name = after("function:");
            (name.clone(), name)
        }
        "AWS::::Account" => (Some(account.to_owned()), None),
        _ => (None, None),
    }
}

fn name_from_configuration(resource_type: &str, configuration: Option<&Value>) -> Option<String> {
    let c = configuration?;
    let key = match resource_type {
        "AWS::EC2::SecurityGroup" => "groupName",
        "AWS::RDS::DBInstance" => "dBInstanceIdentifier",
        "AWS::DynamoDB::Table" => "tableName",
        "AWS::S3::Bucket" => "name",
        _ => return None,
    };
    c.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn tags_from(tags: Option<&Value>) -> Vec<(String, String)> {
    match tags {
        Some(Value::Object(m)) => m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| {
                let k = t.get("key").or_else(|| t.get("Key"))?.as_str()?;
                let v = t.get("value").or_else(|| t.get("Value"))?.as_str()?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// The stable identity of a finding: one key → at most one open PR and one ticket, ever.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FindingKey(String);

impl FindingKey {
    /// `sha256(account | region | resourceType | resourceId | rule identifier)`, hex.
    pub fn new(resource: &ResourceRef, rule_identifier: &str) -> FindingKey {
        let mut h = Sha256::new();
        for (i, part) in [
            resource.account.as_str(),
            resource.region.as_str(),
            resource.resource_type.as_str(),
            resource.id.as_str(),
            rule_identifier,
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                h.update(b"|");
            }
            h.update(part.as_bytes());
        }
        FindingKey(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first `n` hex digits, for branch names (8) and Jira labels (12).
    pub fn short(&self, n: usize) -> &str {
        &self.0[..n.min(self.0.len())]
    }
}

impl fmt::Display for FindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ResourceRef {
    /// A short human name: the name if known, else the last path segment of the id (SQS URLs).
    pub fn display_name(&self) -> &str {
        if let Some(n) = &self.name {
            return n;
        }
        if self.id.starts_with("https://") {
            return self.id.rsplit('/').next().unwrap_or(&self.id);
        }
        &self.id
    }
}
