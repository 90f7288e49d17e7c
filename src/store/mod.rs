//! The durable store: raw events, findings, jobs, proposals and the append-only audit log, in SQLite
//! (the default: `driftfix serve` runs with nothing else installed) or PostgreSQL (for replicas).
//!
//! Both dialects share one schema (`migrations/sqlite`, `migrations/postgres`) and, except for job
//! claims, one SQL text: times are epoch milliseconds and JSON is text, so `$n` placeholders,
//! `ON CONFLICT` and `RETURNING` run unchanged on both. Native pools sit behind one enum instead of
//! `sqlx::Any`, which cannot decode PostgreSQL's own types. Uniqueness constraints, not application
//! checks, make duplicate work impossible: `(source, dedup_id)` on events and one open job per
//! finding and kind.

mod aws;
mod findings;
mod github;
mod jobs;
mod nodelay;
mod record;
mod tickets;

pub use aws::{OPEN_STATES, Tracked};
pub use findings::{
    AuditEntry, Cursor, DEFAULT_PAGE, DETAIL_HISTORY, EventSummary, FindingDetail, FindingFilter, FindingSummary,
    LocationSummary, MAX_PAGE, Page, ProposalSummary, Pushed, Resolution, ResourceSummary, RuleSummary, date_end_ms,
    format_time,
};
pub use github::{Acceptance, PullCounts};
pub use jobs::{Job, JobOutcome};
pub use record::{NewEvent, Recorded};
pub use tickets::PushedPull;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// Default database: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://driftfix.db";

/// PostgreSQL connections per process: the intake writers, the queue gauge, the workers' jobs and
/// the read API share them.
const PG_MAX_CONNECTIONS: u32 = 8;
/// PostgreSQL connections opened at start and kept open. Opening one costs about 90 ms on loopback
/// (sqlx's handshake runs before TCP_NODELAY can be set, see [`nodelay`]): a request that had to
/// wait for one was the slowest of a load run. The pool opens more, up to the maximum, when busier.
const PG_WARM_CONNECTIONS: u32 = 4;

/// A store failure. Connection strings never appear in these messages (they may hold passwords).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite:// or postgres:// (got a `{0}` URL)")]
    Scheme(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The store, over one of the two supported databases.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run the same statement-building code against whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Store {
    /// Connect to `sqlite://path` (created if missing; WAL, `synchronous=NORMAL`, busy timeout) or
    /// `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                .pragma("cache_size", "-65536")
                .pragma("mmap_size", "268435456")
                .pragma("temp_store", "memory");
            // One connection: SQLite allows one writer at a time, and contending connections wait in
            // SQLite's busy handler, which sleeps in steps of up to 100 ms (seen as p99 spikes of half a
            // second under load). Waiting in the pool's queue instead costs nothing. No code path
            // acquires a second connection while holding one, so this cannot deadlock.
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let port = PgConnectOptions::from_str(url)?.get_port();
            let pool = PgPoolOptions::new()
                .max_connections(PG_MAX_CONNECTIONS)
                .min_connections(PG_WARM_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |_, _| {
                    Box::pin(async move {
                        nodelay::apply(port);
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            warm(&pool).await?;
            Ok(Store::Postgres(pool))
        } else {
            let scheme = url.split_once(':').map_or("unknown", |(s, _)| s);
            Err(StoreError::Scheme(scheme.chars().take(20).collect()))
        }
    }

    /// The migrations of this store's dialect.
    fn migrator(&self) -> sqlx::migrate::Migrator {
        match self {
            Store::Sqlite(_) => sqlx::migrate!("./migrations/sqlite"),
            Store::Postgres(_) => sqlx::migrate!("./migrations/postgres"),
        }
    }

    /// Apply pending migrations (forward-only).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = self.migrator();
        on_pool!(self, p => migrator.run(p).await?);
        Ok(())
    }

    /// Whether every migration this binary knows is applied (for readiness checks).
    pub async fn is_migrated(&self) -> Result<bool, StoreError> {
        let known = self.migrator().iter().count();
        let applied: Result<i64, sqlx::Error> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(p).await
        });
        match applied {
            Ok(n) => Ok(usize::try_from(n).unwrap_or(0) >= known),
            Err(sqlx::Error::Database(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub fn dialect(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// Open the pool's warm connections now, all at once, so no early request waits for one.
async fn warm(pool: &PgPool) -> Result<(), StoreError> {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..PG_WARM_CONNECTIONS {
        let pool = pool.clone();
        opening.spawn(async move { pool.acquire().await });
    }
    // Hold every connection until all are open, so each acquire opens its own.
    let mut held = Vec::new();
    while let Some(opened) = opening.join_next().await {
        if let Ok(conn) = opened {
            held.push(conn?);
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
