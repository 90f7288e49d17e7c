//! What a Config rule really is: `DescribeConfigRules` gives its `SourceIdentifier` (the catalog key;
//! rule *names* are free text, `acme-no-ssh` may be `INCOMING_SSH_DISABLED`) and its
//! `InputParameters` (blocked ports, required tag keys, KMS keys, log bucket…), neither of which an
//! event carries.
//!
//! Rules change rarely and findings arrive in bursts per rule, so answers are cached per (role,
//! region, rule name) for `[aws] rule_cache_seconds`, including "no such rule" (a rule deleted while
//! its findings are in flight must not cost one call per finding).

use super::{AwsError, Kind, Scope, lock};
use crate::catalog::Params;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A Config rule as driftfix needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub arn: Option<String>,
    /// `AWS` (managed), `CUSTOM_LAMBDA` or `CUSTOM_POLICY`.
    pub owner: String,
    /// The managed rule identifier (`INCOMING_SSH_DISABLED`); for custom rules, the Lambda ARN.
    pub source_identifier: Option<String>,
    /// `InputParameters` (a JSON object in a string), flattened to strings as the catalog reads them.
    pub params: Params,
}

impl RuleInfo {
    /// The managed identifier, for AWS-owned rules only (a custom rule's identifier is a Lambda ARN).
    pub fn managed_identifier(&self) -> Option<&str> {
        self.source_identifier.as_deref().filter(|_| self.owner == "AWS")
    }
}

type CacheKey = (Option<String>, String, String);

/// Answers of `DescribeConfigRules`, kept for a while.
#[derive(Debug)]
pub struct RuleCache {
    ttl: Duration,
    entries: Mutex<HashMap<CacheKey, (Instant, Option<RuleInfo>)>>,
}

impl RuleCache {
    pub fn new(ttl: Duration) -> RuleCache {
        RuleCache { ttl, entries: Mutex::default() }
    }

    /// The rule named `name`: `Ok(None)` when AWS says there is no such rule.
    pub async fn describe(
        &self,
        scope: &Scope,
        role: Option<&str>,
        region: &str,
        name: &str,
    ) -> Result<Option<RuleInfo>, AwsError> {
        let key = (role.map(str::to_owned), region.to_owned(), name.to_owned());
        if let Some((at, info)) = lock(&self.entries).get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok(info.clone());
        }
        let info = describe(scope, name).await?;
        lock(&self.entries).insert(key, (Instant::now(), info.clone()));
        Ok(info)
    }
}

/// `DescribeConfigRules` for one name.
async fn describe(scope: &Scope, name: &str) -> Result<Option<RuleInfo>, AwsError> {
    const OP: &str = "config:DescribeConfigRules";
    match scope.config.describe_config_rules().config_rule_names(name).send().await {
        Ok(out) => Ok(out.config_rules().iter().find(|r| r.config_rule_name() == Some(name)).map(rule_info)),
        Err(e) => {
            let e = AwsError::from_sdk(OP, e);
            if e.kind == Kind::NotFound { Ok(None) } else { Err(e) }
        }
    }
}

/// Every rule in the scope's account and region (paged), for `sync`.
pub async fn list(scope: &Scope) -> Result<Vec<RuleInfo>, AwsError> {
    const OP: &str = "config:DescribeConfigRules";
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = scope
            .config
            .describe_config_rules()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(OP, e))?;
        out.extend(page.config_rules().iter().map(rule_info));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

fn rule_info(r: &aws_sdk_config::types::ConfigRule) -> RuleInfo {
    let source = r.source();
    RuleInfo {
        name: r.config_rule_name().unwrap_or_default().to_owned(),
        arn: r.config_rule_arn().map(str::to_owned),
        owner: source.map(|s| s.owner().as_str().to_owned()).unwrap_or_default(),
        source_identifier: source.and_then(|s| s.source_identifier()).map(str::to_owned),
        params: parse_params(r.input_parameters().unwrap_or_default()),
    }
}

/// `InputParameters` as the catalog reads them: every value a string (AWS stores them as strings,
/// but hand-written rules sometimes hold numbers or booleans); anything else is ignored.
pub fn parse_params(json: &str) -> Params {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) else { return Params::default() };
    Params::new(map.into_iter().filter_map(|(k, v)| {
        let v = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        Some((k, v))
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_params;

    #[test]
    fn parameters_are_read_as_strings() {
        let p = parse_params(r#"{"blockedPort1":"3389","blockedPort2":5432,"isMfaDeleteEnabled":true,"x":[1]}"#);
        assert_eq!(p.get("blockedPort1"), Some("3389"));
        assert_eq!(p.get("blockedPort2"), Some("5432"));
        assert_eq!(p.get("isMfaDeleteEnabled"), Some("true"));
        assert_eq!(p.get("x"), None);
        assert!(parse_params("").is_empty());
        assert!(parse_params("not json").is_empty());
    }
}
