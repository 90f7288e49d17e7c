//! Asking AWS what an event does not say: the rule behind a rule name, the resource's configuration
//! item and tags, who changed it, which findings the webhooks missed, and whether a merged fix made
//! the resource compliant.
//!
//! Everything AWS-facing goes through [`Aws`]: one base SDK configuration (the default credential
//! chain, `[aws]` timeouts and retries, per-service endpoint overrides), and from it one set of
//! clients per (role, region), built on first use and kept. A route's `role_arn` is assumed with STS
//! on top of the base credentials, so one driftfix can serve many accounts. The modules each do one
//! thing: [`rules`] (DescribeConfigRules, cached), [`items`] (configuration items), [`trail`]
//! (CloudTrail), [`compliance`] (listing and re-evaluating), [`state`] (Terraform state in S3), and
//! [`enrich`] puts the first three together for the worker.

pub mod compliance;
pub mod enrich;
pub mod error;
pub mod items;
pub mod rules;
pub mod state;
pub mod trail;

pub use error::{AwsError, Kind};
pub use state::S3Location;

use crate::config::aws::Aws as Settings;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_config::config::Credentials;
use aws_sdk_config::config::retry::RetryConfig;
use aws_sdk_config::config::timeout::TimeoutConfig;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The clients for one (role, region).
#[derive(Debug, Clone)]
pub struct Scope {
    pub config: aws_sdk_config::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub s3: aws_sdk_s3::Client,
}

/// The AWS side of driftfix: settings, base configuration, clients per (role, region), caches.
#[derive(Debug)]
pub struct Aws {
    settings: Settings,
    base: SdkConfig,
    scopes: Mutex<HashMap<(Option<String>, String), Scope>>,
    rules: rules::RuleCache,
    states: state::StateCache,
}

impl Aws {
    /// Load the base configuration: the SDK's default credential chain, or `credentials` when given
    /// (tests). The region is per call; `[aws] region` (or `us-east-1`) only fills the default.
    pub async fn load(settings: Settings, credentials: Option<Credentials>) -> Aws {
        let region = if settings.region.is_empty() { "us-east-1".to_owned() } else { settings.region.clone() };
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region))
            .timeout_config(timeouts(&settings))
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)));
        if let Some(c) = credentials {
            loader = loader.credentials_provider(c);
        }
        let base = loader.load().await;
        let rules = rules::RuleCache::new(settings.rule_cache());
        Aws { settings, base, scopes: Mutex::default(), rules, states: state::StateCache::default() }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clients for `region`, acting as `role_arn` when given (assumed with STS, refreshed by the
    /// SDK before the session expires).
    pub async fn scope(&self, role_arn: Option<&str>, region: &str) -> Scope {
        let key = (role_arn.map(str::to_owned), region.to_owned());
        if let Some(s) = self.scopes.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return s.clone();
        }
        let region = Region::new(region.to_owned());
        let mut conf = self.base.to_builder().region(region.clone()).build();
        if let Some(role) = role_arn {
            let sts = with_endpoint(&conf, &self.settings.endpoints.sts);
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("driftfix")
                .region(region)
                .configure(&sts)
                .build()
                .await;
            conf = conf
                .into_builder()
                .credentials_provider(aws_sdk_config::config::SharedCredentialsProvider::new(provider))
                .build();
        }
        let e = &self.settings.endpoints;
        let scope = Scope {
            config: aws_sdk_config::Client::new(&with_endpoint(&conf, &e.config)),
            cloudtrail: aws_sdk_cloudtrail::Client::new(&with_endpoint(&conf, &e.cloudtrail)),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&with_endpoint(&conf, &e.s3))
                    .force_path_style(!e.s3.is_empty())
                    .build(),
            ),
        };
        self.scopes.lock().unwrap_or_else(PoisonError::into_inner).entry(key).or_insert(scope).clone()
    }
}

impl Aws {
    /// A Config rule by name, through the cache (see [`rules`]).
    pub async fn rule(
        &self,
        scope: &Scope,
        role: Option<&str>,
        region: &str,
        name: &str,
    ) -> Result<Option<rules::RuleInfo>, AwsError> {
        self.rules.describe(scope, role, region, name).await
    }

    /// A Terraform state file in S3, through the ETag cache (see [`state`]); `region` is asked first.
    pub async fn read_state(
        &self,
        role: Option<&str>,
        region: &str,
        loc: &S3Location,
    ) -> Result<(Arc<String>, state::Read), AwsError> {
        self.states.read_anywhere(self, role, region, loc).await
    }
}

fn timeouts(s: &Settings) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(s.connect_timeout())
        .read_timeout(s.call_timeout())
        .operation_timeout(s.call_timeout())
        .build()
}

/// `conf` with its endpoint replaced when an override is set.
fn with_endpoint(conf: &SdkConfig, url: &str) -> SdkConfig {
    if url.is_empty() { conf.clone() } else { conf.to_builder().endpoint_url(url).build() }
}

/// `DateTime` from epoch milliseconds.
pub(crate) fn datetime_ms(ms: i64) -> aws_sdk_config::primitives::DateTime {
    aws_sdk_config::primitives::DateTime::from_millis(ms)
}

/// An RFC 3339 timestamp (what events carry) as epoch milliseconds.
pub(crate) fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    use aws_sdk_config::primitives::{DateTime, DateTimeFormat};
    DateTime::from_str(s, DateTimeFormat::DateTimeWithOffset)
        .or_else(|_| DateTime::from_str(s, DateTimeFormat::DateTime))
        .ok()
        .and_then(|d| d.to_millis().ok())
}

/// A `DateTime` as RFC 3339 (what events and templates carry).
pub(crate) fn rfc3339(d: &aws_sdk_config::primitives::DateTime) -> String {
    d.fmt(aws_sdk_config::primitives::DateTimeFormat::DateTime).unwrap_or_default()
}

/// The lock guard type used by the caches (poison is ignored: a cache is rebuilt from AWS anyway).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
