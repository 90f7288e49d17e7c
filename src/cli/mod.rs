//! Command-line arguments and the shared loading of inputs (events, repositories, state, policy,
//! parameters), with every user mistake turned into a one-line error naming the problem.

mod check_config;
mod findings;
mod migrate;
mod remediate;
mod rules;
mod scan;
mod serve;
mod sigpipe;
mod sync;

use clap::{Parser, Subcommand, ValueEnum};
use driftfix::catalog::Params;
use driftfix::policy::Policy;
use driftfix::terraform::state::{StateInstance, parse_state};
use driftfix::terraform::workspace::Workspace;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "driftfix", version, about = "Turns AWS Config findings into minimal, proven Terraform fixes.")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Remediate one finding offline: print the outcome, the diff and the pull request.
    Remediate(remediate::Args),
    /// Check a Terraform tree against the catalog (a pre-merge gate); exits 1 on violations.
    Scan(scan::Args),
    /// List the catalog: identifier, name, resource types, risk, fix or advice.
    Rules(rules::Args),
    /// Apply the database migrations (SQLite by default, PostgreSQL with a postgres:// URL).
    Migrate(migrate::Args),
    /// List findings from the database: state, rule, resource, location (table or JSON).
    Findings(findings::Args),
    /// Validate a server configuration file and print what is wrong, with line numbers.
    CheckConfig(check_config::Args),
    /// Run the webhook server: authenticated intake, durable store, worker pool, read API.
    Serve(serve::Args),
    /// Reconcile with AWS Config: queue NON_COMPLIANT findings the store does not know, resolve fixed ones.
    Sync(sync::Args),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Sarif,
}

/// An error that ends the command.
#[derive(Debug)]
pub enum CliError {
    /// The user's input is wrong (exit 2).
    Input(String),
    /// A bug or an environment failure (exit 1).
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Internal(e)
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    if !matches!(cli.command, Command::Serve(_)) {
        sigpipe::restore_default();
    }
    match cli.command {
        Command::Remediate(a) => remediate::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Migrate(a) => migrate::run(a),
        Command::Findings(a) => findings::run(a),
        Command::CheckConfig(a) => check_config::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Sync(a) => sync::run(a),
    }
}

/// Load a repository directory as a workspace.
fn load_repo(dir: &Path) -> Result<Workspace, CliError> {
    if !dir.is_dir() {
        return Err(CliError::Input(format!("repository `{}` is not a directory", dir.display())));
    }
    Workspace::load(dir).map_err(|e| CliError::Input(format!("cannot read repository `{}`: {e}", dir.display())))
}

/// `KEY=VALUE` pairs from `--param`.
fn parse_params(raw: &[String]) -> Result<Params, CliError> {
    let mut pairs = Vec::new();
    for p in raw {
        let Some((k, v)) = p.split_once('=') else {
            return Err(CliError::Input(format!("--param `{p}` is not KEY=VALUE")));
        };
        if k.trim().is_empty() {
            return Err(CliError::Input(format!("--param `{p}` has an empty key")));
        }
        pairs.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(Params::new(pairs))
}

fn load_policy(path: Option<&PathBuf>) -> Result<Policy, CliError> {
    let Some(path) = path else { return Ok(Policy::default()) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("cannot read policy `{}`: {e}", path.display())))?;
    Policy::from_toml(&text).map_err(|e| CliError::Input(format!("policy `{}`: {e}", path.display())))
}

fn load_states(paths: &[PathBuf]) -> Result<Vec<StateInstance>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p)
            .map_err(|e| CliError::Input(format!("cannot read state `{}`: {e}", p.display())))?;
        out.extend(parse_state(&text).map_err(|e| CliError::Input(format!("state `{}`: {e}", p.display())))?);
    }
    Ok(out)
}

/// Whether to colour output: a terminal, and `NO_COLOR` unset.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Write new file contents into the repository.
fn write_files(repo: &Path, files: impl IntoIterator<Item = (String, String)>) -> Result<(), CliError> {
    for (rel, text) in files {
        let path = repo.join(&rel);
        std::fs::write(&path, text)
            .map_err(|e| CliError::Internal(anyhow::anyhow!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}
