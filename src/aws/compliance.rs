//! Config's compliance verdicts: which resources a rule finds NON_COMPLIANT (for `sync`, directly
//! or through an aggregator), what a rule says about one resource now (for `sync` and
//! verification), and asking Config to evaluate a rule again (after a fix is merged).

use super::{AwsError, Scope, rfc3339};
use aws_sdk_config::types::{ComplianceType, EvaluationResultIdentifier};
use serde_json::json;

/// One evaluation result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub rule_name: String,
    pub resource_type: String,
    pub resource_id: String,
    pub account: String,
    pub region: String,
    /// `COMPLIANT`, `NON_COMPLIANT`, `NOT_APPLICABLE`, `INSUFFICIENT_DATA`.
    pub compliance: String,
    pub annotation: Option<String>,
    /// RFC 3339; what the finding key's redelivery check and the verifier compare.
    pub ordering_timestamp: Option<String>,
    pub recorded_at: Option<String>,
}

impl Evaluation {
    /// The evaluation as the Config notification AWS would have sent for it, so a finding found by
    /// `sync` goes through exactly the path a delivered one does.
    pub fn to_notification(&self, rule_arn: Option<&str>) -> serde_json::Value {
        json!({
            "awsAccountId": self.account,
            "awsRegion": self.region,
            "configRuleName": self.rule_name,
            "configRuleARN": rule_arn,
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "messageType": "ComplianceChangeNotification",
            "recordVersion": "1.0",
            "notificationCreationTime": self.recorded_at,
            "newEvaluationResult": {
                "evaluationResultIdentifier": {
                    "evaluationResultQualifier": {
                        "configRuleName": self.rule_name,
                        "resourceType": self.resource_type,
                        "resourceId": self.resource_id,
                    },
                    "orderingTimestamp": self.ordering_timestamp,
                },
                "complianceType": self.compliance,
                "resultRecordedTime": self.recorded_at,
                "annotation": self.annotation,
            },
        })
    }
}

/// The members every evaluation result shape shares (plain and aggregate).
struct Parts<'a> {
    id: Option<&'a EvaluationResultIdentifier>,
    compliance: Option<&'a ComplianceType>,
    annotation: Option<&'a str>,
    recorded: Option<&'a aws_sdk_config::primitives::DateTime>,
}

/// One result as an [`Evaluation`]; `None` when AWS left out the resource it is about.
fn evaluation(rule: &str, account: &str, region: &str, p: Parts<'_>) -> Option<Evaluation> {
    let id = p.id?;
    let q = id.evaluation_result_qualifier()?;
    Some(Evaluation {
        rule_name: q.config_rule_name().unwrap_or(rule).to_owned(),
        resource_type: q.resource_type()?.to_owned(),
        resource_id: q.resource_id()?.to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        compliance: p.compliance.map_or("INSUFFICIENT_DATA", |c| c.as_str()).to_owned(),
        annotation: p.annotation.map(str::to_owned),
        ordering_timestamp: id.ordering_timestamp().map(rfc3339),
        recorded_at: p.recorded.map(rfc3339),
    })
}

/// Results per page (the API's maximum).
const PAGE: i32 = 100;

/// Every NON_COMPLIANT result of a rule in the scope's account and region.
pub async fn non_compliant(
    scope: &Scope,
    rule: &str,
    account: &str,
    region: &str,
) -> Result<Vec<Evaluation>, AwsError> {
    const OP: &str = "config:GetComplianceDetailsByConfigRule";
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = scope
            .config
            .get_compliance_details_by_config_rule()
            .config_rule_name(rule)
            .compliance_types(ComplianceType::NonCompliant)
            .limit(PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(OP, e))?;
        out.extend(page.evaluation_results().iter().filter_map(|r| {
            let parts = Parts {
                id: r.evaluation_result_identifier(),
                compliance: r.compliance_type(),
                annotation: r.annotation(),
                recorded: r.result_recorded_time(),
            };
            evaluation(rule, account, region, parts)
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// Every NON_COMPLIANT result of a rule in one account and region, through an aggregator.
pub async fn aggregate_non_compliant(
    scope: &Scope,
    aggregator: &str,
    rule: &str,
    account: &str,
    region: &str,
) -> Result<Vec<Evaluation>, AwsError> {
    const OP: &str = "config:GetAggregateComplianceDetailsByConfigRule";
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = scope
            .config
            .get_aggregate_compliance_details_by_config_rule()
            .configuration_aggregator_name(aggregator)
            .config_rule_name(rule)
            .account_id(account)
            .aws_region(region)
            .compliance_type(ComplianceType::NonCompliant)
            .limit(PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(OP, e))?;
        out.extend(page.aggregate_evaluation_results().iter().filter_map(|r| {
            let parts = Parts {
                id: r.evaluation_result_identifier(),
                compliance: r.compliance_type(),
                annotation: r.annotation(),
                recorded: r.result_recorded_time(),
            };
            evaluation(rule, r.account_id().unwrap_or(account), r.aws_region().unwrap_or(region), parts)
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// What `rule` says about one resource now: `None` when it has no result for it (the resource is
/// out of the rule's scope, or deleted and forgotten).
pub async fn of_resource(
    scope: &Scope,
    rule: &str,
    resource_type: &str,
    resource_id: &str,
) -> Result<Option<Evaluation>, AwsError> {
    const OP: &str = "config:GetComplianceDetailsByResource";
    let mut token: Option<String> = None;
    loop {
        let page = scope
            .config
            .get_compliance_details_by_resource()
            .resource_type(resource_type)
            .resource_id(resource_id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(OP, e))?;
        let found = page.evaluation_results().iter().find_map(|r| {
            let parts = Parts {
                id: r.evaluation_result_identifier(),
                compliance: r.compliance_type(),
                annotation: r.annotation(),
                recorded: r.result_recorded_time(),
            };
            evaluation(rule, "", "", parts).filter(|e| e.rule_name == rule)
        });
        if found.is_some() {
            return Ok(found);
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// Which of `rules` have at least one NON_COMPLIANT result (`DescribeComplianceByConfigRule`, 25
/// names per call): `sync` lists the results of those only.
pub async fn rules_with_findings(scope: &Scope, rules: &[String]) -> Result<Vec<String>, AwsError> {
    const OP: &str = "config:DescribeComplianceByConfigRule";
    let mut out = Vec::new();
    for names in rules.chunks(25) {
        let mut token: Option<String> = None;
        loop {
            let page = scope
                .config
                .describe_compliance_by_config_rule()
                .set_config_rule_names(Some(names.to_vec()))
                .compliance_types(ComplianceType::NonCompliant)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e))?;
            out.extend(page.compliance_by_config_rules().iter().filter_map(|c| {
                let non_compliant =
                    c.compliance().and_then(|c| c.compliance_type()) == Some(&ComplianceType::NonCompliant);
                c.config_rule_name().filter(|_| non_compliant).map(str::to_owned)
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// Ask Config to evaluate `rule` again. An evaluation already running for it counts as started.
pub async fn start_evaluation(scope: &Scope, rule: &str) -> Result<(), AwsError> {
    const OP: &str = "config:StartConfigRulesEvaluation";
    match scope.config.start_config_rules_evaluation().config_rule_names(rule).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = AwsError::from_sdk(OP, e);
            if e.code.as_deref() == Some("LimitExceededException")
                || e.code.as_deref() == Some("ResourceInUseException")
            {
                return Ok(());
            }
            Err(e)
        }
    }
}
