//! Reconciliation with AWS Config: `driftfix sync`, and `serve` every `[aws] sync_interval_minutes`.
//!
//! Webhooks get lost (a misconfigured API destination, a 5xx during a deploy, a rule created before
//! driftfix was installed), so the account is asked directly: for each route's (role, region), the
//! rules are listed (`DescribeConfigRules`), and for each rule the catalog can fix that has any
//! (`DescribeComplianceByConfigRule`), its NON_COMPLIANT results (`GetComplianceDetailsByConfigRule`, paged; the aggregator variant per
//! account and region when `[aws] aggregator` is set). A result is turned into the Config
//! notification AWS would have sent and recorded through the same store path as a delivered one,
//! so it is keyed, de-duplicated and worked exactly alike. Findings the store already has open are
//! left alone; open findings the rule no longer lists are asked about one by one and, when Config
//! says COMPLIANT (or NOT_APPLICABLE: the resource is gone or out of scope), marked `resolved`.
//!
//! One failing scope (throttled, a role that cannot be assumed) does not stop the others: its error
//! is reported and the command exits non-zero.

use crate::aws::compliance::{self, Evaluation};
use crate::aws::rules::{self, RuleInfo};
use crate::aws::{Aws, Scope};
use crate::catalog;
use crate::config::Config;
use crate::finding::{FindingKey, parse_event};
use crate::store::{NewEvent, Recorded, Store, StoreError};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;

/// States after which a NON_COMPLIANT result is news again (the drift came back).
const CLOSED_STATES: &[&str] = &["resolved", "verified", "resource-deleted"];

/// What to sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only these rule names (as AWS Config names them); empty: every rule the catalog can fix.
    pub rules: Vec<String>,
    /// Only this route.
    pub route: Option<String>,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// (role, region) pairs asked.
    pub scopes: usize,
    /// Rules whose results were listed.
    pub rules: usize,
    /// NON_COMPLIANT results seen.
    pub non_compliant: usize,
    /// Findings recorded and queued.
    pub enqueued: usize,
    /// Results the store already had open.
    pub known: usize,
    /// Open findings Config now reports COMPLIANT or NOT_APPLICABLE.
    pub resolved: usize,
    /// Rules not listed: no catalog entry for them.
    pub skipped_rules: Vec<String>,
    /// One line per failed scope or rule.
    pub errors: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no route is named `{0}`")]
    UnknownRoute(String),
    #[error("`[aws] enabled` is false: sync asks AWS Config")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Run one sync.
pub async fn sync(store: &Store, aws: &Aws, config: &Config, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    if let Some(name) = &opts.route
        && !config.routes.iter().any(|r| r.name == *name)
    {
        return Err(SyncError::UnknownRoute(name.clone()));
    }
    let mut report = SyncReport::default();
    let mut asked: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    for route in config.routes.iter().filter(|r| opts.route.as_ref().is_none_or(|n| *n == r.name)) {
        let regions: Vec<String> = if route.regions.is_empty() {
            if config.aws.region.is_empty() {
                report.errors.push(format!("route `{}` names no regions and `[aws] region` is empty", route.name));
                continue;
            }
            vec![config.aws.region.clone()]
        } else {
            route.regions.clone()
        };
        for region in regions {
            if !asked.insert((route.role_arn.clone(), region.clone())) {
                continue;
            }
            report.scopes += 1;
            let scope = aws.scope(route.role_arn.as_deref(), &region).await;
            let ctx = Ctx { store, config, opts, route, region: &region, scope: &scope };
            if let Err(e) = ctx.run(&mut report).await {
                report.errors.push(format!("route `{}`, {region}: {e}", route.name));
            }
        }
    }
    Ok(report)
}

/// One (route, region) being synced.
struct Ctx<'a> {
    store: &'a Store,
    config: &'a Config,
    opts: &'a SyncOptions,
    route: &'a crate::config::Route,
    region: &'a str,
    scope: &'a Scope,
}

/// A failure inside one scope: AWS (reported, the scope is skipped) or the store (fatal).
enum Failed {
    Aws(crate::aws::AwsError),
    Store(StoreError),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Aws(e) => e.fmt(f),
            Failed::Store(e) => e.fmt(f),
        }
    }
}

impl From<crate::aws::AwsError> for Failed {
    fn from(e: crate::aws::AwsError) -> Failed {
        Failed::Aws(e)
    }
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        Failed::Store(e)
    }
}

impl Ctx<'_> {
    async fn run(&self, report: &mut SyncReport) -> Result<(), Failed> {
        let listed = rules::list(self.scope).await?;
        let mut chosen: Vec<RuleInfo> = Vec::new();
        if self.opts.rules.is_empty() {
            for r in listed {
                if fixable(&r) {
                    chosen.push(r);
                } else if !report.skipped_rules.contains(&r.name) {
                    report.skipped_rules.push(r.name.clone());
                }
            }
        } else {
            for name in &self.opts.rules {
                match listed.iter().find(|r| r.name == *name) {
                    Some(r) => chosen.push(r.clone()),
                    None => report.errors.push(format!("rule `{name}` does not exist in {}", self.region)),
                }
            }
        }
        // Rules with nothing NON_COMPLIANT are not listed (their open findings are still checked).
        let names: Vec<String> = chosen.iter().map(|r| r.name.clone()).collect();
        let with_findings = match &self.config.aws.aggregator {
            Some(_) => names,
            None if names.is_empty() => names,
            None => compliance::rules_with_findings(self.scope, &names).await?,
        };
        for rule in chosen {
            report.rules += 1;
            let listing = with_findings.contains(&rule.name);
            if let Err(e) = self.rule(&rule, listing, report).await {
                match e {
                    Failed::Store(e) => return Err(Failed::Store(e)),
                    Failed::Aws(e) => report.errors.push(format!("rule `{}` in {}: {e}", rule.name, self.region)),
                }
            }
        }
        Ok(())
    }

    /// List one rule's NON_COMPLIANT results (when it has any), record the new ones, resolve the
    /// fixed ones.
    async fn rule(&self, rule: &RuleInfo, listing: bool, report: &mut SyncReport) -> Result<(), Failed> {
        let evaluations: Vec<Evaluation> = match &self.config.aws.aggregator {
            _ if !listing => Vec::new(),
            Some(aggregator) => {
                let mut all = Vec::new();
                for account in &self.route.accounts {
                    all.extend(
                        compliance::aggregate_non_compliant(self.scope, aggregator, &rule.name, account, self.region)
                            .await?,
                    );
                }
                all
            }
            None => {
                let account = rule.arn.as_deref().and_then(account_of).unwrap_or_default();
                compliance::non_compliant(self.scope, &rule.name, &account, self.region).await?
            }
        };
        report.non_compliant += evaluations.len();
        let mut listed: BTreeSet<(String, String, String)> = BTreeSet::new();
        for e in &evaluations {
            listed.insert((e.account.clone(), e.resource_type.clone(), e.resource_id.clone()));
            if self.record(rule, e).await? {
                report.enqueued += 1;
            } else {
                report.known += 1;
            }
        }
        let accounts: BTreeSet<String> = match &self.config.aws.aggregator {
            Some(_) => self.route.accounts.iter().cloned().collect(),
            None => rule.arn.as_deref().and_then(account_of).into_iter().collect(),
        };
        for account in accounts {
            for open in self.store.open_findings(&account, self.region, &rule.name).await? {
                if listed.contains(&(account.clone(), open.resource_type.clone(), open.resource_id.clone())) {
                    continue;
                }
                let now =
                    compliance::of_resource(self.scope, &rule.name, &open.resource_type, &open.resource_id).await?;
                let verdict = now.as_ref().map_or("NOT_APPLICABLE", |e| e.compliance.as_str());
                if matches!(verdict, "COMPLIANT" | "NOT_APPLICABLE") {
                    self.resolve(&open.key, verdict).await?;
                    report.resolved += 1;
                }
            }
        }
        Ok(())
    }

    /// Record a result as if AWS had delivered it; `true` when it is new work.
    async fn record(&self, rule: &RuleInfo, e: &Evaluation) -> Result<bool, StoreError> {
        let body = e.to_notification(rule.arn.as_deref()).to_string();
        let Ok(finding) = parse_event(body.as_bytes()) else { return Ok(false) };
        if !self.route.covers_place(&finding) {
            return Ok(false);
        }
        let rule_key = crate::intake::rule_key(&finding);
        let key = FindingKey::new(&finding.resource, &rule_key);
        if let Some(state) = self.store.finding_state(key.as_str()).await?
            && !CLOSED_STATES.contains(&state.as_str())
        {
            return Ok(false);
        }
        let dedup = format!("{}:{}", key.as_str(), e.ordering_timestamp.as_deref().unwrap_or_default());
        let event = NewEvent {
            source: "sync",
            dedup_id: &dedup,
            body: &body,
            finding: Some((&finding, &rule_key)),
            job_kind: None,
            max_attempts: i64::from(self.config.max_attempts),
        };
        Ok(matches!(self.store.record_event(&event).await?, Recorded::New { .. }))
    }

    async fn resolve(&self, key: &str, verdict: &str) -> Result<(), StoreError> {
        let reason = format!("AWS Config now reports the resource {verdict}.");
        let detail = json!({ "compliance": verdict, "region": self.region });
        self.store.set_state(key, "resolved", &reason, "aws:config", "sync.resolved", &detail).await?;
        if self.store.ticket_key(key).await?.is_some() {
            let payload = json!({ "compliance": verdict }).to_string();
            let attempts = i64::from(self.config.max_attempts);
            self.store.enqueue("ticket:resolved", key, &payload, attempts).await?;
        }
        Ok(())
    }
}

/// Whether the catalog can do something with a rule: AWS's identifier first, then its name.
fn fixable(r: &RuleInfo) -> bool {
    r.managed_identifier().and_then(catalog::by_identifier).is_some() || catalog::by_event_name(&r.name).is_some()
}

/// The account of an ARN (`arn:aws:config:us-east-1:123456789012:config-rule/…`).
fn account_of(arn: &str) -> Option<String> {
    arn.split(':').nth(4).filter(|a| a.len() == 12).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::account_of;

    #[test]
    fn accounts_come_from_rule_arns() {
        assert_eq!(
            account_of("arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc").as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of("config-rule-abc"), None);
    }
}
