//! Ingest: one transaction per batch, de-duplicated by event_id, writing the
//! event log, relationships and last_seen_at; offsets committed afterwards.

use std::time::Duration;

use async_trait::async_trait;
use dictamesh_catalog::CatalogError;
use dictamesh_catalog::ingest::consumer::{Batch, MessageSource, Offset, consume};
use dictamesh_catalog::ingest::{
    ENTITY_REGISTERED_TOPIC, IngestMessage, Ingestor, RELATIONSHIP_CREATED_TOPIC,
};
use dictamesh_catalog::registry;
use dictamesh_catalog::relationships::relationship_graph;
use serde_json::{Value, json};

use crate::support::{Backend, TestDb, on_both, registration};

/// An `entity_changed` message of customer `entity` at `millis`.
pub fn changed(event_id: &str, entity: &str, millis: i64, relationships: Value) -> IngestMessage {
    change("UPDATED", event_id, entity, millis, relationships)
}

fn change(kind: &str, event_id: &str, entity: &str, millis: i64, relationships: Value) -> IngestMessage {
    IngestMessage {
        topic: "customers.crm.entity_changed".into(),
        payload: json!({
            "event_id": event_id, "event_type": kind, "timestamp": millis,
            "source_system": "crm", "domain": "customers",
            "entity": {"type": "Customer", "id": entity, "version": 1, "url": "http://crm/graphql", "etag": null},
            "changed_fields": ["name"], "relationships": relationships, "metadata": {},
            "trace_context": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "parent_span_id": null}
        }),
    }
}

fn invoices(ids: &[&str]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| {
                json!({"type": "Invoice", "entity_id": id, "source_system": "billing",
                             "relationship_kind": "has_invoice", "display_name": format!("Invoice {id}")})
            })
            .collect(),
    )
}

const T0: i64 = 1_700_000_000_000;

async fn current_objects(t: &TestDb, entity: &str, at_millis: Option<i64>) -> Vec<String> {
    let as_of = at_millis.and_then(chrono::DateTime::from_timestamp_millis);
    let graph = relationship_graph(&t.db, "Customer", entity, 1, as_of)
        .await
        .unwrap();
    let mut objects: Vec<String> = graph
        .edges
        .iter()
        .map(|e| e.relationship.object_entity_id.clone())
        .collect();
    objects.sort();
    objects
}

#[tokio::test]
async fn a_batch_writes_events_registrations_and_last_seen_and_drops_duplicates() {
    on_both(|backend, t| async move {
        let ingestor = Ingestor::new(t.db.clone());
        let batch = vec![
            change("CREATED", "e1", "c1", T0, json!([])),
            changed("e2", "c1", T0 + 5_000, json!([])),
            changed("e2", "c1", T0 + 5_000, json!([])),
            IngestMessage {
                topic: "nope".into(),
                payload: json!({}),
            },
        ];
        let report = ingestor.ingest(&batch).await.unwrap();
        assert_eq!(
            (report.received, report.ingested, report.duplicates),
            (4, 2, 1),
            "{backend:?}"
        );
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].index, 3);
        let again = ingestor.ingest(&batch[..2]).await.unwrap();
        assert_eq!(
            (again.ingested, again.duplicates),
            (0, 2),
            "replayed events are dropped"
        );
        let entry = registry::find_entry(&t.db, "Customer", "c1", Some("crm"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.last_seen_at.timestamp_millis(), T0 + 5_000);
        assert_eq!(entry.status, "active");
        assert_eq!(entry.api_base_url, "http://crm/graphql");
        let page = dictamesh_catalog::events::events(&t.db, "Customer", "c1", None, 10, None)
            .await
            .unwrap();
        let kinds: Vec<&str> = page.events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(kinds, ["CREATED", "UPDATED"]);
        assert_eq!(
            page.events[0].catalog_id.as_ref().map(|id| id.0.clone()),
            Some(entry.id.0.clone())
        );
        assert_eq!(
            page.events[0].trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        // A deletion marks the entry.
        ingestor
            .ingest(&[change("DELETED", "e3", "c1", T0 + 9_000, json!([]))])
            .await
            .unwrap();
        let entry = registry::find_entry(&t.db, "Customer", "c1", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.status, "deleted");
    })
    .await;
}

#[tokio::test]
async fn change_events_replace_the_relationship_set_with_temporal_history() {
    on_both(|_, t| async move {
        let ingestor = Ingestor::new(t.db.clone());
        // Two events for c1 in one batch: applied in order (two rounds).
        let batch = vec![
            changed("e1", "c1", T0, invoices(&["i1", "i2"])),
            changed("e2", "c2", T0, invoices(&["i9"])),
            changed("e3", "c1", T0 + 10_000, invoices(&["i2", "i3"])),
        ];
        ingestor.ingest(&batch).await.unwrap();
        assert_eq!(current_objects(&t, "c1", None).await, ["i2", "i3"]);
        assert_eq!(current_objects(&t, "c1", Some(T0 + 1_000)).await, ["i1", "i2"]);
        assert_eq!(current_objects(&t, "c2", None).await, ["i9"]);
        // An update without relationships says nothing about them.
        ingestor
            .ingest(&[changed("e4", "c1", T0 + 20_000, json!([]))])
            .await
            .unwrap();
        assert_eq!(current_objects(&t, "c1", None).await, ["i2", "i3"]);
        // A late event does not rewrite newer history.
        ingestor
            .ingest(&[changed("e5", "c1", T0 + 5_000, invoices(&["i7"]))])
            .await
            .unwrap();
        assert_eq!(current_objects(&t, "c1", None).await, ["i2", "i3"]);
        assert_eq!(current_objects(&t, "c1", Some(T0 + 6_000)).await, ["i1", "i2"]);
        // Deletion ends them all.
        ingestor
            .ingest(&[change("DELETED", "e6", "c1", T0 + 30_000, json!([]))])
            .await
            .unwrap();
        assert!(current_objects(&t, "c1", None).await.is_empty());
        assert_eq!(current_objects(&t, "c1", Some(T0 + 25_000)).await, ["i2", "i3"]);
    })
    .await;
}

#[tokio::test]
async fn registration_and_relationship_topics_are_ingested() {
    on_both(|_, t| async move {
        let ingestor = Ingestor::new(t.db.clone());
        let mut customer = registration("Customer", "c1", "crm");
        customer["containsPii"] = json!(true);
        let batch = vec![
            IngestMessage {
                topic: ENTITY_REGISTERED_TOPIC.into(),
                payload: json!({"event_id": "r1", "timestamp": T0, "registration": customer}),
            },
            IngestMessage {
                topic: RELATIONSHIP_CREATED_TOPIC.into(),
                payload: json!({"event_id": "r2", "timestamp": T0 + 1, "relationship": {
                    "subjectEntityType": "Customer", "subjectEntityId": "c1", "relationshipType": "owns_account",
                    "objectEntityType": "Account", "objectEntityId": "a1", "cardinality": "ONE_TO_ONE"}}),
            },
            IngestMessage {
                topic: RELATIONSHIP_CREATED_TOPIC.into(),
                payload: json!({"event_id": "r3", "timestamp": T0 + 2_000, "relationship": {
                    "subjectEntityType": "Customer", "subjectEntityId": "c1", "relationshipType": "owns_account",
                    "objectEntityType": "Account", "objectEntityId": "a2", "cardinality": "ONE_TO_ONE"}}),
            },
        ];
        let report = ingestor.ingest(&batch).await.unwrap();
        assert_eq!(report.ingested, 3, "{report:?}");
        let entry = registry::find_entry(&t.db, "Customer", "c1", None).await.unwrap().unwrap();
        assert!(entry.contains_pii);
        assert_eq!(current_objects(&t, "c1", None).await, ["a2"], "one-to-one: a2 replaced a1");
        let graph = relationship_graph(&t.db, "Customer", "c1", 1, None).await.unwrap();
        assert_eq!(graph.edges[0].relationship.subject_catalog_id, Some(entry.id.clone()));
        assert_eq!(graph.edges[0].relationship.created_by_event_id.as_deref(), Some("r3"));
    })
    .await;
}

/// A source that replays its batches until they are committed.
struct Replaying {
    batches: Vec<Batch>,
    committed: Vec<Offset>,
    deliveries: usize,
}

#[async_trait]
impl MessageSource for Replaying {
    async fn next_batch(&mut self) -> Result<Option<Batch>, CatalogError> {
        self.deliveries += 1;
        Ok(self.batches.first().cloned())
    }

    async fn commit(&mut self, offsets: &[Offset]) -> Result<(), CatalogError> {
        self.committed.extend_from_slice(offsets);
        self.batches.remove(0);
        Ok(())
    }
}

#[tokio::test]
async fn the_consumer_commits_offsets_after_each_batch_and_replays_are_harmless() {
    let t = TestDb::new(Backend::Sqlite).await;
    let ingestor = Ingestor::new(t.db.clone());
    let offset = |next| Offset {
        topic: "customers.crm.entity_changed".into(),
        partition: 0,
        next,
    };
    let first = Batch {
        messages: vec![changed("e1", "c1", T0, json!([]))],
        offsets: vec![offset(1)],
    };
    // The second batch repeats e1, as after a crash between write and commit.
    let second = Batch {
        messages: vec![
            changed("e1", "c1", T0, json!([])),
            changed("e2", "c1", T0 + 1, json!([])),
        ],
        offsets: vec![offset(3)],
    };
    let mut source = Replaying {
        batches: vec![first, second],
        committed: Vec::new(),
        deliveries: 0,
    };
    let totals = consume(&mut source, &ingestor, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!((totals.batches, totals.ingested, totals.duplicates), (2, 2, 1));
    assert_eq!(source.committed, [offset(1), offset(3)]);
}

#[tokio::test]
async fn postgres_event_log_is_partitioned_by_month() {
    let t = TestDb::new(Backend::Postgres).await;
    let ingestor = Ingestor::new(t.db.clone());
    let november = T0; // 2023-11-14
    let december = 1_701_500_000_000; // 2023-12-02
    ingestor
        .ingest(&[
            changed("e1", "c1", november, json!([])),
            changed("e2", "c1", december, json!([])),
        ])
        .await
        .unwrap();
    let dictamesh_catalog::Database::Postgres(pool) = &t.db else {
        unreachable!()
    };
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(count("event_log_y2023m11").await, 1);
    assert_eq!(count("event_log_y2023m12").await, 1);
    assert_eq!(count("event_log_default").await, 0);
    // The log is immutable.
    let error = sqlx::query("DELETE FROM event_log")
        .execute(pool)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("immutable"), "{error}");
}

/// A change event of `entity_type` `entity` from `source`.
fn changed_in(
    source: &str,
    entity_type: &str,
    kind: &str,
    event_id: &str,
    entity: &str,
    millis: i64,
    relationships: Value,
) -> IngestMessage {
    let mut message = change(kind, event_id, entity, millis, relationships);
    message.topic = format!("{}s.{source}.entity_changed", entity_type.to_lowercase());
    message.payload["source_system"] = json!(source);
    message.payload["entity"]["type"] = json!(entity_type);
    message
}

/// A registration message of the type entry (`sourceEntityId` `*`) of
/// `entity_type` in `source`, with personal data kept 30 days.
fn type_entry(event_id: &str, entity_type: &str, source: &str, millis: i64) -> IngestMessage {
    let mut registration = registration(entity_type, "*", source);
    registration["containsPii"] = json!(true);
    registration["retentionDays"] = json!(30);
    IngestMessage {
        topic: ENTITY_REGISTERED_TOPIC.into(),
        payload: json!({"event_id": event_id, "timestamp": millis, "registration": registration}),
    }
}

/// Batches whose events depend on each other across entities: customers
/// naming invoices that change in the same batch, a type entry registered
/// with the entities that take its defaults, one-to-one relationships, late
/// events, deletions and replays.
fn entangled_batches() -> Vec<Vec<IngestMessage>> {
    let mut big = vec![type_entry("type-supplier", "Supplier", "erp", T0)];
    for s in 0..3 {
        big.push(changed_in(
            "erp",
            "Supplier",
            "CREATED",
            &format!("s{s}"),
            &format!("s{s}"),
            T0 + s,
            json!([]),
        ));
    }
    for round in 0..4_i64 {
        for c in 0..12_i64 {
            let at = T0 + 1_000 + round * 10_000 + c;
            let a = format!("i{}", c * 10 + round);
            let b = format!("i{}", c * 10 + (round + 1) % 3);
            big.push(changed(
                &format!("c{c}-{round}"),
                &format!("c{c}"),
                at,
                invoices(&[&a, &b]),
            ));
            big.push(changed_in(
                "billing",
                "Invoice",
                if round == 0 { "CREATED" } else { "UPDATED" },
                &format!("i{c}-{round}"),
                &a,
                at + 1,
                json!([]),
            ));
        }
        big.push(IngestMessage {
            topic: RELATIONSHIP_CREATED_TOPIC.into(),
            payload: json!({"event_id": format!("acct-{round}"), "timestamp": T0 + 2_000 + round * 10_000,
                "relationship": {"subjectEntityType": "Customer", "subjectEntityId": "c3",
                    "relationshipType": "owns_account", "objectEntityType": "Account",
                    "objectEntityId": format!("a{round}"), "cardinality": "ONE_TO_ONE"}}),
        });
    }
    // A late event and a repeated one.
    big.push(changed("c5-late", "c5", T0 + 5, invoices(&["i999"])));
    big.push(changed("c1-0", "c1", T0 + 1_001, invoices(&["i10"])));
    let mut last: Vec<IngestMessage> = big[10..30].to_vec();
    for c in 0..12_i64 {
        let kind = if c % 4 == 0 { "DELETED" } else { "UPDATED" };
        last.push(change(
            kind,
            &format!("c{c}-end"),
            &format!("c{c}"),
            T0 + 100_000 + c,
            invoices(&["i1"]),
        ));
    }
    vec![
        vec![type_entry("type-invoice", "Invoice", "billing", T0)],
        big,
        last,
    ]
}

/// The catalog's rows that ingest writes, without generated ids.
async fn ingested_state(t: &TestDb) -> Vec<String> {
    let dictamesh_catalog::Database::Postgres(pool) = &t.db else {
        unreachable!()
    };
    let queries = [
        "SELECT concat_ws('|', entity_type, source_entity_id, source_system, status, last_seen_at, contains_pii, \
         retention_days) FROM entity_catalog ORDER BY 1",
        "SELECT concat_ws('|', r.subject_entity_type, r.subject_entity_id, s.source_system, r.relationship_type, \
         r.object_entity_type, r.object_entity_id, o.source_system, r.valid_from, r.valid_to, r.created_by_event_id) \
         FROM entity_relationships r LEFT JOIN entity_catalog s ON s.id = r.subject_catalog_id \
         LEFT JOIN entity_catalog o ON o.id = r.object_catalog_id ORDER BY 1",
        "SELECT concat_ws('|', l.event_id, l.event_type, l.entity_type, l.entity_id, c.source_system, \
         l.event_timestamp) FROM event_log l LEFT JOIN entity_catalog c ON c.id = l.catalog_id ORDER BY 1",
        "SELECT event_id FROM event_ids ORDER BY 1",
    ];
    let mut rows = Vec::new();
    for sql in queries {
        rows.extend(
            sqlx::query_scalar::<_, String>(sql)
                .fetch_all(pool)
                .await
                .unwrap(),
        );
        rows.push("--".into());
    }
    rows
}

#[tokio::test]
async fn postgres_batches_written_in_concurrent_parts_end_as_one_transaction_would_leave_them() {
    let (one, parts) = (
        TestDb::new(Backend::Postgres).await,
        TestDb::new(Backend::Postgres).await,
    );
    let sequential = Ingestor::new(one.db.clone()).with_writers(1, 1);
    let concurrent = Ingestor::new(parts.db.clone()).with_writers(4, 1);
    for batch in entangled_batches() {
        let expected = sequential.ingest(&batch).await.unwrap();
        let report = concurrent.ingest(&batch).await.unwrap();
        assert_eq!(report, expected);
    }
    let state = ingested_state(&parts).await;
    assert_eq!(state, ingested_state(&one).await);
    // The invoices took their type entry's defaults; customers' relationships
    // point at the invoices' entries written in the same batch.
    for entry in ["Invoice|i0|billing|active|", "Supplier|s2|erp|active|"] {
        assert!(
            state
                .iter()
                .any(|row| row.starts_with(entry) && row.ends_with("|t|30")),
            "{entry}"
        );
    }
    assert!(
        state
            .iter()
            .any(|row| row.starts_with("Customer|c1|crm|has_invoice|Invoice|i10|billing|"))
    );
    assert_eq!(current_objects(&parts, "c5", None).await, ["i1"]);
    assert!(current_objects(&parts, "c4", None).await.is_empty(), "deleted");
}

#[tokio::test]
async fn postgres_a_failed_part_writes_nothing_and_the_retried_batch_writes_the_rest_once() {
    let t = TestDb::new(Backend::Postgres).await;
    let dictamesh_catalog::Database::Postgres(pool) = &t.db else {
        unreachable!()
    };
    for statement in [
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.entity_id = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER poison BEFORE INSERT ON event_log FOR EACH ROW EXECUTE FUNCTION poison()",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
    let mut batch: Vec<IngestMessage> = (0..40)
        .map(|n| {
            changed(
                &format!("e{n}"),
                &format!("c{}", n % 8),
                T0 + n,
                invoices(&[&format!("i{n}")]),
            )
        })
        .collect();
    batch.push(changed("e-poison", "poison", T0, json!([])));
    let ingestor = Ingestor::new(t.db.clone()).with_writers(3, 5);
    let error = ingestor.ingest(&batch).await.unwrap_err();
    assert!(error.to_string().contains("poisoned"), "{error}");
    // Each entity's events were written whole or not at all.
    let count =
        |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap() };
    let whole = count(
        "SELECT COUNT(*) FROM (SELECT entity_id, COUNT(*) AS n FROM event_log GROUP BY entity_id) e \
         WHERE n <> 5",
    )
    .await;
    assert_eq!(whole, 0);
    assert_eq!(
        count("SELECT COUNT(*) FROM event_log WHERE entity_id = 'poison'").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM event_ids").await,
        count("SELECT COUNT(*) FROM event_log").await
    );
    let written = count("SELECT COUNT(*) FROM event_log").await;
    assert!(
        written > 0 && written < 40,
        "the parts without the poisoned event are written"
    );
    sqlx::query("DROP TRIGGER poison ON event_log")
        .execute(pool)
        .await
        .unwrap();
    let report = ingestor.ingest(&batch).await.unwrap();
    assert_eq!(
        (report.ingested, report.duplicates),
        (41 - written as usize, written as usize)
    );
    assert_eq!(count("SELECT COUNT(*) FROM event_log").await, 41);
    assert_eq!(current_objects(&t, "c3", None).await, ["i35"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_consumers_replaying_the_same_events_in_opposite_orders_both_finish() {
    let t = TestDb::new(Backend::Postgres).await;
    // Two consumers of one topic after a rebalance: both hold the same
    // events, in opposite orders, and write them at the same moment. Each
    // must lock event ids, catalog entries and relationships in one order,
    // or the two transactions wait on each other until PostgreSQL aborts one
    // as a deadlock.
    const EVENTS: i64 = 2000;
    let forward: Vec<IngestMessage> = (0..EVENTS)
        .map(|n| {
            changed(
                &format!("e{n}"),
                &format!("c{n}"),
                T0 + n,
                invoices(&[&format!("i{n}")]),
            )
        })
        .collect();
    let backward: Vec<IngestMessage> = forward.iter().rev().cloned().collect();
    let consumer = |messages: Vec<IngestMessage>| {
        let ingestor = Ingestor::new(t.db.clone()).with_writers(1, 1);
        tokio::spawn(async move { ingestor.ingest(&messages).await })
    };
    let (first, second) = (consumer(forward), consumer(backward));
    let (first, second) = (first.await.unwrap().unwrap(), second.await.unwrap().unwrap());
    assert_eq!(first.ingested + second.ingested, EVENTS as usize);
    assert_eq!(first.duplicates + second.duplicates, EVENTS as usize);
    assert_eq!(current_objects(&t, "c7", None).await, ["i7"]);
}
