//! The worker's AWS steps: enrich a finding before it is routed, and read a route's Terraform state
//! from S3. Both are skipped when `[aws]` is off; both act as the route's `role_arn`.

use super::{Failure, Worker};
use crate::aws::enrich::{Enrichment, enrich};
use crate::aws::{AwsError, Kind, S3Location};
use crate::config::Route;
use crate::finding::Finding;
use serde_json::json;

/// How long a throttled AWS call waits before its job runs again (the SDK already retried it).
const THROTTLE_BACKOFF_MS: i64 = 60_000;

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Failure {
        match e.kind {
            Kind::Throttled => Failure::RateLimited {
                retry_at_ms: crate::store::now_ms() + THROTTLE_BACKOFF_MS,
                reason: format!("AWS rate limit: {e}"),
            },
            _ => Failure::Job(e.to_string()),
        }
    }
}

impl Worker {
    /// The role AWS calls about `finding` act as: the first route that covers its account and region
    /// (tags are not known yet; enrichment is what brings them).
    pub(super) fn role_for(&self, finding: &Finding) -> Option<String> {
        self.config.routes.iter().find(|r| r.covers_place(finding)).and_then(|r| r.role_arn.clone())
    }

    /// Ask AWS about the finding (when `[aws]` is on) and record what it said.
    pub(super) async fn enrich(&self, key: &str, finding: &mut Finding) -> Result<Option<Enrichment>, Failure> {
        let Some(aws) = &self.config.aws else { return Ok(None) };
        let role = self.role_for(finding);
        let enriched = enrich(aws, role.as_deref(), finding).await?;
        let detail = json!({
            "rule_identifier": enriched.rule.as_ref().and_then(|r| r.source_identifier.clone()),
            "parameters": enriched.rule.as_ref().map(|r| &r.params),
            "arn": finding.resource.arn,
            "changed_by": finding.changed_by,
            "notes": enriched.notes,
        });
        self.store.audit(Some(key), "driftfix", "enriched", &detail).await?;
        Ok(Some(enriched))
    }

    /// The route's state files kept in S3, as (location, text), read with the route's role.
    pub(super) async fn remote_states(&self, route: &Route, region: &str) -> Result<Vec<(String, String)>, Failure> {
        let locations: Vec<S3Location> = route.state.iter().filter_map(|p| S3Location::parse(p)).collect();
        if locations.is_empty() {
            return Ok(Vec::new());
        }
        let Some(aws) = &self.config.aws else {
            return Err(Failure::Job(format!("route `{}` reads state from S3, but `[aws]` is off", route.name)));
        };
        let mut out = Vec::with_capacity(locations.len());
        for loc in locations {
            let (text, _) = aws.read_state(route.role_arn.as_deref(), region, &loc).await?;
            out.push((loc.to_string(), text.as_str().to_owned()));
        }
        Ok(out)
    }
}
