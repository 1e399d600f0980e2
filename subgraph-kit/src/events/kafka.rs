//! Change events on Kafka (any Kafka-protocol broker) through rdkafka: an
//! idempotent producer, topic creation, and an [`EventSource`] for the
//! consumer loop with manual commits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::channel::oneshot;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::Notify;

use super::bus::{BusError, Delivery, EventSource, RawPublisher, next_offsets};
use super::codec::{Encoder, PAYLOAD_CAPACITY};
use super::{ChangePublisher, EntityChangeEvent, PublishError};

/// How to reach the brokers and shape the topics.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port,host:port` (`KAFKA_BROKERS`).
    pub brokers: String,
    /// Partitions of created topics (events are keyed by entity id, so each
    /// entity's events stay in order).
    pub partitions: i32,
    /// Replication factor of created topics.
    pub replication: i32,
    /// Retention of created topics, when set.
    pub retention: Option<Duration>,
    /// How long a publish may take before it fails.
    pub publish_timeout: Duration,
}

impl KafkaConfig {
    /// Defaults for the given brokers: 6 partitions, replication 1, 30 s.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaConfig {
            brokers: brokers.into(),
            partitions: 6,
            replication: 1,
            retention: None,
            publish_timeout: Duration::from_secs(30),
        }
    }

    /// A client configuration with the brokers set.
    pub(super) fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        config
    }
}

fn bus_error(context: &str, error: impl std::fmt::Display) -> BusError {
    BusError(format!("{context}: {error}"))
}

/// Creates topics that do not exist yet.
pub async fn ensure_topics(config: &KafkaConfig, topics: &[String]) -> Result<(), BusError> {
    let admin: AdminClient<DefaultClientContext> = config
        .client()
        .create()
        .map_err(|e| bus_error("admin client", e))?;
    let retention = config.retention.map(|r| r.as_millis().to_string());
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| {
            let topic = NewTopic::new(
                name,
                config.partitions,
                TopicReplication::Fixed(config.replication),
            );
            match &retention {
                Some(ms) => topic.set("retention.ms", ms),
                None => topic,
            }
        })
        .collect();
    let results = admin
        .create_topics(
            &new_topics,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .map_err(|e| bus_error("create topics", e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(bus_error(&format!("create topic {topic}"), code)),
        }
    }
    Ok(())
}

/// Where the delivery report of one enqueued message goes.
enum Waiter {
    /// A lone message whose sender awaits its own report.
    One(oneshot::Sender<Result<(), String>>),
    /// The message at this index of a [`ChangePublisher::publish_all`] batch.
    Batch(Arc<BatchReports>, usize),
}

/// The delivery reports of a batch: failures by index, and a count of the
/// messages still without a report that wakes the publisher when it reaches 0.
struct BatchReports {
    remaining: AtomicUsize,
    failures: Mutex<Vec<(usize, String)>>,
    done: Notify,
}

impl BatchReports {
    fn new(messages: usize) -> Self {
        BatchReports {
            remaining: AtomicUsize::new(messages),
            failures: Mutex::new(Vec::new()),
            done: Notify::new(),
        }
    }

    /// Records the outcome of the message at `index`.
    fn settle(&self, index: usize, outcome: Result<(), String>) {
        if let Err(reason) = outcome {
            // A failure must not be lost (its event would count as published):
            // a poisoned list is still written.
            self.failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((index, reason));
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }
}

/// The producer's context: hands each delivery report to its waiter. Reports
/// arrive on the producer's polling thread, in batches, without a future per
/// message.
struct Reports;

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<Waiter>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiter: Box<Waiter>) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((error, _)) => Err(error.to_string()),
        };
        match *waiter {
            Waiter::One(sender) => {
                // The publisher may have stopped waiting; nobody is left to tell.
                let _ = sender.send(outcome);
            }
            Waiter::Batch(reports, index) => reports.settle(index, outcome),
        }
    }
}

/// How long to wait before enqueuing again when the producer's queue is full.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(2);

/// An idempotent producer of change events (acks from all in-sync replicas,
/// no duplicates on retries, per-partition order kept).
///
/// Events are encoded into a reused buffer and enqueued with their headers
/// built directly; `publish_all` enqueues the whole batch and waits once for
/// the count of its delivery reports to reach zero.
pub struct KafkaPublisher {
    producer: ThreadedProducer<Reports>,
    encoder: Encoder,
    timeout: Duration,
}

impl KafkaPublisher {
    /// A producer for the configured brokers; `encoder` picks Avro or JSON.
    pub fn new(config: &KafkaConfig, encoder: Encoder) -> Result<Self, BusError> {
        let producer = config
            .client()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // Under load batches form while earlier requests are in flight (up
            // to 5 with idempotence); lingering only delays each `publish_all`
            // wave's last partial batch and every lone event.
            .set("linger.ms", "0")
            .set("compression.type", "lz4")
            .set(
                "message.timeout.ms",
                config.publish_timeout.as_millis().to_string(),
            )
            .create_with_context(Reports)
            .map_err(|e| bus_error("producer", e))?;
        Ok(KafkaPublisher {
            producer,
            encoder,
            timeout: config.publish_timeout,
        })
    }

    /// Enqueues one message, waiting while the producer's queue is full (up
    /// to the publish timeout). On failure no report will reach the waiter.
    async fn enqueue(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: OwnedHeaders,
        waiter: Box<Waiter>,
    ) -> Result<(), String> {
        let mut record = BaseRecord::with_opaque_to(topic, waiter)
            .payload(payload)
            .headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        // The clock is read only once the queue is full, not for every event.
        let mut full_since: Option<Instant> = None;
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if full_since.get_or_insert_with(Instant::now).elapsed() < self.timeout =>
                {
                    record = back;
                    tokio::time::sleep(QUEUE_FULL_PAUSE).await;
                }
                Err((error, _)) => return Err(format!("publish to {topic}: {error}")),
            }
        }
    }

    /// Encodes an event into `payload` and enqueues it on `topic`.
    async fn enqueue_event(
        &self,
        event: &EntityChangeEvent,
        topic: &str,
        payload: &mut Vec<u8>,
        waiter: Box<Waiter>,
    ) -> Result<(), String> {
        let content_type = self
            .encoder
            .encode_into(event, payload)
            .await
            .map_err(|e| e.to_string())?;
        let headers = event_headers(event, content_type);
        self.enqueue(topic, Some(event.entity.id.as_bytes()), payload, headers, waiter)
            .await
    }
}

/// The headers of a change event: its content type, its id, and the W3C
/// `traceparent` of the change when it happened inside a trace.
fn event_headers(event: &EntityChangeEvent, content_type: &str) -> OwnedHeaders {
    let context = &event.trace_context;
    let traced = !context.trace_id.is_empty();
    let headers = OwnedHeaders::new_with_capacity(2 + usize::from(traced))
        .insert(Header {
            key: "content-type",
            value: Some(content_type),
        })
        .insert(Header {
            key: "event_id",
            value: Some(&event.event_id),
        });
    if !traced {
        return headers;
    }
    let parent = format!("00-{}-{}-01", context.trace_id, context.span_id);
    headers.insert(Header {
        key: "traceparent",
        value: Some(&parent),
    })
}

/// Whether `topic` is the topic of `event` (`<domain>.<source>.entity_changed`).
fn is_topic_of(topic: &str, event: &EntityChangeEvent) -> bool {
    topic
        .strip_prefix(event.domain.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_prefix(event.source_system.as_str()))
        == Some(".entity_changed")
}

/// Waits for the report of a lone message.
async fn reported(receiver: oneshot::Receiver<Result<(), String>>) -> Result<(), String> {
    receiver
        .await
        .unwrap_or_else(|_| Err("the producer dropped the delivery report".into()))
}

#[async_trait]
impl RawPublisher for KafkaPublisher {
    async fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &[(String, Vec<u8>)],
    ) -> Result<(), BusError> {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (name, value) in headers {
            owned = owned.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let (sender, receiver) = oneshot::channel();
        let waiter = Box::new(Waiter::One(sender));
        self.enqueue(topic, key, payload, owned, waiter)
            .await
            .map_err(BusError)?;
        reported(receiver)
            .await
            .map_err(|e| bus_error(&format!("publish to {topic}"), e))
    }
}

#[async_trait]
impl ChangePublisher for KafkaPublisher {
    async fn publish(&self, event: &EntityChangeEvent) -> Result<(), PublishError> {
        let failed = |reason: String| PublishError {
            event_id: event.event_id.clone(),
            reason,
        };
        let (sender, receiver) = oneshot::channel();
        let waiter = Box::new(Waiter::One(sender));
        {
            // The producer copied the payload: it is freed before the wait, so
            // publishes in flight do not each hold one.
            let mut payload = Vec::with_capacity(PAYLOAD_CAPACITY);
            self.enqueue_event(event, &event.topic(), &mut payload, waiter)
                .await
                .map_err(failed)?;
        }
        reported(receiver).await.map_err(failed)
    }

    /// Enqueues every event before waiting for any acknowledgement, so the
    /// producer batches them, then waits once for all their reports.
    async fn publish_all(&self, events: &[EntityChangeEvent]) -> Vec<Result<(), PublishError>> {
        if events.is_empty() {
            return Vec::new();
        }
        let reports = Arc::new(BatchReports::new(events.len()));
        let mut payload = Vec::with_capacity(PAYLOAD_CAPACITY);
        let mut topic = String::new();
        for (index, event) in events.iter().enumerate() {
            if !is_topic_of(&topic, event) {
                topic = event.topic();
            }
            let waiter = Box::new(Waiter::Batch(reports.clone(), index));
            if let Err(reason) = self.enqueue_event(event, &topic, &mut payload, waiter).await {
                reports.settle(index, Err(reason));
            }
        }
        reports.done.notified().await;
        let mut outcomes: Vec<Result<(), PublishError>> = vec![Ok(()); events.len()];
        let failures = std::mem::take(&mut *reports.failures.lock().unwrap_or_else(PoisonError::into_inner));
        for (index, reason) in failures {
            outcomes[index] = Err(PublishError {
                event_id: events[index].event_id.clone(),
                reason,
            });
        }
        outcomes
    }
}

/// A consumer group member reading topics, committing only what was processed.
pub struct KafkaSource {
    consumer: StreamConsumer,
    timeout: Duration,
    /// The subscription as asked: names and `*suffix` patterns.
    wanted: Vec<String>,
    /// The topics currently subscribed (patterns expanded).
    subscribed: Vec<String>,
    /// When the patterns were last expanded against the broker's topics.
    expanded_at: std::time::Instant,
}

/// How often patterns are matched against the broker's topics again, so topics
/// created later are consumed too.
const PATTERN_REFRESH: Duration = Duration::from_secs(5);

impl KafkaSource {
    /// Joins `group` and subscribes to `topics`; a new group starts at the
    /// earliest offsets. A topic starting with `*` is a pattern matching every
    /// topic with that suffix (`*.entity_changed`), including topics created
    /// later.
    pub fn new(config: &KafkaConfig, group: &str, topics: &[&str]) -> Result<Self, BusError> {
        let consumer: StreamConsumer = config
            .client()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .set("fetch.wait.max.ms", "10")
            .set("fetch.min.bytes", "1")
            .create()
            .map_err(|e| bus_error("consumer", e))?;
        let mut source = KafkaSource {
            consumer,
            timeout: Duration::from_secs(10),
            wanted: topics.iter().map(|t| t.to_string()).collect(),
            subscribed: Vec::new(),
            expanded_at: std::time::Instant::now(),
        };
        source.expand()?;
        Ok(source)
    }

    /// Matches the patterns against the broker's topics and subscribes to the
    /// result when it changed.
    fn expand(&mut self) -> Result<(), BusError> {
        let mut topics: Vec<String> = self
            .wanted
            .iter()
            .filter(|t| !t.starts_with('*'))
            .cloned()
            .collect();
        let patterns: Vec<&str> = self.wanted.iter().filter_map(|t| t.strip_prefix('*')).collect();
        if !patterns.is_empty() {
            let metadata = self
                .consumer
                .fetch_metadata(None, self.timeout)
                .map_err(|e| bus_error("list topics", e))?;
            topics.extend(
                metadata
                    .topics()
                    .iter()
                    .map(|t| t.name())
                    .filter(|name| patterns.iter().any(|suffix| name.ends_with(suffix)))
                    .map(str::to_string),
            );
        }
        topics.sort();
        topics.dedup();
        self.expanded_at = std::time::Instant::now();
        if topics != self.subscribed && !topics.is_empty() {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            self.consumer
                .subscribe(&names)
                .map_err(|e| bus_error("subscribe", e))?;
            self.subscribed = topics;
        }
        Ok(())
    }
}

#[async_trait]
impl EventSource for KafkaSource {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        if self.expanded_at.elapsed() >= PATTERN_REFRESH && self.wanted.iter().any(|t| t.starts_with('*')) {
            self.expand()?;
        }
        let mut out = Vec::new();
        let mut deadline = wait;
        while out.len() < max {
            match tokio::time::timeout(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => out.push(delivery(&message)),
                // A subscribed topic that does not exist yet is not a failure:
                // it is consumed once something is published to it.
                Ok(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition))) => break,
                Ok(Err(error)) => return Err(bus_error("receive", error)),
                Err(_) => break,
            }
            deadline = Duration::from_millis(5);
        }
        Ok(out)
    }

    async fn commit(&mut self, processed: &[Delivery]) -> Result<(), BusError> {
        let next = next_offsets(processed);
        if next.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))
                .map_err(|e| bus_error("commit", e))?;
        }
        self.consumer
            .commit(&list, CommitMode::Sync)
            .map_err(|e| bus_error("commit", e))
    }

    async fn lag(&mut self) -> Result<Vec<(String, i32, i64)>, BusError> {
        let assignment = self
            .consumer
            .assignment()
            .map_err(|e| bus_error("assignment", e))?;
        let committed = self
            .consumer
            .committed_offsets(assignment, self.timeout)
            .map_err(|e| bus_error("committed offsets", e))?;
        let mut lag = Vec::new();
        for element in committed.elements() {
            let (low, high) = self
                .consumer
                .fetch_watermarks(element.topic(), element.partition(), self.timeout)
                .map_err(|e| bus_error("watermarks", e))?;
            let position = match element.offset() {
                Offset::Offset(offset) => offset,
                _ => low,
            };
            lag.push((
                element.topic().to_string(),
                element.partition(),
                (high - position).max(0),
            ));
        }
        Ok(lag)
    }
}

/// A received message as a [`Delivery`].
pub(super) fn delivery(message: &rdkafka::message::BorrowedMessage<'_>) -> Delivery {
    let headers = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|header| (header.key.to_string(), header.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    Delivery {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        payload: message.payload().unwrap_or_default().to_vec(),
        headers,
    }
}
