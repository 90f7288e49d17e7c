//! The intake's durable write alone, without HTTP: `Store::record_events` throughput by batch size
//! on SQLite (and PostgreSQL when `DRIFTFIX_BENCH_POSTGRES_URL` holds an admin URL). It separates
//! what the database costs per event from what the HTTP path adds (`intake_load`).
//!
//! Run: `cargo bench --bench store_write`.

use driftfix::finding::{Finding, parse_event};
use driftfix::store::{NewEvent, Store};
use std::time::Instant;

const EVENTS: usize = 20_000;

fn event(i: usize) -> String {
    format!(
        r#"{{"version":"0","id":"ev-{i}","detail-type":"Config Rules Compliance Change","source":"aws.config","account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],"detail":{{"resourceId":"bucket-{i}","awsRegion":"us-east-1","awsAccountId":"123456789012","configRuleName":"s3-bucket-versioning-enabled","recordVersion":"1.0","configRuleARN":"arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc","messageType":"ComplianceChangeNotification","newEvaluationResult":{{"evaluationResultIdentifier":{{"evaluationResultQualifier":{{"configRuleName":"s3-bucket-versioning-enabled","resourceType":"AWS::S3::Bucket","resourceId":"bucket-{i}"}},"orderingTimestamp":"2026-11-20T09:59:50.000Z"}},"complianceType":"NON_COMPLIANT","resultRecordedTime":"2026-11-20T10:00:00.000Z","configRuleInvokedTime":"2026-11-20T09:59:59.000Z"}},"notificationCreationTime":"2026-11-20T10:00:01.000Z","resourceType":"AWS::S3::Bucket"}}}}"#
    )
}

async fn run(name: &str, store: &Store, batch: usize, offset: usize) {
    let bodies: Vec<String> = (offset..offset + EVENTS).map(event).collect();
    let findings: Vec<(Finding, String)> = bodies
        .iter()
        .map(|b| {
            let f = parse_event(b.as_bytes()).unwrap();
            let rule = driftfix::intake::rule_key(&f);
            (f, rule)
        })
        .collect();
    let ids: Vec<String> = (offset..offset + EVENTS).map(|i| format!("ev-{i}")).collect();
    let started = Instant::now();
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(batch) {
        let events: Vec<NewEvent<'_>> = chunk
            .iter()
            .map(|&i| NewEvent {
                source: "eventbridge",
                dedup_id: &ids[i],
                body: &bodies[i],
                finding: Some((&findings[i].0, findings[i].1.as_str())),
                job_kind: None,
                max_attempts: 5,
            })
            .collect();
        store.record_events(&events).await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name:<12} batch {batch:>4}: {:>8.0} events/s  ({:.1} µs per event, {:.2} ms per batch)",
        EVENTS as f64 / secs,
        secs * 1e6 / EVENTS as f64,
        secs * 1e3 * batch as f64 / EVENTS as f64
    );
}

async fn all(name: &str, store: &Store) {
    store.migrate().await.unwrap();
    // `DRIFTFIX_BENCH_BATCH=32` measures one batch size only (for profiling).
    let only: Option<usize> = std::env::var("DRIFTFIX_BENCH_BATCH").ok().and_then(|b| b.parse().ok());
    let sizes = only.map_or_else(|| vec![1, 8, 32, 128, 512], |b| vec![b]);
    for (n, batch) in sizes.into_iter().enumerate() {
        run(name, store, batch, n * EVENTS).await;
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        all("SQLite", &Store::connect(&url).await.unwrap()).await;
        let Ok(admin) = std::env::var("DRIFTFIX_BENCH_POSTGRES_URL") else {
            println!("(set DRIFTFIX_BENCH_POSTGRES_URL to measure PostgreSQL too)");
            return;
        };
        let Ok(Store::Postgres(pool)) = Store::connect(&admin).await else { panic!("not a PostgreSQL URL") };
        sqlx::query("DROP DATABASE IF EXISTS driftfix_store_bench WITH (FORCE)").execute(&pool).await.unwrap();
        sqlx::query("CREATE DATABASE driftfix_store_bench").execute(&pool).await.unwrap();
        let url = format!("{}/driftfix_store_bench", admin.rsplit_once('/').unwrap().0);
        all("PostgreSQL", &Store::connect(&url).await.unwrap()).await;
    });
}
