//! `driftfix check-config`: load a server configuration exactly as `serve` would (the file, then the
//! `DRIFTFIX_*` environment) and report every problem as `FILE:LINE: message`, or a short summary.
//! The summary never shows a secret or the database URL, only counts and the dialect.

use super::CliError;
use driftfix::config::{Config, DEFAULT_FILE, ENV_CONFIG_FILE, ENV_KEYS, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The configuration file to check.
    #[arg(env = ENV_CONFIG_FILE, default_value = DEFAULT_FILE)]
    file: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let name = args.file.display().to_string();
    match Config::load(Some(&args.file), std::env::vars()) {
        Ok(config) => {
            println!("{name}: ok");
            for line in summary(&config) {
                println!("  {line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            let n = e.problems.len();
            Err(CliError::Input(format!("{name}: {n} problem{}", if n == 1 { "" } else { "s" })))
        }
    }
}

fn summary(c: &Config) -> Vec<String> {
    let mode = if c.dry_run { "dry run (proposals are rendered and stored, never pushed)" } else { "live" };
    let log = match c.log_format {
        LogFormat::Human => "human",
        LogFormat::Json => "json",
    };
    let eb = &c.intake.eventbridge;
    let mut intake = Vec::new();
    if !eb.api_keys.is_empty() || !eb.basic_auth.is_empty() {
        let mut how = Vec::new();
        if !eb.api_keys.is_empty() {
            how.push(format!("{} in `{}`", count(eb.api_keys.len(), "API key"), eb.header));
        }
        if !eb.basic_auth.is_empty() {
            how.push(count(eb.basic_auth.len(), "Basic-auth pair"));
        }
        intake.push(format!("eventbridge ({})", how.join(", ")));
    }
    if !c.intake.sns.topic_arns.is_empty() {
        intake.push(format!("sns ({})", count(c.intake.sns.topic_arns.len(), "topic")));
    }
    if !c.intake.github.webhook_secrets.is_empty() {
        intake.push(format!("github ({})", count(c.intake.github.webhook_secrets.len(), "webhook secret")));
    }
    let intake = if intake.is_empty() { "no source has credentials".to_owned() } else { intake.join(", ") };
    let routes = if c.routes.is_empty() {
        "none: every finding is recorded as no-route".to_owned()
    } else {
        let names: Vec<&str> = c.routes.iter().map(|r| r.name.as_str()).collect();
        format!("{} ({})", c.routes.len(), names.join(", "))
    };
    let mut lines = vec![
        format!("listen:    {}", c.listen),
        format!("database:  {}", c.database_dialect()),
        format!("mode:      {mode}"),
        format!("workers:   {} (max attempts {}, lease {} s)", c.workers, c.max_attempts, c.lease_seconds),
        format!("logs:      {log}"),
        format!("intake:    {intake}"),
        format!("api:       {}", count(c.api.tokens.len(), "token")),
        format!("routes:    {routes}"),
        format!("aws:       {}", aws_summary(&c.aws)),
    ];
    let from_env: Vec<String> = std::env::vars().map(|(k, _)| k).filter(|k| ENV_KEYS.contains(&k.as_str())).collect();
    if !from_env.is_empty() {
        lines.push(format!("from the environment: {}", from_env.join(", ")));
    }
    lines
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// What `[aws]` turns on, in one line.
fn aws_summary(a: &driftfix::config::aws::Aws) -> String {
    if !a.enabled {
        return "off (findings are not enriched; no sync, no verification)".into();
    }
    let sync = a
        .sync_interval()
        .map_or("sync on demand".to_owned(), |_| format!("sync every {} min", a.sync_interval_minutes));
    let verify =
        if a.verify { format!("verify {} min after merge", a.verify_delay_minutes) } else { "no verification".into() };
    let through = a.aggregator.as_deref().map(|n| format!(", through aggregator `{n}`")).unwrap_or_default();
    format!("enrichment on, {sync}{through}, {verify}")
}
