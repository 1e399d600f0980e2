//! The transactional outbox of the SQL adapters: a committed write always
//! yields its event (even if the bus was down at the time), a rolled-back
//! write never does.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dictamesh::events::{ChangePublisher, ChangeType, EntityChangeEvent, InProcessBus, PublishError};
use dictamesh::{Subgraph, async_trait};
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
