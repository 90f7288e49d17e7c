//! Real databases for the tests: a fresh SQLite file, and a fresh PostgreSQL database created
//! through the admin URL in `DRIFTFIX_TEST_POSTGRES_URL` (`.ci/run` starts the server and sets it).
//! Without it, PostgreSQL tests fail unless `DRIFTFIX_SKIP_POSTGRES=1` says to skip them on purpose.

use driftfix::store::Store;

/// A migrated store on a new SQLite file (kept alive by the returned directory).
pub async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("driftfix.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// The URL of a new, empty PostgreSQL database called `name` (dropped first if it exists), or
/// `None` when PostgreSQL is skipped on purpose. Names must be unique per test and ≤ 63 bytes.
pub async fn postgres_url(name: &str) -> Option<String> {
    if std::env::var_os("DRIFTFIX_SKIP_POSTGRES").is_some() {
        return None;
    }
    let admin = std::env::var("DRIFTFIX_TEST_POSTGRES_URL")
        .expect("DRIFTFIX_TEST_POSTGRES_URL is not set: run .ci/run, or DRIFTFIX_SKIP_POSTGRES=1 to skip PostgreSQL");
    let db: String = name.chars().take(63).collect();
    let Store::Postgres(pool) = Store::connect(&admin).await.unwrap() else { panic!("not a PostgreSQL URL") };
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&pool).await.unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
    Some(format!("{base}/{db}"))
}

/// A migrated store on a new PostgreSQL database (see [`postgres_url`]).
pub async fn postgres(name: &str) -> Option<Store> {
    let store = Store::connect(&postgres_url(name).await?).await.unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

/// `on_both!(test_name, scenario, "db_prefix_")`: a test running `scenario(&store)` on SQLite, then
/// on PostgreSQL (database `<prefix><test name>`).
#[macro_export]
macro_rules! on_both {
    ($name:ident, $scenario:ident, $prefix:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (store, _dir) = support::db::sqlite().await;
            $scenario(&store).await;
            let db: String = format!("{}{}", $prefix, stringify!($name)).chars().take(63).collect();
            if let Some(pg) = support::db::postgres(&db).await {
                $scenario(&pg).await;
            }
        }
    };
}
