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

/// Rendering failed: a template bug (or an unreadable override), reported as an internal error.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template `{template}`: {source}")]
    Template { template: &'static str, source: minijinja::Error },
    #[error("template override `{path}`: {message}")]
    Override { path: String, message: String },
}

/// The templates by name, with the file each one is read from in an override directory.
const TEMPLATES: [(&str, &str, &str); 3] = [
    ("pr_title", "pr_title.txt.j2", PR_TITLE),
    ("pr_body", "pr_body.md.j2", PR_BODY),
    ("advice", "advice.md.j2", ADVICE),
];

/// A compiled set of templates: the built-in ones, each optionally replaced by a file of the same
/// name in a user's directory (`templates_dir`). Compiled once, so a broken override fails at start,
/// not at the first finding.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// The templates compiled into the binary.
    pub fn builtin() -> Result<Templates, RenderError> {
        Templates::load(None)
    }

    /// The built-in templates, with those found in `dir` (same file names as `templates/`) instead.
    pub fn load(dir: Option<&std::path::Path>) -> Result<Templates, RenderError> {
        let mut env = Environment::new();
        for (name, file, builtin) in TEMPLATES {
            let source = match dir.map(|d| d.join(file)).filter(|p| p.exists()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| RenderError::Override { path: path.display().to_string(), message: e.to_string() })?,
                None => builtin.to_owned(),
            };
            env.add_template_owned(name, source).map_err(|source| RenderError::Template { template: name, source })?;
        }
        Ok(Templates { env })
    }

    fn render(&self, name: &'static str, ctx: &minijinja::Value) -> Result<String, RenderError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|source| RenderError::Template { template: name, source })
    }

    /// The pull request for a `fix` outcome (`None` for every other outcome).
    pub fn pull_request(&self, finding: &Finding, outcome: &Outcome) -> Result<Option<PullRequest>, RenderError> {
        let (OutcomeKind::Fix, Some(rule), Some(key)) = (outcome.kind, outcome.rule, &outcome.key) else {
            return Ok(None);
        };
        let ctx = common(finding, outcome, "");
        Ok(Some(PullRequest {
            title: self.render("pr_title", &ctx)?.trim().to_owned(),
            body: self.render("pr_body", &ctx)?,
            branch: branch_name(rule.meta().name, finding, key.short(8)),
        }))
    }

    /// Markdown explaining a non-fix outcome: what a human should do, for a ticket or the terminal.
    pub fn advice_text(&self, finding: &Finding, outcome: &Outcome) -> Result<String, RenderError> {
        let headline = match outcome.kind {
            OutcomeKind::Fix => "A fix is proposed",
            OutcomeKind::Advice => "Manual change needed",
            OutcomeKind::DriftOnly => "Re-apply needed: the code is already compliant",
            OutcomeKind::NoMatch => "Unmanaged resource: no Terraform block defines it",
            OutcomeKind::Unsupported => "No remediation available for this rule",
            OutcomeKind::Suppressed => "Suppressed in code",
        };
        self.render("advice", &common(finding, outcome, headline))
    }
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
        changed_by => Value::from(minijinja::value::Serde(&finding.changed_by)),
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

/// The pull request for a `fix` outcome, with the built-in templates.
pub fn pull_request(finding: &Finding, outcome: &Outcome) -> Result<Option<PullRequest>, RenderError> {
    Templates::builtin()?.pull_request(finding, outcome)
}

/// The advice text for a non-fix outcome, with the built-in templates.
pub fn advice_text(finding: &Finding, outcome: &Outcome) -> Result<String, RenderError> {
    Templates::builtin()?.advice_text(finding, outcome)
}

#[cfg(test)]
mod tests {
    use super::{RenderError, Templates, slug};

    #[test]
    fn overrides_replace_only_the_templates_they_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pr_title.txt.j2"), "[sec] {{ rule.name }}").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(t.env.get_template("pr_title").unwrap().source(), "[sec] {{ rule.name }}");
        assert_eq!(t.env.get_template("pr_body").unwrap().source(), super::PR_BODY);
        std::fs::write(dir.path().join("advice.md.j2"), "{% if %}").unwrap();
        assert!(matches!(Templates::load(Some(dir.path())), Err(RenderError::Template { template: "advice", .. })));
    }

    #[test]
    fn slugs_are_branch_safe() {
        assert_eq!(slug("My_Bucket.logs--2024", 40), "my-bucket-logs-2024");
        assert_eq!(slug("https://sqs.us-east-1.amazonaws.com/1/q", 12), "https-sqs-us");
        assert_eq!(slug("///", 10), "resource");
    }
}
