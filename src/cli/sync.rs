//! `driftfix sync`: list what AWS Config finds NON_COMPLIANT, record what the store does not know
//! yet (the server's workers then remediate it), and mark findings Config now finds compliant as
//! resolved. Reads the same configuration as `serve`.

use super::CliError;
use driftfix::config::Config;
use driftfix::store::Store;
use driftfix::sync::{SyncError, SyncOptions, sync};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Configuration file (TOML), as for `serve`; `DRIFTFIX_…` variables apply too.
    #[arg(long, env = "DRIFTFIX_CONFIG")]
    config: Option<PathBuf>,
    /// Only this Config rule (its name in AWS Config); repeatable. Default: every rule the catalog can fix.
    #[arg(long = "rule", value_name = "NAME")]
    rules: Vec<String>,
    /// Only this route (by its `name`).
    #[arg(long, value_name = "NAME")]
    route: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let config = Config::load(args.config.as_deref(), std::env::vars())
        .map_err(|e| CliError::Input(format!("configuration:\n{}", e.lines().join("\n"))))?;
    if !config.aws.enabled {
        return Err(CliError::Input(SyncError::Disabled.to_string()));
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| CliError::Internal(e.into()))?;
    rt.block_on(async {
        use secrecy::ExposeSecret;
        let store = Store::connect(config.database_url.expose_secret())
            .await
            .map_err(|e| CliError::Input(format!("cannot open the database: {e}")))?;
        store.migrate().await.map_err(|e| CliError::Internal(e.into()))?;
        let aws = driftfix::aws::Aws::load(config.aws.clone(), None).await;
        let opts = SyncOptions { rules: args.rules, route: args.route };
        let report = match sync(&store, &aws, &config, &opts).await {
            Ok(r) => r,
            Err(e @ SyncError::UnknownRoute(_)) => return Err(CliError::Input(e.to_string())),
            Err(e) => return Err(CliError::Internal(e.into())),
        };
        store.close().await;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report).map_err(|e| CliError::Internal(e.into()))?);
        } else {
            println!(
                "{} scope(s), {} rule(s): {} NON_COMPLIANT, {} queued, {} already known, {} resolved",
                report.scopes, report.rules, report.non_compliant, report.enqueued, report.known, report.resolved
            );
            if !report.skipped_rules.is_empty() {
                println!("skipped (no catalog entry): {}", report.skipped_rules.join(", "));
            }
            for e in &report.errors {
                eprintln!("error: {e}");
            }
        }
        Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}
