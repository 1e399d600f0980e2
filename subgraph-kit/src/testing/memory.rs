//! An adapter over entities held in memory.

use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::adapter::{DataProductAdapter, EntityQuery, Sla};
use crate::entity::Entity;
use crate::error::AdapterError;
use crate::key::EntityKey;

/// Serves entities from memory; matches keys of any shape (single, composite,
/// nested) by comparing the entity's key fields with the key's values.
pub struct MemoryAdapter<T> {
    entities: RwLock<Vec<T>>,
    calls: AtomicUsize,
    sla: Sla,
}

impl<T: Entity + Clone> MemoryAdapter<T> {
    /// An adapter serving these entities.
    pub fn new(entities: impl IntoIterator<Item = T>) -> Self {
        MemoryAdapter {
            entities: RwLock::new(entities.into_iter().collect()),
            calls: AtomicUsize::new(0),
            sla: Sla::default(),
        }
    }

    /// Sets the SLA the adapter reports (its freshness is the cache TTL).
    pub fn with_sla(mut self, sla: Sla) -> Self {
        self.sla = sla;
        self
    }

    /// Adds an entity.
    pub fn insert(&self, entity: T) {
        if let Ok(mut entities) = self.entities.write() {
            entities.push(entity);
        }
    }

    /// How many batch calls reached this adapter.
    pub fn source_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn find(&self, key: &EntityKey) -> Option<T> {
        let entities = self.entities.read().ok()?;
        entities
            .iter()
            .find(|entity| {
                serde_json::to_value(entity)
                    .ok()
                    .and_then(|json| json.as_object().and_then(|o| key.key_fields().extract(o).ok()))
                    .is_some_and(|values| &values == key.values())
            })
            .cloned()
    }
}

#[async_trait]
impl<T: Entity + Clone> DataProductAdapter for MemoryAdapter<T> {
    type Entity = T;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<T>>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(keys.iter().map(|key| self.find(key)).collect())
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<T>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let entities = self
            .entities
            .read()
            .map_err(|_| AdapterError::Internal("entity store poisoned".into()))?;
        Ok(query.apply(entities.iter().cloned()))
    }

    fn sla(&self) -> Sla {
        self.sla
    }
}
