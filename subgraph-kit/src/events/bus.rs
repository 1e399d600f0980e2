//! What every event transport offers (Kafka, the embedded SQLite log), and the
//! consumer loop built on it: at-least-once delivery, de-duplication by
//! `event_id`, a dead-letter topic for poison messages, metrics of messages
//! taken and lag.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::EntityChangeEvent;
use super::codec::{self, DecodeError};
use crate::metrics::SubgraphMetrics;

/// One message as a transport delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Its topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// Its key (the entity id for change events).
    pub key: Option<Vec<u8>>,
    /// Its payload.
    pub payload: Vec<u8>,
    /// Its headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Delivery {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// The next offset to read, per topic and partition, once `processed` are done.
pub fn next_offsets(processed: &[Delivery]) -> std::collections::BTreeMap<(&str, i32), i64> {
    let mut next = std::collections::BTreeMap::new();
    for delivery in processed {
        let slot = next
            .entry((delivery.topic.as_str(), delivery.partition))
            .or_insert(0);
        *slot = (*slot).max(delivery.offset + 1);
    }
    next
}

/// A transport error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("event bus: {0}")]
pub struct BusError(pub String);

/// Sends raw messages (change events are encoded before; dead letters are sent
/// as they came).
#[async_trait]
pub trait RawPublisher: Send + Sync + 'static {
    /// Appends a message to a topic and returns once it is stored.
    async fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &[(String, Vec<u8>)],
    ) -> Result<(), BusError>;
}

/// Delivers messages of the subscribed topics to one consumer group.
#[async_trait]
pub trait EventSource: Send + 'static {
    /// The next messages, waiting up to `wait` for at least one.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;

    /// Marks every message up to and including these as processed; after a
    /// restart the group resumes after them.
    async fn commit(&mut self, processed: &[Delivery]) -> Result<(), BusError>;

    /// Messages not yet consumed by the group, per topic and partition.
    async fn lag(&mut self) -> Result<Vec<(String, i32, i64)>, BusError>;
}

/// Remembers which events were handled, to drop redeliveries.
#[async_trait]
pub trait Deduplicator: Send + Sync + 'static {
    /// Whether the event was handled before.
    async fn seen(&self, event_id: &str) -> bool;

    /// Records events as handled (called only after the handler succeeded).
    async fn record(&self, event_ids: &[&str]);
}

/// Remembers the last `capacity` event ids in memory.
pub struct RecentIds {
    capacity: usize,
    seen: std::sync::Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl RecentIds {
    /// Remembers up to `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        RecentIds {
            capacity: capacity.max(1),
            seen: std::sync::Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }
}

#[async_trait]
impl Deduplicator for RecentIds {
    async fn seen(&self, event_id: &str) -> bool {
        self.seen.lock().is_ok_and(|seen| seen.0.contains(event_id))
    }

    async fn record(&self, event_ids: &[&str]) {
        let Ok(mut seen) = self.seen.lock() else { return };
        let (set, order) = &mut *seen;
        for id in event_ids {
            if set.insert((*id).to_string()) {
                order.push_back((*id).to_string());
            }
        }
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
    }
}

/// Why a handler did not process an event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HandlerError {
    /// Trying again later may work (a database is down): the batch is not
    /// committed and will be redelivered.
    #[error("transient failure: {0}")]
    Transient(String),
    /// The event can never be processed: it goes to the dead-letter topic.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Handles decoded change events, one batch at a time.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Processes a batch (already de-duplicated); either all of it is done or
    /// none (return the error of the first failure).
    async fn handle(&self, events: &[EntityChangeEvent]) -> Result<(), HandlerError>;
}

/// What one turn of the consumer loop did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    /// Messages received.
    pub received: usize,
    /// Events handed to the handler.
    pub handled: usize,
    /// Redeliveries dropped by de-duplication.
    pub duplicates: usize,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: usize,
}

/// The name of a topic's dead-letter topic.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// How often a consumer with metrics reads its lag.
const LAG_REFRESH: Duration = Duration::from_secs(10);

/// Where a consumer reports what it took and how far behind it is.
struct ConsumerMetrics {
    group: String,
    metrics: Arc<SubgraphMetrics>,
    lag_read_at: Option<Instant>,
}

impl ConsumerMetrics {
    fn count(&self, outcome: &BatchOutcome) {
        for (name, n) in [
            ("handled", outcome.handled),
            ("duplicate", outcome.duplicates),
            ("dead_lettered", outcome.dead_lettered),
        ] {
            if n > 0 {
                self.metrics
                    .consumer_messages
                    .with_label_values(&[self.group.as_str(), name])
                    .inc_by(n as u64);
            }
        }
    }

    fn lag_due(&self) -> bool {
        self.lag_read_at.is_none_or(|at| at.elapsed() >= LAG_REFRESH)
    }

    fn set_lag(&mut self, lag: &[(String, i32, i64)]) {
        for (topic, partition, behind) in lag {
            self.metrics
                .consumer_lag
                .with_label_values(&[self.group.as_str(), topic, &partition.to_string()])
                .set(*behind);
        }
        self.lag_read_at = Some(Instant::now());
    }
}

/// A consumer: polls a source, decodes, de-duplicates, hands batches to a
/// handler and commits only after the handler succeeded (at least once).
pub struct Consumer<S: EventSource> {
    source: S,
    handler: Arc<dyn EventHandler>,
    dedup: Arc<dyn Deduplicator>,
    dead_letters: Arc<dyn RawPublisher>,
    decoder: codec::Decoder,
    batch_size: usize,
    metrics: Option<ConsumerMetrics>,
}

impl<S: EventSource> Consumer<S> {
    /// A consumer of `source`; poison messages go to `<topic>.dlq` through
    /// `dead_letters`.
    pub fn new(
        source: S,
        handler: Arc<dyn EventHandler>,
        dedup: Arc<dyn Deduplicator>,
        dead_letters: Arc<dyn RawPublisher>,
        decoder: codec::Decoder,
    ) -> Self {
        Consumer {
            source,
            handler,
            dedup,
            dead_letters,
            decoder,
            batch_size: 500,
            metrics: None,
        }
    }

    /// Reports to `metrics` (served at the subgraph's `/metrics`) the
    /// messages taken by outcome and, every 10 seconds, the lag per topic and
    /// partition, labelled with the consumer `group`.
    pub fn with_metrics(mut self, metrics: Arc<SubgraphMetrics>, group: &str) -> Self {
        self.metrics = Some(ConsumerMetrics {
            group: group.to_string(),
            metrics,
            lag_read_at: None,
        });
        self
    }

    /// Messages per batch (500 by default).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// The source, e.g. to read its lag.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), BusError> {
        let mut headers = delivery.headers.clone();
        headers.push(("dlq.original_topic".into(), delivery.topic.clone().into_bytes()));
        headers.push((
            "dlq.original_partition".into(),
            delivery.partition.to_string().into_bytes(),
        ));
        headers.push((
            "dlq.original_offset".into(),
            delivery.offset.to_string().into_bytes(),
        ));
        headers.push(("dlq.reason".into(), reason.as_bytes().to_vec()));
        self.dead_letters
            .send(
                &dead_letter_topic(&delivery.topic),
                delivery.key.as_deref(),
                &delivery.payload,
                &headers,
            )
            .await
    }

    /// Polls once and processes what came. A transient handler failure leaves
    /// the batch uncommitted (it is redelivered after a restart or rebalance)
    /// and is returned.
    pub async fn run_once(&mut self, wait: Duration) -> Result<BatchOutcome, BusError> {
        let outcome = self.take_batch(wait).await?;
        if let Some(metrics) = &mut self.metrics {
            metrics.count(&outcome);
            if metrics.lag_due() {
                match self.source.lag().await {
                    Ok(lag) => metrics.set_lag(&lag),
                    Err(error) => tracing::debug!(%error, "consumer lag not available"),
                }
            }
        }
        Ok(outcome)
    }

    async fn take_batch(&mut self, wait: Duration) -> Result<BatchOutcome, BusError> {
        let deliveries = self.source.poll(self.batch_size, wait).await?;
        let mut outcome = BatchOutcome {
            received: deliveries.len(),
            ..BatchOutcome::default()
        };
        if deliveries.is_empty() {
            return Ok(outcome);
        }
        let mut events: Vec<EntityChangeEvent> = Vec::with_capacity(deliveries.len());
        let mut origins = Vec::with_capacity(deliveries.len());
        for delivery in &deliveries {
            match self
                .decoder
                .decode(&delivery.payload, delivery.header("content-type"))
                .await
            {
                Ok(event) => {
                    let repeated = events.iter().any(|e| e.event_id == event.event_id);
                    if repeated || self.dedup.seen(&event.event_id).await {
                        outcome.duplicates += 1;
                    } else {
                        events.push(event);
                        origins.push(delivery);
                    }
                }
                Err(DecodeError(reason)) => {
                    self.dead_letter(delivery, &reason).await?;
                    outcome.dead_lettered += 1;
                }
            }
        }
        let mut handled: Vec<&str> = Vec::with_capacity(events.len());
        match self.handler.handle(&events).await {
            Ok(()) => {
                outcome.handled = events.len();
                handled.extend(events.iter().map(|e| e.event_id.as_str()));
            }
            Err(HandlerError::Transient(reason)) => return Err(BusError(format!("handler: {reason}"))),
            Err(HandlerError::Permanent(reason)) => {
                for (event, delivery) in events.iter().zip(&origins) {
                    match self.handler.handle(std::slice::from_ref(event)).await {
                        Ok(()) => {
                            outcome.handled += 1;
                            handled.push(&event.event_id);
                        }
                        Err(HandlerError::Transient(reason)) => {
                            return Err(BusError(format!("handler: {reason}")));
                        }
                        Err(HandlerError::Permanent(single)) => {
                            self.dead_letter(delivery, &single).await?;
                            outcome.dead_lettered += 1;
                        }
                    }
                }
                tracing::warn!(%reason, "a batch held poison events; they went to the dead-letter topic");
            }
        }
        self.dedup.record(&handled).await;
        self.source.commit(&deliveries).await?;
        Ok(outcome)
    }
}
