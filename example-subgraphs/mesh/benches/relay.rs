//! Throughput of the transactional outbox's relay: a backlog of changes is
//! recorded in the outbox of the customers database (a SQLite file, and a
//! fresh PostgreSQL database), then the subgraph's relay publishes them to
//! the embedded SQLite log bus and to Kafka (on a topic of the run's own);
//! prints events/s from the start of the relay until the outbox is empty
//! (every row removed only once its publish was acknowledged).
//!
//! `cargo bench -p dictamesh-example-mesh --bench relay [-- ROWS]` (20,000 by
//! default) against the machine's PostgreSQL (`TEST_POSTGRES_URL`, default
//! postgres://postgres@127.0.0.1:5432/test) and Kafka-protocol broker
//! (`KAFKA_BROKERS`, default 127.0.0.1:9092).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dictamesh::events::codec::Encoder;
use dictamesh::events::feed::ChangeFeed;
use dictamesh::events::kafka::{KafkaConfig, KafkaPublisher, ensure_topics};
use dictamesh::events::log_bus::LogBus;
use dictamesh::events::{ChangePublisher, ChangeType, EntityChangeEvent, PublishError, SourceChange};
use dictamesh::{Subgraph, WritableAdapter, async_trait};
use dictamesh_example_mesh::Database;
use dictamesh_example_mesh::customers::SqlCustomers;
use sqlx::Connection;

// The tests' databases; the benchmark uses only part of the module.
#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

const TOPIC: &str = "customers.customers-db.entity_changed";

/// Kafka under a domain of the run's own: the benchmark's events go to a topic
/// nobody else reads, not to the customers' topic that tests and subscribers
/// on the same broker follow.
struct OwnTopic {
    kafka: KafkaPublisher,
    domain: String,
}

impl OwnTopic {
    fn moved(&self, event: &EntityChangeEvent) -> EntityChangeEvent {
        EntityChangeEvent {
            domain: self.domain.clone(),
            ..event.clone()
        }
    }
}

#[async_trait]
impl ChangePublisher for OwnTopic {
    async fn publish(&self, event: &EntityChangeEvent) -> Result<(), PublishError> {
        self.kafka.publish(&self.moved(event)).await
    }

    async fn publish_all(&self, events: &[EntityChangeEvent]) -> Vec<Result<(), PublishError>> {
        let events: Vec<EntityChangeEvent> = events.iter().map(|e| self.moved(e)).collect();
        self.kafka.publish_all(&events).await
    }
}

/// A new database of `backend`, and its name when it must be dropped.
async fn open(backend: &str, dir: &std::path::Path, admin: &str) -> (Database, Option<String>) {
    match backend {
        "sqlite" => (support::sqlite_in(dir).await, None),
        _ => {
            let (db, name) = support::postgres_named(admin).await;
            (db, Some(name))
        }
    }
}

/// Records `rows` changes of 1,000 customers in the outbox, relays them to
/// `publisher` and returns how long the relay took to empty the outbox.
async fn relay(db: Database, publisher: Arc<dyn ChangePublisher>, rows: usize) -> Duration {
    let adapter = Arc::new(SqlCustomers::new(db.clone()).await.expect("the customers tables"));
    let outbox = adapter.outbox().expect("SQL customers have an outbox").clone();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(1000) {
        let mut transaction = db.pool().begin().await.expect("begin");
        for i in chunk {
            let change = SourceChange::new(ChangeType::Updated, "id", format!("c{}", i % 1000));
            outbox
                .record(&mut *transaction, "Customer", &change)
                .await
                .expect("record");
        }
        transaction.commit().await.expect("commit");
    }
    let subgraph = Subgraph::builder("customers")
        .writable(adapter)
        .publisher(publisher)
        .build()
        .expect("the subgraph");
    let started = Instant::now();
    let followers = subgraph.spawn_change_followers();
    while !outbox
        .pending("Customer", 1)
        .await
        .expect("read the outbox")
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the relay did not empty the outbox in 10 minutes"
        );
    }
    let took = started.elapsed();
    for follower in followers {
        follower.abort();
    }
    took
}

fn report(name: &str, rows: usize, took: Duration) {
    println!(
        "{name}: {rows} events in {:.2} s = {:.0} events/s",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let admin = support::postgres_admin_url();
    let kafka = KafkaConfig::new(std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()));
    let domain = format!("relaybench{}", uuid::Uuid::new_v4().simple());
    ensure_topics(&kafka, &[format!("{domain}.customers-db.entity_changed")])
        .await
        .expect("the topic");
    let kafka: Arc<dyn ChangePublisher> = Arc::new(OwnTopic {
        kafka: KafkaPublisher::new(&kafka, Encoder::json()).expect("a producer"),
        domain,
    });
    let dir = tempfile::tempdir().expect("a temporary directory");

    for backend in ["sqlite", "postgres"] {
        let bus = LogBus::open(&dir.path().join(format!("events-{backend}.db")))
            .await
            .expect("the log bus");
        let (db, created) = open(backend, dir.path(), &admin).await;
        let took = relay(db, Arc::new(bus.clone()), rows).await;
        let logged = bus.end(TOPIC).await.expect("the log's end").next_offset(TOPIC, 0);
        assert_eq!(logged as usize, rows, "every event is in the log");
        report(&format!("outbox on {backend} → SQLite log bus"), rows, took);
        let (db, created_too) = open(backend, dir.path(), &admin).await;
        let took = relay(db, kafka.clone(), rows).await;
        report(&format!("outbox on {backend} → Kafka"), rows, took);
        for name in created.into_iter().chain(created_too) {
            let mut connection = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL");
            // Pools of the benchmark may still hold connections: force them out.
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut connection)
                .await;
        }
    }
}
