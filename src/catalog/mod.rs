//! The remediation catalog: one [`Rule`] per AWS Config rule, one file per AWS service.
//!
//! Rules are keyed by the Config rule *identifier* (`INCOMING_SSH_DISABLED`), because rule *names*
//! in events are not stable: conformance packs and Security Hub add prefixes and suffixes. A rule
//! answers three questions about a located block: is it compliant ([`Rule::check`]), what is the
//! smallest safe edit that makes it compliant or, when none can be proven, what must a human do
//! ([`Rule::fix`]), and how risky is that change ([`RuleMeta::risk`]).

pub mod cloudtrail;
pub mod common;
pub mod dynamodb;
pub mod ec2;
pub mod infer;
pub mod kms;
pub mod rds;
pub mod s3;
pub mod sg;
pub mod sqs;
pub mod tags;
#[cfg(test)]
pub mod testing;

use crate::policy::Policy;
use crate::terraform::edit::Edit;
use crate::terraform::index::{Index, Repetition, ResourceId};
use crate::terraform::provider::{self, ProviderVersion, VersionSource};
use crate::terraform::workspace::{FileId, Workspace};
use hcl_edit::structure::Block;
use serde::Serialize;
use std::collections::BTreeMap;

/// How risky applying the fix is (RULES.md: L additive, M behavioural, H destructive/breaking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// Whether a rule can produce edits at all, or only advice (e.g. changes that force replacement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RemedyKind {
    Fix,
    Advice,
}

/// Static facts about a rule, used for resolution and for PR text.
#[derive(Debug)]
pub struct RuleMeta {
    /// Config rule identifier (`Source.SourceIdentifier`), the catalog key.
    pub identifier: &'static str,
    /// Default Config rule name.
    pub name: &'static str,
    /// Other names the rule is known by (Security Hub custom rule names, older names).
    pub aliases: &'static [&'static str],
    /// Security Hub control ids that evaluate the same thing.
    pub security_controls: &'static [&'static str],
    pub config_types: &'static [&'static str],
    /// Terraform resource types a finding is located on (the primary block of a fix).
    pub terraform_types: &'static [&'static str],
    pub risk: Risk,
    pub remedy: RemedyKind,
    /// Imperative summary for PR titles: "enable versioning".
    pub title: &'static str,
    /// One or two sentences for the PR body: what the rule wants and why.
    pub explanation: &'static str,
    pub docs_url: &'static str,
    /// checkov checks that test the same property (the test oracle).
    pub checkov: &'static [&'static str],
    /// InputParameters the fix reads.
    pub params: &'static [&'static str],
}

/// Everything a rule may look at. Pure data: no network, no clock.
pub struct Context<'a> {
    pub ws: &'a Workspace,
    pub index: &'a Index,
    pub params: &'a Params,
    pub policy: &'a Policy,
}

impl Context<'_> {
    pub fn block(&self, id: ResourceId) -> &Block {
        self.index.block(self.ws, id)
    }

    pub fn file_of(&self, id: ResourceId) -> FileId {
        self.index.resource(id).file
    }

    /// AWS provider version of the root the target was reached from.
    pub fn provider(&self, t: &Target) -> (ProviderVersion, VersionSource) {
        provider::detect(self.ws, &t.root)
    }

    /// `file:line` of a byte offset in a file, for messages.
    pub fn at(&self, file: FileId, offset: usize) -> String {
        let f = self.ws.file(file);
        format!("{}:{}", f.path, f.line_of(offset))
    }
}

/// The block a rule is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource: ResourceId,
    /// Root module the block was reached from ("" for the repository root).
    pub root: String,
}

/// The verdict of [`Rule::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Compliant,
    /// The code violates the rule; the text says how, for humans.
    Violation(String),
    /// The code cannot be judged without evaluating non-literal values.
    Undecidable(Advice),
}

/// What [`Rule::fix`] proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Splices to apply, with one line per change for the PR body.
    Edits {
        edits: Vec<Edit>,
        notes: Vec<String>,
    },
    Advice(Advice),
}

/// A change a human must make, and why the bot did not make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    pub reason: String,
    pub steps: Vec<String>,
}

impl Advice {
    pub fn new(reason: impl Into<String>, steps: impl IntoIterator<Item = String>) -> Advice {
        Advice { reason: reason.into(), steps: steps.into_iter().collect() }
    }
}

/// One catalog entry.
pub trait Rule: Send + Sync {
    fn meta(&self) -> &'static RuleMeta;

    /// Is the target block compliant?
    fn check(&self, cx: &Context, t: &Target) -> Check;

    /// The smallest safe change making a violating target compliant, or advice.
    fn fix(&self, cx: &Context, t: &Target) -> Fix;

    /// Whether the rule can judge blocks of this type on its own (scan), given the parameters.
    fn scans(&self, rtype: &str, _params: &Params) -> bool {
        self.meta().terraform_types.contains(&rtype)
    }

    /// For account-level rules: the fix when no block of the rule's types exists at all.
    fn when_missing(&self, _cx: &Context) -> Option<Advice> {
        None
    }
}

/// A rule prints as its identifier (outcomes hold `&dyn Rule`).
impl std::fmt::Debug for dyn Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.meta().identifier)
    }
}

/// The rule's InputParameters (`--param KEY=VALUE`), looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Params {
        Params(pairs.into_iter().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// A comma-separated parameter as a list (`tag1Value = "a,b"`).
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Every rule of the catalog, in a stable order.
pub fn all() -> Vec<&'static dyn Rule> {
    let mut v: Vec<&'static dyn Rule> = Vec::new();
    for family in [
        s3::RULES,
        sg::RULES,
        sqs::RULES,
        rds::RULES,
        dynamodb::RULES,
        kms::RULES,
        cloudtrail::RULES,
        ec2::RULES,
        tags::RULES,
    ] {
        v.extend_from_slice(family);
    }
    v
}

/// The rule a finding is about, from what the event says: its rule name, then its Security Hub
/// control, then (configuration-change events) the configuration item itself.
pub fn resolve(f: &crate::finding::Finding, params: &Params) -> Option<&'static dyn Rule> {
    f.rule
        .name
        .as_deref()
        .and_then(by_event_name)
        .or_else(|| f.rule.security_control.as_deref().and_then(by_security_control))
        .or_else(|| {
            f.configuration.as_ref().and_then(|c| infer::rule_from_configuration(&f.resource.resource_type, c, params))
        })
}

/// The rule with this Config identifier (case-insensitive; `-` and `_` are equivalent).
pub fn by_identifier(identifier: &str) -> Option<&'static dyn Rule> {
    let want = normalise(identifier);
    all().into_iter().find(|r| {
        let m = r.meta();
        std::iter::once(m.identifier)
            .chain(std::iter::once(m.name))
            .chain(m.aliases.iter().copied())
            .any(|n| normalise(n) == want)
    })
}

/// The rule behind a Security Hub control id (`S3.8`).
pub fn by_security_control(control: &str) -> Option<&'static dyn Rule> {
    all().into_iter().find(|r| r.meta().security_controls.iter().any(|c| c.eq_ignore_ascii_case(control)))
}

/// Resolve a rule from a name as it appears in events: `restricted-ssh`,
/// `restricted-ssh-conformance-pack-abc123`, `securityhub-restricted-ssh-7f3a`, `OrgConfigRule-…`.
/// The longest catalog name found on `-`/`_` boundaries wins, so `s3-bucket-public-read-prohibited`
/// is never mistaken for a shorter name it contains.
pub fn by_event_name(name: &str) -> Option<&'static dyn Rule> {
    let hay = normalise(name);
    let bounded = |needle: &str| {
        let mut from = 0;
        while let Some(p) = hay[from..].find(needle) {
            let start = from + p;
            let end = start + needle.len();
            let before_ok = start == 0 || hay.as_bytes()[start - 1] == b'-';
            let after_ok = end == hay.len() || hay.as_bytes()[end] == b'-';
            if before_ok && after_ok {
                return true;
            }
            from = start + 1;
        }
        false
    };
    all()
        .into_iter()
        .filter_map(|r| {
            let m = r.meta();
            std::iter::once(m.name)
                .chain(std::iter::once(m.identifier))
                .chain(m.aliases.iter().copied())
                .map(normalise)
                .filter(|n| bounded(n))
                .map(|n| n.len())
                .max()
                .map(|len| (len, r))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, r)| r)
}

fn normalise(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('_', "-")
}

/// Where to point a new sibling resource and how to repeat it like its parent.
///
/// A new `aws_s3_bucket_versioning` for `aws_s3_bucket.logs` must exist once per bucket instance:
/// `count` is mirrored with `[count.index]`, `for_each` becomes `for_each = aws_s3_bucket.logs` with
/// `each.value.id`.
pub struct Sibling {
    /// Lines to put first in the new block (`count = …` / `for_each = …`), may be empty.
    pub header: String,
    /// Expression referring to the parent's `attr`: `aws_s3_bucket.logs.id`, `…[count.index].id`, `each.value.id`.
    pub reference: String,
    /// Name for the new resource (the parent's name, unless taken).
    pub name: String,
}

/// Build the [`Sibling`] facts for a new resource of `new_type` serving `parent`.
pub fn sibling(cx: &Context, parent: ResourceId, new_type: &str, attr: &str) -> Sibling {
    let p = cx.index.resource(parent);
    let (header, reference) = match &p.repetition {
        Repetition::Single => (String::new(), format!("{}.{}", p.local_address(), attr)),
        Repetition::Count(expr) => {
            (format!("count = {expr}\n\n"), format!("{}[count.index].{attr}", p.local_address()))
        }
        Repetition::ForEach(_) => (format!("for_each = {}\n\n", p.local_address()), format!("each.value.{attr}")),
    };
    let taken = |n: &str| {
        cx.index.of_type(new_type).any(|id| {
            let r = cx.index.resource(id);
            r.dir == p.dir && r.name == n
        })
    };
    let mut name = p.name.clone();
    let mut i = 2;
    while taken(&name) {
        name = format!("{}_{i}", p.name);
        i += 1;
    }
    Sibling { header, reference, name }
}

/// A short location of a block for messages: `main.tf:12`.
pub fn where_is(cx: &Context, id: ResourceId) -> String {
    let r = cx.index.resource(id);
    format!("{}:{}", cx.ws.file(r.file).path, r.line)
}

/// Advice for a value the engine will not rewrite because it is not a literal.
pub fn not_literal_advice(
    cx: &Context,
    t: &Target,
    what: &str,
    nl: &crate::terraform::literal::NotLiteral,
    wanted: &str,
) -> Advice {
    let r = cx.index.resource(t.resource);
    let file = cx.ws.file(r.file);
    let line = nl.span.as_ref().map_or(r.line, |s| file.line_of(s.start));
    let mut steps = vec![format!(
        "In {}:{line}, `{}` takes `{what}` from {}: make it evaluate to {wanted}.",
        file.path,
        r.local_address(),
        nl
    )];
    if let Some(var) = nl.text.strip_prefix("var.") {
        let var = var.split(['.', '[']).next().unwrap_or(var);
        if let Some(loc) = variable_location(cx, &r.dir, var) {
            steps.push(format!(
                "The variable `{var}` is declared at {loc}; set it to {wanted} where this environment assigns it (a `.tfvars` file, the module call, or the variable's default)."
            ));
        }
    }
    Advice::new(
        format!("`{what}` is {}, not a literal: the bot cannot prove what value it has in every environment", nl.kind),
        steps,
    )
}

fn variable_location(cx: &Context, dir: &str, var: &str) -> Option<String> {
    cx.ws.files().iter().filter(|f| f.dir() == dir).find_map(|f| {
        f.body.blocks().find_map(|b| {
            (b.ident.value().as_str() == "variable" && b.labels.first().map(|l| l.as_str()) == Some(var)).then(|| {
                let line = hcl_edit::Span::span(b).map_or(1, |s| f.line_of(s.start));
                format!("{}:{line}", f.path)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_names_are_unique() {
        let rules = all();
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                assert_ne!(a.meta().identifier, b.meta().identifier);
                assert_ne!(a.meta().name, b.meta().name);
            }
        }
    }
}
