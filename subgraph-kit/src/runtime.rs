//! The runtime behind each mounted entity: every source call goes through the
//! cache, then one batched, guarded adapter call; writes and source changes
//! become change events and cache invalidations.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::Value;
use async_trait::async_trait;
use futures::StreamExt;
use indexmap::IndexMap;
use serde_json::Map;

use crate::adapter::{DataProductAdapter, EntityQuery, HealthStatus, WritableAdapter};
use crate::cache::EntityCache;
use crate::config::EntityOptions;
use crate::entity::{Entity, EntityMeta};
use crate::error::AdapterError;
use crate::events::registration::{EntityRegisteredEvent, EntityRegistration};
use crate::events::{
    ChangePublisher, ChangeType, EntityChangeEvent, EntityReference, SourceChange, TraceContext,
};
use crate::key::{EntityKey, FieldSet};
use crate::metrics::SubgraphMetrics;
use crate::model::KeyDef;
use crate::resilience::{BreakerState, SourceGuard};

/// One entity value as served: GraphQL-ready and shared.
pub type EntityValue = Arc<Value>;

/// What the schema needs from a mounted entity, independent of its adapter type.
#[async_trait]
pub trait EntitySource: Send + Sync + 'static {
    /// The entity's GraphQL type name.
    fn type_name(&self) -> &'static str;

    /// Its metadata (domain, source, root fields).
    fn meta(&self) -> &EntityMeta;

    /// Loads a batch: cache first, then one adapter call for the misses.
    /// Results are aligned with `keys`.
    async fn load(&self, keys: Vec<EntityKey>) -> Vec<Result<Option<EntityValue>, AdapterError>>;

    /// Lists entities (the list root field).
    async fn query(&self, query: EntityQuery) -> Result<Vec<EntityValue>, AdapterError>;

    /// The adapter's health.
    async fn health(&self) -> HealthStatus;

    /// The breaker's state.
    fn breaker_state(&self) -> BreakerState;

    /// Copies the adapter's own gauges into the metrics.
    fn export_adapter_metrics(&self);

    /// Applies a change the source reported: publishes its event and drops the
    /// cached entity.
    async fn apply_change(&self, change: SourceChange);

    /// Follows the adapter's change stream until it ends.
    async fn follow_changes(self: Arc<Self>);

    /// Drops a cached entity named by a change event's entity id (the value of
    /// a single-field key, or the key as canonical JSON).
    async fn invalidate_id(&self, id: &str);

    /// The announcement of this entity type for the catalog.
    fn registration(&self) -> EntityRegisteredEvent;
}

/// Everything a runtime shares with the rest of the subgraph.
#[derive(Clone)]
pub struct RuntimeContext {
    /// Metrics of the subgraph.
    pub metrics: Arc<SubgraphMetrics>,
    /// Where change events go.
    pub publisher: Arc<dyn ChangePublisher>,
    /// The subgraph's public GraphQL URL, put into events.
    pub public_url: Arc<str>,
}

/// The runtime of one entity type served by adapter `A`.
pub struct EntityRuntime<A: DataProductAdapter> {
    adapter: Arc<A>,
    meta: EntityMeta,
    keys: Vec<KeyDef>,
    cache: Option<EntityCache>,
    guard: SourceGuard,
    options: EntityOptions,
    context: RuntimeContext,
}

impl<A: DataProductAdapter> EntityRuntime<A> {
    /// Wraps an adapter; `keys` are the entity's `@key`s from its description.
    pub fn new(
        adapter: A,
        keys: Vec<KeyDef>,
        options: EntityOptions,
        cache: Option<EntityCache>,
        context: RuntimeContext,
    ) -> Result<Self, String> {
        let meta = A::Entity::meta();
        let guard = SourceGuard::new(
            format!("{}/{}", meta.source, A::Entity::TYPE_NAME),
            options.resilience.clone(),
        )?;
        if options.max_batch_size == Some(0) {
            return Err("max_batch_size must be at least 1".into());
        }
        Ok(EntityRuntime {
            adapter: Arc::new(adapter),
            meta,
            keys,
            cache,
            guard,
            options,
            context,
        })
    }

    /// The adapter.
    pub fn adapter(&self) -> &A {
        &self.adapter
    }

    fn label(&self) -> &'static str {
        A::Entity::TYPE_NAME
    }

    /// One guarded adapter call for a batch of distinct keys.
    async fn fetch_batch(&self, keys: Vec<EntityKey>) -> Result<Vec<Option<EntityValue>>, AdapterError> {
        let label = self.label();
        let metrics = &self.context.metrics;
        metrics
            .batch_size
            .with_label_values(&[label])
            .observe(keys.len() as f64);
        let started = Instant::now();
        let keys: Arc<[EntityKey]> = keys.into();
        let adapter = self.adapter.clone();
        let batch = keys.clone();
        let retries = metrics.source_retries.with_label_values(&[label]);
        let result = self
            .guard
            .call(
                move || {
                    let adapter = adapter.clone();
                    let keys = batch.clone();
                    async move { adapter.get_entities(&keys).await }
                },
                &move |_| retries.inc(),
            )
            .await;
        metrics
            .source_call_duration
            .with_label_values(&[label])
            .observe(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(_) => "ok",
            Err(error) => error.code(),
        };
        metrics.source_calls.with_label_values(&[label, outcome]).inc();
        let entities = result?;
        if entities.len() != keys.len() {
            return Err(AdapterError::InvalidResponse(format!(
                "get_entities returned {} results for {} keys; results must be aligned with keys",
                entities.len(),
                keys.len()
            )));
        }
        entities
            .into_iter()
            .map(|entity| entity.map(|e| to_graphql_value(&e)).transpose())
            .collect()
    }

    /// Every cache key under which an entity value may be stored: one per
    /// resolvable `@key`.
    fn cache_keys_of(&self, value: &Value) -> Vec<String> {
        let Ok(serde_json::Value::Object(json)) = serde_json::to_value(value) else {
            return Vec::new();
        };
        self.keys
            .iter()
            .filter(|k| k.resolvable)
            .filter_map(|k| {
                k.fields.extract(&json).ok().map(|values| {
                    EntityKey::new(self.label(), k.fields.clone(), values.clone(), values).canonical()
                })
            })
            .collect()
    }

    /// Drops an entity from the caches under all its keys.
    async fn invalidate(&self, key_values: &Map<String, serde_json::Value>) {
        let Some(cache) = &self.cache else { return };
        let Some(first) = self.keys.first() else { return };
        let canonical = EntityKey::new(
            self.label(),
            first.fields.clone(),
            key_values.clone(),
            key_values.clone(),
        )
        .canonical();
        let mut keys = vec![canonical.clone()];
        if let Some(value) = cache.peek_l1(&canonical).await {
            keys.extend(self.cache_keys_of(&value));
        }
        keys.sort();
        keys.dedup();
        cache.invalidate(&keys).await;
    }

    /// Publishes the event of a change and invalidates the entity; whether
    /// the event was published.
    async fn emit(&self, change: SourceChange) -> bool {
        self.invalidate(&change.key).await;
        let event = self.event_for(&change);
        let published = match self.context.publisher.publish(&event).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, entity = self.label(), "change event not published");
                false
            }
        };
        self.count_event(change.change_type, published);
        published
    }

    /// Counts a change event by kind and outcome.
    fn count_event(&self, change_type: ChangeType, published: bool) {
        let kind = serde_json::to_value(change_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let outcome = if published { "published" } else { "failed" };
        self.context
            .metrics
            .change_events
            .with_label_values(&[self.label(), kind.as_str(), outcome])
            .inc();
    }

    fn event_for(&self, change: &SourceChange) -> EntityChangeEvent {
        let id = match (change.key.len(), change.key.values().next()) {
            (1, Some(serde_json::Value::String(s))) => s.clone(),
            (1, Some(other)) => other.to_string(),
            _ => {
                let mut out = String::new();
                crate::key::write_canonical(&mut out, &serde_json::Value::Object(change.key.clone()));
                out
            }
        };
        EntityChangeEvent {
            event_id: change.event_id.clone(),
            event_type: change.change_type,
            timestamp: change.occurred_at,
            source_system: self.meta.source.clone(),
            domain: self.meta.domain.clone(),
            entity: EntityReference {
                entity_type: self.label().to_string(),
                id,
                version: if change.version == 0 {
                    change.occurred_at
                } else {
                    change.version
                },
                url: self.context.public_url.to_string(),
                etag: change.etag.clone(),
            },
            changed_fields: change.changed_fields.clone(),
            relationships: change.relationships.clone(),
            metadata: Default::default(),
            trace_context: TraceContext::current(),
        }
    }

    fn first_key_values(&self, value: &Value) -> Map<String, serde_json::Value> {
        let json = serde_json::to_value(value).unwrap_or_default();
        self.keys
            .first()
            .and_then(|k| json.as_object().and_then(|o| k.fields.extract(o).ok()))
            .unwrap_or_default()
    }
}

/// Serializes an entity into the GraphQL value the schema serves.
fn to_graphql_value<T: Entity>(entity: &T) -> Result<EntityValue, AdapterError> {
    async_graphql::to_value(entity)
        .map(Arc::new)
        .map_err(|e| AdapterError::Internal(format!("{} does not serialize: {e}", T::TYPE_NAME)))
}

#[async_trait]
impl<A: DataProductAdapter> EntitySource for EntityRuntime<A> {
    fn type_name(&self) -> &'static str {
        A::Entity::TYPE_NAME
    }

    fn meta(&self) -> &EntityMeta {
        &self.meta
    }

    async fn load(&self, keys: Vec<EntityKey>) -> Vec<Result<Option<EntityValue>, AdapterError>> {
        let label = self.label();
        let mut results: Vec<Option<Result<Option<EntityValue>, AdapterError>>> = vec![None; keys.len()];
        let canonical: Vec<String> = keys.iter().map(EntityKey::canonical).collect();

        if let Some(cache) = &self.cache {
            let cacheable: Vec<usize> = (0..keys.len())
                .filter(|&i| !keys[i].carries_required_fields())
                .collect();
            let lookups: Vec<String> = cacheable.iter().map(|&i| canonical[i].clone()).collect();
            let found = cache.get_many(&lookups).await;
            for (&i, hit) in cacheable.iter().zip(found) {
                match hit {
                    Some((value, layer)) => {
                        self.context
                            .metrics
                            .cache_hits
                            .with_label_values(&[label, layer.label()])
                            .inc();
                        results[i] = Some(Ok(Some(value)));
                    }
                    None => self
                        .context
                        .metrics
                        .cache_misses
                        .with_label_values(&[label])
                        .inc(),
                }
            }
        }

        let mut misses: IndexMap<&str, (EntityKey, Vec<usize>)> = IndexMap::new();
        for (i, key) in keys.into_iter().enumerate() {
            if results[i].is_none() {
                misses
                    .entry(canonical[i].as_str())
                    .or_insert_with(|| (key, Vec::new()))
                    .1
                    .push(i);
            }
        }
        if !misses.is_empty() {
            let batch_size = self.options.max_batch_size.unwrap_or(usize::MAX);
            let entries: Vec<(EntityKey, Vec<usize>)> = misses.into_values().collect();
            let chunks: Vec<&[(EntityKey, Vec<usize>)]> = entries.chunks(batch_size).collect();
            let mut calls = Vec::with_capacity(chunks.len());
            for chunk in &chunks {
                calls.push(self.fetch_batch(chunk.iter().map(|(k, _)| k.clone()).collect()));
            }
            let fetched = futures::future::join_all(calls).await;
            let mut to_cache = Vec::new();
            for (chunk, outcome) in chunks.into_iter().zip(fetched) {
                match outcome {
                    Ok(values) => {
                        for ((key, slots), value) in chunk.iter().zip(values) {
                            if let (Some(v), false) = (&value, key.carries_required_fields()) {
                                to_cache.push((canonical[slots[0]].clone(), v.clone()));
                            }
                            for &slot in slots {
                                results[slot] = Some(Ok(value.clone()));
                            }
                        }
                    }
                    Err(error) => {
                        for (_, slots) in chunk {
                            for &slot in slots {
                                results[slot] = Some(Err(error.clone()));
                            }
                        }
                    }
                }
            }
            if let Some(cache) = &self.cache {
                cache.put_many(&to_cache).await;
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(AdapterError::Internal("entity was not resolved".into()))))
            .collect()
    }

    async fn query(&self, query: EntityQuery) -> Result<Vec<EntityValue>, AdapterError> {
        let adapter = self.adapter.clone();
        let query = Arc::new(query);
        let retries = self
            .context
            .metrics
            .source_retries
            .with_label_values(&[self.label()]);
        let found = self
            .guard
            .call(
                move || {
                    let adapter = adapter.clone();
                    let query = query.clone();
                    async move { adapter.query_entities(&query).await }
                },
                &move |_| retries.inc(),
            )
            .await?;
        found.iter().map(to_graphql_value).collect()
    }

    async fn health(&self) -> HealthStatus {
        if self.guard.breaker_state() == BreakerState::Open {
            return HealthStatus::Degraded(format!("circuit breaker of `{}` is open", self.label()));
        }
        self.adapter.health().await
    }

    fn breaker_state(&self) -> BreakerState {
        self.guard.breaker_state()
    }

    fn export_adapter_metrics(&self) {
        let metrics = &self.context.metrics;
        metrics
            .breaker_state
            .with_label_values(&[self.label()])
            .set(self.guard.breaker_state().as_gauge());
        for (name, value) in self.adapter.metrics().gauges {
            metrics
                .adapter_gauges
                .with_label_values(&[self.label(), name.as_str()])
                .set(value);
        }
    }

    async fn apply_change(&self, change: SourceChange) {
        self.emit(change).await;
    }

    async fn follow_changes(self: Arc<Self>) {
        let mut changes = self.adapter.stream_changes();
        while let Some(change) = changes.next().await {
            self.emit(change).await;
        }
    }

    fn registration(&self) -> EntityRegisteredEvent {
        let schema = self.adapter.schema();
        let sla = self.adapter.sla();
        let classification = schema.fields.iter().filter_map(|f| f.classification).max();
        EntityRegisteredEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or_default(),
            registration: EntityRegistration {
                entity_type: self.label().to_string(),
                domain: self.meta.domain.clone(),
                source_system: self.meta.source.clone(),
                source_entity_id: "*".into(),
                api_base_url: self.context.public_url.to_string(),
                api_path_template: String::new(),
                api_method: Some("POST".into()),
                schema_version: Some(schema.version.clone()),
                availability_sla: Some(sla.availability),
                latency_p99_ms: i32::try_from(sla.latency.p99.as_millis()).ok(),
                freshness_sla_seconds: i32::try_from(sla.freshness.as_secs()).ok(),
                contains_pii: Some(schema.contains_pii()),
                data_classification: classification.map(|c| c.as_str().to_string()),
            },
            lineage: self.adapter.lineage(),
            schema,
        }
    }

    async fn invalidate_id(&self, id: &str) {
        let Some(first) = self.keys.first() else { return };
        let values = match first.fields.selections() {
            [only] if only.children.is_empty() => {
                let mut values = Map::new();
                values.insert(only.name.clone(), serde_json::Value::String(id.to_string()));
                values
            }
            _ => match serde_json::from_str::<serde_json::Value>(id) {
                Ok(serde_json::Value::Object(values)) => values,
                _ => return,
            },
        };
        self.invalidate(&values).await;
    }
}

/// The write side of a mounted entity, independent of its adapter type.
#[async_trait]
pub trait EntityWriter: Send + Sync + 'static {
    /// Creates an entity from a draft input value.
    async fn create(&self, draft: Value) -> Result<EntityValue, AdapterError>;
    /// Updates an entity from a patch input value.
    async fn update(&self, key: EntityKey, patch: Value) -> Result<EntityValue, AdapterError>;
    /// Deletes an entity.
    async fn delete(&self, key: EntityKey) -> Result<(), AdapterError>;
    /// Publishes the changes the adapter recorded in its outbox, in order,
    /// until the task is stopped; returns at once when there is no outbox.
    async fn relay_outbox(self: Arc<Self>);
}

/// Changed fields of a patch: the fields it sets to a non-null value.
fn patch_fields(patch: &Value) -> Vec<String> {
    match patch {
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Null))
            .map(|(k, _)| k.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn decode_input<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, AdapterError> {
    async_graphql::from_value(value).map_err(|e| AdapterError::InvalidInput(format!("{what}: {e}")))
}

impl<A: WritableAdapter> EntityRuntime<A> {
    /// After a write: publishes its change, or, when the adapter recorded it in
    /// its outbox, drops the cached entity and wakes the relay.
    async fn after_write(&self, change: SourceChange) {
        #[cfg(feature = "outbox")]
        if let Some(outbox) = self.adapter.outbox() {
            self.invalidate(&change.key).await;
            outbox.notify();
            return;
        }
        self.emit(change).await;
    }
}

#[async_trait]
impl<A: WritableAdapter> EntityWriter for EntityRuntime<A> {
    async fn create(&self, draft: Value) -> Result<EntityValue, AdapterError> {
        let draft = decode_input(draft, "draft")?;
        let created = to_graphql_value(&self.adapter.create(draft).await?)?;
        let mut change = SourceChange::for_key(ChangeType::Created, self.first_key_values(&created));
        if let Value::Object(fields) = created.as_ref() {
            change.changed_fields = fields.keys().map(|k| k.to_string()).collect();
        }
        self.after_write(change).await;
        Ok(created)
    }

    async fn update(&self, key: EntityKey, patch: Value) -> Result<EntityValue, AdapterError> {
        let changed = patch_fields(&patch);
        let patch = decode_input(patch, "patch")?;
        let updated = to_graphql_value(&self.adapter.update(&key, patch).await?)?;
        let mut change = SourceChange::for_key(ChangeType::Updated, self.first_key_values(&updated));
        change.changed_fields = changed;
        self.after_write(change).await;
        Ok(updated)
    }

    async fn delete(&self, key: EntityKey) -> Result<(), AdapterError> {
        self.adapter.delete(&key).await?;
        self.after_write(SourceChange::for_key(ChangeType::Deleted, key.values().clone()))
            .await;
        Ok(())
    }

    async fn relay_outbox(self: Arc<Self>) {
        #[cfg(feature = "outbox")]
        relay(&self).await;
    }
}

/// Outbox rows the relay reads, publishes and removes at a time, at most.
#[cfg(feature = "outbox")]
const RELAY_BATCH: usize = 500;

#[cfg(feature = "outbox")]
impl<A: WritableAdapter> EntityRuntime<A> {
    /// Publishes the events of recorded changes (oldest first) and returns the
    /// sequence numbers of those whose publish was acknowledged. Each entity's
    /// events keep their order: they go out in waves of at most one change
    /// per entity, each wave published at once; an entity whose event failed
    /// publishes nothing more from this batch, so its later rows stay behind
    /// the failed one for the next turn.
    async fn emit_recorded(&self, recorded: Vec<(i64, SourceChange)>) -> Vec<i64> {
        let mut published = Vec::with_capacity(recorded.len());
        let mut failed = std::collections::HashSet::new();
        let mut remaining: Vec<((i64, SourceChange), EntityChangeEvent)> = recorded
            .into_iter()
            .map(|row| {
                let event = self.event_for(&row.1);
                (row, event)
            })
            .collect();
        while !remaining.is_empty() {
            let mut in_wave = std::collections::HashSet::new();
            let (wave, later): (Vec<_>, Vec<_>) = remaining
                .into_iter()
                .filter(|(_, event)| !failed.contains(&event.entity.id))
                .partition(|(_, event)| in_wave.insert(event.entity.id.clone()));
            remaining = later;
            let (rows, events): (Vec<(i64, SourceChange)>, Vec<EntityChangeEvent>) = wave.into_iter().unzip();
            for (_, change) in &rows {
                self.invalidate(&change.key).await;
            }
            let outcomes = self.context.publisher.publish_all(&events).await;
            let mut first_error = None;
            for (((sequence, change), event), outcome) in rows.iter().zip(&events).zip(outcomes) {
                self.count_event(change.change_type, outcome.is_ok());
                match outcome {
                    Ok(()) => published.push(*sequence),
                    Err(error) => {
                        failed.insert(event.entity.id.clone());
                        first_error.get_or_insert(error);
                    }
                }
            }
            if let Some(error) = first_error {
                tracing::error!(
                    %error,
                    entities = failed.len(),
                    entity = self.label(),
                    "change events not published; their outbox rows stay"
                );
            }
        }
        published
    }
}

/// Drains the adapter's outbox: reads up to [`RELAY_BATCH`] rows, publishes
/// them and removes the acknowledged ones in one transaction; goes on at once
/// while full batches publish completely, otherwise waits for a notification
/// or half a second.
#[cfg(feature = "outbox")]
async fn relay<A: WritableAdapter>(runtime: &EntityRuntime<A>) {
    let Some(outbox) = runtime.adapter.outbox() else {
        return;
    };
    loop {
        let more = match outbox.pending(runtime.label(), RELAY_BATCH).await {
            Ok(recorded) => {
                let read = recorded.len();
                let published = runtime.emit_recorded(recorded).await;
                let complete = published.len() == read;
                match outbox.remove(&published).await {
                    Ok(()) => complete && read == RELAY_BATCH,
                    Err(error) => {
                        tracing::error!(%error, "outbox rows published but not removed; they will be republished");
                        false
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, entity = runtime.label(), "cannot read the outbox");
                false
            }
        };
        if !more {
            outbox.wait(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// A key of the entity built from root field arguments (`product(id: ...)`).
pub fn key_from_arguments(
    type_name: &str,
    fields: &FieldSet,
    arguments: Map<String, serde_json::Value>,
) -> EntityKey {
    EntityKey::new(type_name, fields.clone(), arguments.clone(), arguments)
}
