//! `driftfix serve`: load the configuration (file, then `DRIFTFIX_*` environment), set up logging
//! and run the server until SIGTERM or Ctrl-C.

use super::CliError;
use driftfix::config::{Config, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Configuration file (TOML); every key can also be set by a `DRIFTFIX_…` variable. Without a
    /// file, the defaults and the environment are used.
    #[arg(long, env = "DRIFTFIX_CONFIG")]
    config: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let config = Config::load(args.config.as_deref(), std::env::vars())
        .map_err(|e| CliError::Input(format!("configuration:\n{}", e.lines().join("\n"))))?;
    init_logging(config.log_format);
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| CliError::Internal(e.into()))?;
    rt.block_on(driftfix::server::serve(config, driftfix::server::termination()))?;
    Ok(ExitCode::SUCCESS)
}

/// Human or JSON logs on stderr; `RUST_LOG` filters (default `info`).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
