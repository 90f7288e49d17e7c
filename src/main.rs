//! The `driftfix` command line. Exit codes: 0 for every remediation outcome, 2 for bad input (an
//! unreadable or unrecognised event, a missing repository, a bad flag), 1 for internal errors;
//! `scan` exits 1 when violations remain.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(cli::CliError::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(cli::CliError::Internal(err)) => {
            eprintln!("internal error: {err:#}");
            ExitCode::from(1)
        }
    }
}
