//! The organisation's remediation policy: the choices a rule cannot make from the finding alone
//! (which CIDRs may reach SSH, which S3 encryption to use, where access logs go).
//!
//! `driftfix remediate --policy FILE` reads a TOML file whose top-level keys are exactly those of the
//! server configuration's `[policy]` table, so one policy serves the CLI and the server. Unknown keys
//! are errors: a misspelt key silently ignored would mean a fix the user did not ask for.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Remediation policy. Every field is optional; an empty policy gives the catalog's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Sources allowed to reach SSH (port 22). When set, a world-open SSH rule is narrowed to these
    /// instead of losing its world CIDR.
    #[serde(default)]
    pub ssh_allowed_cidrs: Vec<String>,
    /// The same per port for restricted-common-ports, e.g. `{ "3389" = ["10.0.0.0/8"] }`.
    #[serde(default)]
    pub port_allowed_cidrs: BTreeMap<String, Vec<String>>,
    /// `"aws:kms"` (default) or `"AES256"` for S3 default encryption.
    #[serde(default)]
    pub s3_sse_algorithm: Option<String>,
    /// KMS key for S3 default encryption (ARN or a Terraform reference written as text).
    #[serde(default)]
    pub s3_kms_key_id: Option<String>,
    /// Bucket receiving S3 server access logs (used when the rule has no `targetBucket` parameter).
    #[serde(default)]
    pub s3_log_bucket: Option<String>,
    /// Prefix for S3 access logs; `{bucket}` is replaced by the logged bucket's name.
    #[serde(default)]
    pub s3_log_prefix: Option<String>,
    /// Backup retention for RDS, in days (default 7; the rule's minimum wins when higher).
    #[serde(default)]
    pub rds_backup_retention_days: Option<u32>,
    /// Tags that exempt a resource from remediation, as `key` (any value but `false`) or
    /// `key=value` (value compared case-insensitively). Unset: [`DEFAULT_EXEMPTION_TAGS`].
    #[serde(default)]
    pub exemption_tags: Option<Vec<String>>,
}

/// The exemption tags when the policy names none: driftfix's own, and the `SecurityExemption=True`
/// convention of the auto-remediation articles the product grew from.
pub const DEFAULT_EXEMPTION_TAGS: [&str; 2] = ["driftfix:exempt", "SecurityExemption=True"];

/// A policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    Toml(String),
    #[error("`{key}` holds `{value}`, which is not a CIDR block")]
    BadCidr { key: String, value: String },
    #[error("`s3_sse_algorithm` must be \"aws:kms\" or \"AES256\", not `{0}`")]
    BadAlgorithm(String),
    #[error("`exemption_tags` holds `{0}`, which is not `key` or `key=value`")]
    BadExemptionTag(String),
}

/// One exemption tag: a key, and the value it must have (`None`: any value but `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExemptionTag<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
}

impl std::fmt::Display for ExemptionTag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.value {
            Some(v) => write!(f, "{}={v}", self.key),
            None => f.write_str(self.key),
        }
    }
}

impl<'a> ExemptionTag<'a> {
    /// `key` or `key=value`; `None` when the key is empty.
    pub fn parse(spec: &'a str) -> Option<ExemptionTag<'a>> {
        let (key, value) = match spec.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (spec.trim(), None),
        };
        (!key.is_empty()).then_some(ExemptionTag { key, value })
    }

    /// Whether the tag `key = value` is this exemption (tag keys are case-sensitive in AWS).
    pub fn matches(&self, key: &str, value: &str) -> bool {
        key == self.key
            && match self.value {
                Some(want) => value.trim().eq_ignore_ascii_case(want),
                None => !value.trim().eq_ignore_ascii_case("false"),
            }
    }
}

impl Policy {
    /// Parse and validate a policy document.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let lists = std::iter::once(("ssh_allowed_cidrs".to_owned(), &self.ssh_allowed_cidrs))
            .chain(self.port_allowed_cidrs.iter().map(|(p, v)| (format!("port_allowed_cidrs.{p}"), v)));
        for (key, list) in lists {
            if let Some(bad) = list.iter().find(|c| !is_cidr(c)) {
                return Err(PolicyError::BadCidr { key, value: bad.clone() });
            }
        }
        if let Some(a) = &self.s3_sse_algorithm
            && a != "aws:kms"
            && a != "AES256"
        {
            return Err(PolicyError::BadAlgorithm(a.clone()));
        }
        if let Some(bad) = self.exemption_tags.iter().flatten().find(|t| ExemptionTag::parse(t).is_none()) {
            return Err(PolicyError::BadExemptionTag(bad.clone()));
        }
        Ok(())
    }

    /// The exemption tags in force (the policy's, else the defaults).
    pub fn exemption_tags(&self) -> Vec<ExemptionTag<'_>> {
        match &self.exemption_tags {
            Some(list) => list.iter().filter_map(|t| ExemptionTag::parse(t)).collect(),
            None => DEFAULT_EXEMPTION_TAGS.iter().filter_map(|t| ExemptionTag::parse(t)).collect(),
        }
    }

    /// The first exemption tag found among `tags`, written as configured.
    pub fn exempting_tag<'t>(&self, tags: impl IntoIterator<Item = (&'t str, &'t str)> + Clone) -> Option<String> {
        self.exemption_tags()
            .into_iter()
            .find(|e| tags.clone().into_iter().any(|(k, v)| e.matches(k, v)))
            .map(|e| e.to_string())
    }

    /// CIDRs allowed for `port`, when the policy says (SSH uses `ssh_allowed_cidrs`).
    pub fn allowed_cidrs(&self, port: u16) -> Option<&[String]> {
        if let Some(list) = self.port_allowed_cidrs.get(&port.to_string()) {
            return Some(list);
        }
        (port == 22 && !self.ssh_allowed_cidrs.is_empty()).then_some(self.ssh_allowed_cidrs.as_slice())
    }
}

/// `a.b.c.d/n` or an IPv6 prefix.
pub fn is_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else { return false };
    let Ok(len) = len.parse::<u8>() else { return false };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len <= 32,
        Ok(std::net::IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(Policy::from_toml("ssh_allowed_cidr = []").is_err());
        assert!(matches!(Policy::from_toml("ssh_allowed_cidrs = [\"10.0.0.0\"]"), Err(PolicyError::BadCidr { .. })));
        assert!(matches!(Policy::from_toml("s3_sse_algorithm = \"des\""), Err(PolicyError::BadAlgorithm(_))));
        let p = Policy::from_toml(
            "ssh_allowed_cidrs = [\"10.0.0.0/8\"]\n[port_allowed_cidrs]\n3389 = [\"192.168.0.0/16\"]",
        )
        .unwrap();
        assert_eq!(p.allowed_cidrs(22), Some(&["10.0.0.0/8".to_owned()][..]));
        assert_eq!(p.allowed_cidrs(3389), Some(&["192.168.0.0/16".to_owned()][..]));
        assert_eq!(p.allowed_cidrs(21), None);
    }

    #[test]
    fn exemption_tags_match_by_key_or_by_key_and_value() {
        let defaults = Policy::default();
        assert_eq!(defaults.exempting_tag([("SecurityExemption", "true")]), Some("SecurityExemption=True".into()));
        assert_eq!(defaults.exempting_tag([("SecurityExemption", "False")]), None);
        assert_eq!(defaults.exempting_tag([("driftfix:exempt", "yes")]), Some("driftfix:exempt".into()));
        assert_eq!(defaults.exempting_tag([("driftfix:exempt", "false")]), None);
        assert_eq!(defaults.exempting_tag([("Driftfix:Exempt", "yes")]), None, "tag keys are case-sensitive");
        let own = Policy::from_toml("exemption_tags = [\"waiver = approved\"]").unwrap();
        assert_eq!(own.exempting_tag([("waiver", "Approved")]), Some("waiver=approved".into()));
        assert_eq!(own.exempting_tag([("SecurityExemption", "True")]), None, "a policy's list replaces the defaults");
        assert!(matches!(Policy::from_toml("exemption_tags = [\"=x\"]"), Err(PolicyError::BadExemptionTag(_))));
    }
}
