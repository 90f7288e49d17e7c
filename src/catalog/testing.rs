//! Test harness shared by the rule families: run a rule on in-memory files the way the engine does
//! (check → fix → apply → re-parse → re-check), so each rule's tests state only files and expectations.

use super::{Check, Context, Fix, Params, Rule, Target};
use crate::policy::Policy;
use crate::terraform::edit;
use crate::terraform::index::Index;
use crate::terraform::workspace::Workspace;
use std::collections::BTreeMap;

/// What happened when a rule ran on a fixture.
#[derive(Debug)]
pub struct Run {
    pub before: Check,
    pub fix: Option<Fix>,
    /// New text of every changed file, by path.
    pub changed: BTreeMap<String, String>,
    /// The rule's verdict on the rewritten files (same block address).
    pub after: Option<Check>,
}

impl Run {
    /// The single changed file's new text.
    pub fn text(&self, path: &str) -> &str {
        self.changed.get(path).map(String::as_str).unwrap_or_else(|| panic!("{path} was not changed: {self:#?}"))
    }

    pub fn advice(&self) -> &super::Advice {
        match (&self.before, &self.fix) {
            (Check::Undecidable(a), _) | (_, Some(Fix::Advice(a))) => a,
            _ => panic!("expected advice, got {self:#?}"),
        }
    }
}

/// Run `rule` on the block at `address` (e.g. `aws_s3_bucket.logs`, in the root module) of `files`.
pub fn run(rule: &dyn Rule, files: &[(&str, &str)], address: &str, params: &[(&str, &str)], policy: &Policy) -> Run {
    let ws = Workspace::from_sources(files.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())));
    assert!(ws.errors().is_empty(), "fixture does not parse: {:?}", ws.errors());
    let index = Index::build(&ws);
    let params = Params::new(params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let target = target(&index, address);
    let cx = Context { ws: &ws, index: &index, params: &params, policy };
    let before = rule.check(&cx, &target);
    if !matches!(before, Check::Violation(_)) {
        return Run { before, fix: None, changed: BTreeMap::new(), after: None };
    }
    let fix = rule.fix(&cx, &target);
    let Fix::Edits { edits, .. } = &fix else {
        return Run { before, fix: Some(fix), changed: BTreeMap::new(), after: None };
    };
    let new = edit::apply(&ws, edits).expect("edits apply");
    let mut ws2 = ws.clone();
    let mut changed = BTreeMap::new();
    for (id, text) in &new {
        let path = ws.file(*id).path.clone();
        ws2.replace(*id, text.clone()).unwrap_or_else(|e| panic!("rewritten {path} does not parse: {e}\n{text}"));
        changed.insert(path, text.clone());
    }
    let index2 = Index::build(&ws2);
    let target2 = self::target(&index2, address);
    let cx2 = Context { ws: &ws2, index: &index2, params: &params, policy };
    let after = Some(rule.check(&cx2, &target2));
    Run { before, fix: Some(fix), changed, after }
}

/// Shorthand: run with no parameters and the default policy, expect a fix that makes the check pass,
/// and return the new text of `path`.
pub fn fixed(rule: &dyn Rule, files: &[(&str, &str)], address: &str, path: &str) -> String {
    let r = run(rule, files, address, &[], &Policy::default());
    assert!(matches!(r.before, Check::Violation(_)), "expected a violation: {r:#?}");
    assert_eq!(r.after, Some(Check::Compliant), "fix did not make the block compliant: {r:#?}");
    r.text(path).to_owned()
}

fn target(index: &Index, address: &str) -> Target {
    let a = index.addresses().iter().find(|a| a.address == address).unwrap_or_else(|| panic!("no block at {address}"));
    Target { resource: a.resource, root: a.root.clone() }
}
