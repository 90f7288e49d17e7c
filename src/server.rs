//! `driftfix serve`: the axum app (intake, read API, operational endpoints), the worker pool, and a
//! graceful shutdown. On SIGTERM or Ctrl-C the listener stops taking requests and drains the ones in
//! flight, and the workers stop claiming. A worker finishes the job it holds; a job it cannot
//! finish keeps its lease until expiry and is then claimed by any replica, so nothing is lost.

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::intake::sns::HttpsConfirmer;
use crate::intake::sns_verify::HttpsCertFetcher;
use crate::intake::{self, IntakeSettings, IntakeState};
use crate::metrics::Metrics;
use crate::ops::{self, OpsState};
use crate::store::Store;
use crate::worker::{Worker, WorkerConfig};
use anyhow::Context;
use secrecy::ExposeSecret;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long workers get to finish their current job after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything `serve` runs, built from a configuration (separate from binding, for tests).
pub struct App {
    pub router: axum::Router,
    pub store: Store,
    pub workers: Vec<Worker>,
    /// The intake writers; they finish once the router (and every request) is gone.
    pub writers: tokio::task::JoinHandle<()>,
    /// The AWS clients, shared by the workers and the periodic sync.
    pub aws: Option<Arc<crate::aws::Aws>>,
}

/// Connect, migrate, and assemble the routes and workers.
pub async fn build(config: &Config) -> anyhow::Result<App> {
    let store = Store::connect(config.database_url.expose_secret()).await.context("opening the database")?;
    store.migrate().await.context("applying migrations")?;
    let metrics = Arc::new(Metrics::default());
    let (pipeline, writers) = intake::recorder::Pipeline::start(store.clone());
    let intake = IntakeState {
        store: store.clone(),
        settings: Arc::new(intake_settings(config)),
        metrics: metrics.clone(),
        certs: Arc::new(HttpsCertFetcher::new()),
        confirmer: Arc::new(HttpsConfirmer::new().map_err(anyhow::Error::msg)?),
        pipeline,
    };
    let router = intake::router(intake)
        .merge(api::router(ApiState { store: store.clone(), tokens: Arc::new(config.api.tokens.clone()) }))
        .merge(ops::router(OpsState { store: store.clone(), metrics: metrics.clone() }))
        .layer(axum::middleware::from_fn(ops::request_id));
    let aws = aws_clients(config).await;
    let worker_config = WorkerConfig {
        routes: config.routes.clone(),
        policy: config.policy.clone(),
        lease_ms: i64::try_from(config.lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
        poll_interval: Duration::from_millis(500),
        dry_run: config.dry_run,
        templates: Arc::new(
            crate::render::Templates::load(config.templates_dir.as_deref()).context("loading the templates")?,
        ),
        github: github_app(config)?,
        jira: jira_client(config)?,
        repos: config.repos.clone(),
        aws: aws.clone(),
    };
    let workers = (0..config.workers)
        .map(|_| Worker::new(store.clone(), worker_config.clone()).with_metrics(metrics.clone()))
        .collect();
    Ok(App { router, store, workers, writers, aws })
}

/// The GitHub App client, when one is configured.
fn github_app(config: &Config) -> anyhow::Result<Option<Arc<crate::github::GitHubApp>>> {
    let g = &config.github;
    if !g.configured() {
        return Ok(None);
    }
    let key = g.key().map_err(anyhow::Error::msg)?;
    let settings = crate::github::GitHubSettings::new(g.app_id, key, &g.api_url);
    Ok(Some(Arc::new(crate::github::GitHubApp::new(settings).context("setting up the GitHub App")?)))
}

/// The AWS clients, when `[aws]` is on (credentials from the SDK's default chain).
pub async fn aws_clients(config: &Config) -> Option<Arc<crate::aws::Aws>> {
    if !config.aws.enabled {
        return None;
    }
    Some(Arc::new(crate::aws::Aws::load(config.aws.clone(), None).await))
}

/// The Jira client, when Jira is configured.
fn jira_client(config: &Config) -> anyhow::Result<Option<Arc<crate::jira::JiraClient>>> {
    if !config.jira.configured() {
        return Ok(None);
    }
    let c = config.jira.client_config().map_err(anyhow::Error::msg)?;
    Ok(Some(Arc::new(crate::jira::JiraClient::new(c).context("setting up the Jira client")?)))
}

fn intake_settings(config: &Config) -> IntakeSettings {
    let i = &config.intake;
    IntakeSettings {
        eventbridge_header: i.eventbridge.header.to_ascii_lowercase(),
        eventbridge_api_keys: i.eventbridge.api_keys.clone(),
        eventbridge_basic: i.eventbridge.basic_auth.clone(),
        sns_topic_arns: i.sns.topic_arns.clone(),
        github_secrets: i.github.webhook_secrets.clone(),
        body_limit: config.body_limit_bytes,
        max_attempts: i64::from(config.max_attempts),
        queue_high_water: i64::try_from(config.queue_high_water).unwrap_or(i64::MAX),
    }
}

/// Serve until `shutdown` resolves, then drain.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let app = build(&config).await?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, database = app.store.dialect(), workers = app.workers.len(), "driftfix serving");
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut handles: Vec<_> = app.workers.into_iter().map(|w| tokio::spawn(w.run(stop_rx.clone()))).collect();
    if let (Some(aws), Some(every)) = (app.aws.clone(), config.aws.sync_interval()) {
        handles.push(tokio::spawn(sync_loop(app.store.clone(), aws, config.clone(), every, stop_rx.clone())));
    }
    let http = axum::serve(listener, app.router).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests or jobs");
        let _ = stop_tx.send(true);
    });
    http.await.context("HTTP server")?;
    // Every request is answered; let the intake writers finish what was handed to them.
    if tokio::time::timeout(DRAIN_TIMEOUT, app.writers).await.is_err() {
        tracing::warn!("intake writers did not finish in time");
    }
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        for h in handles {
            let _ = h.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("workers did not finish in time; their jobs return to the queue when their leases expire");
    }
    app.store.close().await;
    Ok(())
}

/// `driftfix sync` every `every`, until shutdown. Replicas may each run it: recording is
/// de-duplicated by the store, so the same result never becomes two findings or two jobs.
async fn sync_loop(
    store: Store,
    aws: Arc<crate::aws::Aws>,
    config: Config,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let opts = crate::sync::SyncOptions::default();
    loop {
        match crate::sync::sync(&store, &aws, &config, &opts).await {
            Ok(r) => {
                tracing::info!(
                    queued = r.enqueued,
                    known = r.known,
                    resolved = r.resolved,
                    errors = r.errors.len(),
                    "sync done"
                );
                for e in &r.errors {
                    tracing::warn!(error = %e, "sync");
                }
            }
            Err(e) => tracing::warn!(error = %e, "sync failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
