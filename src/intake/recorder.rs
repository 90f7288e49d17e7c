//! Group commit for intake. Every accepted delivery must be durable before it is answered, and one
//! transaction per delivery caps intake at the database's commit rate. The recorder is one task that
//! takes the first waiting delivery, drains whatever else is already waiting (up to
//! [`MAX_BATCH`]), writes them all in one transaction, and then answers each. An idle server pays
//! nothing extra; a busy one amortises each commit over many events.
//!
//! Also here: the queue-depth gauge intake uses for backpressure, refreshed from the store at most
//! every [`GAUGE_MAX_AGE`] instead of counting on every request.

use crate::finding::Finding;
use crate::store::{NewEvent, Recorded, Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Most events written in one transaction.
pub const MAX_BATCH: usize = 512;
/// Concurrent writers on PostgreSQL: one commits while the other gathers the next batch. More
/// writers made smaller batches and cost more CPU per event on 2 cores (4 writers: 5,900–6,200
/// events/s at 88–92 µs of CPU each; 2: 6,200–6,800 at 67–79 µs).
const POSTGRES_WRITERS: usize = 2;
/// Deliveries waiting for the writer; beyond this intake answers 503.
const QUEUE_CAPACITY: usize = 8192;
/// Oldest queue depth backpressure decisions may use.
pub const GAUGE_MAX_AGE: Duration = Duration::from_millis(250);

/// A delivery to record, owned so it can wait for the writer.
#[derive(Debug)]
pub struct Delivery {
    pub source: &'static str,
    pub dedup_id: String,
    pub body: String,
    /// The finding and the rule identifier it is keyed by.
    pub finding: Option<(Finding, String)>,
    /// Work for an event without a finding (see [`crate::store::NewEvent::job_kind`]).
    pub job_kind: Option<String>,
    pub max_attempts: i64,
}

/// Why a delivery was not recorded (the sender should retry).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the intake queue is full")]
    Full,
    #[error("the store failed: {0}")]
    Store(String),
}

type Reply = oneshot::Sender<Result<Recorded, RecordError>>;

/// Handle to the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<(Delivery, Reply)>,
}

impl Recorder {
    /// Start the writer tasks on the current runtime: one for SQLite (one writer at a time is all it
    /// allows), several for PostgreSQL, whose commits proceed in parallel. The handle resolves once
    /// every `Recorder` clone is dropped and the queue is written out.
    pub fn spawn(store: Store) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match store {
            Store::Sqlite(_) => 1,
            Store::Postgres(_) => POSTGRES_WRITERS,
        };
        let tasks: Vec<_> = (0..writers).map(|_| tokio::spawn(write_batches(store.clone(), rx.clone()))).collect();
        let all = tokio::spawn(async move {
            for t in tasks {
                let _ = t.await;
            }
        });
        (Recorder { tx }, all)
    }

    /// Record one delivery; resolves once its batch is committed.
    pub async fn record(&self, delivery: Delivery) -> Result<Recorded, RecordError> {
        let (reply, answer) = oneshot::channel();
        self.tx.try_send((delivery, reply)).map_err(|_| RecordError::Full)?;
        answer.await.unwrap_or_else(|_| Err(RecordError::Store("the writer stopped".into())))
    }
}

async fn write_batches(store: Store, rx: Arc<Mutex<mpsc::Receiver<(Delivery, Reply)>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // Hold the receiver only while taking a batch, so other writers can take the next one while
        // this one commits.
        if rx.lock().await.recv_many(&mut batch, MAX_BATCH).await == 0 {
            break;
        }
        let events: Vec<NewEvent<'_>> = batch
            .iter()
            .map(|(d, _)| NewEvent {
                source: d.source,
                dedup_id: &d.dedup_id,
                body: &d.body,
                finding: d.finding.as_ref().map(|(f, rule)| (f, rule.as_str())),
                job_kind: d.job_kind.as_deref(),
                max_attempts: d.max_attempts,
            })
            .collect();
        let result = store.record_events(&events).await;
        drop(events);
        match result {
            Ok(recorded) => {
                for ((_, reply), r) in batch.drain(..).zip(recorded) {
                    let _ = reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "could not record a batch of events");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(RecordError::Store(e.to_string())));
                }
            }
        }
    }
}

/// Queue depth for backpressure, read from the store at most every [`GAUGE_MAX_AGE`].
#[derive(Debug)]
pub struct QueueGauge {
    queued: AtomicI64,
    refreshed: Mutex<Option<Instant>>,
}

impl Default for QueueGauge {
    fn default() -> Self {
        QueueGauge { queued: AtomicI64::new(0), refreshed: Mutex::new(None) }
    }
}

impl QueueGauge {
    /// The queue depth, refreshed when stale. Only one request refreshes at a time; the others use
    /// the previous value meanwhile.
    pub async fn queued(&self, store: &Store) -> Result<i64, StoreError> {
        if let Ok(mut last) = self.refreshed.try_lock()
            && last.is_none_or(|t| t.elapsed() >= GAUGE_MAX_AGE)
        {
            let n = store.queued_jobs().await?;
            self.queued.store(n, Ordering::Relaxed);
            *last = Some(Instant::now());
        }
        Ok(self.queued.load(Ordering::Relaxed))
    }
}

/// Shared pieces of the intake pipeline: the writer and the gauge.
#[derive(Clone)]
pub struct Pipeline {
    pub recorder: Recorder,
    pub gauge: Arc<QueueGauge>,
}

impl Pipeline {
    /// The pipeline, and the writers' handle (await it after the last request, before closing the
    /// store, so nothing accepted is left unwritten).
    pub fn start(store: Store) -> (Pipeline, tokio::task::JoinHandle<()>) {
        let (recorder, writers) = Recorder::spawn(store);
        (Pipeline { recorder, gauge: Arc::new(QueueGauge::default()) }, writers)
    }
}
