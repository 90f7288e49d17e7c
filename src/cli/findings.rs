//! `driftfix findings`: what the server did with each finding, read straight from the database (the
//! same rows `GET /api/findings` serves), for operators on the host without an API token.

use super::CliError;
use driftfix::store::{DEFAULT_URL, FindingFilter, FindingSummary, MAX_PAGE, Page, Store, format_time};
use serde_json::json;
use std::process::ExitCode;

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only findings in this state (proposed, advice, no-route, …).
    #[arg(long)]
    state: Option<String>,
    /// Only this rule (identifier such as SQS_QUEUE_ENCRYPTED, or the Config rule name).
    #[arg(long)]
    rule: Option<String>,
    /// Only this AWS account.
    #[arg(long)]
    account: Option<String>,
    /// Only findings routed to this repository (or route name).
    #[arg(long)]
    repo: Option<String>,
    /// Most findings to print, newest first.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
    limit: u32,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// `sqlite://path` (default) or `postgres://user:password@host/db`.
    #[arg(long, env = "DRIFTFIX_DATABASE_URL", default_value = DEFAULT_URL, hide_env_values = true)]
    database_url: String,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if let Some(path) = sqlite_path(&args.database_url)
        && !std::path::Path::new(path).exists()
    {
        return Err(CliError::Input(format!(
            "no database at `{path}` (run `driftfix migrate`, or pass --database-url)"
        )));
    }
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| CliError::Internal(e.into()))?;
    let filter = FindingFilter { state: args.state, rule: args.rule, account: args.account, repo: args.repo };
    let page = Page { limit: args.limit, after: None };
    let (rows, next) = rt.block_on(async {
        let store = Store::connect(&args.database_url)
            .await
            .map_err(|e| CliError::Input(format!("cannot open the database: {e}")))?;
        if !store.is_migrated().await.map_err(|e| CliError::Internal(e.into()))? {
            store.close().await;
            return Err(CliError::Input("the database is not at the current schema: run `driftfix migrate`".into()));
        }
        let page = store.findings_page(&filter, &page).await.map_err(|e| CliError::Internal(e.into()));
        store.close().await;
        page
    })?;
    match args.output {
        Format::Json => {
            let doc = json!({ "findings": rows, "next": next.map(|c| c.encode()) });
            println!("{}", serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?);
        }
        Format::Table => print!("{}", table(&rows)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The file of a `sqlite://` URL (without its `?options`), unless it is in memory.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Aligned columns: KEY (12 characters), STATE, RULE, RESOURCE, LOCATION, UPDATED. Control
/// characters (event data is untrusted) print as `?`.
fn table(rows: &[FindingSummary]) -> String {
    let mut lines: Vec<[String; 6]> =
        vec![["KEY", "STATE", "RULE", "RESOURCE", "LOCATION", "UPDATED"].map(str::to_owned)];
    for r in rows {
        lines.push([
            r.key.chars().take(12).collect(),
            r.state.clone(),
            r.rule.identifier.clone(),
            format!("{} {}", r.resource.resource_type, r.resource.id),
            r.location.as_ref().map_or_else(|| "-".to_owned(), |l| format!("{}:{}", l.file, l.line)),
            format_time(r.updated_at).chars().take(19).collect::<String>() + "Z",
        ]);
    }
    for l in &mut lines {
        for cell in l.iter_mut() {
            if cell.chars().any(char::is_control) {
                *cell = cell.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
            }
        }
    }
    let mut widths = [0usize; 6];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for l in &lines {
        let mut line = String::new();
        for (i, (cell, w)) in l.iter().zip(widths).enumerate() {
            if i + 1 == l.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no findings)\n");
    }
    out
}
