//! Which rule a configuration-change event violates, read from the configuration item itself.
//!
//! "Config Configuration Item Change" events name no rule: they say what changed. For security groups
//! the item's `ipPermissions` tell exactly which baseline the change broke (world-open SSH, or a
//! world-open common port), so the finding can be remediated without guessing. Other resource types
//! need `--rule`: picking one of several rules from a change alone would be noise.

use super::{Params, Rule, by_identifier};
use serde_json::Value;

/// The catalog rule the configuration violates, when it can be read off the item.
pub fn rule_from_configuration(
    resource_type: &str,
    configuration: &Value,
    params: &Params,
) -> Option<&'static dyn Rule> {
    match resource_type {
        "AWS::EC2::SecurityGroup" => {
            let open = world_open_ports(configuration);
            if open.iter().any(|r| r.contains(22)) {
                return by_identifier("INCOMING_SSH_DISABLED");
            }
            // Unusable port parameters make the common-ports rule undecidable; SSH was checked above.
            let blocked = super::sg::params_ports(params).ok()?;
            if blocked.iter().any(|p| open.iter().any(|r| r.contains(*p))) {
                return by_identifier("RESTRICTED_INCOMING_TRAFFIC");
            }
            None
        }
        _ => None,
    }
}

/// An inclusive port range of a world-open permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PortRange(u16, u16);

impl PortRange {
    fn contains(&self, p: u16) -> bool {
        self.0 <= p && p <= self.1
    }
}

fn world_open_ports(configuration: &Value) -> Vec<PortRange> {
    let Some(perms) = configuration.get("ipPermissions").and_then(Value::as_array) else { return Vec::new() };
    perms
        .iter()
        .filter(|p| is_world_open(p))
        .filter_map(|p| {
            let proto = p.get("ipProtocol").map(value_text).unwrap_or_default();
            match proto.as_str() {
                "-1" | "all" => Some(PortRange(0, u16::MAX)),
                "tcp" | "6" => {
                    let from = p.get("fromPort").and_then(Value::as_u64)?;
                    let to = p.get("toPort").and_then(Value::as_u64).unwrap_or(from);
                    Some(PortRange(u16::try_from(from).ok()?, u16::try_from(to).unwrap_or(u16::MAX)))
                }
                _ => None,
            }
        })
        .collect()
}

fn is_world_open(permission: &Value) -> bool {
    let strings = |key: &str| -> Vec<String> {
        permission
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        r.as_str()
                            .or_else(|| r.get("cidrIp").and_then(Value::as_str))
                            .or_else(|| r.get("cidrIpv6").and_then(Value::as_str))
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    ["ipRanges", "ipv4Ranges", "ipv6Ranges"].iter().flat_map(|k| strings(k)).any(|c| c == "0.0.0.0/0" || c == "::/0")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
