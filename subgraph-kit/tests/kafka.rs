//! Change events through a real Kafka-protocol broker (`KAFKA_BROKERS`,
//! default 127.0.0.1:9092; `.ci/run` starts tansu there): the idempotent
//! producer (per-entity order, headers, batches whose failures are reported
//! per event), the consumer loop's at-least-once delivery, de-duplication and
//! dead-letter topic.
#![cfg(feature = "kafka")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dictamesh::events::bus::{
    Consumer, Deduplicator, EventHandler, EventSource, HandlerError, RawPublisher, RecentIds,
    dead_letter_topic,
};
use dictamesh::events::codec::Decoder;
use dictamesh::events::kafka::{KafkaConfig, KafkaPublisher, KafkaSource, ensure_topics};
use dictamesh::events::{
    ChangePublisher, ChangeType, EntityChangeEvent, EntityReference, TraceContext, codec::Encoder,
};

fn config() -> KafkaConfig {
    let mut config =
        KafkaConfig::new(std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()));
    config.partitions = 3;
    config
}

fn event(domain: &str, id: usize) -> EntityChangeEvent {
    EntityChangeEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        event_type: ChangeType::Updated,
        timestamp: 1_700_000_000_000,
        source_system: "test".into(),
        domain: domain.into(),
        entity: EntityReference {
            entity_type: "Book".into(),
            id: format!("b{id}"),
            version: id as i64,
            url: "http://library/graphql".into(),
            etag: None,
        },
        changed_fields: vec!["title".into()],
        relationships: Vec::new(),
        metadata: Default::default(),
        trace_context: TraceContext::default(),
    }
}

#[derive(Default)]
struct Collect {
    seen: Mutex<Vec<EntityChangeEvent>>,
    poison: Option<String>,
}

#[dictamesh::async_trait]
impl EventHandler for Collect {
    async fn handle(&self, events: &[EntityChangeEvent]) -> Result<(), HandlerError> {
        if let Some(poison) = &self.poison
            && events.iter().any(|e| &e.entity.id == poison)
        {
            return Err(HandlerError::Permanent(format!("cannot handle {poison}")));
        }
        self.seen.lock().unwrap().extend(events.iter().cloned());
        Ok(())
    }
}

/// A new domain with its `entity_changed` topic created, and the broker's config.
async fn fresh_topic() -> (String, String, KafkaConfig) {
    let domain = format!("test{}", uuid::Uuid::new_v4().simple());
    let topic = format!("{domain}.test.entity_changed");
    let config = config();
    ensure_topics(&config, std::slice::from_ref(&topic))
        .await
        .unwrap();
    (domain, topic, config)
}

async fn drain<S: EventSource>(consumer: &mut Consumer<S>, expected: usize) -> usize {
    let mut handled = 0;
    for _ in 0..100 {
        handled += consumer
            .run_once(Duration::from_millis(500))
            .await
            .unwrap()
            .handled;
        if handled >= expected {
            break;
        }
    }
    handled
}

#[tokio::test]
async fn events_flow_at_least_once_without_duplicates_and_poison_goes_to_the_dead_letter_topic() {
    let domain = format!("test{}", uuid::Uuid::new_v4().simple());
    let topic = format!("{domain}.test.entity_changed");
    let config = config();
    ensure_topics(&config, &[topic.clone(), dead_letter_topic(&topic)])
        .await
        .unwrap();
    let publisher = Arc::new(KafkaPublisher::new(&config, Encoder::json()).unwrap());
    let events: Vec<EntityChangeEvent> = (0..20).map(|i| event(&domain, i)).collect();
    for e in &events {
        publisher.publish(e).await.unwrap();
    }
    // A redelivery (same event id) and a message that is not an event.
    publisher.publish(&events[3]).await.unwrap();
    publisher
        .send(&topic, Some(b"junk"), b"{ not an event", &[])
        .await
        .unwrap();

    let handler = Arc::new(Collect {
        poison: Some("b7".into()),
        ..Collect::default()
    });
    let dedup: Arc<dyn Deduplicator> = Arc::new(RecentIds::new(1000));
    let group = format!("g-{}", uuid::Uuid::new_v4());
    let source = KafkaSource::new(&config, &group, &[&topic]).unwrap();
    let mut consumer = Consumer::new(source, handler.clone(), dedup, publisher.clone(), Decoder::json());
    let handled = drain(&mut consumer, 19).await;
    assert_eq!(handled, 19, "20 events, one of them poison");
    let seen = handler.seen.lock().unwrap().clone();
    let mut ids: Vec<&str> = seen.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 19, "the redelivered event was handled once");

    let dead = KafkaSource::new(&config, &format!("{group}-dlq"), &[&dead_letter_topic(&topic)]).unwrap();
    let mut dead = dead;
    let mut letters = Vec::new();
    for _ in 0..20 {
        letters.extend(dead.poll(10, Duration::from_millis(500)).await.unwrap());
        if letters.len() >= 2 {
            break;
        }
    }
    let mut reasons: Vec<String> = letters
        .iter()
        .map(|l| l.header("dlq.reason").unwrap_or_default().to_string())
        .collect();
    reasons.sort();
    assert_eq!(letters.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("cannot handle b7"), "{reasons:?}");
    assert!(reasons[1].contains("invalid JSON event"), "{reasons:?}");
    assert!(
        letters
            .iter()
            .all(|l| l.header("dlq.original_topic") == Some(topic.as_str()))
    );
}

#[tokio::test]
async fn publish_all_keeps_each_entitys_order_and_headers_and_fails_only_the_event_that_cannot_go() {
    let (domain, topic, config) = fresh_topic().await;
    let publisher = KafkaPublisher::new(&config, Encoder::json()).unwrap();
    // 5 entities, 40 versions each, interleaved; every other event traced.
    let mut events = Vec::new();
    for version in 0..40 {
        for entity in 0..5 {
            let mut event = event(&domain, entity);
            event.entity.version = version;
            if (version as usize + entity).is_multiple_of(2) {
                event.trace_context = TraceContext {
                    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                    span_id: format!("{:016x}", version),
                    parent_span_id: None,
                };
            }
            events.push(event);
        }
    }
    let (first, second) = events.split_at(100);
    for outcome in publisher.publish_all(first).await {
        outcome.unwrap();
    }
    // An event over the producer's message size limit fails alone, at its index.
    let mut huge = event(&domain, 99);
    huge.changed_fields = vec!["x".repeat(2_000_000)];
    let mut batch = second.to_vec();
    batch.insert(50, huge.clone());
    let outcomes = publisher.publish_all(&batch).await;
    assert_eq!(outcomes.len(), batch.len());
    for (index, outcome) in outcomes.iter().enumerate() {
        if index == 50 {
            let error = outcome.as_ref().unwrap_err();
            assert_eq!(error.event_id, huge.event_id);
            assert!(error.reason.contains("too large"), "{}", error.reason);
        } else {
            assert!(outcome.is_ok(), "{index}: {outcome:?}");
        }
    }
    assert!(publisher.publish_all(&[]).await.is_empty());

    let group = format!("g-{}", uuid::Uuid::new_v4());
    let mut source = KafkaSource::new(&config, &group, &[&topic]).unwrap();
    let mut deliveries = Vec::new();
    for _ in 0..40 {
        deliveries.extend(source.poll(500, Duration::from_millis(500)).await.unwrap());
        if deliveries.len() >= events.len() {
            break;
        }
    }
    assert_eq!(deliveries.len(), events.len());
    deliveries.sort_by_key(|d| (d.partition, d.offset));
    let decoder = Decoder::json();
    let mut last_version: HashMap<String, i64> = HashMap::new();
    for delivery in &deliveries {
        let decoded = decoder
            .decode(&delivery.payload, delivery.header("content-type"))
            .await
            .unwrap();
        assert_eq!(delivery.key.as_deref(), Some(decoded.entity.id.as_bytes()));
        assert_eq!(delivery.header("content-type"), Some("application/json"));
        assert_eq!(delivery.header("event_id"), Some(decoded.event_id.as_str()));
        let context = &decoded.trace_context;
        let parent =
            (!context.trace_id.is_empty()).then(|| format!("00-{}-{}-01", context.trace_id, context.span_id));
        assert_eq!(delivery.header("traceparent"), parent.as_deref());
        let version = decoded.entity.version;
        if let Some(previous) = last_version.insert(decoded.entity.id.clone(), version) {
            assert_eq!(version, previous + 1, "{} out of order", decoded.entity.id);
        }
    }
    assert_eq!(last_version.len(), 5);
    assert!(last_version.values().all(|&version| version == 39));
}

#[tokio::test]
async fn a_restarted_consumer_resumes_after_its_committed_offsets() {
    let (domain, topic, config) = fresh_topic().await;
    let publisher = Arc::new(KafkaPublisher::new(&config, Encoder::json()).unwrap());
    for i in 0..10 {
        publisher.publish(&event(&domain, i)).await.unwrap();
    }
    let group = format!("g-{}", uuid::Uuid::new_v4());
    let first = Arc::new(Collect::default());
    {
        let source = KafkaSource::new(&config, &group, &[&topic]).unwrap();
        let mut consumer = Consumer::new(
            source,
            first.clone(),
            Arc::new(RecentIds::new(100)),
            publisher.clone(),
            Decoder::json(),
        )
        .batch_size(4);
        let mut handled = 0;
        while handled < 4 {
            handled += consumer
                .run_once(Duration::from_millis(500))
                .await
                .unwrap()
                .handled;
        }
    }
    let done = first.seen.lock().unwrap().len();
    let second = Arc::new(Collect::default());
    let source = KafkaSource::new(&config, &group, &[&topic]).unwrap();
    let mut consumer = Consumer::new(
        source,
        second.clone(),
        Arc::new(RecentIds::new(100)),
        publisher.clone(),
        Decoder::json(),
    );
    let handled = drain(&mut consumer, 10 - done).await;
    assert_eq!(
        done + handled,
        10,
        "no event lost, none handled twice across the restart"
    );
    let lag: i64 = consumer
        .source_mut()
        .lag()
        .await
        .unwrap()
        .iter()
        .map(|(_, _, l)| l)
        .sum();
    assert_eq!(lag, 0);
}

#[tokio::test]
async fn a_pattern_subscription_reads_every_matching_topic_even_new_ones() {
    let domain = format!("pattern{}", uuid::Uuid::new_v4().simple());
    let config = config();
    let first = format!("one.{domain}.entity_changed");
    ensure_topics(&config, std::slice::from_ref(&first))
        .await
        .unwrap();
    let publisher = Arc::new(KafkaPublisher::new(&config, Encoder::json()).unwrap());
    let mut one = event("one", 1);
    one.source_system = domain.clone();
    publisher.publish(&one).await.unwrap();

    let handler = Arc::new(Collect::default());
    let pattern = format!("*.{domain}.entity_changed");
    let source = KafkaSource::new(
        &config,
        &format!("g-{}", uuid::Uuid::new_v4()),
        &[pattern.as_str()],
    )
    .unwrap();
    let mut consumer = Consumer::new(
        source,
        handler.clone(),
        Arc::new(RecentIds::new(10_000)),
        publisher.clone(),
        Decoder::json(),
    );
    let mine = |handler: &Collect| handler.seen.lock().unwrap().len();
    for _ in 0..40 {
        consumer.run_once(Duration::from_millis(500)).await.unwrap();
        if mine(&handler) >= 1 {
            break;
        }
    }
    assert_eq!(mine(&handler), 1, "the existing topic is read");

    let second = format!("two.{domain}.entity_changed");
    ensure_topics(&config, std::slice::from_ref(&second))
        .await
        .unwrap();
    let mut two = event("two", 2);
    two.source_system = domain.clone();
    publisher.publish(&two).await.unwrap();
    for _ in 0..120 {
        consumer.run_once(Duration::from_millis(500)).await.unwrap();
        if mine(&handler) >= 2 {
            break;
        }
    }
    assert_eq!(mine(&handler), 2, "a topic created later is read too");
}

#[tokio::test]
async fn a_positioned_reader_starts_at_the_end_and_resumes_from_a_cursor() {
    use dictamesh::events::feed::{ChangeFeed, Cursor};
    use dictamesh::events::kafka_feed::KafkaFeed;

    let domain = format!("feed{}", uuid::Uuid::new_v4().simple());
    let config = config();
    let topic = format!("{domain}.test.entity_changed");
    ensure_topics(&config, std::slice::from_ref(&topic))
        .await
        .unwrap();
    let publisher = KafkaPublisher::new(&config, Encoder::json()).unwrap();
    for id in 0..3 {
        publisher.publish(&event(&domain, id)).await.unwrap();
    }
    let feed = KafkaFeed::new(&config).unwrap();
    let end = feed.end(&topic).await.unwrap();
    assert_eq!(end.positions().map(|(_, _, next)| next).sum::<i64>(), 3);

    let mut all = Vec::new();
    for _ in 0..10 {
        all = feed
            .read(&topic, &Cursor::default(), 10, Duration::from_secs(1))
            .await
            .unwrap();
        if all.len() == 3 {
            break;
        }
    }
    assert_eq!(all.len(), 3, "a cursor from the start reads everything");

    let waiting = {
        let end = end.clone();
        let topic = topic.clone();
        tokio::spawn(async move { feed.read(&topic, &end, 10, Duration::from_secs(20)).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    publisher.publish(&event(&domain, 3)).await.unwrap();
    let news = waiting.await.unwrap().unwrap();
    assert_eq!(news.len(), 1, "a reader at the end sees only what came after");
    let decoded = Decoder::json()
        .decode(&news[0].payload, news[0].header("content-type"))
        .await
        .unwrap();
    assert_eq!(decoded.entity.id, "b3");

    let mut cursor = Cursor::decode(&end.encode()).unwrap();
    cursor.advance(&news[0]);
    let feed = KafkaFeed::new(&config).unwrap();
    let rest = feed
        .read(&topic, &cursor, 10, Duration::from_millis(500))
        .await
        .unwrap();
    assert!(rest.is_empty(), "nothing after the last event seen");
}
