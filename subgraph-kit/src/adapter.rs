//! The adapter contract: what a team implements to turn its data source into a
//! data product (the seed's Layer 1).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::{Map, Value};

use crate::entity::{Entity, InputType};
use crate::error::AdapterError;
use crate::events::SourceChange;
use crate::key::EntityKey;
use crate::model::{Classification, TypeRegistry};

/// A data source that serves one entity type.
///
/// Only [`get_entities`](Self::get_entities) is required; the kit wraps every
/// call in caching, a rate limit, a timeout, retries and a circuit breaker, and
/// batches all keys of one request into one call.
#[async_trait]
pub trait DataProductAdapter: Send + Sync + 'static {
    /// The entity type this adapter serves.
    type Entity: Entity;

    /// Fetches a batch of entities. The result is aligned with `keys`: one slot
    /// per key, `None` where no entity has that key.
    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Self::Entity>>, AdapterError>;

    /// Fetches one entity; [`AdapterError::NotFound`] when it does not exist.
    async fn get_entity(&self, key: &EntityKey) -> Result<Self::Entity, AdapterError> {
        let mut found = self.get_entities(std::slice::from_ref(key)).await?;
        found.pop().flatten().ok_or_else(|| AdapterError::NotFound {
            entity_type: Self::Entity::TYPE_NAME.to_string(),
            key: key.to_string(),
        })
    }

    /// Lists entities matching a filter, for the entity's list root field.
    async fn query_entities(&self, _query: &EntityQuery) -> Result<Vec<Self::Entity>, AdapterError> {
        Err(AdapterError::Unsupported("query_entities"))
    }

    /// The data product's schema; by default derived from the entity type.
    fn schema(&self) -> DataSchema {
        DataSchema::of::<Self::Entity>()
    }

    /// The service level the source promises; its freshness is the L1 cache TTL.
    fn sla(&self) -> Sla {
        Sla::default()
    }

    /// Where the data comes from and where it goes.
    fn lineage(&self) -> Lineage {
        Lineage::default()
    }

    /// Changes in the source as they happen (webhooks, polling, CDC). The kit
    /// turns each into an `EntityChangeEvent` and drops the cached entity.
    fn stream_changes(&self) -> BoxStream<'static, SourceChange> {
        Box::pin(futures::stream::empty())
    }

    /// Whether the source is usable; drives `/health/ready`.
    async fn health(&self) -> HealthStatus {
        HealthStatus::Healthy
    }

    /// Source-specific gauges, exported on `/metrics` next to the kit's own.
    fn metrics(&self) -> AdapterMetrics {
        AdapterMetrics::default()
    }
}

/// A shared adapter serves like the adapter itself (handy to keep a handle on
/// an adapter that is mounted in a subgraph).
#[async_trait]
impl<A: DataProductAdapter> DataProductAdapter for std::sync::Arc<A> {
    type Entity = A::Entity;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<A::Entity>>, AdapterError> {
        (**self).get_entities(keys).await
    }

    async fn get_entity(&self, key: &EntityKey) -> Result<A::Entity, AdapterError> {
        (**self).get_entity(key).await
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<A::Entity>, AdapterError> {
        (**self).query_entities(query).await
    }

    fn schema(&self) -> DataSchema {
        (**self).schema()
    }

    fn sla(&self) -> Sla {
        (**self).sla()
    }

    fn lineage(&self) -> Lineage {
        (**self).lineage()
    }

    fn stream_changes(&self) -> BoxStream<'static, SourceChange> {
        (**self).stream_changes()
    }

    async fn health(&self) -> HealthStatus {
        (**self).health().await
    }

    fn metrics(&self) -> AdapterMetrics {
        (**self).metrics()
    }
}

/// The optional write side of an adapter, exposed as GraphQL mutations
/// (`create<Type>`, `update<Type>`, `delete<Type>`) that emit change events.
#[async_trait]
pub trait WritableAdapter: DataProductAdapter {
    /// What `create` takes.
    type Draft: InputType;
    /// What `update` takes; absent (null) fields stay unchanged.
    type Patch: InputType;

    /// Creates an entity and returns it as stored.
    async fn create(&self, draft: Self::Draft) -> Result<Self::Entity, AdapterError>;

    /// Changes an entity and returns it as stored.
    async fn update(&self, key: &EntityKey, patch: Self::Patch) -> Result<Self::Entity, AdapterError>;

    /// Deletes an entity; [`AdapterError::NotFound`] when it does not exist.
    async fn delete(&self, key: &EntityKey) -> Result<(), AdapterError>;

    /// The transactional outbox the adapter records its changes in (in the
    /// same transaction as its writes, with [`crate::outbox::Outbox::record`]).
    /// When there is one, the kit publishes changes from it instead of after
    /// each write.
    #[cfg(feature = "outbox")]
    fn outbox(&self) -> Option<&crate::outbox::Outbox> {
        None
    }
}

/// A shared writable adapter writes like the adapter itself.
#[async_trait]
impl<A: WritableAdapter> WritableAdapter for std::sync::Arc<A> {
    type Draft = A::Draft;
    type Patch = A::Patch;

    async fn create(&self, draft: A::Draft) -> Result<A::Entity, AdapterError> {
        (**self).create(draft).await
    }

    async fn update(&self, key: &EntityKey, patch: A::Patch) -> Result<A::Entity, AdapterError> {
        (**self).update(key, patch).await
    }

    async fn delete(&self, key: &EntityKey) -> Result<(), AdapterError> {
        (**self).delete(key).await
    }

    #[cfg(feature = "outbox")]
    fn outbox(&self) -> Option<&crate::outbox::Outbox> {
        (**self).outbox()
    }
}

/// A list query: equality filters on fields, then offset and limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityQuery {
    /// Field (GraphQL name) → required value.
    pub filter: Map<String, Value>,
    /// At most this many results.
    pub limit: Option<usize>,
    /// Skip this many results first.
    pub offset: usize,
}

impl EntityQuery {
    /// Whether an entity, as JSON, passes the filter.
    pub fn matches(&self, entity: &Value) -> bool {
        self.filter
            .iter()
            .all(|(field, wanted)| entity.get(field) == Some(wanted))
    }

    /// Applies filter, offset and limit to entities held in memory.
    pub fn apply<T: serde::Serialize + Clone>(&self, entities: impl IntoIterator<Item = T>) -> Vec<T> {
        entities
            .into_iter()
            .filter(|e| serde_json::to_value(e).is_ok_and(|json| self.matches(&json)))
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect()
    }
}

/// One field of a data product's schema.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SchemaField {
    /// GraphQL name.
    pub name: String,
    /// GraphQL type, e.g. `String!`.
    pub graphql_type: String,
    /// Whether a value is always present.
    pub required: bool,
    /// Whether the field is part of a key (and so indexed by the source).
    pub indexed: bool,
    /// Whether it holds personal data.
    pub pii: bool,
    /// Its classification, if declared.
    pub classification: Option<Classification>,
}

/// A data product's schema, as the catalog registers it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataSchema {
    /// The entity type.
    pub entity: String,
    /// The schema version (semver).
    pub version: String,
    /// The owning domain.
    pub domain: String,
    /// The source system.
    pub source_system: String,
    /// Fields in declaration order.
    pub fields: Vec<SchemaField>,
}

impl DataSchema {
    /// The schema of an entity type, from its GraphQL description.
    pub fn of<T: Entity>() -> Self {
        let mut registry = TypeRegistry::new();
        registry.register::<T>();
        let meta = T::meta();
        let object = registry.object(T::TYPE_NAME);
        let key_fields: Vec<String> = object
            .map(|o| {
                o.keys
                    .iter()
                    .flat_map(|k| k.fields.selections().iter().map(|s| s.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let fields = object
            .map(|o| {
                o.fields
                    .iter()
                    .map(|f| SchemaField {
                        name: f.name.clone(),
                        graphql_type: f.ty.to_string(),
                        required: f.ty.is_non_null(),
                        indexed: key_fields.contains(&f.name),
                        pii: f.governance.pii,
                        classification: f.governance.classification.or(o.classification),
                    })
                    .collect()
            })
            .unwrap_or_default();
        DataSchema {
            entity: T::TYPE_NAME.to_string(),
            version: "1.0.0".to_string(),
            domain: meta.domain,
            source_system: meta.source,
            fields,
        }
    }

    /// Whether any field holds personal data.
    pub fn contains_pii(&self) -> bool {
        self.fields.iter().any(|f| f.pii)
    }

    /// Checks an entity (as JSON) against the schema: every required field is
    /// present and non-null. Returns the names of the fields that are not.
    pub fn missing_required_fields(&self, entity: &Value) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.required && entity.get(&f.name).is_none_or(Value::is_null))
            .map(|f| f.name.clone())
            .collect()
    }
}

/// Latency objectives of a source.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencySla {
    /// Median.
    #[serde(with = "crate::config::duration")]
    pub p50: Duration,
    /// 95th percentile.
    #[serde(with = "crate::config::duration")]
    pub p95: Duration,
    /// 99th percentile.
    #[serde(with = "crate::config::duration")]
    pub p99: Duration,
}

/// The service level a source promises.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sla {
    /// Availability, e.g. 0.999.
    pub availability: f64,
    /// Latency objectives.
    pub latency: LatencySla,
    /// How stale served data may be; the L1 cache TTL.
    #[serde(with = "crate::config::duration")]
    pub freshness: Duration,
}

impl Default for Sla {
    fn default() -> Self {
        Sla {
            availability: 0.999,
            latency: LatencySla {
                p50: Duration::from_millis(50),
                p95: Duration::from_millis(200),
                p99: Duration::from_millis(500),
            },
            freshness: Duration::from_secs(5),
        }
    }
}

/// An upstream or downstream system of a data product.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LineageEdge {
    /// The other system.
    pub system: String,
    /// Its entity type, if it has one.
    pub entity_type: Option<String>,
    /// `direct_copy`, `aggregation`, `join`, `enrichment`, ...
    pub transformation: String,
}

/// Where a data product's data comes from and where it flows.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lineage {
    /// Systems this product reads from.
    pub upstream: Vec<LineageEdge>,
    /// Systems that read from this product.
    pub downstream: Vec<LineageEdge>,
}

/// Whether a source is usable.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum HealthStatus {
    /// Fully usable.
    Healthy,
    /// Usable with reduced service (slow, partial).
    Degraded(String),
    /// Not usable.
    Unhealthy(String),
}

impl HealthStatus {
    /// Whether traffic should be sent (healthy or degraded).
    pub fn is_ready(&self) -> bool {
        !matches!(self, HealthStatus::Unhealthy(_))
    }
}

/// Source-specific gauges (name → value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdapterMetrics {
    /// Gauge values by name, e.g. `"connection_pool_in_use" → 3.0`.
    pub gauges: BTreeMap<String, f64>,
}
