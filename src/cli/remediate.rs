//! `driftfix remediate`: one finding, offline. Prints the outcome (text or the JSON contract) and,
//! with `--write`, applies the fix to the repository.

use super::{CliError, Output, colour, load_policy, load_repo, load_states, parse_params, write_files};
use driftfix::diff;
use driftfix::finding::{Finding, parse_event};
use driftfix::remediate::{Outcome, OutcomeKind, Request, remediate};
use driftfix::render::{self, PullRequest};
use driftfix::terraform::index::Index;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The event: EventBridge, SNS, bare Config notification or Security Hub finding (JSON).
    #[arg(long)]
    event: PathBuf,
    /// The Terraform repository (a directory).
    #[arg(long)]
    repo: PathBuf,
    /// Terraform state v4 JSON (repeatable).
    #[arg(long)]
    state: Vec<PathBuf>,
    /// Config rule identifier, overriding what the event names (e.g. INCOMING_SSH_DISABLED).
    #[arg(long)]
    rule: Option<String>,
    /// A rule InputParameter, KEY=VALUE (repeatable), e.g. blockedPort1=5432.
    #[arg(long = "param")]
    params: Vec<String>,
    /// Remediation policy (TOML, the server's `[policy]` keys).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Apply the fix to the files in --repo.
    #[arg(long)]
    write: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if args.output == Output::Sarif {
        return Err(CliError::Input("--output sarif is for `scan`; use text or json".into()));
    }
    let bytes = std::fs::read(&args.event)
        .map_err(|e| CliError::Input(format!("cannot read event `{}`: {e}", args.event.display())))?;
    let finding = parse_event(&bytes).map_err(|e| CliError::Input(format!("event `{}`: {e}", args.event.display())))?;
    let params = parse_params(&args.params)?;
    let policy = load_policy(args.policy.as_ref())?;
    let state = load_states(&args.state)?;
    let ws = load_repo(&args.repo)?;
    let index = Index::build(&ws);
    let req = Request {
        finding: &finding,
        workspace: &ws,
        index: &index,
        state: &state,
        policy: &policy,
        params: &params,
        rule_override: args.rule.as_deref(),
    };
    let outcome = remediate(&req).map_err(|e| CliError::Input(e.to_string()))?;
    let pr = render::pull_request(&finding, &outcome).map_err(anyhow::Error::from)?;
    for w in &outcome.warnings {
        eprintln!("warning: {w} (file skipped)");
    }
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_contract(&finding, &outcome, pr.as_ref()))
                .map_err(anyhow::Error::from)?
        ),
        _ => print_text(&finding, &outcome, pr.as_ref())?,
    }
    if args.write && outcome.kind == OutcomeKind::Fix {
        write_files(&args.repo, outcome.changes.iter().map(|c| (c.file.clone(), c.after.clone())))?;
        if args.output == Output::Text {
            println!("wrote {} file(s) in {}", outcome.changes.len(), args.repo.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The documented JSON object: exactly these keys.
fn json_contract(f: &Finding, o: &Outcome, pr: Option<&PullRequest>) -> serde_json::Value {
    let mut reason = o.reason.clone();
    if let Some(a) = &o.advice {
        reason.push_str(&format!(" What to do: {}", a.steps.join(" ")));
    }
    json!({
        "outcome": o.kind.as_str(),
        "rule": o.rule.map(|r| json!({"identifier": r.meta().identifier, "name": r.meta().name})),
        "resource": {"type": f.resource.resource_type, "id": f.resource.id, "account": f.resource.account, "region": f.resource.region},
        "location": o.location,
        "risk": o.risk,
        "changes": o.changes,
        "pr": pr,
        "reason": reason,
    })
}

fn print_text(f: &Finding, o: &Outcome, pr: Option<&PullRequest>) -> Result<(), CliError> {
    let rule =
        o.rule.map_or_else(|| "no catalog rule".to_owned(), |r| format!("{} ({})", r.meta().identifier, r.meta().name));
    println!("outcome:  {}", o.kind.as_str());
    println!("rule:     {rule}");
    println!(
        "resource: {} {} (account {}, {})",
        f.resource.resource_type,
        f.resource.id,
        if f.resource.account.is_empty() { "?" } else { &f.resource.account },
        if f.resource.region.is_empty() { "?" } else { &f.resource.region }
    );
    if let Some(l) = &o.location {
        println!("location: {} at {}:{}", l.address, l.file, l.line);
    }
    if let Some(r) = o.risk {
        println!("risk:     {}", r.as_str());
    }
    println!();
    match (o.kind, pr) {
        (OutcomeKind::Fix, Some(pr)) => {
            println!("{}", o.reason);
            for n in &o.notes {
                println!("  - {n}");
            }
            println!();
            for c in &o.changes {
                print!("{}", if colour() { diff::colourise(&c.diff) } else { c.diff.clone() });
            }
            println!("\npull request\n  title:  {}\n  branch: {}\n", pr.title, pr.branch);
            println!("{}", pr.body);
        }
        _ => println!("{}", render::advice_text(f, o).map_err(anyhow::Error::from)?),
    }
    Ok(())
}
