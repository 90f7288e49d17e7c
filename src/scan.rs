//! `driftfix scan`: the remediation catalog as a pre-merge gate over a whole Terraform tree.
//!
//! Each resource block is judged once (a block in a shared module is one piece of code, however many
//! times it is instantiated) by every rule that covers its type. `--fix` applies the same proven edits
//! `remediate` would, pass after pass, until nothing fixable is left.

use crate::catalog::{self, Check, Context, Fix, Params, Rule, Target};
use crate::policy::Policy;
use crate::terraform::edit;
use crate::terraform::index::Index;
use crate::terraform::suppress::{self, Ignore};
use crate::terraform::workspace::{FileId, Workspace};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a rule said about one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The block breaks the rule.
    Violation,
    /// Values the bot cannot evaluate decide the result: a human must look.
    Undecidable,
    /// A `driftfix:ignore` comment with a reason covers it.
    Suppressed,
}

/// One result of a scan.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub rule_name: &'static str,
    pub address: String,
    pub file: String,
    pub line: usize,
    pub status: Status,
    pub message: String,
    /// Whether `--fix` can fix it.
    pub fixable: bool,
    pub risk: &'static str,
}

/// Scan every block with every applicable rule. Results are sorted by file, line and rule.
pub fn scan(ws: &Workspace, index: &Index, params: &Params, policy: &Policy) -> Vec<Finding> {
    let cx = Context { ws, index, params, policy };
    let rules = catalog::all();
    let mut out = Vec::new();
    for (id, r) in index.resources() {
        let applicable: Vec<&&dyn Rule> = rules.iter().filter(|rule| rule.scans(&r.rtype, params)).collect();
        if applicable.is_empty() {
            continue;
        }
        let first = index.addresses_of(id).into_iter().next();
        let target = Target { resource: id, root: first.map(|a| a.root.clone()).unwrap_or_default() };
        let address = first.map_or_else(|| r.local_address(), |a| a.address.clone());
        let file = ws.file(r.file).path.clone();
        for rule in applicable {
            let m = rule.meta();
            let (status, message) = match rule.check(&cx, &target) {
                Check::Compliant => continue,
                Check::Violation(msg) => (Status::Violation, msg),
                Check::Undecidable(a) => (Status::Undecidable, a.reason),
            };
            let (status, message) = match (status, suppress::find(ws, index, id, m.identifier, m.name)) {
                (_, Ignore::Suppressed(s)) => (Status::Suppressed, s.reason),
                (s, Ignore::MissingReason(line)) => {
                    (s, format!("{message} (the driftfix:ignore at line {line} has no reason, so it does not count)"))
                }
                (s, Ignore::None) => (s, message),
            };
            let fixable = status == Status::Violation && matches!(rule.fix(&cx, &target), Fix::Edits { .. });
            out.push(Finding {
                rule: m.identifier,
                rule_name: m.name,
                address: address.clone(),
                file: file.clone(),
                line: r.line,
                status,
                message,
                fixable,
                risk: m.risk.as_str(),
            });
        }
    }
    out.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    out
}

/// Apply every fixable violation, re-verifying as `remediate` does. Returns the new text of every
/// changed file (the workspace is updated in place) and how many fixes were applied.
pub fn fix_all(ws: &mut Workspace, params: &Params, policy: &Policy) -> (BTreeMap<FileId, String>, usize) {
    let mut changed = BTreeMap::new();
    let mut applied = 0;
    // Each pass applies non-overlapping fixes; edits that collide wait for the next pass.
    for _ in 0..8 {
        let index = Index::build(ws);
        let pending = fixable_edits(ws, &index, params, policy);
        if pending.is_empty() {
            break;
        }
        let mut accepted: Vec<edit::Edit> = Vec::new();
        let mut count = 0;
        for edits in pending {
            let mut trial = accepted.clone();
            trial.extend(edits);
            if edit::apply(ws, &trial).is_ok() {
                accepted = trial;
                count += 1;
            }
        }
        let Ok(new) = edit::apply(ws, &accepted) else { break };
        let mut progressed = false;
        for (id, text) in new {
            if ws.replace(id, text.clone()).is_ok() {
                changed.insert(id, text);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
        applied += count;
    }
    (changed, applied)
}

fn fixable_edits(ws: &Workspace, index: &Index, params: &Params, policy: &Policy) -> Vec<Vec<edit::Edit>> {
    let cx = Context { ws, index, params, policy };
    let rules = catalog::all();
    let mut out = Vec::new();
    for (id, r) in index.resources() {
        let root = index.addresses_of(id).first().map(|a| a.root.clone()).unwrap_or_default();
        let target = Target { resource: id, root };
        for rule in rules.iter().filter(|rule| rule.scans(&r.rtype, params)) {
            let m = rule.meta();
            if !matches!(rule.check(&cx, &target), Check::Violation(_))
                || !matches!(
                    suppress::find(ws, index, id, m.identifier, m.name),
                    Ignore::None | Ignore::MissingReason(_)
                )
            {
                continue;
            }
            if let Fix::Edits { edits, .. } = rule.fix(&cx, &target)
                && proves(ws, index, &edits, *rule, &target, params, policy)
            {
                out.push(edits);
            }
        }
    }
    out
}

/// The edits re-parse and make the rule pass on the block.
fn proves(
    ws: &Workspace,
    before: &Index,
    edits: &[edit::Edit],
    rule: &dyn Rule,
    target: &Target,
    params: &Params,
    policy: &Policy,
) -> bool {
    let Ok(new) = edit::apply(ws, edits) else { return false };
    let mut trial = ws.clone();
    if new.into_iter().any(|(id, text)| trial.replace(id, text).is_err()) {
        return false;
    }
    let index = Index::build(&trial);
    let address = before.resource(target.resource).local_address();
    let dir = &before.resource(target.resource).dir;
    let Some((id, _)) = index.resources().find(|(_, r)| &r.dir == dir && r.local_address() == address) else {
        return false;
    };
    let cx = Context { ws: &trial, index: &index, params, policy };
    rule.check(&cx, &Target { resource: id, root: target.root.clone() }) == Check::Compliant
}
