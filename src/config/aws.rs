//! The `[aws]` table: whether driftfix asks AWS about findings, how its calls behave, and how
//! `sync` and verification are paced.
//!
//! Credentials are never configured here: they come from the SDK's default chain (environment,
//! web identity, ECS or EC2 instance role, shared profile), and a route's `role_arn` is assumed on
//! top of them for its accounts. Endpoints are overridable per service so tests (and private
//! endpoints) can point each client elsewhere.

use serde::Deserialize;
use std::time::Duration;

/// The `[aws]` table. Off by default: without it, the event is all driftfix knows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Aws {
    /// Ask AWS Config (and CloudTrail) about each finding, and allow `sync` and verification.
    pub enabled: bool,
    /// Region `sync` lists in for a route that names no `regions`.
    pub region: String,
    /// Connecting to an AWS endpoint.
    pub connect_timeout_seconds: u64,
    /// One call, all retries included.
    pub call_timeout_seconds: u64,
    /// Attempts per call (the SDK's standard retry: throttling and transient errors, with backoff).
    pub max_attempts: u32,
    /// How long a rule's identifier and parameters are kept before `DescribeConfigRules` is asked again.
    pub rule_cache_seconds: u64,
    /// Look up who changed the resource (CloudTrail `LookupEvents`).
    pub cloudtrail: bool,
    /// How far before the evaluation CloudTrail is searched.
    pub cloudtrail_lookback_hours: u64,
    /// A Config aggregator: `sync` lists through it (every account and region it aggregates).
    pub aggregator: Option<String>,
    /// `serve` runs `sync` this often; 0 turns it off (the `driftfix sync` command still works).
    pub sync_interval_minutes: u64,
    /// After a driftfix pull request merges, re-evaluate the rule and confirm the fix.
    pub verify: bool,
    /// Time allowed for the merged change to be applied before the rule is re-evaluated.
    pub verify_delay_minutes: u64,
    /// How often the resource's compliance is asked for while verifying.
    pub verify_poll_seconds: u64,
    /// After this long still NON_COMPLIANT, the ticket is asked whether the change was applied.
    pub verify_timeout_minutes: u64,
    pub endpoints: Endpoints,
}

/// Endpoint overrides, per service; empty means AWS's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Endpoints {
    pub config: String,
    pub cloudtrail: String,
    pub s3: String,
    pub sts: String,
}

impl Default for Aws {
    fn default() -> Self {
        Aws {
            enabled: false,
            region: String::new(),
            connect_timeout_seconds: 3,
            call_timeout_seconds: 30,
            max_attempts: 3,
            rule_cache_seconds: 900,
            cloudtrail: true,
            cloudtrail_lookback_hours: 24,
            aggregator: None,
            sync_interval_minutes: 0,
            verify: true,
            verify_delay_minutes: 10,
            verify_poll_seconds: 60,
            verify_timeout_minutes: 120,
            endpoints: Endpoints::default(),
        }
    }
}

impl Aws {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_seconds)
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_secs(self.call_timeout_seconds)
    }

    pub fn rule_cache(&self) -> Duration {
        Duration::from_secs(self.rule_cache_seconds)
    }

    pub fn sync_interval(&self) -> Option<Duration> {
        (self.sync_interval_minutes > 0).then(|| Duration::from_secs(self.sync_interval_minutes * 60))
    }

    /// Problems with the table, each with the dotted key it is about.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (key, value) in [
            ("aws.connect_timeout_seconds", self.connect_timeout_seconds),
            ("aws.call_timeout_seconds", self.call_timeout_seconds),
            ("aws.max_attempts", u64::from(self.max_attempts)),
            ("aws.verify_poll_seconds", self.verify_poll_seconds),
        ] {
            if value == 0 {
                out.push((key, format!("`{key}` must be at least 1")));
            }
        }
        if !self.region.is_empty() && !super::is_region(&self.region) {
            out.push(("aws.region", format!("`aws.region` `{}` is not an AWS region name", self.region)));
        }
        if self.aggregator.as_deref().is_some_and(|a| a.trim().is_empty()) {
            out.push(("aws.aggregator", "`aws.aggregator` is empty: name the aggregator or remove the key".into()));
        }
        for (key, url) in [
            ("aws.endpoints.config", &self.endpoints.config),
            ("aws.endpoints.cloudtrail", &self.endpoints.cloudtrail),
            ("aws.endpoints.s3", &self.endpoints.s3),
            ("aws.endpoints.sts", &self.endpoints.sts),
        ] {
            let ok = url.is_empty()
                || url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
            if !ok {
                out.push((key, format!("`{key}` `{url}` is not an http(s) URL")));
            }
        }
        out
    }
}

/// Whether `arn` looks like an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`).
pub fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{Aws, is_role_arn};

    #[test]
    fn role_arns_are_recognised() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/driftfix"));
        assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/path/driftfix"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/driftfix"));
        assert!(!is_role_arn("arn:aws:iam::12345:role/driftfix"));
        assert!(!is_role_arn("driftfix"));
    }

    #[test]
    fn zero_timeouts_and_bad_endpoints_are_problems() {
        let a = Aws {
            call_timeout_seconds: 0,
            region: "useast1".into(),
            endpoints: super::Endpoints { config: "ftp://x".into(), ..Default::default() },
            ..Aws::default()
        };
        let keys: Vec<&str> = a.problems().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["aws.call_timeout_seconds", "aws.region", "aws.endpoints.config"]);
        assert!(Aws::default().problems().is_empty());
    }
}
