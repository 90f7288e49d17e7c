//! `driftfix migrate`: apply the store's migrations (the server also does this at start).

use super::CliError;
use driftfix::store::{DEFAULT_URL, Store};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `sqlite://path` (default) or `postgres://user:password@host/db`.
    #[arg(long, env = "DRIFTFIX_DATABASE_URL", default_value = DEFAULT_URL, hide_env_values = true)]
    database_url: String,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| CliError::Internal(e.into()))?;
    rt.block_on(async {
        let store = Store::connect(&args.database_url)
            .await
            .map_err(|e| CliError::Input(format!("cannot open the database: {e}")))?;
        store.migrate().await.map_err(|e| CliError::Internal(e.into()))?;
        println!("{} database is at the current schema", store.dialect());
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
