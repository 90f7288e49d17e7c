//! The store against real databases: a SQLite file and a PostgreSQL server. Every scenario runs on
//! both. PostgreSQL comes from `DRIFTFIX_TEST_POSTGRES_URL` (an admin URL; `.ci/run` starts the
//! server and sets it); each test creates its own database. Without it these tests fail, unless
//! `DRIFTFIX_SKIP_POSTGRES=1` says to skip PostgreSQL on purpose.

mod support;

use driftfix::finding::parse_event;
use driftfix::store::{JobOutcome, NewEvent, Recorded, Store};
use std::collections::BTreeSet;

fn event(resource: &str) -> String {
    support::compliance_event("restricted-ssh", "AWS::EC2::SecurityGroup", resource)
}

async fn record(store: &Store, dedup: &str, body: &str) -> Recorded {
    let f = parse_event(body.as_bytes()).unwrap();
    let ev = NewEvent {
        source: "eventbridge",
        dedup_id: dedup,
        body,
        finding: Some((&f, "INCOMING_SSH_DISABLED")),
        job_kind: None,
        max_attempts: 3,
    };
    store.record_event(&ev).await.unwrap()
}

async fn migrations_are_idempotent(store: &Store) {
    assert!(store.is_migrated().await.unwrap());
    record(store, "e-1", &event("sg-1")).await;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.counts().await.unwrap(), (1, 1, 1), "data survives re-running migrations");
}
on_both!(migrations_run_once_and_keep_data, migrations_are_idempotent, "driftfix_test_");

async fn redelivery_creates_no_work(store: &Store) {
    let body = event("sg-2");
    let first = record(store, "delivery-1", &body).await;
    let Recorded::New { finding_key: Some(key), job_id: Some(_), .. } = first else { panic!("{first:?}") };
    for _ in 0..9 {
        assert_eq!(record(store, "delivery-1", &body).await, Recorded::Duplicate);
    }
    assert_eq!(store.counts().await.unwrap(), (1, 1, 1), "10 deliveries → one event, one finding, one job");
    // A new evaluation of the same finding is a new event but not a second open job.
    let again = record(store, "delivery-2", &body).await;
    assert!(matches!(again, Recorded::New { job_id: None, .. }), "{again:?}");
    assert_eq!(store.counts().await.unwrap(), (2, 1, 1));
    assert_eq!(store.finding_state(key.as_str()).await.unwrap().as_deref(), Some("received"));
    let trail = store.audit_trail(key.as_str()).await.unwrap();
    assert_eq!(trail.len(), 2, "each accepted event is audited once: {trail:?}");
    assert!(trail.iter().all(|(_, actor, action, _)| actor == "driftfix" && action == "event.accepted"));
}
on_both!(the_same_event_ten_times_is_one_finding_and_one_job, redelivery_creates_no_work, "driftfix_test_");

async fn ignored_events_are_kept(store: &Store) {
    let ev = NewEvent { source: "sns", dedup_id: "m-1", body: "{}", finding: None, job_kind: None, max_attempts: 3 };
    assert!(matches!(store.record_event(&ev).await.unwrap(), Recorded::New { finding_key: None, job_id: None, .. }));
    assert_eq!(store.counts().await.unwrap(), (1, 0, 0));
    assert_eq!(store.record_event(&ev).await.unwrap(), Recorded::Duplicate);
}
on_both!(well_formed_events_without_a_finding_are_recorded_as_ignored, ignored_events_are_kept, "driftfix_test_");

async fn concurrent_claims_never_collide(store: &Store) {
    for i in 0..60 {
        record(store, &format!("d-{i}"), &event(&format!("sg-c{i}"))).await;
    }
    let mut workers = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = s.claim_job(60_000).await.unwrap() {
                assert!(s.finish_job(&job, &JobOutcome::Done).await.unwrap());
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "every job claimed exactly once");
    assert_eq!(unique.len(), 60, "no job claimed twice");
    assert_eq!(store.job_states().await.unwrap(), [("done".to_owned(), 60)]);
}
on_both!(eight_workers_claim_sixty_jobs_without_double_claims, concurrent_claims_never_collide, "driftfix_test_");

async fn retries_back_off_then_park_dead(store: &Store) {
    let Recorded::New { job_id: Some(id), .. } = record(store, "r-1", &event("sg-r")).await else { panic!() };
    let job = store.claim_job(60_000).await.unwrap().expect("claimable");
    assert_eq!((job.id, job.attempts), (id, 1));
    assert!(store.claim_job(60_000).await.unwrap().is_none(), "a leased job is not claimed twice");
    assert!(store.finish_job(&job, &JobOutcome::Failed("GitHub answered 502".into())).await.unwrap());
    let (state, attempts, error, run_at) = store.job_status(id).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts, error.as_deref()), ("queued", 1, Some("GitHub answered 502")));
    assert!(run_at > driftfix::store::now_ms() + 4_000, "retry is delayed by backoff");
    assert!(store.claim_job(60_000).await.unwrap().is_none(), "not due yet");
    // Exhaust the attempts with expired leases: the reaper parks it as dead.
    force_due(store, id).await;
    for attempt in 2..=3 {
        let j = store.claim_job(-1).await.unwrap().expect("due again");
        assert_eq!(j.attempts, attempt);
    }
    assert!(store.claim_job(-1).await.unwrap().is_none(), "no attempts left to claim");
    assert_eq!(store.reap_jobs().await.unwrap(), 1);
    let (state, attempts, error, _) = store.job_status(id).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("dead", 3));
    assert_eq!(error.as_deref(), Some("GitHub answered 502"), "the last error is kept");
}
on_both!(failed_jobs_back_off_and_end_dead_with_their_error, retries_back_off_then_park_dead, "driftfix_test_");

async fn expired_leases_are_taken_over(store: &Store) {
    record(store, "l-1", &event("sg-l")).await;
    let crashed = store.claim_job(-1).await.unwrap().expect("claim");
    let rescuer = store.claim_job(60_000).await.unwrap().expect("expired lease is claimable");
    assert_eq!(rescuer.id, crashed.id);
    assert!(!store.finish_job(&crashed, &JobOutcome::Done).await.unwrap(), "the old owner's result is dropped");
    assert!(store.finish_job(&rescuer, &JobOutcome::Done).await.unwrap());
}
on_both!(a_dead_replicas_job_is_finished_by_another, expired_leases_are_taken_over, "driftfix_test_");

async fn audit_is_append_only(store: &Store) {
    store.audit(Some("k"), "driftfix", "test", &serde_json::json!({"a": 1})).await.unwrap();
    let update = match store {
        Store::Sqlite(p) => sqlx::query("UPDATE audit_log SET action = 'x'").execute(p).await.map(|_| ()),
        Store::Postgres(p) => sqlx::query("UPDATE audit_log SET action = 'x'").execute(p).await.map(|_| ()),
    };
    assert!(update.is_err(), "audit rows cannot be changed");
    let delete = match store {
        Store::Sqlite(p) => sqlx::query("DELETE FROM audit_log").execute(p).await.map(|_| ()),
        Store::Postgres(p) => sqlx::query("DELETE FROM audit_log").execute(p).await.map(|_| ()),
    };
    assert!(delete.is_err(), "audit rows cannot be deleted");
    assert_eq!(store.audit_trail("k").await.unwrap().len(), 1);
}
on_both!(the_audit_log_is_append_only, audit_is_append_only, "driftfix_test_");

async fn repeated_facts_are_audited_once(store: &Store) {
    let problems = |n: u32| serde_json::json!({ "problems": [format!("line {n}")] });
    let mut written = Vec::new();
    for detail in [problems(1), problems(1), problems(2), problems(1), problems(1)] {
        written.push(store.audit_if_changed("k", "driftfix", "repo_config.problems", &detail).await.unwrap());
    }
    assert_eq!(written, [true, false, true, true, false], "written when it differs from the latest entry");
    store.audit_if_changed("other", "driftfix", "repo_config.problems", &problems(1)).await.unwrap();
    let trail = store.audit_trail("k").await.unwrap();
    assert_eq!(trail.len(), 3, "another finding's entry is its own: {trail:?}");
}
on_both!(a_fact_found_again_is_audited_once, repeated_facts_are_audited_once, "driftfix_test_");

async fn make_due(store: &Store, id: i64) -> u64 {
    const SQL: &str = "UPDATE jobs SET run_at = 0 WHERE id = $1";
    match store {
        Store::Sqlite(p) => sqlx::query(SQL).bind(id).execute(p).await.unwrap().rows_affected(),
        Store::Postgres(p) => sqlx::query(SQL).bind(id).execute(p).await.unwrap().rows_affected(),
    }
}

async fn force_due(store: &Store, id: i64) {
    assert_eq!(make_due(store, id).await, 1);
}

#[test]
fn migrate_command_creates_and_reports_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let o = support::driftfix(&["migrate", "--database-url", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    assert_eq!(support::stdout(&o), "sqlite database is at the current schema\n");
    assert!(dir.path().join("x.db").exists());
    let bad = support::driftfix(&["migrate", "--database-url", "mysql://root:hunter2@db/x"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!support::stderr(&bad).contains("hunter2"), "secrets never reach errors: {}", support::stderr(&bad));
}

async fn batches_keep_sequential_semantics(store: &Store) {
    let a = event("sg-batch-a");
    let b = event("sg-batch-b");
    let later_a = a.replace("2026-11-22T10:00:00.000Z", "2026-11-22T11:00:00.000Z");
    let (fa, fb, fa2) = (
        parse_event(a.as_bytes()).unwrap(),
        parse_event(b.as_bytes()).unwrap(),
        parse_event(later_a.as_bytes()).unwrap(),
    );
    let rule = "INCOMING_SSH_DISABLED";
    fn ev<'a>(dedup: &'a str, body: &'a str, f: &'a driftfix::finding::Finding) -> NewEvent<'a> {
        NewEvent {
            source: "eventbridge",
            dedup_id: dedup,
            body,
            finding: Some((f, "INCOMING_SSH_DISABLED")),
            job_kind: None,
            max_attempts: 3,
        }
    }
    let batch = [
        ev("x-1", &a, &fa),
        ev("x-1", &a, &fa), // redelivered inside the batch
        ev("x-2", &b, &fb),
        ev("x-3", &later_a, &fa2), // same finding, newer evaluation: no second job
    ];
    let out = store.record_events(&batch).await.unwrap();
    assert!(matches!(out[0], Recorded::New { job_id: Some(_), .. }), "{out:?}");
    assert_eq!(out[1], Recorded::Duplicate);
    assert!(matches!(out[2], Recorded::New { job_id: Some(_), .. }), "{out:?}");
    assert!(matches!(out[3], Recorded::New { job_id: None, .. }), "{out:?}");
    let (Recorded::New { event_id: e0, .. }, Recorded::New { event_id: e3, .. }) = (&out[0], &out[3]) else { panic!() };
    assert_ne!(e0, e3);
    assert_eq!(store.counts().await.unwrap(), (3, 2, 2));
    let key = driftfix::finding::FindingKey::new(&fa.resource, rule);
    assert_eq!(store.audit_trail(key.as_str()).await.unwrap().len(), 2, "one audit entry per stored event");
    let again = store.record_events(&batch[..1]).await.unwrap();
    assert_eq!(again, [Recorded::Duplicate], "and across batches");
}
on_both!(a_batch_behaves_like_its_events_one_by_one, batches_keep_sequential_semantics, "driftfix_test_");

/// A PostgreSQL store opens its warm connections before it is handed out: opening one takes about
/// 90 ms, and an early request that had to wait for one was the slowest of an intake load run.
#[tokio::test]
async fn a_postgres_store_starts_with_its_connections_open() {
    let Some(Store::Postgres(pool)) = support::db::postgres("driftfix_test_warm_pool").await else { return };
    assert!(pool.size() >= 4, "{} connections open", pool.size());
    assert!(pool.num_idle() >= 4, "{} idle", pool.num_idle());
}

/// Run `$query` (a sqlx query expression) on whichever pool `$store` holds: `execute` (its result
/// reduced to `()`, as each database has its own) or `fetch_one`.
macro_rules! on_store {
    ($store:expr, $query:expr, execute) => {
        match $store {
            Store::Sqlite(p) => $query.execute(p).await.map(|_| ()),
            Store::Postgres(p) => $query.execute(p).await.map(|_| ()),
        }
    };
    ($store:expr, $query:expr, fetch_one) => {
        match $store {
            Store::Sqlite(p) => $query.fetch_one(p).await,
            Store::Postgres(p) => $query.fetch_one(p).await,
        }
    };
}

/// Upgrading a database that already holds events: migration 0005 fills in the event id of each
/// older intake audit entry, a finding's events are then found through the audit log's index, and
/// the audit log is append-only again afterwards.
async fn events_recorded_before_0005_are_found_after_it(store: &Store) {
    let dialect = store.dialect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    let up_to_0004 = sqlx::migrate::Migrator::new(dir).await.unwrap();
    match store {
        Store::Sqlite(p) => up_to_0004.run_to(4, p).await.unwrap(),
        Store::Postgres(p) => up_to_0004.run_to(4, p).await.unwrap(),
    }
    const FINDING: &str = "INSERT INTO findings (key, account, region, resource_type, resource_id, rule_identifier,
            state, created_at, updated_at) VALUES ('k-old', '123456789012', 'us-east-1', 'AWS::S3::Bucket', 'b', 'R', 'received', 1, 1)";
    const EVENT: &str = "INSERT INTO raw_events (source, dedup_id, received_at, verdict, finding_key, body)
            VALUES ('eventbridge', $1, 1, 'accepted', 'k-old', $2) RETURNING id";
    const AUDIT: &str =
        "INSERT INTO audit_log (at, finding_key, actor, action, detail) VALUES (1, 'k-old', 'driftfix', $1, $2)";
    on_store!(store, sqlx::query(FINDING), execute).unwrap();
    let mut ids = Vec::new();
    for n in 1..=2 {
        let (dedup, body) = (format!("old-{n}"), format!("{{\"n\": {n}}}"));
        let id: i64 = on_store!(store, sqlx::query_scalar(EVENT).bind(&dedup).bind(&body), fetch_one).unwrap();
        let detail = serde_json::json!({ "source": "eventbridge", "dedup_id": dedup, "event_id": id, "job_id": null });
        on_store!(store, sqlx::query(AUDIT).bind("event.accepted").bind(detail.to_string()), execute).unwrap();
        ids.push(id);
    }
    on_store!(store, sqlx::query(AUDIT).bind("finding.proposed").bind("{}"), execute).unwrap();

    store.migrate().await.unwrap();
    let detail = store.finding_detail("k-old").await.unwrap().expect("the finding");
    assert_eq!(detail.events.iter().map(|e| e.id).collect::<Vec<_>>(), ids, "{dialect}: both older events are found");
    assert_eq!(store.latest_event("k-old").await.unwrap().as_deref(), Some("{\"n\": 2}"), "{dialect}");
    let update = on_store!(store, sqlx::query("UPDATE audit_log SET action = 'x'"), execute);
    assert!(update.is_err(), "{dialect}: the audit log is append-only again");

    // Events recorded after the upgrade are found the same way.
    let Recorded::New { finding_key: Some(key), .. } = record(store, "new-1", &event("sg-new")).await else { panic!() };
    let detail = store.finding_detail(key.as_str()).await.unwrap().expect("the new finding");
    assert_eq!(detail.events.len(), 1, "{dialect}");
    assert!(store.latest_event(key.as_str()).await.unwrap().is_some(), "{dialect}");
}

#[tokio::test]
async fn upgrading_keeps_every_finding_s_events_findable() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&format!("sqlite://{}", dir.path().join("old.db").display())).await.unwrap();
    events_recorded_before_0005_are_found_after_it(&sqlite).await;
    if let Some(url) = support::db::postgres_url("driftfix_test_upgrade_0005").await {
        events_recorded_before_0005_are_found_after_it(&Store::connect(&url).await.unwrap()).await;
    }
}
