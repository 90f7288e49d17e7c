//! Per-repository configuration: `.github/driftfix.toml`, read from the default branch, on top of the
//! server's `[repos]` defaults.
//!
//! Why it works this way:
//! - **The server decides what a repository may loosen.** A repository can always ask for more
//!   (fewer exemption tags, more pull requests instead of tickets, lower limits, extra labels and
//!   reviewers). Asking for less (turning rules or the bot off, dry run, other exemption tags,
//!   tickets instead of pull requests, higher limits, another Jira project) needs the key in the
//!   server's `allowed_overrides`; otherwise the server's value stays and the problem is reported.
//! - **A broken file never stops fixes.** Every entry that decodes is used; each one that does not
//!   is reported with its line (the same recovery as the server configuration) and the server's
//!   value stays for it. The bot validates pull requests that change the file, so the problems are
//!   seen before they land.
//! - **Nothing is silently ignored**: unknown keys are errors (`deny_unknown_fields`).

use super::{Doc, Problem, Seg, Where, decode_value};
use crate::catalog::{self, Risk};
use serde::Deserialize;
use std::collections::BTreeSet;
use toml::Spanned;
use toml::de::DeValue;

/// Where the repository configuration lives, relative to the repository root.
pub const PATH: &str = ".github/driftfix.toml";

/// How a fix of one risk level is delivered, from the least to the most automatic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// No pull request: the fix goes into the ticket as a suggested change.
    Ticket,
    /// A draft pull request.
    Draft,
    /// A ready-for-review pull request.
    Pr,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Ticket => "ticket",
            Delivery::Draft => "draft",
            Delivery::Pr => "pr",
        }
    }
}

/// Delivery per risk level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskRouting {
    pub low: Delivery,
    pub medium: Delivery,
    pub high: Delivery,
}

impl Default for RiskRouting {
    fn default() -> Self {
        RiskRouting { low: Delivery::Pr, medium: Delivery::Pr, high: Delivery::Draft }
    }
}

impl RiskRouting {
    pub fn for_risk(&self, risk: Risk) -> Delivery {
        match risk {
            Risk::Low => self.low,
            Risk::Medium => self.medium,
            Risk::High => self.high,
        }
    }
}

/// The keys a repository may loosen, named as in `.github/driftfix.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Override {
    /// `enabled = false`.
    Enabled,
    /// `dry_run = true`.
    DryRun,
    /// `rules` and `disabled_rules` leaving rules out.
    Rules,
    /// `exemption_tags` naming tags the server's policy does not.
    ExemptionTags,
    /// `[risk]` delivering less than the server (a ticket instead of a pull request).
    Risk,
    /// `[limits]` above the server's.
    Limits,
    /// `jira_project` sending tickets elsewhere.
    JiraProject,
    /// `github_issues = false` where the server opens them.
    GithubIssues,
}

impl Override {
    fn key(self) -> &'static str {
        match self {
            Override::Enabled => "enabled",
            Override::DryRun => "dry_run",
            Override::Rules => "rules",
            Override::ExemptionTags => "exemption_tags",
            Override::Risk => "risk",
            Override::Limits => "limits",
            Override::JiraProject => "jira_project",
            Override::GithubIssues => "github_issues",
        }
    }
}

/// The server's `[repos]` table: what a repository gets without a file, and what its file may loosen.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepoDefaults {
    /// Keys a repository's file may loosen (see [`Override`]). Empty: repositories may only tighten.
    pub allowed_overrides: Vec<Override>,
    /// Labels added to every pull request, besides `driftfix`, `risk:*` and `rule:*`.
    pub labels: Vec<String>,
    /// Reviewers requested on every pull request (`login` or `org/team`); empty: CODEOWNERS decides.
    pub reviewers: Vec<String>,
    /// Also open a GitHub issue for advice, drift-only and no-match outcomes.
    pub github_issues: bool,
    pub risk: RiskRouting,
    /// Open driftfix pull requests per repository; 0: no limit.
    pub pr_concurrent_limit: u32,
    /// Pull requests opened per repository per hour; 0: no limit.
    pub pr_hourly_limit: u32,
}

impl Default for RepoDefaults {
    fn default() -> Self {
        RepoDefaults {
            allowed_overrides: Vec::new(),
            labels: Vec::new(),
            reviewers: Vec::new(),
            github_issues: false,
            risk: RiskRouting::default(),
            pr_concurrent_limit: 10,
            pr_hourly_limit: 0,
        }
    }
}

/// What a repository may write. Every key is optional; absent means the server's value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RepoFile {
    enabled: Option<bool>,
    dry_run: Option<bool>,
    rules: Option<Vec<String>>,
    disabled_rules: Vec<String>,
    labels: Vec<String>,
    reviewers: Vec<String>,
    exemption_tags: Option<Vec<String>>,
    jira_project: Option<String>,
    github_issues: Option<bool>,
    risk: RiskFile,
    limits: LimitsFile,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RiskFile {
    low: Option<Delivery>,
    medium: Option<Delivery>,
    high: Option<Delivery>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LimitsFile {
    pr_concurrent_limit: Option<u32>,
    pr_hourly_limit: Option<u32>,
}

/// The settings in force for one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSettings {
    /// `false`: every finding of the repository is recorded as suppressed.
    pub enabled: bool,
    pub dry_run: bool,
    /// Only these rule identifiers (`None`: every rule).
    pub rules: Option<BTreeSet<&'static str>>,
    pub disabled_rules: BTreeSet<&'static str>,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    /// The repository's exemption tags (`None`: the server policy's).
    pub exemption_tags: Option<Vec<String>>,
    /// Tickets go to this project instead of the server's.
    pub jira_project: Option<String>,
    pub github_issues: bool,
    pub risk: RiskRouting,
    pub pr_concurrent_limit: u32,
    pub pr_hourly_limit: u32,
}

impl RepoSettings {
    /// The server's settings, for a repository without a file.
    pub fn server(defaults: &RepoDefaults, dry_run: bool) -> RepoSettings {
        RepoSettings {
            enabled: true,
            dry_run,
            rules: None,
            disabled_rules: BTreeSet::new(),
            labels: defaults.labels.clone(),
            reviewers: defaults.reviewers.clone(),
            exemption_tags: None,
            jira_project: None,
            github_issues: defaults.github_issues,
            risk: defaults.risk,
            pr_concurrent_limit: defaults.pr_concurrent_limit,
            pr_hourly_limit: defaults.pr_hourly_limit,
        }
    }

    /// The settings for a repository whose file holds `text` (`None`: no file), and everything
    /// wrong with the file. `server_tags` are the exemption tags of the server policy.
    pub fn resolve(
        defaults: &RepoDefaults,
        dry_run: bool,
        server_tags: &[String],
        text: Option<&str>,
    ) -> (RepoSettings, Vec<Problem>) {
        let mut settings = RepoSettings::server(defaults, dry_run);
        let Some(text) = text else { return (settings, Vec::new()) };
        let root = match super::parse(text) {
            Ok(root) => root,
            Err(problems) => return (settings, problems),
        };
        let mut problems = Vec::new();
        let doc = Doc { text, root: root.get_ref() };
        let span = root.span();
        let top = Spanned::new(span, DeValue::Table(root.get_ref().clone()));
        let file: RepoFile = decode_value(&doc, top, &Where::Top, &mut problems).unwrap_or_default();
        let mut apply = Apply { doc: &doc, defaults, problems: &mut problems };
        apply.all(&mut settings, file, server_tags);
        problems.sort_by_key(|p| p.line);
        (settings, problems)
    }

    /// The settings as `(setting, value)` rows, for the comment that validates a change to the file.
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        let list = |items: &[String]| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
        let rules = match &self.rules {
            None => "all".to_owned(),
            Some(only) => only.iter().copied().collect::<Vec<_>>().join(", "),
        };
        let disabled: Vec<String> = self.disabled_rules.iter().map(|r| (*r).to_owned()).collect();
        vec![
            ("enabled", if self.enabled { "yes" } else { "no" }.to_owned()),
            ("dry_run", if self.dry_run { "yes" } else { "no" }.to_owned()),
            ("rules", rules),
            ("disabled_rules", list(&disabled)),
            ("labels", list(&self.labels)),
            (
                "reviewers",
                if self.reviewers.is_empty() { "from CODEOWNERS".to_owned() } else { self.reviewers.join(", ") },
            ),
            ("exemption_tags", self.exemption_tags.as_deref().map_or("the server's".to_owned(), list)),
            ("jira_project", self.jira_project.clone().unwrap_or_else(|| "the server's".to_owned())),
            ("github_issues", if self.github_issues { "yes" } else { "no" }.to_owned()),
            (
                "risk",
                format!(
                    "low: {}, medium: {}, high: {}",
                    self.risk.low.as_str(),
                    self.risk.medium.as_str(),
                    self.risk.high.as_str()
                ),
            ),
            ("pr_concurrent_limit", limit(self.pr_concurrent_limit)),
            ("pr_hourly_limit", limit(self.pr_hourly_limit)),
        ]
    }

    /// Whether the repository wants this rule (by its identifier).
    pub fn rule_enabled(&self, identifier: &str) -> bool {
        !self.disabled_rules.contains(identifier) && self.rules.as_ref().is_none_or(|r| r.contains(identifier))
    }
}

/// Applies a decoded file to the server's settings, reporting what it may not do.
struct Apply<'a> {
    doc: &'a Doc<'a>,
    defaults: &'a RepoDefaults,
    problems: &'a mut Vec<Problem>,
}

impl Apply<'_> {
    fn all(&mut self, s: &mut RepoSettings, f: RepoFile, server_tags: &[String]) {
        if let Some(enabled) = f.enabled
            && (enabled || self.allowed(Override::Enabled, &[Seg::Key("enabled")]))
        {
            s.enabled = enabled;
        }
        // The server's dry run is a switch for the whole service: a repository cannot lift it.
        if f.dry_run == Some(true) && self.allowed(Override::DryRun, &[Seg::Key("dry_run")]) {
            s.dry_run = true;
        }
        self.rules(s, f.rules, f.disabled_rules);
        s.labels.extend(self.names("labels", f.labels, valid_label));
        // The server's reviewers stay: a repository adds its own, it cannot drop a required team.
        for reviewer in self.names("reviewers", f.reviewers, valid_reviewer) {
            if !s.reviewers.contains(&reviewer) {
                s.reviewers.push(reviewer);
            }
        }
        if let Some(tags) = f.exemption_tags {
            self.exemption_tags(s, tags, server_tags);
        }
        if let Some(project) = f.jira_project {
            let here = [Seg::Key("jira_project")];
            if !valid_project(&project) {
                self.at(&here, format!("`jira_project` `{project}` is not a Jira project key (e.g. SEC)"));
            } else if self.allowed(Override::JiraProject, &here) {
                s.jira_project = Some(project);
            }
        }
        if let Some(issues) = f.github_issues
            && (issues || !s.github_issues || self.allowed(Override::GithubIssues, &[Seg::Key("github_issues")]))
        {
            s.github_issues = issues;
        }
        for (risk, value) in [(Risk::Low, f.risk.low), (Risk::Medium, f.risk.medium), (Risk::High, f.risk.high)] {
            let Some(value) = value else { continue };
            let server = self.defaults.risk.for_risk(risk);
            let here = [Seg::Key("risk"), Seg::Key(risk.as_str())];
            if value >= server || self.allowed(Override::Risk, &here) {
                match risk {
                    Risk::Low => s.risk.low = value,
                    Risk::Medium => s.risk.medium = value,
                    Risk::High => s.risk.high = value,
                }
            }
        }
        if let Some(v) = f.limits.pr_concurrent_limit
            && self.limit_allowed("pr_concurrent_limit", v, self.defaults.pr_concurrent_limit)
        {
            s.pr_concurrent_limit = v;
        }
        if let Some(v) = f.limits.pr_hourly_limit
            && self.limit_allowed("pr_hourly_limit", v, self.defaults.pr_hourly_limit)
        {
            s.pr_hourly_limit = v;
        }
    }

    /// A limit may always be lowered; raising it (0 is "no limit", the highest) needs `limits`.
    fn limit_allowed(&mut self, key: &'static str, value: u32, server: u32) -> bool {
        let not_looser = value != 0 && (server == 0 || value <= server) || value == server;
        not_looser || self.allowed(Override::Limits, &[Seg::Key("limits"), Seg::Key(key)])
    }

    fn rules(&mut self, s: &mut RepoSettings, only: Option<Vec<String>>, disabled: Vec<String>) {
        let mut known = |key: &'static str, names: Vec<String>| -> BTreeSet<&'static str> {
            let mut out = BTreeSet::new();
            for (i, name) in names.iter().enumerate() {
                match catalog::by_identifier(name) {
                    Some(rule) => {
                        out.insert(rule.meta().identifier);
                    }
                    None => self.at(
                        &[Seg::Key(key), Seg::Index(i)],
                        format!("`{key}` names `{name}`, which is not a rule in the catalog (run `driftfix rules`)"),
                    ),
                }
            }
            out
        };
        // Names that all failed to resolve are a mistake, not a wish to turn every rule off.
        let only = only.and_then(|names| {
            let all_unknown = !names.is_empty();
            let resolved = known("rules", names);
            (!(all_unknown && resolved.is_empty())).then_some(resolved)
        });
        let disabled = known("disabled_rules", disabled);
        let every = catalog::all().len();
        let leaves_out = only.as_ref().is_some_and(|o| o.len() < every) || !disabled.is_empty();
        if !leaves_out {
            return;
        }
        let here = if only.is_some() { [Seg::Key("rules")] } else { [Seg::Key("disabled_rules")] };
        if self.allowed(Override::Rules, &here) {
            s.rules = only;
            s.disabled_rules = disabled;
        }
    }

    fn exemption_tags(&mut self, s: &mut RepoSettings, tags: Vec<String>, server_tags: &[String]) {
        let mut valid = Vec::new();
        for (i, tag) in tags.into_iter().enumerate() {
            if crate::policy::ExemptionTag::parse(&tag).is_some() {
                valid.push(tag);
            } else {
                let message = format!("`exemption_tags` holds `{tag}`, which is not `key` or `key=value`");
                self.at(&[Seg::Key("exemption_tags"), Seg::Index(i)], message);
            }
        }
        let is_server_tag = |t: &String| server_tags.iter().any(|s| same_tag(s, t));
        if valid.iter().all(is_server_tag) || self.allowed(Override::ExemptionTags, &[Seg::Key("exemption_tags")]) {
            s.exemption_tags = Some(valid);
        }
    }

    /// Labels or reviewers that are well formed; the rest reported.
    fn names(&mut self, key: &'static str, names: Vec<String>, valid: fn(&str) -> bool) -> Vec<String> {
        let mut out = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            if valid(&name) {
                let name = name.trim_start_matches('@').to_owned();
                if !out.contains(&name) {
                    out.push(name);
                }
            } else {
                let what = if key == "labels" { "a label (1-50 characters)" } else { "a `login` or `org/team`" };
                self.at(&[Seg::Key(key), Seg::Index(i)], format!("`{key}` holds `{name}`, which is not {what}"));
            }
        }
        out
    }

    /// Whether the server lets repositories loosen `key`; reports it when not.
    fn allowed(&mut self, key: Override, here: &[Seg]) -> bool {
        if self.defaults.allowed_overrides.contains(&key) {
            return true;
        }
        let name = key.key();
        self.at(
            here,
            format!(
                "`{name}` loosens the server's setting, and the server does not allow repositories to \
                 (`allowed_overrides` in its `[repos]` lacks \"{name}\"); the server's value applies"
            ),
        );
        false
    }

    fn at(&mut self, path: &[Seg], message: String) {
        self.problems.push(Problem::file(self.doc.line(path), message));
    }
}

fn limit(n: u32) -> String {
    if n == 0 { "none".to_owned() } else { n.to_string() }
}

/// `key=value` specs compared as the policy compares them.
fn same_tag(a: &str, b: &str) -> bool {
    match (crate::policy::ExemptionTag::parse(a), crate::policy::ExemptionTag::parse(b)) {
        (Some(a), Some(b)) => {
            a.key == b.key
                && match (a.value, b.value) {
                    (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                    (None, None) => true,
                    _ => false,
                }
        }
        _ => false,
    }
}

fn valid_label(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= 50 && !s.contains(',')
}

/// A GitHub login (`alice`, `bot-2`) or a team (`org/team-slug`).
fn valid_reviewer(s: &str) -> bool {
    let login = |p: &str| {
        !p.is_empty()
            && p.len() <= 39
            && !p.starts_with('-')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    };
    match s.trim_start_matches('@').split_once('/') {
        Some((org, team)) => login(org) && login(team),
        None => login(s.trim_start_matches('@')),
    }
}

fn valid_project(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_tags() -> Vec<String> {
        crate::policy::DEFAULT_EXEMPTION_TAGS.iter().map(|t| (*t).to_owned()).collect()
    }

    fn resolve(defaults: &RepoDefaults, text: &str) -> (RepoSettings, Vec<String>) {
        let (s, problems) = RepoSettings::resolve(defaults, false, &server_tags(), Some(text));
        (s, problems.iter().map(|p| p.render(Some(PATH))).collect())
    }

    fn permissive() -> RepoDefaults {
        RepoDefaults {
            allowed_overrides: vec![
                Override::Enabled,
                Override::DryRun,
                Override::Rules,
                Override::ExemptionTags,
                Override::Risk,
                Override::Limits,
                Override::JiraProject,
            ],
            ..RepoDefaults::default()
        }
    }

    #[test]
    fn no_file_means_the_server_settings() {
        let defaults = RepoDefaults { labels: vec!["security".into()], ..RepoDefaults::default() };
        let (s, problems) = RepoSettings::resolve(&defaults, true, &server_tags(), None);
        assert!(problems.is_empty());
        assert_eq!(s, RepoSettings::server(&defaults, true));
        assert!(s.enabled && s.dry_run && s.rule_enabled("INCOMING_SSH_DISABLED"));
        assert_eq!(s.risk.for_risk(Risk::High), Delivery::Draft);
        assert_eq!(s.pr_concurrent_limit, 10);
    }

    #[test]
    fn every_key_applies_when_the_server_allows_it() {
        let text = r#"
enabled = true
dry_run = true
rules = ["restricted-ssh", "S3_BUCKET_VERSIONING_ENABLED"]
disabled_rules = ["S3_BUCKET_VERSIONING_ENABLED"]
labels = ["security", "security"]
reviewers = ["alice", "acme/platform"]
exemption_tags = ["waiver=approved"]
jira_project = "SEC"
github_issues = true

[risk]
low = "pr"
medium = "draft"
high = "ticket"

[limits]
pr_concurrent_limit = 50
pr_hourly_limit = 3
"#;
        let (s, problems) = resolve(&permissive(), text);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(s.dry_run);
        assert!(s.rule_enabled("INCOMING_SSH_DISABLED"));
        assert!(!s.rule_enabled("S3_BUCKET_VERSIONING_ENABLED"), "disabled wins over rules");
        assert!(!s.rule_enabled("SQS_QUEUE_ENCRYPTED"), "only the listed rules");
        assert_eq!(s.labels, ["security"]);
        assert_eq!(s.reviewers, ["alice", "acme/platform"]);
        assert_eq!(s.exemption_tags, Some(vec!["waiver=approved".to_owned()]));
        assert_eq!(s.jira_project.as_deref(), Some("SEC"));
        assert!(s.github_issues);
        assert_eq!((s.risk.low, s.risk.medium, s.risk.high), (Delivery::Pr, Delivery::Draft, Delivery::Ticket));
        assert_eq!((s.pr_concurrent_limit, s.pr_hourly_limit), (50, 3));
    }

    #[test]
    fn loosening_needs_the_server_and_tightening_does_not() {
        let text = "enabled = false\ndry_run = true\ndisabled_rules = [\"restricted-ssh\"]\nexemption_tags = [\"waiver\"]\njira_project = \"SEC\"\n\n[risk]\nhigh = \"pr\"\nlow = \"ticket\"\n\n[limits]\npr_concurrent_limit = 3\npr_hourly_limit = 2\n";
        let (s, problems) = resolve(&RepoDefaults::default(), text);
        let lines: Vec<&str> = problems.iter().map(|p| p.split(": ").next().unwrap()).collect();
        assert_eq!(
            lines,
            [
                ".github/driftfix.toml:1",
                ".github/driftfix.toml:2",
                ".github/driftfix.toml:3",
                ".github/driftfix.toml:4",
                ".github/driftfix.toml:5",
                ".github/driftfix.toml:9"
            ],
            "{problems:#?}"
        );
        assert!(problems[0].contains("`enabled` loosens the server's setting"), "{}", problems[0]);
        assert!(problems[5].contains("\"risk\""), "{}", problems[5]);
        assert!(s.enabled && !s.dry_run && s.rule_enabled("INCOMING_SSH_DISABLED"));
        assert_eq!(s.exemption_tags, None);
        assert_eq!(s.jira_project, None);
        // Tightening applies: high risk as a ready PR, lower limits (the hourly one from "none").
        assert_eq!((s.risk.high, s.risk.low), (Delivery::Pr, Delivery::Pr));
        assert_eq!((s.pr_concurrent_limit, s.pr_hourly_limit), (3, 2));
    }

    #[test]
    fn fewer_of_the_server_tags_is_tightening() {
        let (s, problems) = resolve(&RepoDefaults::default(), "exemption_tags = [\"SecurityExemption=true\"]\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.exemption_tags, Some(vec!["SecurityExemption=true".to_owned()]));
        let (s, problems) = resolve(&RepoDefaults::default(), "[limits]\npr_concurrent_limit = 0\n");
        assert_eq!(s.pr_concurrent_limit, 10, "0 means no limit: looser than 10");
        assert!(problems[0].starts_with(".github/driftfix.toml:2: `limits` loosens"), "{problems:?}");
    }

    #[test]
    fn bad_entries_are_reported_with_their_line_and_the_rest_still_applies() {
        let text = "labels = [\"ok\"]\nreviewrs = [\"alice\"]\nrules = [\"restricted-ssh\", \"no-such-rule\"]\nreviewers = [\"not a login\"]\njira_project = \"sec\"\n[risk]\nhigh = \"maybe\"\n";
        let (s, problems) = resolve(&permissive(), text);
        assert_eq!(s.labels, ["ok"]);
        assert_eq!(s.rules.as_ref().map(BTreeSet::len), Some(1));
        assert!(s.reviewers.is_empty());
        let at = |line: usize| problems.iter().find(|p| p.starts_with(&format!("{PATH}:{line}:"))).cloned();
        assert!(at(2).is_some_and(|p| p.contains("unknown key `reviewrs`")), "{problems:#?}");
        assert!(at(3).is_some_and(|p| p.contains("`no-such-rule`")), "{problems:#?}");
        assert!(at(4).is_some_and(|p| p.contains("`not a login`")), "{problems:#?}");
        assert!(at(5).is_some_and(|p| p.contains("not a Jira project key")), "{problems:#?}");
        assert!(at(7).is_some_and(|p| p.contains("maybe")), "{problems:#?}");
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }

    #[test]
    fn repository_reviewers_add_to_the_servers_and_issues_off_needs_the_server() {
        let defaults =
            RepoDefaults { reviewers: vec!["acme/security".into()], github_issues: true, ..RepoDefaults::default() };
        let (s, problems) = resolve(&defaults, "reviewers = [\"@alice\", \"acme/security\"]\ngithub_issues = false\n");
        assert_eq!(s.reviewers, ["acme/security", "alice"], "the server's stay; `@` is not part of a login");
        assert!(s.github_issues);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with(".github/driftfix.toml:2: `github_issues` loosens"), "{problems:?}");
        let allowed = RepoDefaults { allowed_overrides: vec![Override::GithubIssues], ..defaults };
        assert!(!resolve(&allowed, "github_issues = false\n").0.github_issues);
    }

    #[test]
    fn rules_that_all_fail_to_resolve_do_not_turn_every_rule_off() {
        let (s, problems) = resolve(&permissive(), "rules = [\"restricted-sshh\"]\n");
        assert_eq!(s.rules, None, "a typo is not a wish to turn every rule off");
        assert!(s.rule_enabled("INCOMING_SSH_DISABLED"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`restricted-sshh`"), "{problems:?}");
    }

    #[test]
    fn a_syntax_error_keeps_the_server_settings() {
        let (s, problems) = resolve(&permissive(), "enabled = false\nlabels = [\"a\"\n");
        assert_eq!(s, RepoSettings::server(&permissive(), false));
        assert!(problems[0].starts_with(&format!("{PATH}:")) && problems[0].contains("TOML syntax"), "{problems:?}");
    }
}
