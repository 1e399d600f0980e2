//! The embedded event bus: a durable SQLite log with consumer groups, and
//! cache invalidation across replicas through it.
#![cfg(feature = "sqlite-bus")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dictamesh::events::bus::{Consumer, EventSource, RecentIds};
use dictamesh::events::codec::Decoder;
use dictamesh::events::log_bus::LogBus;
use dictamesh::events::{CacheInvalidation, ChangePublisher, ChangeType, EntityChangeEvent, EntityReference};
use dictamesh::{AdapterError, DataProductAdapter, EntityKey, ID, Subgraph, WritableAdapter, async_trait};

/// A counter.
#[dictamesh::entity(key = "id", domain = "counters", source = "memory", lookup = "counter")]
#[derive(Clone, Debug)]
pub struct Counter {
    pub id: ID,
    pub value: i32,
}

/// What `createCounter` takes.
#[dictamesh::input]
pub struct NewCounter {
    pub value: i32,
}

/// What `updateCounter` takes.
#[dictamesh::input]
pub struct CounterPatch {
    pub value: Option<i32>,
}

/// One store shared by the replicas, counting source calls.
#[derive(Default)]
struct Store {
    counters: std::sync::Mutex<std::collections::HashMap<String, i32>>,
    calls: AtomicUsize,
}

#[async_trait]
impl DataProductAdapter for Store {
    type Entity = Counter;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Counter>>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let counters = self.counters.lock().unwrap();
        Ok(keys
            .iter()
            .map(|k| {
                let id = k.id()?;
                counters.get(&id).map(|v| Counter {
                    id: ID(id.clone()),
                    value: *v,
                })
            })
            .collect())
    }
}

#[async_trait]
impl WritableAdapter for Store {
    type Draft = NewCounter;
    type Patch = CounterPatch;

    async fn create(&self, draft: NewCounter) -> Result<Counter, AdapterError> {
        self.counters.lock().unwrap().insert("c".into(), draft.value);
        Ok(Counter {
            id: ID("c".into()),
            value: draft.value,
        })
    }

    async fn update(&self, key: &EntityKey, patch: CounterPatch) -> Result<Counter, AdapterError> {
        let id = key.id().unwrap_or_default();
        let mut counters = self.counters.lock().unwrap();
        let value = counters.get_mut(&id).ok_or_else(|| AdapterError::NotFound {
            entity_type: "Counter".into(),
            key: id.clone(),
        })?;
        if let Some(new) = patch.value {
            *value = new;
        }
        Ok(Counter {
            id: ID(id),
            value: *value,
        })
    }

    async fn delete(&self, _key: &EntityKey) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("delete"))
    }
}

async fn value(subgraph: &Subgraph) -> serde_json::Value {
    serde_json::to_value(subgraph.execute(r#"{ counter(id: "c") { value } }"#).await).unwrap()["data"]["counter"]
        ["value"]
        .clone()
}

#[tokio::test]
async fn a_write_on_one_replica_invalidates_the_cache_of_another() {
    let dir = tempfile::tempdir().unwrap();
    let bus = LogBus::open(&dir.path().join("events.db")).await.unwrap();
    let store = Arc::new(Store::default());
    let replica = || {
        Subgraph::builder("counters")
            .writable(store.clone())
            .publisher(Arc::new(bus.clone()))
            .build()
            .unwrap()
    };
    let (a, b) = (replica(), replica());
    serde_json::to_value(
        a.execute("mutation { createCounter(input: {value: 1}) { id } }")
            .await,
    )
    .unwrap();
    assert_eq!(value(&b).await, 1);
    assert_eq!(value(&b).await, 1, "served from b's cache");
    let calls = store.calls.load(Ordering::SeqCst);

    let invalidation = Arc::new(CacheInvalidation::new(b.sources().to_vec()));
    let topics = invalidation.topics();
    assert_eq!(topics, ["counters.memory.entity_changed"]);
    let source = bus.source(
        "replica-b",
        &topics.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut consumer = Consumer::new(
        source,
        invalidation,
        Arc::new(RecentIds::new(100)),
        Arc::new(bus.clone()),
        Decoder::json(),
    )
    .with_metrics(b.metrics().clone(), "replica-b");
    consumer.run_once(Duration::from_millis(200)).await.unwrap();

    a.execute(r#"mutation { updateCounter(id: "c", patch: {value: 2}) { value } }"#)
        .await;
    let outcome = consumer.run_once(Duration::from_secs(2)).await.unwrap();
    assert_eq!(outcome.handled, 1);
    assert_eq!(
        value(&b).await,
        2,
        "b dropped its cached copy and read the source again"
    );
    assert_eq!(store.calls.load(Ordering::SeqCst), calls + 1);

    let late = bus.source(
        "late-reader",
        &topics.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut late = Consumer::new(
        late,
        Arc::new(CacheInvalidation::new(b.sources().to_vec())),
        Arc::new(RecentIds::new(100)),
        Arc::new(bus.clone()),
        Decoder::json(),
    )
    .batch_size(1)
    .with_metrics(b.metrics().clone(), "late-reader");
    late.run_once(Duration::from_secs(2)).await.unwrap();

    let metrics = b.render_metrics();
    for line in [
        r#"dictamesh_consumer_messages_total{group="replica-b",outcome="handled",subgraph="counters"} 2"#,
        r#"dictamesh_consumer_messages_total{group="late-reader",outcome="handled",subgraph="counters"} 1"#,
        r#"dictamesh_consumer_lag{group="late-reader",partition="0",topic="counters.memory.entity_changed",subgraph="counters"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

fn event(i: usize) -> EntityChangeEvent {
    EntityChangeEvent {
        event_id: format!("e{i}"),
        event_type: ChangeType::Created,
        timestamp: 0,
        source_system: "memory".into(),
        domain: "counters".into(),
        entity: EntityReference {
            entity_type: "Counter".into(),
            id: format!("c{i}"),
            version: 1,
            url: String::new(),
            etag: None,
        },
        changed_fields: Vec::new(),
        relationships: Vec::new(),
        metadata: Default::default(),
        trace_context: Default::default(),
    }
}

#[tokio::test]
async fn the_log_survives_a_restart_and_groups_resume_where_they_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let bus = LogBus::open(&path).await.unwrap();
        for i in 0..5 {
            bus.publish(&event(i)).await.unwrap();
        }
        let mut source = bus.source("g", &["counters.memory.entity_changed"]);
        let first = source.poll(2, Duration::from_millis(10)).await.unwrap();
        assert_eq!(first.iter().map(|d| d.offset).collect::<Vec<_>>(), [0, 1]);
        source.commit(&first).await.unwrap();
    }
    let bus = LogBus::open(&path).await.unwrap();
    let mut source = bus.source("g", &["counters.memory.entity_changed"]);
    let rest = source.poll(10, Duration::from_millis(10)).await.unwrap();
    assert_eq!(rest.iter().map(|d| d.offset).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(
        source.lag().await.unwrap(),
        [("counters.memory.entity_changed".to_string(), 0, 3)]
    );
    let other_group = bus
        .source("h", &["counters.memory.entity_changed"])
        .poll(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(other_group.len(), 5, "each group reads the whole log");
}

#[tokio::test]
async fn a_subgraph_announces_its_entity_types_for_the_catalog() {
    use dictamesh::events::registration::{ENTITY_REGISTERED_TOPIC, EntityRegisteredEvent};
    let dir = tempfile::tempdir().unwrap();
    let bus = LogBus::open(&dir.path().join("events.db")).await.unwrap();
    let subgraph = Subgraph::builder("counters")
        .writable(Arc::new(Store::default()))
        .public_url("http://counters:4001/graphql")
        .build()
        .unwrap();
    subgraph.publish_registrations(&bus).await.unwrap();
    let delivered = bus
        .source("catalog", &[ENTITY_REGISTERED_TOPIC])
        .poll(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    let event: EntityRegisteredEvent = serde_json::from_slice(&delivered[0].payload).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&delivered[0].payload).unwrap();
    assert_eq!(
        json["registration"]["entityType"], "Counter",
        "camelCase, as the catalog takes it"
    );
    assert_eq!(event.registration.domain, "counters");
    assert_eq!(event.registration.api_base_url, "http://counters:4001/graphql");
    assert_eq!(event.registration.freshness_sla_seconds, Some(5));
    assert_eq!(
        event
            .schema
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "value"]
    );
}

#[tokio::test]
async fn positioned_readers_start_at_the_end_or_resume_from_a_cursor_token() {
    use dictamesh::events::bus::RawPublisher;
    use dictamesh::events::feed::{ChangeFeed, Cursor};

    let dir = tempfile::tempdir().unwrap();
    let bus = LogBus::open(&dir.path().join("events.db")).await.unwrap();
    bus.publish(&event(0)).await.unwrap();
    bus.send("counters.memory.entity_changed.dlq", None, b"poison", &[])
        .await
        .unwrap();
    let end = bus.end("*.entity_changed").await.unwrap();
    assert_eq!(end.next_offset("counters.memory.entity_changed", 0), 1);

    let everything = bus
        .read("*.entity_changed", &Cursor::default(), 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        everything.iter().map(|d| d.topic.as_str()).collect::<Vec<_>>(),
        ["counters.memory.entity_changed"],
        "the pattern matches by suffix: dead letters are not change events"
    );

    let waiting = {
        let bus = bus.clone();
        let end = end.clone();
        tokio::spawn(async move {
            bus.read("*.entity_changed", &end, 10, Duration::from_secs(10))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    bus.publish(&event(1)).await.unwrap();
    bus.publish(&event(2)).await.unwrap();
    let woken = waiting.await.unwrap().unwrap();
    assert_eq!(
        woken[0].offset, 1,
        "a reader waiting at the end wakes up on append"
    );

    let mut cursor = end;
    cursor.advance(&woken[0]);
    let resumed = Cursor::decode(&cursor.encode()).unwrap();
    let rest = bus
        .read("*.entity_changed", &resumed, 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|d| d.offset).collect::<Vec<_>>(), [2]);
}

/// Refuses, in the log at `path`, every message keyed `key` (a trigger: the
/// log fails to store those, as a broker refusing them would).
async fn refuse_key(path: &std::path::Path, key: &str) {
    use sqlx::Connection;
    let mut log = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(&format!(
        "CREATE TRIGGER refuse BEFORE INSERT ON bus_messages WHEN NEW.key = CAST('{key}' AS BLOB)
         BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ))
    .execute(&mut log)
    .await
    .unwrap();
}

#[tokio::test]
async fn queued_appends_share_a_transaction_and_a_refused_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let bus = LogBus::open(&path).await.unwrap();
    refuse_key(&path, "c1").await;
    let events: Vec<EntityChangeEvent> = (0..4).map(event).collect();
    let outcomes = bus.publish_all(&events).await;
    assert_eq!(
        outcomes.iter().map(Result::is_ok).collect::<Vec<_>>(),
        [true, false, true, true],
        "{outcomes:?}"
    );
    let stored = bus
        .source("g", &["counters.memory.entity_changed"])
        .poll(10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|d| (d.offset, d.header("event_id").unwrap()))
            .collect::<Vec<_>>(),
        [(0, "e0"), (1, "e2"), (2, "e3")],
        "the accepted messages are stored in order, without a gap"
    );
}
