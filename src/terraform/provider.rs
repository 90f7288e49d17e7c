//! Which AWS provider major/minor a root module uses, to choose between the inline (v3) and the split
//! (v4+) S3 resource styles. Writing both styles for one bucket makes the provider fight itself, so
//! this is decided once per root: `.terraform.lock.hcl` first, then `required_providers`.

use super::literal;
use super::workspace::Workspace;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::Structure;

/// AWS provider version as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ProviderVersion {
    pub major: u32,
    pub minor: u32,
}

/// Where the version came from, for PR text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum VersionSource {
    LockFile(String),
    RequiredProviders(String),
    /// Nothing pinned: current provider assumed.
    Default,
}

/// S3 configuration style the provider version calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Style {
    /// Provider v3: settings are blocks inside `aws_s3_bucket`.
    Inline,
    /// Provider v4+: separate `aws_s3_bucket_*` resources keyed by `bucket`.
    Split,
}

impl ProviderVersion {
    /// Version assumed when nothing is pinned: the split style, current since 2022.
    pub const DEFAULT: ProviderVersion = ProviderVersion { major: 5, minor: 0 };

    pub fn s3_style(self) -> S3Style {
        if self.major <= 3 { S3Style::Inline } else { S3Style::Split }
    }

    /// Inline S3 arguments are read-only on 4.0–4.8 (the bucket cannot keep inline settings).
    pub fn inline_s3_is_read_only(self) -> bool {
        self.major == 4 && self.minor < 9
    }
}

/// Detect the AWS provider version for a root module directory.
pub fn detect(ws: &Workspace, root: &str) -> (ProviderVersion, VersionSource) {
    let lock_path =
        if root.is_empty() { ".terraform.lock.hcl".to_owned() } else { format!("{root}/.terraform.lock.hcl") };
    if let Some(text) = ws.lock_files().get(&lock_path)
        && let Some(v) = from_lock_file(text)
    {
        return (v, VersionSource::LockFile(lock_path));
    }
    for f in ws.files().iter().filter(|f| f.dir() == root) {
        for s in f.body.iter() {
            let Structure::Block(tf) = s else { continue };
            if tf.ident.value().as_str() != "terraform" {
                continue;
            }
            for rp in tf.body.blocks().filter(|b| b.ident.value().as_str() == "required_providers") {
                let Some(aws) = rp.body.get_attribute("aws") else { continue };
                let constraint = match &aws.value {
                    Expression::String(s) => Some(s.value().clone()),
                    Expression::Object(o) => o.iter().find_map(|(k, v)| match k {
                        ObjectKey::Ident(i) if i.value().as_str() == "version" => {
                            literal::eval(v.expr()).ok().and_then(|v| v.as_str().map(str::to_owned))
                        }
                        _ => None,
                    }),
                    _ => None,
                };
                if let Some(c) = constraint
                    && let Some(v) = lower_bound(&c)
                {
                    return (v, VersionSource::RequiredProviders(f.path.clone()));
                }
            }
        }
    }
    (ProviderVersion::DEFAULT, VersionSource::Default)
}

fn from_lock_file(text: &str) -> Option<ProviderVersion> {
    let body = hcl_edit::parser::parse_body(text).ok()?;
    body.blocks()
        .filter(|b| b.ident.value().as_str() == "provider")
        .find(|b| b.labels.first().is_some_and(|l| l.as_str().ends_with("hashicorp/aws")))
        .and_then(|b| literal::attr_str(&b.body, "version")?.ok())
        .and_then(|v| parse_version(&v))
}

/// The lowest version a constraint like `~> 4.9`, `>= 3.0, < 5.0` or `5.31.0` admits.
fn lower_bound(constraint: &str) -> Option<ProviderVersion> {
    constraint
        .split(',')
        .map(str::trim)
        .filter(|c| !c.starts_with('<') && !c.starts_with("!="))
        .filter_map(|c| parse_version(c.trim_start_matches(['~', '>', '=', ' '])))
        .min()
}

fn parse_version(s: &str) -> Option<ProviderVersion> {
    let mut it = s.trim().split('.');
    let major = it.next()?.trim().parse().ok()?;
    let minor = it.next().and_then(|m| m.trim().parse().ok()).unwrap_or(0);
    Some(ProviderVersion { major, minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_give_their_lower_bound() {
        assert_eq!(lower_bound("~> 4.9"), Some(ProviderVersion { major: 4, minor: 9 }));
        assert_eq!(lower_bound(">= 3.0, < 5.0"), Some(ProviderVersion { major: 3, minor: 0 }));
        assert_eq!(lower_bound("5.31.0"), Some(ProviderVersion { major: 5, minor: 31 }));
        assert_eq!(lower_bound("< 5.0"), None);
    }

    #[test]
    fn styles_follow_the_major() {
        assert_eq!(ProviderVersion { major: 3, minor: 76 }.s3_style(), S3Style::Inline);
        assert_eq!(ProviderVersion { major: 4, minor: 2 }.s3_style(), S3Style::Split);
        assert!(ProviderVersion { major: 4, minor: 8 }.inline_s3_is_read_only());
        assert!(!ProviderVersion { major: 4, minor: 9 }.inline_s3_is_read_only());
    }
}
