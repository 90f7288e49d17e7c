//! The server configuration: `driftfix.toml`, overridden key by key by `DRIFTFIX_*` environment
//! variables, and checked as a whole before the server starts (`driftfix check-config` runs the same
//! checks).
//!
//! Why it is built this way:
//! - **Every problem at once, each with its line.** A configuration is usually fixed in one sitting;
//!   an error-at-a-time loop wastes deploys. serde stops at the first error, so the document is parsed
//!   into toml's spanned tree ([`DeTable`]), decoded, and on an error the offending entry is removed
//!   from the tree and decoding resumes; the `[[routes]]` are decoded one by one for the same reason.
//!   Semantic checks run on whatever decoded, and find their line through the same spanned tree.
//! - **Nothing is silently ignored.** `deny_unknown_fields` on every table, and an unknown `DRIFTFIX_`
//!   variable is an error: a misspelt key would otherwise mean a server that runs with a default the
//!   operator thought they had changed.
//! - **Secrets never leave [`SecretString`].** Database URL, API keys, Basic-auth pairs, webhook secrets
//!   and API tokens are redacted by `Debug`, and no error message quotes their values (toml's own
//!   messages would: `invalid type: string "hunter2"`), only the key that holds them.
//! - Routes and the policy are file-only: they are structured, and they are reviewed as code.

pub mod aws;
pub mod repo;

use crate::finding::Finding;
use crate::policy::{Policy, PolicyError, is_cidr};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// The configuration file `driftfix serve` and `driftfix check-config` read when none is named.
pub const DEFAULT_FILE: &str = "driftfix.toml";
/// The variable naming the configuration file.
pub const ENV_CONFIG_FILE: &str = "DRIFTFIX_CONFIG";
/// The default `listen` address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

/// Declares [`ENV_KEYS`] and the dotted key each one overrides from one list, so the two can never
/// fall out of step.
macro_rules! env_overrides {
    ($($var:literal => $key:literal,)*) => {
        /// Every environment variable that overrides a configuration key (env wins over the file).
        /// Each is `DRIFTFIX_` + the key's dotted path in upper case with `_` for `.`. Lists are
        /// comma-separated.
        pub const ENV_KEYS: &[&str] = &[$($var),*];
        /// The dotted key each of [`ENV_KEYS`] overrides, in the same order.
        const ENV_SETTINGS: &[&str] = &[$($key),*];
    };
}

env_overrides! {
    "DRIFTFIX_LISTEN" => "listen",
    "DRIFTFIX_DATABASE_URL" => "database_url",
    "DRIFTFIX_DRY_RUN" => "dry_run",
    "DRIFTFIX_LOG_FORMAT" => "log_format",
    "DRIFTFIX_BODY_LIMIT_BYTES" => "body_limit_bytes",
    "DRIFTFIX_WORKERS" => "workers",
    "DRIFTFIX_MAX_ATTEMPTS" => "max_attempts",
    "DRIFTFIX_LEASE_SECONDS" => "lease_seconds",
    "DRIFTFIX_QUEUE_HIGH_WATER" => "queue_high_water",
    "DRIFTFIX_TEMPLATES_DIR" => "templates_dir",
    "DRIFTFIX_INTAKE_EVENTBRIDGE_HEADER" => "intake.eventbridge.header",
    "DRIFTFIX_INTAKE_EVENTBRIDGE_API_KEYS" => "intake.eventbridge.api_keys",
    "DRIFTFIX_INTAKE_EVENTBRIDGE_BASIC_AUTH" => "intake.eventbridge.basic_auth",
    "DRIFTFIX_INTAKE_SNS_TOPIC_ARNS" => "intake.sns.topic_arns",
    "DRIFTFIX_INTAKE_GITHUB_WEBHOOK_SECRETS" => "intake.github.webhook_secrets",
    "DRIFTFIX_API_TOKENS" => "api.tokens",
    "DRIFTFIX_GITHUB_APP_ID" => "github.app_id",
    "DRIFTFIX_GITHUB_PRIVATE_KEY" => "github.private_key",
    "DRIFTFIX_GITHUB_PRIVATE_KEY_FILE" => "github.private_key_file",
    "DRIFTFIX_GITHUB_API_URL" => "github.api_url",
    "DRIFTFIX_JIRA_URL" => "jira.url",
    "DRIFTFIX_JIRA_FLAVOR" => "jira.flavor",
    "DRIFTFIX_JIRA_EMAIL" => "jira.email",
    "DRIFTFIX_JIRA_TOKEN" => "jira.token",
    "DRIFTFIX_JIRA_PROJECT" => "jira.project",
    "DRIFTFIX_JIRA_ISSUE_TYPE" => "jira.issue_type",
    "DRIFTFIX_AWS_ENABLED" => "aws.enabled",
    "DRIFTFIX_AWS_REGION" => "aws.region",
    "DRIFTFIX_AWS_AGGREGATOR" => "aws.aggregator",
    "DRIFTFIX_AWS_SYNC_INTERVAL_MINUTES" => "aws.sync_interval_minutes",
    "DRIFTFIX_AWS_VERIFY" => "aws.verify",
    "DRIFTFIX_AWS_VERIFY_DELAY_MINUTES" => "aws.verify_delay_minutes",
    "DRIFTFIX_AWS_VERIFY_POLL_SECONDS" => "aws.verify_poll_seconds",
    "DRIFTFIX_AWS_VERIFY_TIMEOUT_MINUTES" => "aws.verify_timeout_minutes",
    "DRIFTFIX_AWS_ENDPOINTS_CONFIG" => "aws.endpoints.config",
    "DRIFTFIX_AWS_ENDPOINTS_CLOUDTRAIL" => "aws.endpoints.cloudtrail",
    "DRIFTFIX_AWS_ENDPOINTS_S3" => "aws.endpoints.s3",
    "DRIFTFIX_AWS_ENDPOINTS_STS" => "aws.endpoints.sts",
}

/// `DRIFTFIX_` variables that are not configuration: the file's path and the test and bench
/// harnesses' switches. Everything else starting with `DRIFTFIX_` must be in [`ENV_KEYS`].
const ENV_NOT_CONFIG: &[&str] =
    &["DRIFTFIX_TEST_", "DRIFTFIX_SKIP_", "DRIFTFIX_CHECKOV", "DRIFTFIX_BENCH_", "DRIFTFIX_CACHE"];

/// The top-level keys that are not tables.
const TOP_LEVEL_KEYS: &[&str] = &[
    "listen",
    "database_url",
    "dry_run",
    "log_format",
    "body_limit_bytes",
    "workers",
    "max_attempts",
    "lease_seconds",
    "queue_high_water",
    "templates_dir",
];

/// Keys whose values are secrets: their values never appear in a message.
const SECRET_KEYS: &[&str] =
    &["database_url", "api_keys", "basic_auth", "webhook_secrets", "tokens", "private_key", "token"];

/// Configuration of `driftfix serve`. Every key has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds (`IP:port`).
    pub listen: SocketAddr,
    /// `sqlite://path` or `postgres://user:password@host/db`. May hold a password.
    pub database_url: SecretString,
    /// Render and store proposals, never push them (the only mode until the GitHub integration).
    pub dry_run: bool,
    pub log_format: LogFormat,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Worker tasks per replica; 0 makes an intake-only replica.
    pub workers: usize,
    /// Attempts per job before it is marked failed.
    pub max_attempts: u32,
    /// How long a claimed job stays with its worker before another replica may take it.
    pub lease_seconds: u64,
    /// Queued jobs above which intake answers 503 (senders retry it later).
    pub queue_high_water: u64,
    /// A directory of templates overriding the built-in ones (`""` in the file: none).
    #[serde(deserialize_with = "empty_path_is_none")]
    pub templates_dir: Option<PathBuf>,
    pub intake: Intake,
    pub api: Api,
    /// The GitHub App the bot acts as (needed by routes whose `repo` is `owner/name`).
    pub github: GitHub,
    /// Jira, where every finding gets its ticket (off while `url` is empty).
    pub jira: Jira,
    /// The organisation's remediation policy, the same table `driftfix remediate --policy` reads.
    pub policy: Policy,
    /// What a repository gets without `.github/driftfix.toml`, and what that file may loosen.
    pub repos: repo::RepoDefaults,
    /// Asking AWS: enrichment, `sync`, verification after merge.
    pub aws: aws::Aws,
    /// Finding → code. The first route that matches wins; a finding no route matches is recorded as
    /// `no-route`.
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// How deliveries authenticate. A source with no credentials configured accepts nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Intake {
    pub eventbridge: EventBridgeIntake,
    pub sns: SnsIntake,
    pub github: GithubIntake,
}

/// An EventBridge API destination's connection: an API-key header or Basic auth.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventBridgeIntake {
    /// Header carrying the API key (lower case once loaded).
    pub header: String,
    /// Accepted keys; several so that a key can be rotated without downtime.
    pub api_keys: Vec<SecretString>,
    /// Accepted `user:password` pairs.
    pub basic_auth: Vec<SecretString>,
}

impl Default for EventBridgeIntake {
    fn default() -> Self {
        EventBridgeIntake { header: "x-api-key".into(), api_keys: Vec::new(), basic_auth: Vec::new() }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnsIntake {
    /// Topics whose (signed) notifications are accepted.
    pub topic_arns: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubIntake {
    /// Webhook secrets (HMAC-SHA256); several for rotation.
    pub webhook_secrets: Vec<SecretString>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Api {
    /// Bearer tokens accepted by `/api`.
    pub tokens: Vec<SecretString>,
}

/// The GitHub App: its id and private key, and the API it talks to.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitHub {
    /// The App's id (0: no App configured).
    pub app_id: u64,
    /// The App's private key, PEM. Prefer `DRIFTFIX_GITHUB_PRIVATE_KEY` or `private_key_file`.
    pub private_key: SecretString,
    /// A file holding the private key (used when `private_key` is empty).
    #[serde(deserialize_with = "empty_path_is_none")]
    pub private_key_file: Option<PathBuf>,
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
}

impl Default for GitHub {
    fn default() -> Self {
        GitHub {
            app_id: 0,
            private_key: SecretString::from(""),
            private_key_file: None,
            api_url: "https://api.github.com".into(),
        }
    }
}

impl GitHub {
    /// Whether an App is configured at all.
    pub fn configured(&self) -> bool {
        self.app_id != 0
    }

    /// The private key: `private_key`, else the contents of `private_key_file`. A key given on one
    /// line with literal `\n` (as some secret stores hand it over) is unfolded.
    pub fn key(&self) -> Result<SecretString, String> {
        let inline = self.private_key.expose_secret().trim();
        let text = if !inline.is_empty() {
            inline.to_owned()
        } else if let Some(path) = &self.private_key_file {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read `github.private_key_file` {}: {e}", path.display()))?
        } else {
            return Err("the GitHub App has no private key (`github.private_key` or `github.private_key_file`)".into());
        };
        let text = if text.contains('\n') { text } else { text.replace("\\n", "\n") };
        if !text.contains("-----BEGIN") || !text.contains("PRIVATE KEY-----") {
            return Err("the GitHub App private key is not a PEM private key".into());
        }
        Ok(SecretString::from(text))
    }
}

/// Jira Cloud or Data Center.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Jira {
    /// The site, e.g. `https://acme.atlassian.net`; empty: no tickets.
    pub url: String,
    /// `cloud` (REST v3, e-mail + API token) or `data-center` (REST v2, personal access token).
    pub flavor: JiraFlavor,
    /// Cloud: the account the API token belongs to.
    pub email: String,
    /// Cloud API token or Data Center personal access token.
    pub token: SecretString,
    /// Project key tickets are created in.
    pub project: String,
    pub issue_type: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JiraFlavor {
    #[default]
    Cloud,
    DataCenter,
}

impl Default for Jira {
    fn default() -> Self {
        Jira {
            url: String::new(),
            flavor: JiraFlavor::Cloud,
            email: String::new(),
            token: SecretString::from(""),
            project: String::new(),
            issue_type: crate::jira::DEFAULT_ISSUE_TYPE.into(),
        }
    }
}

impl Jira {
    /// Whether tickets are on.
    pub fn configured(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The client configuration (checked by `check-config`; `Err` names what is missing).
    pub fn client_config(&self) -> Result<crate::jira::JiraConfig, String> {
        let url = url::Url::parse(self.url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .ok_or_else(|| format!("`jira.url` `{}` is not an http(s) URL", self.url))?;
        if self.token.expose_secret().trim().is_empty() {
            return Err("`jira.token` is empty (set DRIFTFIX_JIRA_TOKEN)".into());
        }
        if self.project.trim().is_empty() {
            return Err("`jira.project` is empty: name the project key tickets go to".into());
        }
        let mut c = match self.flavor {
            JiraFlavor::Cloud if self.email.trim().is_empty() => {
                return Err("`jira.email` is empty: Jira Cloud API tokens belong to an account e-mail".into());
            }
            JiraFlavor::Cloud => {
                crate::jira::JiraConfig::cloud(url, self.email.trim(), self.token.clone(), self.project.trim())
            }
            JiraFlavor::DataCenter => {
                crate::jira::JiraConfig::data_center(url, self.token.clone(), self.project.trim())
            }
        };
        c.issue_type = self.issue_type.clone();
        Ok(c)
    }
}

/// Which code a finding belongs to. Empty lists (and an empty tag table) match anything.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Unique name, recorded with every finding it routes.
    pub name: String,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    /// Every one of these tags must be on the resource with this exact value.
    #[serde(default)]
    pub resource_tags: BTreeMap<String, String>,
    /// `owner/name` on GitHub (through the App), or a local directory (an absolute path, or one
    /// starting with `.`) read as it is, for dry runs and tests.
    pub repo: String,
    /// Sub-directories of the repository to load; empty means the whole repository.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Terraform state files (v4 JSON): relative to the repository, absolute, or `s3://bucket/key`
    /// (read with the route's AWS credentials, `[aws]` enabled).
    #[serde(default)]
    pub state: Vec<PathBuf>,
    /// An IAM role assumed for every AWS call about this route's findings (one role per account is
    /// the usual shape); empty: the server's own credentials.
    #[serde(default)]
    pub role_arn: Option<String>,
}

impl Route {
    /// The GitHub repository this route names, `None` for a local directory (a path that is
    /// absolute or starts with `.`) or a value that is neither.
    pub fn github_repo(&self) -> Option<crate::github::RepoName> {
        if self.is_local() { None } else { crate::github::RepoName::parse(self.repo.trim()) }
    }

    /// Whether this route covers the finding's account and region (whatever its tags).
    pub fn covers_place(&self, finding: &Finding) -> bool {
        let r = &finding.resource;
        (self.accounts.is_empty() || self.accounts.contains(&r.account))
            && (self.regions.is_empty() || self.regions.contains(&r.region))
    }

    /// Whether `repo` is a local directory.
    pub fn is_local(&self) -> bool {
        let r = self.repo.trim();
        r.starts_with('/') || r.starts_with('.') || r.starts_with('~') || Path::new(r).is_absolute()
    }

    /// Whether this route covers the finding's account, region and tags.
    pub fn matches(&self, finding: &Finding) -> bool {
        self.covers_place(finding)
            && self.resource_tags.iter().all(|(k, v)| finding.tags.iter().any(|(tk, tv)| tk == k && tv == v))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("the default listen address parses"),
            database_url: SecretString::from(crate::store::DEFAULT_URL),
            dry_run: true,
            log_format: LogFormat::Human,
            body_limit_bytes: 1_048_576,
            workers: 2,
            max_attempts: 5,
            lease_seconds: 300,
            queue_high_water: 10_000,
            templates_dir: None,
            intake: Intake::default(),
            api: Api::default(),
            github: GitHub::default(),
            jira: Jira::default(),
            policy: Policy::default(),
            repos: repo::RepoDefaults::default(),
            aws: aws::Aws::default(),
            routes: Vec::new(),
        }
    }
}

fn empty_path_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let s = String::deserialize(d)?;
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file, when the problem is in the file and its place is known.
    pub line: Option<usize>,
    /// The environment variable the problem comes from, when it comes from the environment.
    pub env: Option<String>,
    /// What is wrong, naming the key; never a secret's value.
    pub message: String,
}

impl Problem {
    fn file(line: Option<usize>, message: String) -> Problem {
        Problem { line, env: None, message }
    }

    fn env(var: &str, message: String) -> Problem {
        Problem { line: None, env: Some(var.to_owned()), message }
    }

    /// `FILE:LINE: message`, `FILE: message`, or `env VAR: message`.
    pub fn render(&self, file: Option<&str>) -> String {
        match (&self.env, file, self.line) {
            (Some(var), _, _) => format!("env {var}: {}", self.message),
            (None, Some(f), Some(l)) => format!("{f}:{l}: {}", self.message),
            (None, Some(f), None) => format!("{f}: {}", self.message),
            (None, None, Some(l)) => format!("line {l}: {}", self.message),
            (None, None, None) => self.message.clone(),
        }
    }
}

/// Everything wrong with a configuration, in file order, then the environment's problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The file, as it was named, when one was read.
    pub file: Option<String>,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// One line per problem.
    pub fn lines(&self) -> Vec<String> {
        self.problems.iter().map(|p| p.render(self.file.as_deref())).collect()
    }

    fn render(&self) -> String {
        self.lines().join("\n")
    }
}

impl Config {
    /// Parse and check a configuration document (no environment).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        build(text, &[]).map_err(|problems| ConfigError { file: None, problems })
    }

    /// Read the file (`path`, else `DRIFTFIX_CONFIG` from `env`, else none: the defaults), apply the
    /// `DRIFTFIX_*` overrides from `env`, and check the result. Pass `std::env::vars()` as `env`.
    pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with("DRIFTFIX_")).collect();
        let from_env = env.iter().rev().find(|(k, v)| k == ENV_CONFIG_FILE && !v.is_empty()).map(|(_, v)| v);
        let path = path.map(Path::to_path_buf).or_else(|| from_env.map(PathBuf::from));
        let (text, file) = match &path {
            None => (String::new(), None),
            Some(p) => {
                let name = p.display().to_string();
                match std::fs::read_to_string(p) {
                    Ok(text) => (text, Some(name)),
                    Err(e) => {
                        let problems = vec![Problem::file(None, format!("cannot read the file: {e}"))];
                        return Err(ConfigError { file: Some(name), problems });
                    }
                }
            }
        };
        build(&text, &env).map_err(|problems| ConfigError { file, problems })
    }

    /// The route for a finding: the first whose accounts, regions and tags all match.
    pub fn route_for(&self, finding: &Finding) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(finding))
    }

    /// `"sqlite"` or `"postgres"`, as [`crate::store::Store::dialect`] names them.
    pub fn database_dialect(&self) -> &'static str {
        if self.database_url.expose_secret().starts_with("sqlite:") { "sqlite" } else { "postgres" }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding with recovery

/// Upper bound on decode-prune rounds for one value (each round removes one entry).
const MAX_ROUNDS: usize = 200;

/// Parse, decode, override from the environment, check.
fn build(text: &str, env: &[(String, String)]) -> Result<Config, Vec<Problem>> {
    let mut problems = Vec::new();
    let root = parse(text)?;
    let doc = Doc { text, root: root.get_ref() };
    let (mut config, route_index) = decode(&doc, root.clone(), &mut problems);
    let from_env = apply_env(&mut config, env, &mut problems);
    let mut check = Check { doc: &doc, from_env: &from_env, problems: &mut problems };
    check.all(&config, &route_index);
    if problems.is_empty() {
        config.intake.eventbridge.header.make_ascii_lowercase();
        Ok(config)
    } else {
        problems.sort_by_key(|p| (p.env.is_some(), p.line.unwrap_or(0)));
        Err(problems)
    }
}

/// Parse a document into toml's spanned tree; syntax errors in line order. The recovered tree of a
/// broken document would only add confusing follow-on errors, so it is not decoded.
fn parse(text: &str) -> Result<Spanned<DeTable<'_>>, Vec<Problem>> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    if syntax.is_empty() {
        return Ok(root);
    }
    let mut problems: Vec<Problem> = syntax
        .iter()
        .map(|e| Problem::file(e.span().map(|s| line_at(text, s.start)), format!("TOML syntax: {}", e.message())))
        .collect();
    problems.sort_by_key(|p| p.line);
    Err(problems)
}

/// The parsed document, for finding the line of a key.
struct Doc<'a> {
    text: &'a str,
    root: &'a DeTable<'a>,
}

/// One step of a key path.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl Doc<'_> {
    /// Line of the key (or array element) at `path`; the nearest enclosing one when it is absent.
    fn line(&self, path: &[Seg]) -> Option<usize> {
        let (Seg::Key(first), rest) = path.split_first()? else { return None };
        let (key, value) = self.root.get_key_value(*first)?;
        Some(line_at(self.text, locate(value, key.span(), rest).start))
    }
}

fn locate(value: &Spanned<DeValue<'_>>, here: Range<usize>, path: &[Seg]) -> Range<usize> {
    let Some((first, rest)) = path.split_first() else { return here };
    match (first, value.get_ref()) {
        (Seg::Key(k), DeValue::Table(t)) => match t.get_key_value(*k) {
            Some((key, v)) => locate(v, key.span(), rest),
            None => here,
        },
        (Seg::Index(i), DeValue::Array(a)) => match a.get(*i) {
            Some(v) => locate(v, v.span(), rest),
            None => here,
        },
        _ => here,
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
}

/// Decode the whole document, recovering from errors. Returns the configuration (with whatever
/// decoded) and, for each decoded route, its index among the file's `[[routes]]`.
fn decode(doc: &Doc, root: Spanned<DeTable<'_>>, problems: &mut Vec<Problem>) -> (Config, Vec<usize>) {
    let span = root.span();
    let mut table = root.into_inner();
    let routes = table.remove("routes");
    let top = Spanned::new(span, DeValue::Table(table));
    let mut config: Config = decode_value(doc, top, &Where::Top, problems).unwrap_or_default();

    let mut index = Vec::new();
    if let Some(routes) = routes {
        let routes_span = routes.span();
        match routes.into_inner() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let name = item.get_ref().as_table().and_then(|t| t.get("name")).and_then(|n| n.get_ref().as_str());
                    let at = Where::Route(route_label(i, name));
                    if let Some(route) = decode_value::<Route>(doc, item.clone(), &at, problems) {
                        config.routes.push(route);
                        index.push(i);
                    }
                }
            }
            _ => problems.push(Problem::file(
                Some(line_at(doc.text, routes_span.start)),
                "`routes` must be an array of tables, written `[[routes]]`".into(),
            )),
        }
    }
    (config, index)
}

/// Where a decoded value sits, for messages.
enum Where {
    Top,
    Route(String),
}

fn route_label(i: usize, name: Option<&str>) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("[[routes]] #{} (`{n}`)", i + 1),
        _ => format!("[[routes]] #{}", i + 1),
    }
}

/// Decode `value` as `T`; on each error, report it and drop the entry it is in, then retry. Returns
/// what finally decoded, or `None` when the error is in the value as a whole.
fn decode_value<T: DeserializeOwned>(
    doc: &Doc,
    mut value: Spanned<DeValue<'_>>,
    at: &Where,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    for _ in 0..MAX_ROUNDS {
        let err = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let span = err.span();
        let path = match (&span, value.get_ref()) {
            (Some(s), DeValue::Table(t)) => entry_containing(t, s).unwrap_or_default(),
            _ => Vec::new(),
        };
        let line = span.map(|s| line_at(doc.text, s.start));
        problems.push(Problem::file(line, describe(err.message(), &path, at)));
        if path.is_empty() {
            return None;
        }
        let DeValue::Table(t) = value.get_mut() else { return None };
        if !remove_entry(t, &path) {
            return None;
        }
    }
    None
}

/// The path of the innermost entry whose key or value contains `span`.
fn entry_containing(table: &DeTable<'_>, span: &Range<usize>) -> Option<Vec<String>> {
    for (k, v) in table.iter() {
        // The key first: a header `[a.b]` is both `a`'s key and (as a span) `b`'s value.
        if contains(&k.span(), span) {
            return Some(vec![k.get_ref().to_string()]);
        }
        if let DeValue::Table(t) = v.get_ref()
            && let Some(mut inner) = entry_containing(t, span)
        {
            inner.insert(0, k.get_ref().to_string());
            return Some(inner);
        }
        if contains(&v.span(), span) {
            return Some(vec![k.get_ref().to_string()]);
        }
    }
    None
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn remove_entry(table: &mut DeTable<'_>, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => table.remove(last.as_str()).is_some(),
        [first, rest @ ..] => match table.get_mut(first.as_str()).map(|v| v.get_mut()) {
            Some(DeValue::Table(t)) => remove_entry(t, rest),
            _ => false,
        },
    }
}

/// Turn a serde/toml message into one that names the key, in the file's vocabulary, without values
/// of secret keys.
fn describe(message: &str, path: &[String], at: &Where) -> String {
    let in_table = |table: &[String]| match (at, table.is_empty()) {
        (Where::Top, true) => "at the top level".to_owned(),
        (Where::Top, false) => format!("in [{}]", table.join(".")),
        (Where::Route(label), true) => format!("in {label}"),
        (Where::Route(label), false) => format!("in `{}` of {label}", table.join(".")),
    };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, expected)) = rest.split_once('`')
    {
        let table = path.get(..path.len().saturating_sub(1)).unwrap_or_default();
        let expected = expected.trim_start_matches(", ");
        // TOML's classic trap: a top-level key written below a [table] header belongs to that table.
        let top_level = matches!(at, Where::Top) && !table.is_empty() && TOP_LEVEL_KEYS.contains(&name);
        let expected = if top_level {
            format!(" (`{name}` is a top-level key: move it above the first [table] header)")
        } else if expected.is_empty() {
            String::new()
        } else {
            format!(" ({})", friendly(expected))
        };
        return format!("unknown key `{name}` {}{expected}", in_table(table));
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return format!("missing required key `{name}` {}", in_table(path));
    }
    // A value under a table holding secrets may itself be one written in the wrong place
    // (`api = "token"`): keep only what was expected.
    let secret = path.iter().any(|k| SECRET_KEYS.contains(&k.as_str()))
        || (matches!(at, Where::Top) && path.first().is_some_and(|k| k == "intake" || k == "api"));
    let what = if secret {
        match message.split_once(", expected ") {
            Some((_, expected)) => friendly(&format!("wrong type, expected {expected}")),
            None => "invalid value".to_owned(),
        }
    } else {
        friendly(message)
    };
    match (at, path.is_empty()) {
        (Where::Top, true) => what,
        (Where::Top, false) => format!("`{}`: {what}", path.join(".")),
        (Where::Route(label), true) => format!("{label}: {what}"),
        (Where::Route(label), false) => format!("`{}` in {label}: {what}", path.join(".")),
    }
}

/// serde's Rust-flavoured words in TOML's vocabulary.
fn friendly(message: &str) -> String {
    let mut out = message
        .replace("unknown variant", "unknown value")
        .replace("invalid socket address syntax", "not an `IP:port` address (e.g. 0.0.0.0:8080)")
        .replace("a sequence", "an array");
    out = out.replace("a map", "a table").replace("expected a boolean", "expected true or false");
    for int in ["usize", "u64", "u32", "u16"] {
        out = out.replace(&format!("expected {int}"), "expected a whole number ≥ 0");
    }
    // `expected struct EventBridgeIntake` → `expected a table`
    if let Some(i) = out.find("expected struct ") {
        let end = out[i + 16..].find(|c: char| !c.is_alphanumeric()).map_or(out.len(), |j| i + 16 + j);
        out.replace_range(i..end, "expected a table");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Environment

/// Apply `DRIFTFIX_*` overrides. Returns, for each key set from the environment, its variable.
fn apply_env(config: &mut Config, env: &[(String, String)], problems: &mut Vec<Problem>) -> BTreeMap<String, String> {
    let mut set = BTreeMap::new();
    for (var, value) in env {
        if !var.starts_with("DRIFTFIX_") || var == ENV_CONFIG_FILE || ENV_NOT_CONFIG.iter().any(|p| var.starts_with(p))
        {
            continue;
        }
        let Some(key) = ENV_KEYS.iter().position(|k| k == var).map(|i| ENV_SETTINGS[i]) else {
            let hint = closest(var).map(|k| format!("; did you mean {k}?")).unwrap_or_default();
            let message = format!("unknown driftfix variable (routes and policy are set in the file only){hint}");
            problems.push(Problem::env(var, message));
            continue;
        };
        let mut bad = |what: String| problems.push(Problem::env(var, what));
        let v = value.trim();
        match key {
            "listen" => match v.parse() {
                Ok(a) => config.listen = a,
                Err(_) => bad(format!("`{v}` is not an `IP:port` address")),
            },
            "database_url" => config.database_url = SecretString::from(v),
            "dry_run" => match parse_bool(v) {
                Some(b) => config.dry_run = b,
                None => bad(format!("`{v}` is not true or false")),
            },
            "log_format" => match v {
                "human" => config.log_format = LogFormat::Human,
                "json" => config.log_format = LogFormat::Json,
                _ => bad(format!("`{v}` is not `human` or `json`")),
            },
            "body_limit_bytes" => number(v, &mut config.body_limit_bytes, bad),
            "workers" => number(v, &mut config.workers, bad),
            "max_attempts" => number(v, &mut config.max_attempts, bad),
            "lease_seconds" => number(v, &mut config.lease_seconds, bad),
            "queue_high_water" => number(v, &mut config.queue_high_water, bad),
            "templates_dir" => config.templates_dir = (!v.is_empty()).then(|| PathBuf::from(v)),
            "intake.eventbridge.header" => config.intake.eventbridge.header = v.to_owned(),
            "intake.eventbridge.api_keys" => config.intake.eventbridge.api_keys = secret_list(v),
            "intake.eventbridge.basic_auth" => config.intake.eventbridge.basic_auth = secret_list(v),
            "intake.sns.topic_arns" => config.intake.sns.topic_arns = list(v).map(str::to_owned).collect(),
            "intake.github.webhook_secrets" => config.intake.github.webhook_secrets = secret_list(v),
            "api.tokens" => config.api.tokens = secret_list(v),
            "github.app_id" => number(v, &mut config.github.app_id, bad),
            "github.private_key" => config.github.private_key = SecretString::from(v),
            "github.private_key_file" => config.github.private_key_file = (!v.is_empty()).then(|| PathBuf::from(v)),
            "github.api_url" => config.github.api_url = v.to_owned(),
            "jira.url" => config.jira.url = v.to_owned(),
            "jira.flavor" => match v {
                "cloud" => config.jira.flavor = JiraFlavor::Cloud,
                "data-center" => config.jira.flavor = JiraFlavor::DataCenter,
                _ => bad(format!("`{v}` is not `cloud` or `data-center`")),
            },
            "jira.email" => config.jira.email = v.to_owned(),
            "jira.token" => config.jira.token = SecretString::from(v),
            "jira.project" => config.jira.project = v.to_owned(),
            "jira.issue_type" => config.jira.issue_type = v.to_owned(),
            "aws.enabled" => match parse_bool(v) {
                Some(b) => config.aws.enabled = b,
                None => bad(format!("`{v}` is not true or false")),
            },
            "aws.verify" => match parse_bool(v) {
                Some(b) => config.aws.verify = b,
                None => bad(format!("`{v}` is not true or false")),
            },
            "aws.region" => config.aws.region = v.to_owned(),
            "aws.aggregator" => config.aws.aggregator = (!v.is_empty()).then(|| v.to_owned()),
            "aws.sync_interval_minutes" => number(v, &mut config.aws.sync_interval_minutes, bad),
            "aws.verify_delay_minutes" => number(v, &mut config.aws.verify_delay_minutes, bad),
            "aws.verify_poll_seconds" => number(v, &mut config.aws.verify_poll_seconds, bad),
            "aws.verify_timeout_minutes" => number(v, &mut config.aws.verify_timeout_minutes, bad),
            "aws.endpoints.config" => config.aws.endpoints.config = v.to_owned(),
            "aws.endpoints.cloudtrail" => config.aws.endpoints.cloudtrail = v.to_owned(),
            "aws.endpoints.s3" => config.aws.endpoints.s3 = v.to_owned(),
            "aws.endpoints.sts" => config.aws.endpoints.sts = v.to_owned(),
            other => unreachable!("ENV_SETTINGS entry `{other}` has no override"),
        }
        set.insert(key.to_owned(), var.clone());
    }
    set
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn number<T: std::str::FromStr>(v: &str, slot: &mut T, mut bad: impl FnMut(String)) {
    match v.replace('_', "").parse() {
        Ok(n) => *slot = n,
        Err(_) => bad(format!("`{v}` is not a whole number ≥ 0")),
    }
}

/// Comma-separated items, trimmed, empty ones dropped (so `""` clears the list).
fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn secret_list(v: &str) -> Vec<SecretString> {
    list(v).map(SecretString::from).collect()
}

/// The supported variable nearest to a misspelt one.
fn closest(var: &str) -> Option<&'static str> {
    ENV_KEYS.iter().map(|k| (edit_distance(var, k), *k)).filter(|(d, _)| *d <= 3).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Semantic checks

struct Check<'a> {
    doc: &'a Doc<'a>,
    /// Dotted key → the variable that set it.
    from_env: &'a BTreeMap<String, String>,
    problems: &'a mut Vec<Problem>,
}

impl Check<'_> {
    /// Report a problem with a setting the environment can override (`key` dotted, `index` into its list).
    fn setting(&mut self, key: &str, index: Option<usize>, message: String) {
        if let Some(var) = self.from_env.get(key) {
            self.problems.push(Problem::env(var, message));
            return;
        }
        let mut path: Vec<Seg> = key.split('.').map(Seg::Key).collect();
        path.extend(index.map(Seg::Index));
        let line = self.doc.line(&path);
        self.problems.push(Problem::file(line, message));
    }

    fn at(&mut self, path: &[Seg], message: String) {
        let line = self.doc.line(path);
        self.problems.push(Problem::file(line, message));
    }

    fn all(&mut self, c: &Config, route_index: &[usize]) {
        self.database_url(c.database_url.expose_secret());
        for (key, value) in [
            ("body_limit_bytes", c.body_limit_bytes as u64),
            ("max_attempts", u64::from(c.max_attempts)),
            ("lease_seconds", c.lease_seconds),
            ("queue_high_water", c.queue_high_water),
        ] {
            if value == 0 {
                self.setting(key, None, format!("`{key}` must be at least 1"));
            }
        }
        self.intake(c);
        self.github(c);
        if c.jira.configured()
            && let Err(e) = c.jira.client_config()
        {
            let key = e.split('`').nth(1).unwrap_or("jira.url").to_owned();
            self.setting(&key, None, e);
        }
        self.policy(&c.policy);
        self.routes(&c.routes, route_index);
        for (key, message) in c.aws.problems() {
            self.setting(key, None, message);
        }
        if !c.aws.enabled
            && let Some(r) = c.routes.iter().find(|r| r.state.iter().any(|p| crate::aws::S3Location::is_s3(p)))
        {
            let message = format!("route `{}` reads state from S3, but `[aws] enabled` is false", r.name);
            self.setting("aws.enabled", None, message);
        }
    }

    /// The App is complete when configured, and configured when a route needs it.
    fn github(&mut self, c: &Config) {
        let g = &c.github;
        match url::Url::parse(&g.api_url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {}
            _ => {
                self.setting("github.api_url", None, format!("`github.api_url` `{}` is not an http(s) URL", g.api_url))
            }
        }
        if g.configured() {
            if let Err(e) = g.key() {
                let key = if g.private_key.expose_secret().trim().is_empty() && g.private_key_file.is_some() {
                    "github.private_key_file"
                } else {
                    "github.private_key"
                };
                self.setting(key, None, e);
            }
        } else if let Some(r) = c.routes.iter().find(|r| r.github_repo().is_some()) {
            self.setting(
                "github.app_id",
                None,
                format!(
                    "route `{}` names GitHub repository `{}`, but no GitHub App is configured (`github.app_id`)",
                    r.name, r.repo
                ),
            );
        }
    }

    fn database_url(&mut self, url: &str) {
        const KEY: &str = "database_url";
        if let Some(rest) = url.strip_prefix("sqlite:") {
            if rest.trim_start_matches('/').is_empty() {
                self.setting(KEY, None, "`database_url` names no SQLite file (e.g. sqlite://driftfix.db)".into());
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            match url::Url::parse(url) {
                Err(e) => self.setting(KEY, None, format!("`database_url` is not a valid URL: {e}")),
                Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                    self.setting(KEY, None, "`database_url` names no PostgreSQL host".into())
                }
                Ok(_) => {}
            }
        } else {
            // At most the scheme is shown, and only when it is written as one (`mysql://`): the
            // rest, or a value without a scheme, may be a password.
            let scheme = url.split_once("://").map(|(s, _)| s).filter(|s| {
                (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            });
            let got = scheme.map_or("it has no scheme".to_owned(), |s| format!("not `{s}:`"));
            self.setting(KEY, None, format!("`database_url` must start with sqlite: or postgres: ({got})"));
        }
    }

    fn intake(&mut self, c: &Config) {
        let eb = &c.intake.eventbridge;
        let header_ok = !eb.header.is_empty()
            && eb.header.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !header_ok {
            let h = &eb.header;
            self.setting(
                "intake.eventbridge.header",
                None,
                format!("`intake.eventbridge.header` `{h}` is not an HTTP header name"),
            );
        }
        for (key, list) in [
            ("intake.eventbridge.api_keys", &eb.api_keys),
            ("intake.eventbridge.basic_auth", &eb.basic_auth),
            ("intake.github.webhook_secrets", &c.intake.github.webhook_secrets),
            ("api.tokens", &c.api.tokens),
        ] {
            for (i, s) in list.iter().enumerate() {
                let s = s.expose_secret();
                if s.trim().is_empty() {
                    self.setting(key, Some(i), format!("`{key}` item {} is empty", i + 1));
                } else if key.ends_with("basic_auth") && s.split_once(':').is_none_or(|(user, _)| user.is_empty()) {
                    self.setting(key, Some(i), format!("`{key}` item {} is not `user:password`", i + 1));
                }
            }
        }
        const KEY: &str = "intake.sns.topic_arns";
        for (i, arn) in c.intake.sns.topic_arns.iter().enumerate() {
            let parts: Vec<&str> = arn.split(':').collect();
            let ok = parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && parts.iter().all(|p| !p.is_empty());
            if !ok {
                self.setting(KEY, Some(i), format!("`{KEY}` holds `{arn}`, which is not an SNS topic ARN"));
            }
        }
    }

    /// The checks of [`Policy::from_toml`], each problem reported (not only the first).
    fn policy(&mut self, p: &Policy) {
        for (i, cidr) in p.ssh_allowed_cidrs.iter().enumerate() {
            if !is_cidr(cidr) {
                let e = PolicyError::BadCidr { key: "policy.ssh_allowed_cidrs".into(), value: cidr.clone() };
                self.at(&[Seg::Key("policy"), Seg::Key("ssh_allowed_cidrs"), Seg::Index(i)], e.to_string());
            }
        }
        for (port, list) in &p.port_allowed_cidrs {
            let here = [Seg::Key("policy"), Seg::Key("port_allowed_cidrs"), Seg::Key(port)];
            if port.parse::<u16>().map_or(true, |n| n == 0 || n.to_string() != *port) {
                self.at(&here, format!("`policy.port_allowed_cidrs` key `{port}` is not a port number (1-65535)"));
            }
            for (i, cidr) in list.iter().enumerate() {
                if !is_cidr(cidr) {
                    let e =
                        PolicyError::BadCidr { key: format!("policy.port_allowed_cidrs.{port}"), value: cidr.clone() };
                    let path = [here[0], here[1], here[2], Seg::Index(i)];
                    self.at(&path, e.to_string());
                }
            }
        }
        if let Some(a) = &p.s3_sse_algorithm
            && a != "aws:kms"
            && a != "AES256"
        {
            let e = PolicyError::BadAlgorithm(a.clone());
            self.at(&[Seg::Key("policy"), Seg::Key("s3_sse_algorithm")], format!("[policy] {e}"));
        }
        for (i, tag) in p.exemption_tags.iter().flatten().enumerate() {
            if crate::policy::ExemptionTag::parse(tag).is_none() {
                let e = PolicyError::BadExemptionTag(tag.clone());
                self.at(&[Seg::Key("policy"), Seg::Key("exemption_tags"), Seg::Index(i)], format!("[policy] {e}"));
            }
        }
    }

    fn routes(&mut self, routes: &[Route], index: &[usize]) {
        let mut seen: BTreeMap<&str, Option<usize>> = BTreeMap::new();
        for (r, &i) in routes.iter().zip(index) {
            let label = route_label(i, Some(&r.name));
            let key = |k: &'static str| [Seg::Key("routes"), Seg::Index(i), Seg::Key(k)];
            if r.name.trim().is_empty() {
                self.at(&key("name"), format!("`name` in {label} must not be empty"));
            } else if let Some(first) = seen.get(r.name.as_str()) {
                let first = first.map(|l| format!(" (first at line {l})")).unwrap_or_default();
                self.at(&key("name"), format!("route name `{}` is used twice{first}", r.name));
            } else {
                seen.insert(&r.name, self.doc.line(&key("name")));
            }
            if r.repo.trim().is_empty() {
                self.at(&key("repo"), format!("`repo` in {label} must not be empty"));
            } else if !r.is_local() && r.github_repo().is_none() {
                self.at(
                    &key("repo"),
                    format!(
                        "`repo` in {label}: `{}` is neither `owner/name` nor a local directory (absolute, or starting with `.`)",
                        r.repo
                    ),
                );
            }
            for (j, a) in r.accounts.iter().enumerate() {
                if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                    let path = [Seg::Key("routes"), Seg::Index(i), Seg::Key("accounts"), Seg::Index(j)];
                    self.at(&path, format!("`accounts` in {label}: `{a}` is not a 12-digit AWS account id"));
                }
            }
            for (j, region) in r.regions.iter().enumerate() {
                if !is_region(region) {
                    let path = [Seg::Key("routes"), Seg::Index(i), Seg::Key("regions"), Seg::Index(j)];
                    self.at(&path, format!("`regions` in {label}: `{region}` is not an AWS region name"));
                }
            }
            if r.resource_tags.keys().any(|k| k.is_empty()) {
                self.at(&key("resource_tags"), format!("`resource_tags` in {label} has an empty tag key"));
            }
            // `paths` select part of the repository, so they must stay inside it; state usually lives
            // elsewhere, so it may also be absolute.
            for (j, p) in r.paths.iter().enumerate() {
                if !is_inside(p) {
                    let path = [Seg::Key("routes"), Seg::Index(i), Seg::Key("paths"), Seg::Index(j)];
                    let shown = p.display();
                    self.at(
                        &path,
                        format!("`paths` in {label}: `{shown}` must be a relative path inside the repository"),
                    );
                }
            }
            for (j, p) in r.state.iter().enumerate() {
                let path = [Seg::Key("routes"), Seg::Index(i), Seg::Key("state"), Seg::Index(j)];
                if p.as_os_str().is_empty() {
                    self.at(&path, format!("`state` in {label}: item {} is empty", j + 1));
                } else if crate::aws::S3Location::is_s3(p) && crate::aws::S3Location::parse(p).is_none() {
                    let shown = p.display();
                    self.at(&path, format!("`state` in {label}: `{shown}` is not `s3://bucket/key`"));
                }
            }
            if let Some(arn) = &r.role_arn
                && !aws::is_role_arn(arn)
            {
                self.at(&key("role_arn"), format!("`role_arn` in {label}: `{arn}` is not an IAM role ARN"));
            }
        }
    }
}

/// `us-east-1`, `us-gov-west-1`, `ap-southeast-4`: letters, one or more words, a number.
pub(crate) fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// A non-empty relative path that does not climb out of its base.
fn is_inside(p: &Path) -> bool {
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        Config::from_toml(text).expect_err("should fail").problems
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.database_url.expose_secret(), "sqlite://driftfix.db");
        assert!(c.dry_run);
        assert_eq!(c.log_format, LogFormat::Human);
        assert_eq!((c.body_limit_bytes, c.workers, c.max_attempts), (1_048_576, 2, 5));
        assert_eq!((c.lease_seconds, c.queue_high_water), (300, 10_000));
        assert_eq!(c.templates_dir, None);
        assert_eq!(c.intake.eventbridge.header, "x-api-key");
        assert!(c.routes.is_empty());
        assert_eq!(c.policy, Policy::default());
        assert_eq!(c.database_dialect(), "sqlite");
    }

    #[test]
    fn env_keys_are_the_dotted_keys_in_upper_case() {
        let dotted = ENV_SETTINGS;
        let derived: Vec<String> =
            dotted.iter().map(|k| format!("DRIFTFIX_{}", k.replace('.', "_").to_ascii_uppercase())).collect();
        assert_eq!(derived, ENV_KEYS);
        // and every one of them is applied, and recorded under its dotted key
        let env: Vec<(String, String)> = ENV_KEYS
            .iter()
            .map(|k| {
                let v = match *k {
                    "DRIFTFIX_LISTEN" => "127.0.0.1:9",
                    "DRIFTFIX_DATABASE_URL" => "sqlite://x.db",
                    "DRIFTFIX_DRY_RUN" => "true",
                    "DRIFTFIX_LOG_FORMAT" => "json",
                    "DRIFTFIX_INTAKE_EVENTBRIDGE_HEADER" => "x-key",
                    "DRIFTFIX_INTAKE_EVENTBRIDGE_BASIC_AUTH" => "u:p",
                    "DRIFTFIX_INTAKE_SNS_TOPIC_ARNS" => "arn:aws:sns:us-east-1:123456789012:t",
                    "DRIFTFIX_TEMPLATES_DIR" | "DRIFTFIX_API_TOKENS" => "t",
                    "DRIFTFIX_JIRA_FLAVOR" => "data-center",
                    "DRIFTFIX_AWS_ENABLED" | "DRIFTFIX_AWS_VERIFY" => "true",
                    _ if k.contains("KEYS") || k.contains("SECRETS") => "s",
                    _ => "7",
                };
                (k.to_string(), v.to_string())
            })
            .collect();
        let mut problems = Vec::new();
        let mut c = Config::default();
        let set = apply_env(&mut c, &env, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(set.len(), dotted.len());
        assert!(dotted.iter().all(|k| set.contains_key(*k)));
    }

    #[test]
    fn unknown_keys_name_their_table_and_line() {
        let p = problems("listen = \"0.0.0.0:1\"\n[intake.eventbridge]\nheader = \"x\"\napi_key = [\"k\"]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, Some(4));
        assert!(p[0].message.starts_with("unknown key `api_key` in [intake.eventbridge]"), "{}", p[0].message);
        let p = problems("[api]\ntokens = []\nworkers = 3\n");
        assert_eq!(p[0].line, Some(3));
        assert_eq!(
            p[0].message,
            "unknown key `workers` in [api] (`workers` is a top-level key: move it above the first [table] header)"
        );
        let p = problems("lisen = \"x\"");
        assert_eq!(p[0].line, Some(1));
        assert!(p[0].message.starts_with("unknown key `lisen` at the top level"), "{}", p[0].message);
    }

    #[test]
    fn decoding_goes_on_after_an_error() {
        let text = "workers = \"two\"\nbogus = 1\nlisten = \"nowhere\"\n[api]\ntoken = []\n";
        let p = problems(text);
        let lines: Vec<_> = p.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(1), Some(2), Some(3), Some(5)], "{p:?}");
        assert!(p[0].message.starts_with("`workers`: invalid type"), "{}", p[0].message);
        assert!(p[2].message.starts_with("`listen`"), "{}", p[2].message);
    }

    #[test]
    fn secret_values_never_appear_in_messages() {
        let p = problems("database_url = \"hunter2:x@h/db\"\n[api]\ntokens = \"hunter2\"\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].message, "`database_url` must start with sqlite: or postgres: (it has no scheme)");
        for p in &p {
            assert!(!p.message.contains("hunter2"), "{}", p.message);
        }
        assert_eq!(p[1].message, "`api.tokens`: wrong type, expected an array");
        let p = problems("api = \"hunter2\"\n[intake]\ngithub = [\"hunter2\"]\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].message, "`api`: wrong type, expected a table");
        assert!(p[1].message.starts_with("`intake.github`: wrong type"), "{}", p[1].message);
        assert!(p.iter().all(|p| !p.message.contains("hunter2")), "{p:?}");
    }

    #[test]
    fn database_urls() {
        let p = problems("database_url = \"mysql://u:pw@h/db\"");
        assert_eq!(p[0].message, "`database_url` must start with sqlite: or postgres: (not `mysql:`)");
        assert_eq!(p[0].line, Some(1));
        assert!(problems("database_url = \"postgres:///db\"")[0].message.contains("no PostgreSQL host"));
        let p = problems("database_url = \"postgres://u:hunter2@h:99999/db\"");
        assert_eq!(p[0].message, "`database_url` is not a valid URL: invalid port number");
        assert!(problems("database_url = \"sqlite://\"")[0].message.contains("no SQLite file"));
        for ok in ["sqlite://driftfix.db", "sqlite:///var/lib/d.db", "sqlite::memory:", "postgresql://h/db"] {
            let c = Config::from_toml(&format!("database_url = \"{ok}\"")).unwrap();
            assert_eq!(c.database_dialect(), if ok.starts_with("sqlite") { "sqlite" } else { "postgres" });
        }
    }

    #[test]
    fn missing_route_keys_point_at_the_route() {
        let p = problems("[[routes]]\nname = \"a\"\nrepo = \"/r\"\n\n[[routes]]\nname = \"b\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, Some(5));
        assert_eq!(p[0].message, "missing required key `repo` in [[routes]] #2 (`b`)");
    }

    #[test]
    fn regions_accounts_and_paths_are_checked() {
        assert!(is_region("us-east-1") && is_region("us-gov-west-1") && is_region("ap-southeast-4"));
        assert!(!is_region("us-east1") && !is_region("US-EAST-1") && !is_region("us-east-") && !is_region(""));
        assert!(is_inside(Path::new("envs/prod")) && is_inside(Path::new("./a")));
        assert!(!is_inside(Path::new("../x")) && !is_inside(Path::new("/etc")) && !is_inside(Path::new("")));
        let p = problems(
            "[[routes]]\nname = \"a\"\nrepo = \"/r\"\naccounts = [\"1234\"]\nregions = [\"us-east1\"]\npaths = [\"../up\"]\n",
        );
        assert_eq!(p.iter().map(|p| p.line).collect::<Vec<_>>(), [Some(4), Some(5), Some(6)], "{p:?}");
    }

    #[test]
    fn closest_variable_is_suggested() {
        assert_eq!(closest("DRIFTFIX_WORKER"), Some("DRIFTFIX_WORKERS"));
        assert_eq!(closest("DRIFTFIX_API_TOKEN"), Some("DRIFTFIX_API_TOKENS"));
        assert_eq!(closest("DRIFTFIX_SOMETHING_ELSE"), None);
    }

    #[test]
    fn friendly_wording() {
        assert_eq!(
            friendly("invalid type: integer `3`, expected struct EventBridgeIntake"),
            "invalid type: integer `3`, expected a table"
        );
        assert_eq!(
            friendly("invalid value: integer `-1`, expected usize"),
            "invalid value: integer `-1`, expected a whole number ≥ 0"
        );
    }
}
