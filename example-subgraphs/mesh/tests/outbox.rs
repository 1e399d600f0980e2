//! The transactional outbox of the SQL adapters: a committed write always
//! yields its event (even if the bus was down at the time), a rolled-back
//! write never does; a batch whose publish fails in part leaves exactly the
//! unacknowledged rows behind, in order.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dictamesh::events::bus::EventSource;
use dictamesh::events::feed::ChangeFeed;
use dictamesh::events::log_bus::LogBus;
use dictamesh::events::{ChangePublisher, ChangeType, EntityChangeEvent, InProcessBus, PublishError};
use dictamesh::{Subgraph, WritableAdapter, async_trait};
use dictamesh_example_mesh::Database;
use dictamesh_example_mesh::customers::{self, SqlCustomers};
use tokio::sync::broadcast::Receiver;

/// The in-process bus behind a switch that makes it refuse events, as a
/// broker that is down would.
struct Switchable {
    bus: InProcessBus,
    down: AtomicBool,
}

#[async_trait]
impl ChangePublisher for Switchable {
    async fn publish(&self, event: &EntityChangeEvent) -> Result<(), PublishError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PublishError {
                event_id: event.event_id.clone(),
                reason: "broker unreachable".into(),
            });
        }
        self.bus.publish(event).await
    }
}

async fn next(events: &mut Receiver<Arc<EntityChangeEvent>>) -> Arc<EntityChangeEvent> {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event within 5 s")
        .expect("the bus is open")
}

async fn outbox_delivers_committed_writes_only(db: Database) {
    let publisher = Arc::new(Switchable {
        bus: InProcessBus::new(16),
        down: AtomicBool::new(false),
    });
    let mut events = publisher.bus.subscribe();
    let subgraph: Subgraph = customers::subgraph(SqlCustomers::new(db.clone()).await.unwrap())
        .publisher(publisher.clone())
        .build()
        .unwrap();
    let followers = subgraph.spawn_change_followers();

    let created = subgraph
        .execute(
            r#"mutation { createCustomer(input: {name: "John Doe", email: "john@example.com"}) { id } }"#,
        )
        .await;
    let id = serde_json::to_value(created).unwrap()["data"]["createCustomer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let event = next(&mut events).await;
    assert_eq!(
        (event.event_type, event.entity.id.as_str()),
        (ChangeType::Created, id.as_str())
    );
    assert_eq!(event.topic(), "customers.customers-db.entity_changed");

    let conflict = subgraph
        .execute(r#"mutation { createCustomer(input: {name: "Other", email: "john@example.com"}) { id } }"#)
        .await;
    assert!(!conflict.errors.is_empty(), "a duplicate e-mail is refused");

    publisher.down.store(true, Ordering::SeqCst);
    subgraph
        .execute(format!(
            r#"mutation {{ updateCustomer(id: "{id}", patch: {{name: "John Q. Doe"}}) {{ name }} }}"#
        ))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        events.try_recv().is_err(),
        "nothing got through while the bus was down"
    );
    publisher.down.store(false, Ordering::SeqCst);
    let event = next(&mut events).await;
    assert_eq!(
        event.event_type,
        ChangeType::Updated,
        "the rolled-back duplicate produced no event"
    );
    assert_eq!(event.changed_fields, ["name"]);
    for follower in followers {
        follower.abort();
    }
}

#[tokio::test]
async fn outbox_on_sqlite() {
    outbox_delivers_committed_writes_only(support::sqlite().await).await;
}

#[tokio::test]
async fn outbox_on_postgres() {
    outbox_delivers_committed_writes_only(support::postgres().await).await;
}

const TOPIC: &str = "customers.customers-db.entity_changed";

/// Waits until the log holds `count` events on the customers' topic.
async fn logged(bus: &LogBus, count: i64) {
    for _ in 0..500 {
        if bus.end(TOPIC).await.unwrap().next_offset(TOPIC, 0) >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the log never held {count} events");
}

/// Runs `statement` on the log's SQLite file (beside the bus's own pool).
async fn on_log(path: &std::path::Path, statement: &str) {
    use sqlx::Connection;
    let mut log = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(statement).execute(&mut log).await.unwrap();
}

async fn a_partly_published_batch_leaves_the_unacknowledged_rows(db: Database) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let bus = LogBus::open(&path).await.unwrap();
    let adapter = Arc::new(SqlCustomers::new(db).await.unwrap());
    let subgraph = Subgraph::builder("customers")
        .writable(adapter.clone())
        .publisher(Arc::new(bus.clone()))
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for name in ["Ada", "Bob", "Cy"] {
        let created = subgraph
            .execute(format!(
                r#"mutation {{ createCustomer(input: {{name: "{name}", email: "{name}@example.com"}}) {{ id }} }}"#
            ))
            .await;
        let created = serde_json::to_value(created).unwrap();
        ids.push(
            created["data"]["createCustomer"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for id in &ids {
        subgraph
            .execute(format!(
                r#"mutation {{ updateCustomer(id: "{id}", patch: {{name: "Renamed"}}) {{ name }} }}"#
            ))
            .await;
    }
    let outbox = adapter.outbox().unwrap();
    assert_eq!(outbox.pending("Customer", 100).await.unwrap().len(), 6);

    // The log refuses Ada's events (a trigger on its table), as a broker
    // refusing those messages would; the relay's first batch holds all six rows.
    let ada = &ids[0];
    on_log(
        &path,
        &format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON bus_messages WHEN NEW.key = CAST('{ada}' AS BLOB)
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ),
    )
    .await;
    let followers = subgraph.spawn_change_followers();
    logged(&bus, 4).await;
    let mut left = Vec::new();
    for _ in 0..100 {
        left = outbox.pending("Customer", 100).await.unwrap();
        if left.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        left.iter()
            .map(|(_, change)| (change.key["id"].as_str().unwrap(), change.change_type))
            .collect::<Vec<_>>(),
        [
            (ada.as_str(), ChangeType::Created),
            (ada.as_str(), ChangeType::Updated)
        ],
        "Ada's refused event and the one behind it stay in the outbox; the others are gone"
    );

    on_log(&path, "DROP TRIGGER refuse").await;
    logged(&bus, 6).await;
    let stored = bus
        .source("check", &[TOPIC])
        .poll(10, Duration::ZERO)
        .await
        .unwrap();
    let events: Vec<EntityChangeEvent> = stored
        .iter()
        .map(|d| serde_json::from_slice(&d.payload).unwrap())
        .collect();
    let order = |id: &str| {
        events
            .iter()
            .filter(|e| e.entity.id == id)
            .map(|e| e.event_type)
            .collect::<Vec<_>>()
    };
    for id in &ids {
        assert_eq!(
            order(id),
            [ChangeType::Created, ChangeType::Updated],
            "each customer's events once, in order"
        );
    }
    for _ in 0..100 {
        if outbox.pending("Customer", 1).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(outbox.pending("Customer", 1).await.unwrap().is_empty());
    for follower in followers {
        follower.abort();
    }
}

#[tokio::test]
async fn partly_published_batch_on_sqlite() {
    a_partly_published_batch_leaves_the_unacknowledged_rows(support::sqlite().await).await;
}

#[tokio::test]
async fn partly_published_batch_on_postgres() {
    a_partly_published_batch_leaves_the_unacknowledged_rows(support::postgres().await).await;
}
