//! The resource's configuration item: its ARN, name and tags (to locate the block, route the
//! finding and honour exemption tags) and its configuration (to tell which rule a change breaks).
//!
//! `GetResourceConfigHistory` at the evaluation's ordering timestamp is asked first: that is the
//! item the rule judged, and unlike `BatchGetResourceConfig` it carries tags. When the history is
//! empty, the current item from `BatchGetResourceConfig` is used. A resource Config never recorded
//! (`ResourceNotDiscoveredException`) is `None`, not an error: the event is then all there is.

use super::{AwsError, Kind, Scope, datetime_ms, rfc3339};
use aws_sdk_config::types::{ChronologicalOrder, ResourceKey, ResourceType};
use serde_json::Value;

/// What the configuration item says about the resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigItem {
    pub arn: Option<String>,
    pub name: Option<String>,
    pub tags: Vec<(String, String)>,
    pub configuration: Option<Value>,
    /// `OK`, `ResourceDiscovered`, `ResourceNotRecorded`, `ResourceDeleted`, `ResourceDeletedNotRecorded`.
    pub status: String,
    pub captured_at: Option<String>,
}

impl ConfigItem {
    /// Config recorded the resource's deletion.
    pub fn deleted(&self) -> bool {
        self.status.starts_with("ResourceDeleted")
    }
}

/// The item for a resource, as of `at_ms` when given (else the latest).
pub async fn fetch(
    scope: &Scope,
    resource_type: &str,
    resource_id: &str,
    at_ms: Option<i64>,
) -> Result<Option<ConfigItem>, AwsError> {
    const OP: &str = "config:GetResourceConfigHistory";
    let rtype = ResourceType::from(resource_type);
    let history = scope
        .config
        .get_resource_config_history()
        .resource_type(rtype.clone())
        .resource_id(resource_id)
        .chronological_order(ChronologicalOrder::Reverse)
        .limit(1)
        .set_later_time(at_ms.map(datetime_ms))
        .send()
        .await;
    match history {
        Ok(out) => {
            if let Some(ci) = out.configuration_items().first() {
                return Ok(Some(ConfigItem {
                    arn: ci.arn().map(str::to_owned),
                    name: ci.resource_name().map(str::to_owned),
                    tags: sorted(ci.tags()),
                    configuration: ci.configuration().and_then(json),
                    status: ci.configuration_item_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    captured_at: ci.configuration_item_capture_time().map(rfc3339),
                }));
            }
        }
        Err(e) => {
            let e = AwsError::from_sdk(OP, e);
            if e.kind == Kind::NotFound {
                return Ok(None);
            }
            return Err(e);
        }
    }
    current(scope, rtype, resource_id).await
}

/// `BatchGetResourceConfig` for one resource (no tags in this shape).
async fn current(scope: &Scope, rtype: ResourceType, resource_id: &str) -> Result<Option<ConfigItem>, AwsError> {
    const OP: &str = "config:BatchGetResourceConfig";
    let key = ResourceKey::builder()
        .resource_type(rtype)
        .resource_id(resource_id)
        .build()
        .map_err(|e| AwsError::new(OP, Kind::Invalid, e.to_string()))?;
    let out = scope
        .config
        .batch_get_resource_config()
        .resource_keys(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OP, e))?;
    Ok(out.base_configuration_items().first().map(|ci| ConfigItem {
        arn: ci.arn().map(str::to_owned),
        name: ci.resource_name().map(str::to_owned),
        tags: Vec::new(),
        configuration: ci.configuration().and_then(json),
        status: ci.configuration_item_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        captured_at: ci.configuration_item_capture_time().map(rfc3339),
    }))
}

fn json(s: &str) -> Option<Value> {
    serde_json::from_str::<Value>(s).ok().filter(|v| !v.is_null())
}

fn sorted(tags: Option<&std::collections::HashMap<String, String>>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = tags.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort();
    v
}
