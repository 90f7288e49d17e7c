//! Load on `POST /webhooks/eventbridge` with `wrk` (Debian package) over loopback: sustained
//! events/s and p99 latency on SQLite and on PostgreSQL, a check that every 202'd event is in the
//! database afterwards, and the same load against a bare axum handler answering 202 (the ceiling).
//!
//! Run: `cargo bench --bench intake_load` (PostgreSQL too when `DRIFTFIX_BENCH_POSTGRES_URL` holds an
//! admin URL such as `postgres://driftfix:driftfix@127.0.0.1/postgres`). Every request is a distinct
//! event (its own EventBridge id and resource), so every 202 is a real durable write.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DURATION: &str = "10s";
const CONNECTIONS: &str = "32";
const THREADS: &str = "2";

/// wrk script: a unique event per request (thread number + counter).
const SCRIPT: &str = r#"
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local counter = 0
local template = [[{"version":"0","id":"%s","detail-type":"Config Rules Compliance Change","source":"aws.config","account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],"detail":{"resourceId":"bucket-%s","awsRegion":"us-east-1","awsAccountId":"123456789012","configRuleName":"s3-bucket-versioning-enabled","recordVersion":"1.0","configRuleARN":"arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc","messageType":"ComplianceChangeNotification","newEvaluationResult":{"evaluationResultIdentifier":{"evaluationResultQualifier":{"configRuleName":"s3-bucket-versioning-enabled","resourceType":"AWS::S3::Bucket","resourceId":"bucket-%s"},"orderingTimestamp":"2026-11-20T09:59:50.000Z"},"complianceType":"NON_COMPLIANT","resultRecordedTime":"2026-11-20T10:00:00.000Z","configRuleInvokedTime":"2026-11-20T09:59:59.000Z"},"notificationCreationTime":"2026-11-20T10:00:01.000Z","resourceType":"AWS::S3::Bucket"}}]]
request = function()
  counter = counter + 1
  local id = tid .. "-" .. counter
  local body = string.format(template, id, id, id)
  return wrk.format("POST", "/webhooks/eventbridge", {["x-api-key"] = "bench-key", ["content-type"] = "application/json"}, body)
end
"#;

struct WrkResult {
    requests: u64,
    non_2xx: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn wrk(url: &str, script: &Path) -> WrkResult {
    let out = Command::new("wrk")
        .args(["-t", THREADS, "-c", CONNECTIONS, "-d", DURATION, "--latency", "-s", script.to_str().unwrap(), url])
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned())).unwrap_or_default()
    };
    let ms = |v: String| -> f64 {
        let v = v.trim();
        if let Some(x) = v.strip_suffix("us") {
            x.parse::<f64>().unwrap_or(f64::NAN) / 1000.0
        } else if let Some(x) = v.strip_suffix("ms") {
            x.parse().unwrap_or(f64::NAN)
        } else if let Some(x) = v.strip_suffix('s') {
            x.parse::<f64>().unwrap_or(f64::NAN) * 1000.0
        } else {
            f64::NAN
        }
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    WrkResult {
        requests,
        non_2xx: field("Non-2xx or 3xx responses:").parse().unwrap_or(0),
        per_sec: field("Requests/sec:").parse().unwrap_or(0.0),
        p50_ms: ms(field("50%")),
        p99_ms: ms(field("99%")),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bare axum handler answering 202: the ceiling for this machine and tool.
fn bare_server() -> u16 {
    let port = free_port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/webhooks/eventbridge",
                axum::routing::post(|_body: axum::body::Bytes| async { axum::http::StatusCode::ACCEPTED }),
            );
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    wait_listening(port);
    port
}

fn driftfix_server(dir: &Path, database_url: &str, workers: u32) -> (Child, u16) {
    let port = free_port();
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database_url}\"\nlisten = \"127.0.0.1:{port}\"\nworkers = {workers}\nqueue_high_water = 100000000\n\n[intake.eventbridge]\napi_keys = [\"bench-key\"]\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_driftfix"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_listening(port);
    (child, port)
}

fn stored_events(database_url: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = driftfix::store::Store::connect(database_url).await.unwrap();
        store.counts().await.unwrap().0
    })
}

fn report(name: &str, r: &WrkResult) {
    println!(
        "{name:<26} {:>9.0} events/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} non-2xx)",
        r.per_sec, r.p50_ms, r.p99_ms, r.requests, r.non_2xx
    );
}

fn run_backend(name: &str, database_url: &str, workers: u32, dir: &Path, script: &Path, ceiling: f64) {
    let (mut child, port) = driftfix_server(dir, database_url, workers);
    let r = wrk(&format!("http://127.0.0.1:{port}"), script);
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    report(name, &r);
    let accepted = i64::try_from(r.requests - r.non_2xx).unwrap_or(0);
    let stored = stored_events(database_url);
    println!(
        "{:<26} stored {stored} of {accepted} accepted events: {}; {:.0}% of the bare handler",
        "",
        if stored >= accepted { "none lost" } else { "LOST EVENTS" },
        100.0 * r.per_sec / ceiling
    );
    assert!(stored >= accepted, "every 202'd event must be in the database");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` style discovery
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("wrk is not installed (apt-get install wrk): skipping the intake load bench");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("events.lua");
    std::fs::File::create(&script).unwrap().write_all(SCRIPT.as_bytes()).unwrap();

    let bare = wrk(&format!("http://127.0.0.1:{}", bare_server()), &script);
    report("bare axum (ceiling)", &bare);

    for workers in [0, 1] {
        let label = if workers == 0 { "intake only" } else { "+1 worker" };
        let sqlite = format!("sqlite://{}", dir.path().join(format!("bench-{workers}.db")).display());
        run_backend(&format!("SQLite, {label}"), &sqlite, workers, dir.path(), &script, bare.per_sec);

        let Ok(admin) = std::env::var("DRIFTFIX_BENCH_POSTGRES_URL") else {
            println!("(set DRIFTFIX_BENCH_POSTGRES_URL to measure PostgreSQL too)");
            continue;
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let url = rt.block_on(async {
            let Ok(driftfix::store::Store::Postgres(pool)) = driftfix::store::Store::connect(&admin).await else {
                panic!("not a PostgreSQL URL")
            };
            sqlx::query("DROP DATABASE IF EXISTS driftfix_bench WITH (FORCE)").execute(&pool).await.unwrap();
            sqlx::query("CREATE DATABASE driftfix_bench").execute(&pool).await.unwrap();
            format!("{}/driftfix_bench", admin.rsplit_once('/').unwrap().0)
        });
        run_backend(&format!("PostgreSQL, {label}"), &url, workers, dir.path(), &script, bare.per_sec);
    }
}
