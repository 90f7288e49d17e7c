//! `driftfix scan DIR`: the catalog over a tree, as text, JSON or SARIF. Exit 1 when violations
//! (or unparsable files) remain, so it can gate a merge; `--fix` writes the proven fixes first.

use super::{CliError, Output, load_policy, load_repo, parse_params, write_files};
use driftfix::scan::{Status, fix_all, scan};
use driftfix::terraform::index::Index;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Terraform tree to scan.
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Write every fix that can be proven, then report what remains.
    #[arg(long)]
    fix: bool,
    /// A rule InputParameter, KEY=VALUE (repeatable), e.g. tag1Key=CostCenter.
    #[arg(long = "param")]
    params: Vec<String>,
    /// Remediation policy (TOML).
    #[arg(long)]
    policy: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let params = parse_params(&args.params)?;
    let policy = load_policy(args.policy.as_ref())?;
    let mut ws = load_repo(&args.dir)?;
    let mut fixed = 0;
    if args.fix {
        let (changed, applied) = fix_all(&mut ws, &params, &policy);
        write_files(&args.dir, changed.keys().map(|id| (ws.file(*id).path.clone(), ws.file(*id).text.clone())))?;
        fixed = applied;
    }
    let index = Index::build(&ws);
    let findings = scan(&ws, &index, &params, &policy);
    let violations = findings.iter().filter(|f| f.status == Status::Violation).count();
    match args.output {
        Output::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&driftfix::sarif::to_sarif(&findings)).map_err(anyhow::Error::from)?
        ),
        Output::Json => {
            let doc = serde_json::json!({
                "files": ws.files().len(),
                "resources": index.resources().count(),
                "violations": violations,
                "fixed": fixed,
                "findings": findings,
                "errors": ws.errors(),
            });
            println!("{}", serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?);
        }
        Output::Text => {
            for e in ws.errors() {
                println!("{e} (file skipped)");
            }
            for f in &findings {
                let tag = match f.status {
                    Status::Violation if f.fixable => "FAIL (fixable)",
                    Status::Violation => "FAIL",
                    Status::Undecidable => "CHECK",
                    Status::Suppressed => "IGNORED",
                };
                println!("{}:{}: {tag} {} [{}] {}: {}", f.file, f.line, f.rule_name, f.risk, f.address, f.message);
            }
            if fixed > 0 {
                println!("fixed {fixed} violation(s)");
            }
            println!(
                "{} file(s), {} resource(s): {violations} violation(s), {} to check by hand, {} suppressed, {} unparsable file(s)",
                ws.files().len(),
                index.resources().count(),
                findings.iter().filter(|f| f.status == Status::Undecidable).count(),
                findings.iter().filter(|f| f.status == Status::Suppressed).count(),
                ws.errors().len()
            );
        }
    }
    Ok(if violations > 0 || !ws.errors().is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
