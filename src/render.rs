//! Human text from outcomes: the PR title, body and branch (for `fix`), and the advice text (for
//! `advice`, `drift-only`, `no-match`), rendered with minijinja from `templates/`.
//!
//! Templates are compiled into the binary so `driftfix` works from any directory; the same files in
//! the repository are what a user copies to customise them.

use crate::finding::Finding;
use crate::remediate::{Outcome, OutcomeKind};
use minijinja::{Environment, context};
use serde::Serialize;

const PR_TITLE: &str = include_str!("../templates/pr_title.txt.j2");
const PR_BODY: &str = include_str!("../templates/pr_body.md.j2");
const ADVICE: &str = include_str!("../templates/advice.md.j2");

/// Branch prefix every bot branch lives under; the bot never writes anywhere else.
pub const BRANCH_PREFIX: &str = "driftfix/";

/// A rendered pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    pub title: String,
    pub body: String,
    pub branch: String,
}

/// Rendering failed: a template bug, reported as an internal error.
#[derive(Debug, thiserror::Error)]
#[error("template `{template}`: {source}")]
pub struct RenderError {
    template: &'static str,
    source: minijinja::Error,
}

fn environment() -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    for (name, src) in [("pr_title", PR_TITLE), ("pr_body", PR_BODY), ("advice", ADVICE)] {
        env.add_template(name, src).map_err(|source| RenderError { template: name, source })?;
    }
    Ok(env)
}

/// The deterministic branch of a finding: `driftfix/<rule-slug>/<resource-slug>-<key8>`.
pub fn branch_name(rule_name: &str, finding: &Finding, key8: &str) -> String {
    format!("{BRANCH_PREFIX}{}/{}-{key8}", slug(rule_name, 48), slug(finding.resource.display_name(), 40))
}

/// Lowercase ASCII letters, digits and single dashes, at most `max` characters.
fn slug(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(max).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "resource".to_owned() } else { out }
}

fn risk_text(outcome: &Outcome) -> &'static str {
    match outcome.risk {
        Some(crate::catalog::Risk::High) => {
            "This can break traffic or replace the resource: review the plan before applying."
        }
        Some(crate::catalog::Risk::Medium) => "This changes behaviour: check who depends on the old setting.",
        _ => "Additive: nothing that works today stops working.",
    }
}

fn evidence_text(outcome: &Outcome) -> String {
    use crate::terraform::locate::Evidence;
    match &outcome.evidence {
        Some(Evidence::State { address }) => format!("through Terraform state (`{address}`)"),
        Some(Evidence::Literal { attribute }) => format!("by its literal `{attribute}`"),
        Some(Evidence::NameTag) => "by its `Name` tag".to_owned(),
        None => "as the only block of its kind".to_owned(),
    }
}

fn common(finding: &Finding, outcome: &Outcome, headline: &str) -> minijinja::Value {
    use minijinja::Value;
    let rule = outcome.rule.map(|r| {
        let m = r.meta();
        context! { identifier => m.identifier, name => m.name, title => m.title, explanation => m.explanation, docs_url => m.docs_url }
    });
    context! {
        rule => rule,
        resource => context! {
            type => finding.resource.resource_type.clone(),
            name => finding.resource.display_name(),
            id => finding.resource.id.clone(),
            account => finding.resource.account.clone(),
            region => finding.resource.region.clone(),
        },
        compliance => finding.compliance.as_str(),
        annotation => finding.annotation.clone(),
        observed_at => finding.ordering_timestamp.clone(),
        headline => headline,
        location => Value::from(minijinja::value::Serde(&outcome.location)),
        reason => outcome.reason.clone(),
        advice => Value::from(minijinja::value::Serde(&outcome.advice)),
        notes => outcome.notes.clone(),
        instances => outcome.instances.clone(),
        changes => Value::from(minijinja::value::Serde(&outcome.changes)),
        risk => outcome.risk.map(|r| r.as_str()),
        risk_text => risk_text(outcome),
        evidence => evidence_text(outcome),
        key => outcome.key.as_ref().map(|k| k.as_str().to_owned()),
        key12 => outcome.key.as_ref().map(|k| k.short(12).to_owned()),
    }
}

/// The pull request for a `fix` outcome (`None` for every other outcome).
pub fn pull_request(finding: &Finding, outcome: &Outcome) -> Result<Option<PullRequest>, RenderError> {
    let (OutcomeKind::Fix, Some(rule), Some(key)) = (outcome.kind, outcome.rule, &outcome.key) else {
        return Ok(None);
    };
    let env = environment()?;
    let ctx = common(finding, outcome, "");
    let render = |name: &'static str| {
        env.get_template(name).and_then(|t| t.render(&ctx)).map_err(|source| RenderError { template: name, source })
    };
    Ok(Some(PullRequest {
        title: render("pr_title")?.trim().to_owned(),
        body: render("pr_body")?,
        branch: branch_name(rule.meta().name, finding, key.short(8)),
    }))
}

/// Markdown explaining a non-fix outcome: what a human should do, for a ticket or the terminal.
pub fn advice_text(finding: &Finding, outcome: &Outcome) -> Result<String, RenderError> {
    let env = environment()?;
    let headline = match outcome.kind {
        OutcomeKind::Fix => "A fix is proposed",
        OutcomeKind::Advice => "Manual change needed",
        OutcomeKind::DriftOnly => "Re-apply needed: the code is already compliant",
        OutcomeKind::NoMatch => "Unmanaged resource: no Terraform block defines it",
        OutcomeKind::Unsupported => "No remediation available for this rule",
        OutcomeKind::Suppressed => "Suppressed in code",
    };
    let ctx = common(finding, outcome, headline);
    env.get_template("advice").and_then(|t| t.render(&ctx)).map_err(|source| RenderError { template: "advice", source })
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_branch_safe() {
        assert_eq!(slug("My_Bucket.logs--2024", 40), "my-bucket-logs-2024");
        assert_eq!(slug("https://sqs.us-east-1.amazonaws.com/1/q", 12), "https-sqs-us");
        assert_eq!(slug("///", 10), "resource");
    }
}
