//! `driftfix rules`: the catalog as a table or JSON.

use super::{CliError, Output};
use driftfix::catalog;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let rules = catalog::all();
    if args.output != Output::Text {
        let list: Vec<_> = rules
            .iter()
            .map(|r| {
                let m = r.meta();
                serde_json::json!({
                    "identifier": m.identifier, "name": m.name, "config_types": m.config_types,
                    "terraform_types": m.terraform_types, "risk": m.risk, "remedy": m.remedy,
                    "security_controls": m.security_controls, "checkov": m.checkov, "params": m.params,
                    "docs_url": m.docs_url,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).map_err(anyhow::Error::from)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 5]> = rules
        .iter()
        .map(|r| {
            let m = r.meta();
            [
                m.identifier.to_owned(),
                m.name.to_owned(),
                m.terraform_types.join(", "),
                m.risk.as_str().to_owned(),
                format!("{:?}", m.remedy).to_lowercase(),
            ]
        })
        .collect();
    let header = ["IDENTIFIER", "NAME", "TERRAFORM TYPES", "RISK", "REMEDY"].map(str::to_owned);
    let widths: Vec<usize> =
        (0..5).map(|i| rows.iter().chain(std::iter::once(&header)).map(|r| r[i].len()).max().unwrap_or(0)).collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(ExitCode::SUCCESS)
}
