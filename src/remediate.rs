//! The pure core: `Finding + Workspace (+ state) + Policy → Outcome`. No network, no database, no clock.
//!
//! Every finding ends in exactly one outcome. A `fix` is only ever returned after the edited files
//! re-parse and the rule's own check passes on the result; anything less becomes `advice`, never a
//! broken file. The CLI and the server call this same function.

use crate::catalog::{self, Advice, Check, Context, Fix, Params, Risk, Rule, Target};
use crate::diff;
use crate::finding::{Finding, FindingKey};
use crate::policy::Policy;
use crate::terraform::edit;
use crate::terraform::identity;
use crate::terraform::index::{Index, ResourceId};
use crate::terraform::locate::{self, Evidence, Locate};
use crate::terraform::state::StateInstance;
use crate::terraform::suppress::{self, Ignore};
use crate::terraform::workspace::{LoadError, Workspace};
use serde::Serialize;

/// The kind of outcome (DESIGN.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// Block found, rewrite proven safe.
    Fix,
    /// Block found, but the fix cannot be proven: a human must change what the advice says.
    Advice,
    /// The code already satisfies the baseline; the cloud drifted (re-apply needed).
    DriftOnly,
    /// No Terraform block defines the resource.
    NoMatch,
    /// No catalog entry for the rule.
    Unsupported,
    /// An inline `driftfix:ignore` with a reason covers this rule on this block, or the resource
    /// carries an exemption tag (in AWS or in its code).
    Suppressed,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Fix => "fix",
            OutcomeKind::Advice => "advice",
            OutcomeKind::DriftOnly => "drift-only",
            OutcomeKind::NoMatch => "no-match",
            OutcomeKind::Unsupported => "unsupported",
            OutcomeKind::Suppressed => "suppressed",
        }
    }
}

/// Where the defining block is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub address: String,
    /// Path relative to the repository root.
    pub file: String,
    pub line: usize,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub file: String,
    pub diff: String,
    #[serde(skip)]
    pub before: String,
    #[serde(skip)]
    pub after: String,
}

/// The result of remediating one finding.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub rule: Option<&'static dyn Rule>,
    pub key: Option<FindingKey>,
    pub location: Option<Location>,
    pub evidence: Option<Evidence>,
    pub risk: Option<Risk>,
    pub changes: Vec<FileChange>,
    /// One sentence per change made (fix) — for the PR body.
    pub notes: Vec<String>,
    /// Why this outcome, in one or two sentences.
    pub reason: String,
    /// What a human should do (advice, drift-only, no-match).
    pub advice: Option<Advice>,
    /// Every address the changed block stands for, when it is more than one instance.
    pub instances: Vec<String>,
    /// Files of the repository that could not be parsed (reported, not fatal).
    pub warnings: Vec<LoadError>,
}

/// Inputs of [`remediate`].
pub struct Request<'a> {
    pub finding: &'a Finding,
    pub workspace: &'a Workspace,
    pub index: &'a Index,
    pub state: &'a [StateInstance],
    pub policy: &'a Policy,
    pub params: &'a Params,
    /// `--rule IDENTIFIER`: overrides what the event names.
    pub rule_override: Option<&'a str>,
}

/// Errors that are the caller's fault (an unknown `--rule`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemediateError {
    #[error("--rule `{0}` is not in the catalog (run `driftfix rules` to list identifiers)")]
    UnknownRule(String),
}

/// Resolve the rule a finding is about: `--rule`, then the event's rule name, then the Security Hub
/// control, then (configuration-change events) the configuration itself.
pub fn resolve_rule(req: &Request) -> Result<Option<&'static dyn Rule>, RemediateError> {
    if let Some(id) = req.rule_override {
        return catalog::by_identifier(id).map(Some).ok_or_else(|| RemediateError::UnknownRule(id.to_owned()));
    }
    Ok(catalog::resolve(req.finding, req.params))
}

/// Remediate one finding.
pub fn remediate(req: &Request) -> Result<Outcome, RemediateError> {
    let f = req.finding;
    let Some(rule) = resolve_rule(req)? else {
        let reason = match (&f.rule.name, &f.rule.security_control) {
            (Some(n), _) => format!("No catalog rule matches the Config rule `{n}`."),
            (None, Some(c)) => format!("No catalog rule matches the Security Hub control `{c}`."),
            (None, None) => "The event names no rule and the configuration item does not show which baseline it breaks; pass `--rule IDENTIFIER`.".to_owned(),
        };
        return Ok(base(req, OutcomeKind::Unsupported, None, reason));
    };
    let meta = rule.meta();
    let rtype = f.resource.resource_type.as_str();
    if !meta.config_types.contains(&rtype) {
        let reason = format!("Rule `{}` evaluates {}, not {rtype}.", meta.name, meta.config_types.join(", "));
        return Ok(base(req, OutcomeKind::Unsupported, Some(rule), reason));
    }
    let cloud_tags = f.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    if let Some(tag) = req.policy.exempting_tag(cloud_tags) {
        let reason = format!("Exempt: the resource carries the exemption tag `{tag}` in AWS.");
        let mut o = base(req, OutcomeKind::Suppressed, Some(rule), reason);
        o.risk = Some(meta.risk);
        return Ok(o);
    }
    let cx = Context { ws: req.workspace, index: req.index, params: req.params, policy: req.policy };
    let target = match find_target(req, rule, &cx) {
        Ok(t) => t,
        Err(outcome) => return Ok(*outcome),
    };
    Ok(decide(req, rule, &cx, target))
}

/// A located block and how it was found.
struct Found {
    target: Target,
    address: String,
    evidence: Option<Evidence>,
}

fn find_target(req: &Request, rule: &'static dyn Rule, cx: &Context) -> Result<Found, Box<Outcome>> {
    let meta = rule.meta();
    let f = req.finding;
    if f.resource.resource_type == "AWS::::Account" {
        let blocks: Vec<ResourceId> = meta.terraform_types.iter().flat_map(|t| req.index.of_type(t)).collect();
        return match blocks.first() {
            Some(&id) => Ok(found_block(req, id, None)),
            None => {
                let mut o = base(
                    req,
                    OutcomeKind::Advice,
                    Some(rule),
                    format!(
                        "No {} block exists in this repository; the setting belongs in the account-baseline root module.",
                        meta.terraform_types.join(" / ")
                    ),
                );
                o.advice = rule.when_missing(cx);
                o.risk = Some(meta.risk);
                Err(Box::new(o))
            }
        };
    }
    let types: Vec<&str> = match identity::identity(&f.resource.resource_type) {
        Some(i) => i.terraform_types.iter().copied().filter(|t| meta.terraform_types.contains(t)).collect(),
        None => meta.terraform_types.to_vec(),
    };
    match locate::locate(&f.resource, req.workspace, req.index, req.state, &types) {
        Locate::Found(l) => Ok(Found {
            target: Target { resource: l.resource, root: l.root },
            address: l.address,
            evidence: Some(l.evidence),
        }),
        Locate::InRemoteModule { address, call } => {
            let file = &req.workspace.file(call.file).path;
            let mut o = base(
                req,
                OutcomeKind::Advice,
                Some(rule),
                format!(
                    "`{address}` is defined inside the module `{}` (source `{}`{}), whose code is not in this repository.",
                    call.name,
                    call.source,
                    call.version.as_deref().map(|v| format!(", version {v}")).unwrap_or_default()
                ),
            );
            o.location =
                Some(Location { address: format!("module.{}", call.name), file: file.clone(), line: call.line });
            o.risk = Some(meta.risk);
            o.advice = Some(Advice::new(
                "the bot only edits code it can see; a module's internals are changed through its inputs",
                [
                    format!("In {file}:{}, set the input of `module \"{}\"` that controls this ({}), if the module exposes one.", call.line, call.name, meta.title),
                    "If the module's pinned version has no such input, upgrade to a version that does, or fix it in the module's own repository.".to_owned(),
                ],
            ));
            Err(Box::new(o))
        }
        Locate::Ambiguous(candidates) => {
            let mut o = base(
                req,
                OutcomeKind::Advice,
                Some(rule),
                "Several blocks match this resource and nothing tells them apart.".into(),
            );
            o.risk = Some(meta.risk);
            o.advice = Some(Advice::new(
                "the bot does not guess between candidate blocks",
                std::iter::once(
                    "Pass the Terraform state (`--state FILE`) so the exact block can be identified. Candidates:"
                        .to_owned(),
                )
                .chain(candidates.into_iter().map(|c| format!("- {c}"))),
            ));
            Err(Box::new(o))
        }
        Locate::NotFound { tried } => {
            let mut o = base(
                req,
                OutcomeKind::NoMatch,
                Some(rule),
                format!("No Terraform block defines {} `{}`: {tried}.", f.resource.resource_type, f.resource.id),
            );
            o.advice = Some(no_match_advice(f, &types));
            Err(Box::new(o))
        }
    }
}

fn found_block(req: &Request, id: ResourceId, evidence: Option<Evidence>) -> Found {
    let first = req.index.addresses_of(id).into_iter().next();
    Found {
        target: Target { resource: id, root: first.map(|a| a.root.clone()).unwrap_or_default() },
        address: first.map_or_else(|| req.index.resource(id).local_address(), |a| a.address.clone()),
        evidence,
    }
}

fn no_match_advice(f: &Finding, types: &[&str]) -> Advice {
    let rtype = types.first().copied().unwrap_or("aws_resource");
    let name: String = f
        .resource
        .display_name()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let name = if name.starts_with(|c: char| c.is_ascii_digit()) { format!("r_{name}") } else { name };
    Advice::new(
        "the resource is not managed by this repository (created in the console, or owned by other tooling)",
        [
            "Fix it where it is managed, or bring it under Terraform with an import block and `terraform plan -generate-config-out=generated.tf`:".to_owned(),
            format!("```hcl\nimport {{\n  to = {rtype}.{name}\n  id = {}\n}}\n```", edit::quote(&f.resource.id)),
        ],
    )
}

fn decide(req: &Request, rule: &'static dyn Rule, cx: &Context, found: Found) -> Outcome {
    let meta = rule.meta();
    let id = found.target.resource;
    let r = req.index.resource(id);
    let file = req.workspace.file(r.file).path.clone();
    let mut o = base(req, OutcomeKind::Advice, Some(rule), String::new());
    o.location = Some(Location { address: found.address.clone(), file, line: r.line });
    o.evidence = found.evidence.clone();
    o.risk = Some(meta.risk);
    o.instances = instances(req.index, id);
    match suppress::find(req.workspace, req.index, id, meta.identifier, meta.name) {
        Ignore::Suppressed(s) => {
            o.kind = OutcomeKind::Suppressed;
            o.reason = format!("Suppressed by `driftfix:ignore` at line {}: {}", s.line, s.reason);
            return o;
        }
        Ignore::MissingReason(line) => o
            .notes
            .push(format!("The `driftfix:ignore` comment at line {line} gives no reason, so it was not honoured.")),
        Ignore::None => {}
    }
    let code_tags = suppress::literal_tags(req.workspace, req.index, id);
    if let Some(tag) = req.policy.exempting_tag(code_tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        o.kind = OutcomeKind::Suppressed;
        o.reason = format!("Exempt: `{}` carries the exemption tag `{tag}` in its code.", found.address);
        return o;
    }
    let problem = match rule.check(cx, &found.target) {
        Check::Compliant => {
            o.kind = OutcomeKind::DriftOnly;
            o.reason = format!(
                "The code at `{}` already satisfies `{}`: the cloud resource drifted from it.",
                found.address, meta.name
            );
            o.advice = Some(Advice::new(
                "the fix is already in the code; the running resource differs from it",
                ["Run `terraform plan` and `terraform apply` for this root module to bring the resource back to the code, and find out who changed it outside Terraform.".to_owned()],
            ));
            return o;
        }
        Check::Undecidable(advice) => {
            o.reason = advice.reason.clone();
            o.advice = Some(advice);
            return o;
        }
        Check::Violation(problem) => problem,
    };
    match rule.fix(cx, &found.target) {
        Fix::Advice(advice) => {
            o.reason = format!("{problem}; {}.", advice.reason.trim_end_matches('.'));
            o.advice = Some(advice);
        }
        Fix::Edits { edits, notes } => match verify(req, rule, &found, &edits) {
            Ok(changes) => {
                o.kind = OutcomeKind::Fix;
                o.reason = format!("{problem}.");
                o.notes.splice(0..0, notes);
                o.changes = changes;
            }
            Err(why) => {
                o.reason = format!("{problem}; the bot's rewrite could not be proven ({why}), so nothing was changed.");
                o.advice = Some(Advice::new(why, [format!("Apply the baseline by hand: {}.", meta.title)]));
            }
        },
    }
    o
}

/// Apply edits to a copy of the workspace, re-parse every changed file and re-run the check.
fn verify(
    req: &Request,
    rule: &'static dyn Rule,
    found: &Found,
    edits: &[edit::Edit],
) -> Result<Vec<FileChange>, String> {
    let new = edit::apply(req.workspace, edits).map_err(|e| e.to_string())?;
    let mut ws = req.workspace.clone();
    for (id, text) in &new {
        ws.replace(*id, text.clone()).map_err(|e| format!("the rewritten file does not parse: {e}"))?;
    }
    let index = Index::build(&ws);
    let block_address = crate::terraform::state::strip_instance_keys(&found.address);
    let target = index
        .lookup(&block_address)
        .into_iter()
        .find(|a| a.root == found.target.root)
        .map(|a| Target { resource: a.resource, root: a.root.clone() })
        .ok_or_else(|| "the block is gone after the edit".to_owned())?;
    let cx = Context { ws: &ws, index: &index, params: req.params, policy: req.policy };
    match rule.check(&cx, &target) {
        Check::Compliant => {}
        Check::Violation(v) => return Err(format!("the rule still fails after the edit: {v}")),
        Check::Undecidable(a) => return Err(a.reason),
    }
    Ok(new
        .into_iter()
        .map(|(id, after)| {
            let f = req.workspace.file(id);
            FileChange {
                file: f.path.clone(),
                diff: diff::unified(&f.path, &f.text, &after),
                before: f.text.clone(),
                after,
            }
        })
        .collect())
}

/// The addresses a block stands for when it is more than one instance (shared module, count, for_each).
fn instances(index: &Index, id: ResourceId) -> Vec<String> {
    let addrs: Vec<String> = index.addresses_of(id).into_iter().map(|a| a.address.clone()).collect();
    let repeated = !matches!(index.resource(id).repetition, crate::terraform::index::Repetition::Single);
    if addrs.len() > 1 || repeated {
        addrs.into_iter().map(|a| if repeated { format!("{a}[*]") } else { a }).collect()
    } else {
        Vec::new()
    }
}

fn base(req: &Request, kind: OutcomeKind, rule: Option<&'static dyn Rule>, reason: String) -> Outcome {
    Outcome {
        kind,
        rule,
        key: rule.map(|r| FindingKey::new(&req.finding.resource, r.meta().identifier)),
        location: None,
        evidence: None,
        risk: None,
        changes: Vec::new(),
        notes: Vec::new(),
        reason,
        advice: None,
        instances: Vec::new(),
        warnings: req.workspace.errors().to_vec(),
    }
}
