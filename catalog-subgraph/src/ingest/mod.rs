//! Ingest: the catalog's topics (`system.metadata.entity_registered`,
//! `system.lineage.relationship_created`, `<domain>.<source>.entity_changed`)
//! written in one transaction per batch (on PostgreSQL a large batch in a few
//! concurrent transactions, one per part of its entities: see
//! [`Ingestor::with_writers`]): the event log, relationships and
//! `last_seen_at`, de-duplicated by `event_id`. Audit records
//! (`system.audit.pii_access`, from the router's audit outbox) go to
//! `audit_log`, de-duplicated by record id. Until the event bus exists,
//! [`Ingestor::ingest`] (and `POST /ingest`) is the way in; [`consumer`]
//! commits a source's offsets only after the batch's transactions commit.

pub mod bus;
pub mod consumer;
mod partition;
mod plan;
mod postgres;
mod sqlite;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Utc};
use dictamesh::events::{ChangeType, EntityChangeEvent, RelationshipReference};
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::db::{Database, stored_time};
use crate::error::CatalogError;
use crate::model::{EntityRegistration, RelationshipInput};
use crate::names::check_entity_type;
use crate::registry;

/// The topic of entity registrations.
pub const ENTITY_REGISTERED_TOPIC: &str = "system.metadata.entity_registered";
/// The topic of recorded relationships.
pub const RELATIONSHIP_CREATED_TOPIC: &str = "system.lineage.relationship_created";
/// The suffix of the per-source change topics, `<domain>.<source>.entity_changed`.
pub const ENTITY_CHANGED_SUFFIX: &str = "entity_changed";

/// One message of a catalog topic, its payload as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestMessage {
    /// The topic it was published on.
    pub topic: String,
    /// The event.
    pub payload: serde_json::Value,
}

/// The payload of `system.metadata.entity_registered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRegisteredEvent {
    /// Unique event id.
    pub event_id: String,
    /// When, in milliseconds since the epoch.
    pub timestamp: i64,
    /// The registration (camelCase fields, as `registerEntity` takes them).
    pub registration: EntityRegistration,
}

/// The payload of `system.lineage.relationship_created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipCreatedEvent {
    /// Unique event id.
    pub event_id: String,
    /// When, in milliseconds since the epoch.
    pub timestamp: i64,
    /// The relationship (camelCase fields, as `recordRelationship` takes them).
    pub relationship: RelationshipInput,
}

/// A message the ingest did not take, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedMessage {
    /// Its index in the batch.
    pub index: usize,
    /// Why it was rejected.
    pub reason: String,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Messages in the batch.
    pub received: usize,
    /// Events written (new `event_id`s).
    pub ingested: usize,
    /// Events already ingested (in an earlier batch or earlier in this one).
    pub duplicates: usize,
    /// Messages that are not valid events of their topic; they are skipped.
    pub rejected: Vec<RejectedMessage>,
}

/// An entity named by type, id and source system (ordered, so that writes
/// lock entries in one order whatever the batch).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct EntityKey {
    pub entity_type: String,
    pub entity_id: String,
    pub source_system: String,
}

/// A decoded event, ready to be written.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub event_id: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// The event as received, serialized as JSON: the event log's payload.
    pub payload: String,
}

#[derive(Debug, Clone)]
pub(crate) enum EventKind {
    Changed(Box<EntityChangeEvent>),
    Registered(Box<EntityRegistration>),
    Relationship(Box<RelationshipInput>),
}

impl Event {
    /// The `event_type` column.
    pub fn event_type(&self) -> &'static str {
        match &self.kind {
            EventKind::Changed(e) => match e.event_type {
                ChangeType::Created => "CREATED",
                ChangeType::Updated => "UPDATED",
                ChangeType::Deleted => "DELETED",
                ChangeType::Archived => "ARCHIVED",
            },
            EventKind::Registered(_) => "ENTITY_REGISTERED",
            EventKind::Relationship(_) => "RELATIONSHIP_CREATED",
        }
    }

    /// The entity the event is about (type, id, source system when known).
    pub fn entity(&self) -> (&str, &str, Option<&str>) {
        match &self.kind {
            EventKind::Changed(e) => (&e.entity.entity_type, &e.entity.id, Some(&e.source_system)),
            EventKind::Registered(r) => (&r.entity_type, &r.source_entity_id, Some(&r.source_system)),
            EventKind::Relationship(r) => (&r.subject_entity_type, &r.subject_entity_id, None),
        }
    }

    /// The subject whose relationships the event touches, if any.
    pub fn relationship_subject(&self) -> Option<(String, String)> {
        match &self.kind {
            EventKind::Changed(_) if self.replaces_relationships() => {
                let (t, id, _) = self.entity();
                Some((t.to_string(), id.to_string()))
            }
            EventKind::Relationship(r) => Some((r.subject_entity_type.clone(), r.subject_entity_id.clone())),
            _ => None,
        }
    }

    /// Whether a change event states the entity's whole set of relationships:
    /// it lists some, or the entity is gone (an empty list on a create or
    /// update means "unknown", not "none", since writers often omit them).
    pub fn replaces_relationships(&self) -> bool {
        match &self.kind {
            EventKind::Changed(e) => {
                !e.relationships.is_empty()
                    || matches!(e.event_type, ChangeType::Deleted | ChangeType::Archived)
            }
            _ => false,
        }
    }

    /// The relationships that must be current after the event.
    pub fn current_relationships(&self) -> Vec<&RelationshipReference> {
        match &self.kind {
            EventKind::Changed(e) if !matches!(e.event_type, ChangeType::Deleted | ChangeType::Archived) => {
                e.relationships.iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The catalog status the event sets, if it changes it.
    pub fn status(&self) -> Option<&'static str> {
        match &self.kind {
            EventKind::Changed(e) => match e.event_type {
                ChangeType::Created => Some("active"),
                ChangeType::Deleted => Some("deleted"),
                ChangeType::Archived => Some("archived"),
                ChangeType::Updated => None,
            },
            _ => None,
        }
    }

    /// `(trace_id, span_id)` when the event carries a trace.
    pub fn trace(&self) -> (Option<String>, Option<String>) {
        match &self.kind {
            EventKind::Changed(e) if !e.trace_context.trace_id.is_empty() => (
                Some(e.trace_context.trace_id.clone()),
                Some(e.trace_context.span_id.clone()).filter(|s| !s.is_empty()),
            ),
            _ => (None, None),
        }
    }

    /// The fields the event changed.
    pub fn changed_fields(&self) -> Vec<String> {
        match &self.kind {
            EventKind::Changed(e) => e.changed_fields.clone(),
            _ => Vec::new(),
        }
    }
}

fn time_of(millis: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_millis(millis)
        .map(stored_time)
        .ok_or_else(|| format!("timestamp {millis} is out of range"))
}

fn check_event_id(event_id: &str) -> Result<(), String> {
    if event_id.is_empty() || event_id.len() > 255 {
        return Err("event_id must be 1 to 255 characters".into());
    }
    Ok(())
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() || value.len() > max {
        return Err(format!("{field} must be 1 to {max} characters"));
    }
    Ok(())
}

/// Decodes a message by its topic; the error says why it is not an event.
pub(crate) fn decode(message: &IngestMessage) -> Result<Event, String> {
    let topic = message.topic.as_str();
    let payload = &message.payload;
    if topic == ENTITY_REGISTERED_TOPIC {
        let event = EntityRegisteredEvent::deserialize(payload)
            .map_err(|e| format!("not an entity_registered event: {e}"))?;
        check_event_id(&event.event_id)?;
        registry::validate(&event.registration).map_err(|e| e.to_string())?;
        return Ok(Event {
            event_id: event.event_id,
            at: time_of(event.timestamp)?,
            kind: EventKind::Registered(Box::new(event.registration)),
            payload: payload.to_string(),
        });
    }
    if topic == RELATIONSHIP_CREATED_TOPIC {
        let event = RelationshipCreatedEvent::deserialize(payload)
            .map_err(|e| format!("not a relationship_created event: {e}"))?;
        check_event_id(&event.event_id)?;
        let r = &event.relationship;
        check_length("subjectEntityType", &r.subject_entity_type, 100)?;
        check_length("subjectEntityId", &r.subject_entity_id, 255)?;
        check_length("relationshipType", &r.relationship_type, 100)?;
        check_length("objectEntityType", &r.object_entity_type, 100)?;
        check_length("objectEntityId", &r.object_entity_id, 255)?;
        let mut relationship = event.relationship;
        relationship.event_id = Some(event.event_id.clone());
        return Ok(Event {
            event_id: event.event_id,
            at: time_of(event.timestamp)?,
            kind: EventKind::Relationship(Box::new(relationship)),
            payload: payload.to_string(),
        });
    }
    let parts: Vec<&str> = topic.split('.').collect();
    if parts.len() == 3 && parts[2] == ENTITY_CHANGED_SUFFIX && !parts[0].is_empty() && !parts[1].is_empty() {
        let event =
            EntityChangeEvent::deserialize(payload).map_err(|e| format!("not an EntityChangeEvent: {e}"))?;
        check_event_id(&event.event_id)?;
        check_entity_type(&event.entity.entity_type).map_err(|e| e.to_string())?;
        check_length("entity.id", &event.entity.id, 255)?;
        check_length("source_system", &event.source_system, 100)?;
        check_length("domain", &event.domain, 100)?;
        for r in &event.relationships {
            check_length("relationships.type", &r.entity_type, 100)?;
            check_length("relationships.entity_id", &r.entity_id, 255)?;
            check_length("relationships.relationship_kind", &r.relationship_kind, 100)?;
        }
        return Ok(Event {
            event_id: event.event_id.clone(),
            at: time_of(event.timestamp)?,
            kind: EventKind::Changed(Box::new(event)),
            payload: payload.to_string(),
        });
    }
    Err(format!(
        "`{topic}` is not a catalog topic ({ENTITY_REGISTERED_TOPIC}, {RELATIONSHIP_CREATED_TOPIC} or \
         <domain>.<source>.{ENTITY_CHANGED_SUFFIX})"
    ))
}

/// A message decoded by its topic.
enum Decoded {
    Audit(Result<audit::DeliveredRecord, String>),
    Event(Result<Event, String>),
}

/// Batches at least this large are decoded on two threads.
const PARALLEL_DECODE_MESSAGES: usize = 256;

/// Decodes every message, in order; a large batch in two halves at once
/// (decoding is this side's largest share of a batch, and nothing else can
/// run until it is done).
fn decode_all(messages: &[IngestMessage]) -> Vec<Decoded> {
    let decode_one = |message: &IngestMessage| {
        if message.topic == audit::AUDIT_TOPIC {
            Decoded::Audit(audit::decode_delivered(&message.payload))
        } else {
            Decoded::Event(decode(message))
        }
    };
    if messages.len() < PARALLEL_DECODE_MESSAGES {
        return messages.iter().map(decode_one).collect();
    }
    let (first, second) = messages.split_at(messages.len() / 2);
    std::thread::scope(|scope| {
        let second = scope.spawn(|| second.iter().map(decode_one).collect::<Vec<_>>());
        let mut decoded: Vec<Decoded> = first.iter().map(decode_one).collect();
        decoded.extend(
            second
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
        decoded
    })
}

/// How many transactions a large batch is written in at once on PostgreSQL
/// by default (see [`Ingestor::with_writers`]): on the 2-core development
/// machine 4 gave about a fifth more events per second than 2, and 8 no more
/// than 4 (each part waits on round trips and its commit while others run).
pub const DEFAULT_WRITERS: usize = 4;

/// The fewest events a concurrently written part of a batch has by default
/// (see [`Ingestor::with_writers`]).
pub const DEFAULT_MIN_PART_EVENTS: usize = 250;

/// Writes batches of catalog events.
#[derive(Clone, Debug)]
pub struct Ingestor {
    db: Database,
    /// Months whose event log partition is known to exist (PostgreSQL).
    partitions: Arc<Mutex<HashSet<(i32, u32)>>>,
    /// Concurrent transactions per batch (PostgreSQL).
    writers: usize,
    /// The fewest events of a concurrently written part.
    min_part_events: usize,
}

impl Ingestor {
    /// An ingestor writing into `db`, large batches in up to
    /// [`DEFAULT_WRITERS`] concurrent transactions of at least
    /// [`DEFAULT_MIN_PART_EVENTS`] events.
    pub fn new(db: Database) -> Self {
        Ingestor {
            db,
            partitions: Arc::default(),
            writers: DEFAULT_WRITERS,
            min_part_events: DEFAULT_MIN_PART_EVENTS,
        }
    }

    /// Writes a batch on PostgreSQL in up to `writers` transactions at once,
    /// each of at least `min_events` events (a smaller batch is one
    /// transaction; `writers` 1 always is). Events are split by entity: each
    /// entity's events, with those they depend on, stay in one part in batch
    /// order. SQLite, with one writer at a time, always writes one
    /// transaction.
    pub fn with_writers(mut self, writers: usize, min_events: usize) -> Self {
        self.writers = writers.max(1);
        self.min_part_events = min_events.max(1);
        self
    }

    /// Writes a batch: every new event in the event log, registrations,
    /// relationships and `last_seen_at`. Events whose `event_id` was ingested
    /// before are skipped; invalid messages are reported and skipped. A batch
    /// is one transaction, or on PostgreSQL a large one is split by entity
    /// into parts written concurrently, one transaction each (see
    /// [`Ingestor::with_writers`]). On a database error the error is returned
    /// and nothing of the failed transaction is written (other parts of the
    /// batch may be), so the batch can be retried whole: what was written is
    /// then skipped as duplicates.
    pub async fn ingest(&self, messages: &[IngestMessage]) -> Result<IngestReport, CatalogError> {
        let mut report = IngestReport {
            received: messages.len(),
            ..IngestReport::default()
        };
        let mut events = Vec::with_capacity(messages.len());
        let mut ids = HashSet::with_capacity(messages.len());
        let mut audit_records = Vec::new();
        for (index, decoded) in decode_all(messages).into_iter().enumerate() {
            match decoded {
                Decoded::Audit(Ok(record)) if ids.insert(record.record_id.to_string()) => {
                    audit_records.push(record)
                }
                Decoded::Event(Ok(event)) if ids.insert(event.event_id.clone()) => events.push(event),
                Decoded::Audit(Ok(_)) | Decoded::Event(Ok(_)) => report.duplicates += 1,
                Decoded::Audit(Err(reason)) | Decoded::Event(Err(reason)) => {
                    report.rejected.push(RejectedMessage { index, reason })
                }
            }
        }
        if !audit_records.is_empty() {
            let written = audit::record_delivered(&self.db, &audit_records).await?;
            report.duplicates += audit_records.len() - written;
            report.ingested += written;
        }
        if events.is_empty() {
            return Ok(report);
        }
        let decoded = events.len();
        let written = match &self.db {
            Database::Postgres(pool) => {
                self.ensure_partitions(pool, &events).await?;
                let parts = partition::split(events, self.writers, self.min_part_events);
                // Each part is a task of its own, so that this side's work for
                // the parts (columns, plans, rows) runs on every worker thread.
                let tasks: Vec<_> = parts
                    .into_iter()
                    .map(|part| tokio::spawn(postgres::write_batch(pool.clone(), part)))
                    .collect();
                let mut written = 0;
                let mut failure = None;
                for task in futures::future::join_all(tasks).await {
                    match task {
                        Ok(Ok(n)) => written += n,
                        Ok(Err(error)) => failure = failure.or(Some(error)),
                        Err(panicked) => {
                            failure = failure.or(Some(CatalogError::Database(format!(
                                "an ingest writer stopped: {panicked}"
                            ))))
                        }
                    }
                }
                if let Some(error) = failure {
                    return Err(error);
                }
                written
            }
            Database::Sqlite(pool) => sqlite::write_batch(pool, events).await?,
        };
        report.duplicates += decoded - written;
        report.ingested += written;
        Ok(report)
    }

    /// Creates the monthly event log partitions the batch needs (outside its
    /// transaction: partitions are shared and DDL locks the parent table).
    async fn ensure_partitions(&self, pool: &sqlx::PgPool, events: &[Event]) -> Result<(), CatalogError> {
        let mut months: Vec<(i32, u32, DateTime<Utc>)> = Vec::new();
        {
            let known = self
                .partitions
                .lock()
                .map_err(|_| CatalogError::Database("partition cache poisoned".into()))?;
            for event in events {
                let month = (event.at.year(), event.at.month());
                if !known.contains(&month) && !months.iter().any(|(y, m, _)| (*y, *m) == month) {
                    months.push((month.0, month.1, event.at));
                }
            }
        }
        for (year, month, at) in months {
            sqlx::query("SELECT dictamesh_ensure_event_log_partition($1)")
                .bind(at)
                .execute(pool)
                .await?;
            if let Ok(mut known) = self.partitions.lock() {
                known.insert((year, month));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn changed(id: &str, entity: &str, relationships: serde_json::Value) -> IngestMessage {
        IngestMessage {
            topic: "customers.crm.entity_changed".into(),
            payload: json!({
                "event_id": id, "event_type": "UPDATED", "timestamp": 1_700_000_000_000_i64,
                "source_system": "crm", "domain": "customers",
                "entity": {"type": "Customer", "id": entity, "version": 1, "url": "http://crm/graphql", "etag": null},
                "changed_fields": ["name"], "relationships": relationships, "metadata": {},
                "trace_context": {"trace_id": "", "span_id": "", "parent_span_id": null}
            }),
        }
    }

    #[test]
    fn messages_decode_by_topic_and_bad_ones_say_why() {
        assert!(decode(&changed("e1", "c1", json!([]))).is_ok());
        let unknown = IngestMessage {
            topic: "orders.created".into(),
            payload: json!({}),
        };
        assert!(decode(&unknown).unwrap_err().contains("not a catalog topic"));
        let mut broken = changed("e1", "c1", json!([]));
        broken.payload["entity"]["type"] = json!("no-dashes");
        assert!(decode(&broken).unwrap_err().contains("GraphQL type name"));
        let registered = IngestMessage {
            topic: ENTITY_REGISTERED_TOPIC.into(),
            payload: json!({"event_id": "r1", "timestamp": 0, "registration": {"entityType": "Customer"}}),
        };
        assert!(decode(&registered).unwrap_err().contains("entity_registered"));
    }

    fn invoices(ids: &[&str]) -> serde_json::Value {
        serde_json::Value::Array(
            ids.iter()
                .map(|id| {
                    json!({"type": "Invoice", "entity_id": id, "source_system": "billing",
                                 "relationship_kind": "has_invoice", "display_name": null})
                })
                .collect(),
        )
    }

    #[test]
    fn a_batch_plans_relationship_changes_in_order_in_memory() {
        let events: Vec<Event> = [
            changed("e1", "c1", invoices(&["i1", "i2"])),
            changed("e2", "c2", invoices(&["i9"])),
            changed("e3", "c1", invoices(&["i2", "i3"])),
        ]
        .iter()
        .enumerate()
        .map(|(n, m)| {
            let mut event = decode(m).unwrap();
            event.at += chrono::Duration::seconds(n as i64);
            event
        })
        .collect();
        let plan = plan::plan_relationships(&events, Vec::new());
        let rows: Vec<(String, String, bool)> = plan
            .insert
            .iter()
            .map(|r| (r.subject_id.clone(), r.object_id.clone(), r.valid_to.is_some()))
            .collect();
        let expected = [
            ("c1", "i1", true),
            ("c1", "i2", false),
            ("c2", "i9", false),
            ("c1", "i3", false),
        ];
        assert_eq!(
            rows,
            expected.map(|(s, o, closed)| (s.to_string(), o.to_string(), closed)),
            "i1 opened and closed within the batch"
        );
        assert!(plan.close.is_empty());
    }

    #[test]
    fn closed_relationships_date_the_newest_change_a_late_event_must_not_rewrite() {
        let at = decode(&changed("e1", "c1", invoices(&["i2"]))).unwrap().at;
        let closed = plan::StoredRelationship {
            id: Uuid::now_v7(),
            subject_type: "Customer".into(),
            subject_id: "c1".into(),
            relationship_type: "has_invoice".into(),
            object_type: "Invoice".into(),
            object_id: "i1".into(),
            valid_from: at - chrono::Duration::seconds(20),
            valid_to: Some(at + chrono::Duration::seconds(10)),
        };
        let late = decode(&changed("e1", "c1", invoices(&["i2"]))).unwrap();
        let plan = plan::plan_relationships(std::slice::from_ref(&late), vec![closed.clone()]);
        assert!(plan.insert.is_empty() && plan.close.is_empty(), "{plan:?}");
        let mut newer = late;
        newer.at += chrono::Duration::seconds(30);
        let plan = plan::plan_relationships(&[newer], vec![closed]);
        assert_eq!(plan.insert.len(), 1);
        assert_eq!(plan.insert[0].object_id, "i2");
    }

    #[test]
    fn only_catalog_entries_not_known_are_looked_up() {
        let event = decode(&changed("e1", "c1", invoices(&["i1"]))).unwrap();
        let events = std::slice::from_ref(&event);
        let plan = plan::plan_relationships(events, Vec::new());
        let mut known = plan::CatalogIds::default();
        let pairs = |v: Vec<(String, String)>| {
            v.into_iter()
                .map(|(t, id)| format!("{t}/{id}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs(plan::entities_to_look_up(events, &plan.insert, &known)),
            ["Customer/c1", "Invoice/i1"]
        );
        known.add(
            "Customer".into(),
            "c1".into(),
            "crm".into(),
            event.at,
            Uuid::now_v7(),
        );
        // The event names its source system, whose entry is known; the
        // relationship's subject names none, so all its entries are needed.
        assert!(plan::entities_to_look_up(events, &[], &known).is_empty());
        assert_eq!(
            pairs(plan::entities_to_look_up(&[], &plan.insert, &known)),
            ["Customer/c1", "Invoice/i1"]
        );
        known.set_complete("Customer", "c1");
        known.set_complete("Invoice", "i1");
        assert!(plan::entities_to_look_up(events, &plan.insert, &known).is_empty());
    }
}
