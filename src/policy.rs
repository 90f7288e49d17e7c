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
}

/// A policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    Toml(String),
    #[error("`{key}` holds `{value}`, which is not a CIDR block")]
    BadCidr { key: String, value: String },
    #[error("`s3_sse_algorithm` must be \"aws:kms\" or \"AES256\", not `{0}`")]
    BadAlgorithm(String),
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
        Ok(())
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
}
