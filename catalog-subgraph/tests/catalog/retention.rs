//! Retention: entities past their `retention_days` get one DELETED event each,
//! published through the kit's publisher and recorded in `audit_log`; the
//! catalog ingests the event like any other. Audit records delivered by the
//! router's outbox are written once per record id.

use std::sync::Arc;

use chrono::{Duration, Utc};
use dictamesh::events::{ChangeType, InProcessBus};
use dictamesh_catalog::Database;
use dictamesh_catalog::audit::{AUDIT_TOPIC, AuditAction, count};
use dictamesh_catalog::ingest::{ENTITY_REGISTERED_TOPIC, IngestMessage, Ingestor};
use dictamesh_catalog::registry;
use dictamesh_catalog::retention::RetentionJob;
use serde_json::json;

use crate::support::{TestDb, on_both, registration};

async fn register(t: &TestDb, id: &str, retention_days: Option<i32>, last_seen_days_ago: i64) {
    let mut customer = registration("Customer", id, "crm");
    customer["retentionDays"] = json!(retention_days);
    let message = IngestMessage {
        topic: ENTITY_REGISTERED_TOPIC.into(),
        payload: json!({"event_id": format!("reg-{id}"), "timestamp": Utc::now().timestamp_millis(),
                        "registration": customer}),
    };
    let report = Ingestor::new(t.db.clone()).ingest(&[message]).await.unwrap();
    assert_eq!(report.ingested, 1, "{report:?}");
    let seen = dictamesh_catalog::db::stored_time(Utc::now() - Duration::days(last_seen_days_ago));
    let sql = "UPDATE entity_catalog SET last_seen_at = $1 WHERE source_entity_id = $2";
    match &t.db {
        Database::Postgres(pool) => {
            sqlx::query(sql).bind(seen).bind(id).execute(pool).await.unwrap();
        }
        Database::Sqlite(pool) => {
            sqlx::query(sql).bind(seen).bind(id).execute(pool).await.unwrap();
        }
    }
}

#[tokio::test]
async fn entities_past_retention_get_one_deleted_event_each() {
    on_both(|backend, t| async move {
        register(&t, "old", Some(30), 40).await;
        register(&t, "recent", Some(30), 10).await;
        register(&t, "kept", None, 4000).await;
        let bus = InProcessBus::default();
        let mut published = bus.subscribe();
        let job = RetentionJob::new(t.db.clone(), Arc::new(bus));

        let report = job.run_once(Utc::now()).await.unwrap();
        assert_eq!(
            (report.expired, report.published),
            (1, 1),
            "{backend:?}: {report:?}"
        );
        let event = published.try_recv().expect("a DELETED event");
        assert_eq!(event.event_type, ChangeType::Deleted);
        assert_eq!(event.entity.id, "old");
        assert_eq!(event.topic(), "customers.crm.entity_changed");
        assert!(published.try_recv().is_err(), "one event");
        assert_eq!(count(&t.db, AuditAction::RetentionDelete).await.unwrap(), 1);

        // A second run before the catalog ingested the event publishes nothing.
        let again = job.run_once(Utc::now()).await.unwrap();
        assert_eq!((again.published, again.already_published), (0, 1), "{again:?}");
        assert!(published.try_recv().is_err());

        // Ingested, the event deletes the entity; it is no longer past retention.
        let message = IngestMessage {
            topic: event.topic(),
            payload: serde_json::to_value(&*event).unwrap(),
        };
        let ingested = Ingestor::new(t.db.clone()).ingest(&[message]).await.unwrap();
        assert_eq!(ingested.ingested, 1, "{ingested:?}");
        let entry = registry::find_entry(&t.db, "Customer", "old", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.status, "deleted");
        let after = job.run_once(Utc::now()).await.unwrap();
        assert_eq!((after.expired, after.published), (0, 0), "{after:?}");

        // Time passing expires the recent one, once.
        let later = job.run_once(Utc::now() + Duration::days(21)).await.unwrap();
        assert_eq!(later.published, 1, "{later:?}");
        assert_eq!(published.try_recv().expect("a second event").entity.id, "recent");
        assert_eq!(count(&t.db, AuditAction::RetentionDelete).await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn delivered_audit_records_are_written_once_and_bad_ones_named() {
    on_both(|backend, t| async move {
        let record = |id: &str| IngestMessage {
            topic: AUDIT_TOPIC.into(),
            payload: json!({
                "record_id": id, "action": "pii_read", "occurred_at_ms": 1_700_000_000_000_i64,
                "subject": "ada", "operation": "Lookup", "entity_type": "Customer", "entity_id": "c1",
                "field": "email", "path": "customer.email", "trace_id": null, "reason": null
            }),
        };
        let first = "5f0c8a52-7e55-4d5b-9a57-2f0d2f3c1a01";
        let second = "5f0c8a52-7e55-4d5b-9a57-2f0d2f3c1a02";
        let ingestor = Ingestor::new(t.db.clone());
        let report = ingestor
            .ingest(&[record(first), record(second), record(first)])
            .await
            .unwrap();
        assert_eq!(
            (report.ingested, report.duplicates),
            (2, 1),
            "{backend:?}: {report:?}"
        );
        let redelivered = ingestor.ingest(&[record(second)]).await.unwrap();
        assert_eq!(
            (redelivered.ingested, redelivered.duplicates),
            (0, 1),
            "{redelivered:?}"
        );
        assert_eq!(count(&t.db, AuditAction::PiiRead).await.unwrap(), 2);

        let mut bad = record("not-a-uuid");
        let mut unknown = record(first);
        unknown.payload["action"] = json!("pii_write");
        bad.payload["operation"] = json!("x");
        let rejected = ingestor.ingest(&[bad, unknown]).await.unwrap().rejected;
        assert!(rejected[0].reason.contains("record_id"), "{rejected:?}");
        assert!(rejected[1].reason.contains("pii_write"), "{rejected:?}");
    })
    .await;
}
