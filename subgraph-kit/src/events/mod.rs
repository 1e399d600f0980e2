//! Change events: what adapters report ([`SourceChange`]) and what the kit
//! publishes ([`EntityChangeEvent`], the seed's canonical Avro record), the
//! codecs (JSON, Avro in the Confluent wire format), and the transports:
//! [`InProcessBus`], Kafka (feature `kafka`), with a consumer loop over any of
//! them ([`bus::Consumer`]).

pub mod bus;
pub mod codec;
pub mod feed;
mod invalidation;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "kafka")]
pub mod kafka_feed;
#[cfg(feature = "sqlite-bus")]
pub mod log_bus;
pub mod registration;

pub use invalidation::CacheInvalidation;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

/// The kind of change (the Avro enum `EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeType {
    /// A new entity.
    Created,
    /// Fields of an entity changed.
    Updated,
    /// The entity is gone.
    Deleted,
    /// The entity is kept but no longer active.
    Archived,
}

/// A relationship an event carries (the Avro record `RelationshipReference`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipReference {
    /// The related entity's type.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// The related entity's id.
    pub entity_id: String,
    /// The related entity's source system.
    pub source_system: String,
    /// `has_invoice`, `purchased_product`, ...
    pub relationship_kind: String,
    /// A display name, if known.
    pub display_name: Option<String>,
}

/// A change an adapter observed in its source (or recorded in its outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceChange {
    /// The id its event will carry, fixed when the change is recorded so that
    /// a republished event keeps it (consumers de-duplicate by it).
    pub event_id: String,
    /// When it happened, in milliseconds since the epoch.
    pub occurred_at: i64,
    /// What happened.
    pub change_type: ChangeType,
    /// The entity's key values (of its first `@key`).
    pub key: Map<String, Value>,
    /// The entity's version after the change (monotonic per entity).
    pub version: i64,
    /// The entity's ETag after the change, if the source has one.
    pub etag: Option<String>,
    /// Which fields changed (GraphQL names); empty when unknown.
    pub changed_fields: Vec<String>,
    /// Relationships of the entity after the change.
    pub relationships: Vec<RelationshipReference>,
}

impl SourceChange {
    /// A change of the entity with a single-field key.
    pub fn new(change_type: ChangeType, key_field: &str, key_value: impl Into<Value>) -> Self {
        let mut key = Map::new();
        key.insert(key_field.to_string(), key_value.into());
        Self::for_key(change_type, key)
    }

    /// A change of the entity with these key values.
    pub fn for_key(change_type: ChangeType, key: Map<String, Value>) -> Self {
        SourceChange {
            event_id: uuid::Uuid::new_v4().to_string(),
            occurred_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or_default(),
            change_type,
            key,
            version: 0,
            etag: None,
            changed_fields: Vec::new(),
            relationships: Vec::new(),
        }
    }
}

/// The entity an event is about (the Avro record `EntityReference`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityReference {
    /// The entity's GraphQL type.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// Its id: the key value, or the key as canonical JSON for composite keys.
    pub id: String,
    /// Its version.
    pub version: i64,
    /// Where to fetch the full entity (the subgraph's GraphQL endpoint).
    pub url: String,
    /// Its ETag, if the source has one.
    pub etag: Option<String>,
}

/// OpenTelemetry trace context carried by an event (the Avro record `TraceContext`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceContext {
    /// 32 hex digits; empty when the change happened outside a trace.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The parent span, when known.
    pub parent_span_id: Option<String>,
}

impl TraceContext {
    /// The context of the current `tracing` span, if it is part of an
    /// OpenTelemetry trace.
    pub fn current() -> Self {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let context = tracing::Span::current().context();
        let span_context = context.span().span_context().clone();
        if !span_context.is_valid() {
            return TraceContext::default();
        }
        TraceContext {
            trace_id: span_context.trace_id().to_string(),
            span_id: span_context.span_id().to_string(),
            parent_span_id: None,
        }
    }
}

/// The canonical change event of the mesh, exactly the seed's Avro schema
/// `com.company.dataplatform.events.EntityChangeEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityChangeEvent {
    /// Unique event id (UUID v4).
    pub event_id: String,
    /// What happened.
    pub event_type: ChangeType,
    /// When, in milliseconds since the epoch.
    pub timestamp: i64,
    /// The source system.
    pub source_system: String,
    /// The owning domain.
    pub domain: String,
    /// The entity.
    pub entity: EntityReference,
    /// Which fields changed.
    pub changed_fields: Vec<String>,
    /// Relationships after the change.
    pub relationships: Vec<RelationshipReference>,
    /// Minimal denormalized data for filtering and routing.
    pub metadata: BTreeMap<String, String>,
    /// Trace propagation.
    pub trace_context: TraceContext,
}

impl EntityChangeEvent {
    /// The topic this event belongs on: `<domain>.<source>.entity_changed`.
    pub fn topic(&self) -> String {
        const SUFFIX: &str = ".entity_changed";
        let mut topic =
            String::with_capacity(self.domain.len() + 1 + self.source_system.len() + SUFFIX.len());
        topic.push_str(&self.domain);
        topic.push('.');
        topic.push_str(&self.source_system);
        topic.push_str(SUFFIX);
        topic
    }
}

/// Why an event could not be published.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("could not publish event {event_id}: {reason}")]
pub struct PublishError {
    /// The event.
    pub event_id: String,
    /// What went wrong.
    pub reason: String,
}

/// Where the kit sends change events (an in-process bus by default; Kafka in
/// production).
#[async_trait]
pub trait ChangePublisher: Send + Sync + 'static {
    /// Publishes one event.
    async fn publish(&self, event: &EntityChangeEvent) -> Result<(), PublishError>;

    /// Publishes events whose order among themselves does not matter (the
    /// outbox relay passes at most one per entity) and returns the outcome of
    /// each, in order. Transports that can overlap or group writes do (Kafka
    /// keeps them all in flight, the SQLite log appends them in one
    /// transaction); by default they are published one after another.
    async fn publish_all(&self, events: &[EntityChangeEvent]) -> Vec<Result<(), PublishError>> {
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            outcomes.push(self.publish(event).await);
        }
        outcomes
    }
}

/// An in-process event bus: publishing never fails; subscribers that fall too
/// far behind lose the oldest events (they see a `Lagged` error).
#[derive(Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<EntityChangeEvent>>,
}

impl InProcessBus {
    /// A bus that buffers `capacity` events per subscriber.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        InProcessBus { sender }
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EntityChangeEvent>> {
        self.sender.subscribe()
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        InProcessBus::new(1024)
    }
}

#[async_trait]
impl ChangePublisher for InProcessBus {
    async fn publish(&self, event: &EntityChangeEvent) -> Result<(), PublishError> {
        // No subscriber is not an error: the event simply has no audience yet.
        let _ = self.sender.send(Arc::new(event.clone()));
        Ok(())
    }
}
