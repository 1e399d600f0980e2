//! Change events on a real Kafka-protocol broker (`KAFKA_BROKERS`, default
//! 127.0.0.1:9092): publish throughput from one process (a task per event,
//! and batches through `publish_all`), consumer throughput,
//! end-to-end latency, and cache invalidation latency across two replicas.
//!
//! `cargo bench -p dictamesh --features kafka --bench events`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dictamesh::events::bus::{Consumer, EventHandler, HandlerError, RecentIds};
use dictamesh::events::codec::{Decoder, Encoder};
use dictamesh::events::kafka::{KafkaConfig, KafkaPublisher, KafkaSource, ensure_topics};
use dictamesh::events::{
    CacheInvalidation, ChangePublisher, ChangeType, EntityChangeEvent, EntityReference, TraceContext,
};
use dictamesh::testing::{FaultInjector, MemoryAdapter};
use dictamesh::{ID, Subgraph, async_trait};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// CPU time this process has used so far (user and system, all threads), from
/// `/proc/self/stat` in clock ticks of 10 ms; `None` where there is no procfs.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime and stime
    // are the 12th and 13th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

/// `events` in `elapsed`, and the rate, as text.
fn rate(events: usize, elapsed: Duration) -> String {
    format!(
        "{events} events in {:.2} s = {:.0} events/s",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    )
}

/// The CPU this process spent per event since `before`, as text.
fn cpu_per_event(before: Option<Duration>, events: usize) -> String {
    match (before, cpu_time()) {
        (Some(before), Some(after)) => format!(
            "{:.1} µs CPU/event",
            (after - before).as_secs_f64() * 1e6 / events as f64
        ),
        _ => "CPU unknown".into(),
    }
}

fn event(domain: &str, id: usize) -> EntityChangeEvent {
    EntityChangeEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        event_type: ChangeType::Updated,
        timestamp: now_ms(),
        source_system: "bench".into(),
        domain: domain.into(),
        entity: EntityReference {
            entity_type: "Item".into(),
            id: format!("i{}", id % 10_000),
            version: id as i64,
            url: "http://bench/graphql".into(),
            etag: None,
        },
        changed_fields: vec!["value".into()],
        relationships: Vec::new(),
        metadata: Default::default(),
        trace_context: TraceContext::default(),
    }
}

/// Counts events and records how old they were on arrival.
#[derive(Default)]
struct Measure {
    count: AtomicUsize,
    latencies_ms: std::sync::Mutex<Vec<i64>>,
}

#[async_trait]
impl EventHandler for Measure {
    async fn handle(&self, events: &[EntityChangeEvent]) -> Result<(), HandlerError> {
        let now = now_ms();
        self.count.fetch_add(events.len(), Ordering::Relaxed);
        if let Ok(mut latencies) = self.latencies_ms.lock() {
            latencies.extend(events.iter().map(|e| now - e.timestamp));
        }
        Ok(())
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// An item.
#[dictamesh::entity(key = "id", domain = "bench", source = "memory", lookup = "item")]
#[derive(Clone, Debug)]
pub struct Item {
    pub id: ID,
    pub value: i32,
}

async fn consume(
    config: KafkaConfig,
    topic: String,
    publisher: Arc<KafkaPublisher>,
    handler: Arc<Measure>,
    expected: usize,
) -> Duration {
    let source = KafkaSource::new(
        &config,
        &format!("bench-{}", uuid::Uuid::new_v4()),
        &[topic.as_str()],
    )
    .unwrap();
    let mut consumer = Consumer::new(
        source,
        handler.clone(),
        Arc::new(RecentIds::new(200_000)),
        publisher,
        Decoder::json(),
    )
    .batch_size(2000);
    let started = Instant::now();
    while handler.count.load(Ordering::Relaxed) < expected {
        consumer.run_once(Duration::from_millis(500)).await.unwrap();
        if started.elapsed() > Duration::from_secs(300) {
            panic!(
                "consumed only {} of {expected}",
                handler.count.load(Ordering::Relaxed)
            );
        }
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let config = KafkaConfig::new(std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()));
    let domain = format!("bench{}", uuid::Uuid::new_v4().simple());
    let topic = format!("{domain}.bench.entity_changed");
    ensure_topics(&config, std::slice::from_ref(&topic))
        .await
        .unwrap();
    let publisher = Arc::new(KafkaPublisher::new(&config, Encoder::json()).unwrap());

    let total = 100_000;
    let cpu = cpu_time();
    let started = Instant::now();
    let mut pending = Vec::with_capacity(total);
    for i in 0..total {
        let publisher = publisher.clone();
        let event = event(&domain, i);
        pending.push(tokio::spawn(async move { publisher.publish(&event).await }));
    }
    for task in pending {
        task.await.unwrap().unwrap();
    }
    println!(
        "publish: {}, {} (idempotent producer, acks=all, JSON)",
        rate(total, started.elapsed()),
        cpu_per_event(cpu, total)
    );

    for batch in [1_000, 10_000] {
        let batched_domain = format!("{domain}batch{batch}");
        ensure_topics(&config, &[format!("{batched_domain}.bench.entity_changed")])
            .await
            .unwrap();
        let cpu = cpu_time();
        let started = Instant::now();
        for first in (0..total).step_by(batch) {
            let events: Vec<EntityChangeEvent> = (first..first + batch)
                .map(|i| event(&batched_domain, i))
                .collect();
            for outcome in publisher.publish_all(&events).await {
                outcome.unwrap();
            }
        }
        println!(
            "publish_all: {}, {} (one task, batches of {batch})",
            rate(total, started.elapsed()),
            cpu_per_event(cpu, total)
        );
    }

    let throughput = Arc::new(Measure::default());
    let consumed = consume(
        config.clone(),
        topic.clone(),
        publisher.clone(),
        throughput.clone(),
        total,
    )
    .await;
    println!(
        "consume: {} (decode, de-duplicate, handle, commit)",
        rate(total, consumed)
    );

    let latency_topic = format!("{domain}lat.bench.entity_changed");
    ensure_topics(&config, std::slice::from_ref(&latency_topic))
        .await
        .unwrap();
    let measure = Arc::new(Measure::default());
    let consumer = tokio::spawn(consume(
        config.clone(),
        latency_topic.clone(),
        publisher.clone(),
        measure.clone(),
        1001,
    ));
    // Wait until the consumer has joined its group and reads.
    let warm = event(&format!("{domain}lat"), 0);
    publisher.publish(&warm).await.unwrap();
    while measure.count.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    measure.latencies_ms.lock().unwrap().clear();
    for i in 0..1000 {
        publisher
            .publish(&event(&format!("{domain}lat"), i))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    consumer.await.unwrap();
    let mut latencies = measure.latencies_ms.lock().unwrap().clone();
    latencies.sort_unstable();
    println!(
        "end to end (publish → consumer handler): p50 {} ms, p99 {} ms over {} events",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len()
    );

    invalidation_latency(&config, publisher).await;
}

/// Two replicas of one subgraph: a write through replica A is published to
/// Kafka; replica B's consumer drops its cached copy. Measures from the write's
/// return to the moment B serves the new value.
async fn invalidation_latency(config: &KafkaConfig, publisher: Arc<KafkaPublisher>) {
    let store = Arc::new(MemoryAdapter::new((0..=100).map(|i| Item {
        id: ID(format!("i{i}")),
        value: 0,
    })));
    let (shared, _control) = FaultInjector::shared(store.clone());
    let replica_b = Subgraph::builder("bench").entity(shared).build().unwrap();
    let invalidation = Arc::new(CacheInvalidation::new(replica_b.sources().to_vec()));
    let topics = invalidation.topics();
    ensure_topics(config, &topics).await.unwrap();
    let source = KafkaSource::new(
        config,
        &format!("replica-b-{}", uuid::Uuid::new_v4()),
        &[topics[0].as_str()],
    )
    .unwrap();
    let mut consumer = Consumer::new(
        source,
        invalidation,
        Arc::new(RecentIds::new(10_000)),
        publisher.clone(),
        Decoder::json(),
    );
    let consuming = tokio::spawn(async move {
        loop {
            let _ = consumer.run_once(Duration::from_millis(100)).await;
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    publisher.publish(&event("bench", 0)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let value_of = |id: String| {
        let subgraph = replica_b.clone();
        async move {
            let response = subgraph
                .execute(format!(r#"{{ item(id: "{id}") {{ value }} }}"#))
                .await;
            let json = serde_json::to_value(response).unwrap();
            json["data"]["item"]["value"]
                .as_i64()
                .unwrap_or_else(|| panic!("{id}: {json}"))
        }
    };
    let mut samples = Vec::new();
    for round in 1..=100 {
        let id = format!("i{round}");
        assert_eq!(value_of(id.clone()).await, 0, "cached at 0");
        store.insert(Item {
            id: ID(id.clone()),
            value: round,
        });
        let mut change = event("bench", 0);
        change.entity.entity_type = "Item".into();
        change.entity.id = id.clone();
        change.source_system = "memory".into();
        publisher.publish(&change).await.unwrap();
        let written = Instant::now();
        while value_of(id.clone()).await != i64::from(round) {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if written.elapsed() > Duration::from_secs(10) {
                panic!("replica B never saw the change of {id}");
            }
        }
        samples.push(written.elapsed().as_millis() as i64);
    }
    consuming.abort();
    samples.sort_unstable();
    println!(
        "cache invalidation across replicas (write → event → other replica serves the new value): p50 {} ms, p99 {} ms",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );
}
