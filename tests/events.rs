//! Every AWS shape that carries a finding is recognised; everything else is a clear error.

mod support;

use driftfix::finding::{Compliance, EventError, EventShape, parse_event};
use support::examples;

fn load(name: &str) -> driftfix::finding::Finding {
    let bytes = std::fs::read(examples().join("events").join(name)).expect("fixture");
    parse_event(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn eventbridge_compliance_change() {
    let f = load("eb_compliance_change.json");
    assert_eq!(f.shape, EventShape::EventBridgeComplianceChange);
    assert_eq!(f.event_id.as_deref(), Some("c0bb891c-77fe-8518-14fc-be78b966f95b"));
    assert_eq!(f.resource.resource_type, "AWS::S3::Bucket");
    assert_eq!(f.resource.id, "my-public-bucket");
    assert_eq!((f.resource.account.as_str(), f.resource.region.as_str()), ("123456789012", "us-east-1"));
    assert_eq!(f.rule.name.as_deref(), Some("s3-bucket-public-read-prohibited"));
    assert_eq!(f.compliance, Compliance::NonCompliant);
    assert_eq!(f.annotation.as_deref(), Some("The S3 bucket policy allows public read access."));
    assert_eq!(f.ordering_timestamp.as_deref(), Some("2021-04-19T19:03:50.251Z"));
}

#[test]
fn eventbridge_configuration_item_change_carries_the_item() {
    let f = load("eb_ci_change.json");
    assert_eq!(f.shape, EventShape::EventBridgeConfigurationItemChange);
    assert_eq!(f.resource.id, "sg-3f1fef43");
    assert_eq!(f.resource.name.as_deref(), Some("example-security-group-2"), "name read from configuration.groupName");
    assert_eq!(f.resource.arn.as_deref(), Some("arn:aws:ec2:us-east-2:123456789012:security-group/sg-3f1fef43"));
    assert_eq!(f.rule.name, None);
    assert_eq!(f.compliance, Compliance::Unknown);
    let perms = f.configuration.as_ref().and_then(|c| c.get("ipPermissions")).expect("configuration kept");
    assert_eq!(perms[0]["fromPort"], 22);
}

#[test]
fn oversized_notification_has_only_the_summary() {
    let f = load("eb_oversized.json");
    assert_eq!(f.shape, EventShape::EventBridgeOversizedItemChange);
    assert_eq!(f.resource.resource_type, "AWS::EC2::Instance");
    assert_eq!(f.resource.id, "i-0123456789abcdef0");
    assert!(f.configuration.is_none());
}

#[test]
fn sns_envelope_with_config_notification_as_a_string() {
    let f = load("sns_compliance.json");
    assert_eq!(f.shape, EventShape::ConfigComplianceChange);
    assert_eq!(f.event_id.as_deref(), Some("11fd05dd-47e1-5523-bc01-55b988bb9478"), "SNS MessageId is the delivery id");
    assert_eq!(f.resource.resource_type, "AWS::::Account");
    assert_eq!(f.rule.name.as_deref(), Some("cloudtrail-enabled"));
    assert_eq!(f.compliance, Compliance::Compliant);
    let v = load("sns_versioning.json");
    assert_eq!(v.resource.id, "shop-images-prod");
    assert_eq!(v.compliance, Compliance::NonCompliant);
}

#[test]
fn sns_envelope_around_an_eventbridge_event() {
    let inner = std::fs::read_to_string(examples().join("events/eb_compliance_change.json")).unwrap();
    let env = serde_json::json!({"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": inner});
    let f = parse_event(env.to_string().as_bytes()).unwrap();
    assert_eq!(f.shape, EventShape::EventBridgeComplianceChange);
    assert_eq!(f.event_id.as_deref(), Some("m-1"));
    assert_eq!(f.resource.id, "my-public-bucket");
}

#[test]
fn sns_envelopes_around_item_changes() {
    for name in ["eb_ci_change.json", "eb_oversized.json"] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(examples().join("events").join(name)).unwrap()).unwrap();
        let env = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": doc["detail"].to_string()});
        let f = parse_event(env.to_string().as_bytes()).unwrap();
        assert!(
            matches!(f.shape, EventShape::ConfigConfigurationItemChange | EventShape::ConfigOversizedItemChange),
            "{name}"
        );
        assert_eq!(f.event_id.as_deref(), Some("m"));
    }
}

#[test]
fn bare_config_notification() {
    let text = support::compliance_event("restricted-ssh", "AWS::EC2::SecurityGroup", "sg-1");
    let f = parse_event(text.as_bytes()).unwrap();
    assert_eq!(f.shape, EventShape::ConfigComplianceChange);
    assert_eq!(f.resource.id, "sg-1");
    assert_eq!(f.event_id, None);
}

#[test]
fn security_hub_finding_from_config() {
    let f = load("securityhub_sqs.json");
    assert_eq!(f.shape, EventShape::SecurityHubFinding);
    assert_eq!(f.resource.resource_type, "AWS::SQS::Queue", "ASFF type translated");
    assert_eq!(f.resource.id, "https://sqs.us-east-1.amazonaws.com/123456789012/checkout-events", "ARN → queue URL");
    assert_eq!(f.resource.name.as_deref(), Some("checkout-events"));
    assert_eq!(f.rule.security_control.as_deref(), Some("SQS.1"));
    assert_eq!(f.compliance, Compliance::NonCompliant);
}

#[test]
fn security_hub_config_integration_with_rule_name() {
    let doc = serde_json::json!({
        "source": "aws.securityhub", "detail-type": "Security Hub Findings - Imported",
        "detail": {"findings": [{
            "Id": "f-1", "AwsAccountId": "123456789012",
            "ProductArn": "arn:aws:securityhub:eu-central-1::product/aws/config",
            "GeneratorId": "arn:aws:config:eu-central-1:123456789012:config-rule/config-rule-mburzq",
            "ProductFields": {"aws/config/ConfigRuleName": "s3-bucket-level-public-access-prohibited-abc", "aws/config/ConfigComplianceType": "NON_COMPLIANT"},
            "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::config-integration-demo-bucket", "Region": "eu-central-1"}],
            "Compliance": {"Status": "FAILED"}
        }]}
    });
    let f = parse_event(doc.to_string().as_bytes()).unwrap();
    assert_eq!(f.resource.resource_type, "AWS::S3::Bucket");
    assert_eq!(f.resource.id, "config-integration-demo-bucket");
    assert_eq!(f.resource.region, "eu-central-1");
    assert_eq!(f.rule.name.as_deref(), Some("s3-bucket-level-public-access-prohibited-abc"));
}

#[test]
fn bad_input_is_a_clear_error() {
    type Expect = fn(&EventError) -> bool;
    let cases: &[(&[u8], Expect)] = &[
        (b"not json", |e| matches!(e, EventError::NotJson(_))),
        (b"[1,2]", |e| matches!(e, EventError::NotObject)),
        (b"{}", |e| matches!(e, EventError::Unrecognised(_))),
        (br#"{"source":"aws.ec2","detail-type":"x","detail":{}}"#, |e| matches!(e, EventError::Unrecognised(_))),
        (br#"{"source":"aws.config","detail-type":"x"}"#, |e| matches!(e, EventError::Missing("detail"))),
        (br#"{"source":"aws.config","detail":{"messageType":"ConfigurationSnapshotDeliveryCompleted"}}"#, |e| {
            matches!(e, EventError::Unrecognised(_))
        }),
        (br#"{"messageType":"ComplianceChangeNotification"}"#, |e| matches!(e, EventError::Missing("resourceType"))),
        (br#"{"Type":"Notification","TopicArn":"t","Message":"{oops"}"#, |e| {
            matches!(e, EventError::SnsMessageNotJson(_))
        }),
        (br#"{"Type":"SubscriptionConfirmation","TopicArn":"t","Message":"hi"}"#, |e| {
            matches!(e, EventError::Unrecognised(_))
        }),
        (
            br#"{"source":"aws.securityhub","detail":{"findings":[{"ProductArn":"arn:x:product/aws/guardduty"}]}}"#,
            |e| matches!(e, EventError::NoConfigFinding),
        ),
    ];
    for (input, expected) in cases {
        let err = parse_event(input).expect_err(&String::from_utf8_lossy(input));
        assert!(expected(&err), "{}: got {err:?}", String::from_utf8_lossy(input));
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn huge_and_deeply_nested_input_is_rejected_without_panicking() {
    let huge = vec![b' '; driftfix::finding::MAX_EVENT_BYTES + 1];
    assert!(matches!(parse_event(&huge), Err(EventError::TooLarge(_))));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(parse_event(deep.as_bytes()), Err(EventError::NotJson(_))));
    let deep_msg = serde_json::json!({"Type": "Notification", "TopicArn": "t", "Message": "[".repeat(50_000)});
    assert!(matches!(parse_event(deep_msg.to_string().as_bytes()), Err(EventError::SnsMessageNotJson(_))));
}
