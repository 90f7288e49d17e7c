//! Who changed the resource: CloudTrail `LookupEvents` by resource name, in the window before the
//! evaluation. Config's own `relatedEvents` has been empty since CI schema 1.3, so this is the only
//! way to put a name on a drift in the pull request and the ticket.
//!
//! The newest write event wins: read-only calls (`Describe*`, `Get*`, `List*`, or `readOnly: true`
//! in the record) say nothing about who broke the baseline. Management events only; a lookup that
//! finds nothing leaves the finding as it was.

use super::{AwsError, Scope, datetime_ms, rfc3339};
use crate::finding::Change;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::Value;

/// CloudTrail returns at most 50 events per page; one page of the newest is enough.
const PAGE: i32 = 50;

/// The newest write event on `resource_name` between `from_ms` and `to_ms`.
pub async fn last_change(
    scope: &Scope,
    resource_name: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Option<Change>, AwsError> {
    const OP: &str = "cloudtrail:LookupEvents";
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ResourceName)
        .attribute_value(resource_name)
        .build()
        .map_err(|e| AwsError::new(OP, super::Kind::Invalid, e.to_string()))?;
    let out = scope
        .cloudtrail
        .lookup_events()
        .lookup_attributes(attribute)
        .start_time(datetime_ms(from_ms))
        .end_time(datetime_ms(to_ms))
        .max_results(PAGE)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OP, e))?;
    let mut events: Vec<&aws_sdk_cloudtrail::types::Event> = out.events().iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.event_time().and_then(|t| t.to_millis().ok()).unwrap_or(0)));
    Ok(events.into_iter().find_map(|e| {
        let record: Value = e.cloud_trail_event().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null);
        let action = e.event_name().unwrap_or_default();
        if is_read_only(action, &record) {
            return None;
        }
        let identity = &record["userIdentity"];
        let actor = identity["arn"]
            .as_str()
            .or(e.username())
            .or(identity["principalId"].as_str())
            .unwrap_or("unknown")
            .to_owned();
        Some(Change {
            actor,
            action: action.to_owned(),
            at: e.event_time().map(rfc3339).unwrap_or_default(),
            source_ip: record["sourceIPAddress"].as_str().map(str::to_owned),
        })
    }))
}

fn is_read_only(action: &str, record: &Value) -> bool {
    record["readOnly"].as_bool().unwrap_or(false)
        || ["Describe", "Get", "List", "Head", "Lookup"].iter().any(|p| action.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::is_read_only;
    use serde_json::json;

    #[test]
    fn reads_are_not_changes() {
        assert!(is_read_only("DescribeSecurityGroups", &json!({})));
        assert!(is_read_only("PutBucketAcl", &json!({"readOnly": true})));
        assert!(!is_read_only("AuthorizeSecurityGroupIngress", &json!({"readOnly": false})));
        assert!(!is_read_only("PutBucketPolicy", &json!(null)));
    }
}
