//! Fill in what an event leaves out, before routing and the engine: the rule's identifier and
//! parameters, the resource's ARN, name, tags and configuration, and who changed it.
//!
//! What must work and what may fail differ. Throttling, an unreachable AWS and refused credentials
//! end the attempt ([`AwsError::is_transient`] decides whether the job is retried or parked dead
//! with the error), because every later call would fail the same way. Everything else is optional
//! knowledge: an unknown rule, a resource Config never recorded, a missing CloudTrail permission
//! each leave a note for the audit log and the finding goes on with what the event said.

use super::items::ConfigItem;
use super::rules::RuleInfo;
use super::{Aws, AwsError, Kind, items, parse_rfc3339_ms, trail};
use crate::finding::Finding;

/// Slack after the evaluation in the CloudTrail window (CloudTrail delivers events within minutes,
/// and the evaluation may run before the event is searchable).
const TRAIL_AFTER_MS: i64 = 15 * 60 * 1000;

/// What AWS added to a finding.
#[derive(Debug, Clone, Default)]
pub struct Enrichment {
    /// The rule as `DescribeConfigRules` describes it.
    pub rule: Option<RuleInfo>,
    /// AWS says the event's rule does not exist (deleted since).
    pub unknown_rule: bool,
    pub item: Option<ConfigItem>,
    /// One line per lookup, for the audit log.
    pub notes: Vec<String>,
}

impl Enrichment {
    /// Config recorded the resource as deleted.
    pub fn deleted(&self) -> bool {
        self.item.as_ref().is_some_and(ConfigItem::deleted)
    }
}

/// Ask AWS about `finding` (acting as `role` when given) and write what it says into it.
pub async fn enrich(aws: &Aws, role: Option<&str>, finding: &mut Finding) -> Result<Enrichment, AwsError> {
    let region = finding.resource.region.clone();
    let scope = aws.scope(role, &region).await;
    let mut out = Enrichment::default();
    let evaluated_at = finding.ordering_timestamp.as_deref().and_then(parse_rfc3339_ms);

    if let Some(name) = finding.rule.name.clone() {
        match aws.rule(&scope, role, &region, &name).await {
            Ok(Some(info)) => {
                let what = info.source_identifier.as_deref().unwrap_or("no source identifier");
                let n = info.params.len();
                out.notes.push(format!(
                    "Config rule `{name}` is {} rule `{what}` with {n} parameter{}",
                    info.owner,
                    if n == 1 { "" } else { "s" }
                ));
                if finding.rule.arn.is_none() {
                    finding.rule.arn = info.arn.clone();
                }
                out.rule = Some(info);
            }
            Ok(None) => {
                out.unknown_rule = true;
                out.notes.push(format!("AWS Config has no rule named `{name}` (deleted since the evaluation?)"));
            }
            Err(e) => optional(&mut out, e)?,
        }
    }

    if finding.resource.resource_type != "AWS::::Account" {
        let r = &finding.resource;
        match items::fetch(&scope, &r.resource_type, &r.id, evaluated_at).await {
            Ok(Some(ci)) => {
                out.notes.push(format!(
                    "configuration item {} ({} tag{}){}",
                    ci.status,
                    ci.tags.len(),
                    if ci.tags.len() == 1 { "" } else { "s" },
                    ci.captured_at.as_deref().map(|t| format!(" captured {t}")).unwrap_or_default()
                ));
                apply(finding, &ci);
                out.item = Some(ci);
            }
            Ok(None) => out.notes.push("AWS Config holds no configuration item for the resource".into()),
            Err(e) => optional(&mut out, e)?,
        }
    }

    if aws.settings().cloudtrail && finding.resource.resource_type != "AWS::::Account" {
        let to = evaluated_at.unwrap_or_else(crate::store::now_ms);
        let from = to - i64::try_from(aws.settings().cloudtrail_lookback_hours).unwrap_or(24) * 3_600_000;
        match trail::last_change(&scope, &finding.resource.id, from, to + TRAIL_AFTER_MS).await {
            Ok(Some(change)) => {
                out.notes.push(format!("CloudTrail: {} by {} at {}", change.action, change.actor, change.at));
                finding.changed_by = Some(change);
            }
            Ok(None) => out.notes.push("CloudTrail: no write event on the resource in the window".into()),
            Err(e) => optional(&mut out, e)?,
        }
    }
    Ok(out)
}

/// The item's facts, where the event had none (the event's own values are never overwritten).
fn apply(finding: &mut Finding, ci: &ConfigItem) {
    let r = &mut finding.resource;
    if r.arn.is_none() {
        r.arn = ci.arn.clone();
    }
    if r.name.is_none() {
        r.name = ci.name.clone().filter(|n| *n != r.id);
    }
    if finding.tags.is_empty() {
        finding.tags = ci.tags.clone();
    }
    if finding.configuration.is_none() {
        finding.configuration = ci.configuration.clone();
    }
}

/// A failed optional lookup: noted, unless it is one that every later call would repeat.
fn optional(out: &mut Enrichment, e: AwsError) -> Result<(), AwsError> {
    if e.is_transient() || e.kind == Kind::Credentials {
        return Err(e);
    }
    out.notes.push(format!("skipped: {e}"));
    Ok(())
}
