//! An adapter over entities held in memory.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::adapter::{DataProductAdapter, EntityQuery, Sla};
use crate::entity::Entity;
use crate::error::AdapterError;
use crate::key::{EntityKey, FieldSet, write_canonical};
use crate::model::TypeRegistry;

/// Serves entities from memory; finds keys of any shape (single, composite,
/// nested) through an index per `@key`.
pub struct MemoryAdapter<T> {
    store: RwLock<Store<T>>,
    calls: AtomicUsize,
    sla: Sla,
}

struct Store<T> {
    keys: Vec<FieldSet>,
    entities: Vec<T>,
    index: HashMap<String, usize>,
}

/// The index key of key values under one field set.
fn index_key(fields: &FieldSet, values: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = format!("{fields}|");
    write_canonical(&mut out, &serde_json::Value::Object(values.clone()));
    out
}

impl<T: Entity> Store<T> {
    fn insert(&mut self, entity: T) {
        let position = self.entities.len();
        if let Ok(serde_json::Value::Object(json)) = serde_json::to_value(&entity) {
            for fields in &self.keys {
                if let Ok(values) = fields.extract(&json) {
                    self.index.insert(index_key(fields, &values), position);
                }
            }
        }
        self.entities.push(entity);
    }
}

impl<T: Entity + Clone> MemoryAdapter<T> {
    /// An adapter serving these entities.
    pub fn new(entities: impl IntoIterator<Item = T>) -> Self {
        let mut registry = TypeRegistry::new();
        registry.register::<T>();
        let keys = registry
            .object(T::TYPE_NAME)
            .map(|o| o.keys.iter().map(|k| k.fields.clone()).collect())
            .unwrap_or_default();
        let mut store = Store {
            keys,
            entities: Vec::new(),
            index: HashMap::new(),
        };
        for entity in entities {
            store.insert(entity);
        }
        MemoryAdapter {
            store: RwLock::new(store),
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
        if let Ok(mut store) = self.store.write() {
            store.insert(entity);
        }
    }

    /// How many batch calls reached this adapter.
    pub fn source_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn find(store: &Store<T>, key: &EntityKey) -> Option<T> {
        let position = store.index.get(&index_key(key.key_fields(), key.values()))?;
        store.entities.get(*position).cloned()
    }
}

#[async_trait]
impl<T: Entity + Clone> DataProductAdapter for MemoryAdapter<T> {
    type Entity = T;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<T>>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let store = self
            .store
            .read()
            .map_err(|_| AdapterError::Internal("entity store poisoned".into()))?;
        Ok(keys.iter().map(|key| Self::find(&store, key)).collect())
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<T>, AdapterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let store = self
            .store
            .read()
            .map_err(|_| AdapterError::Internal("entity store poisoned".into()))?;
        Ok(query.apply(store.entities.iter().cloned()))
    }

    fn sla(&self) -> Sla {
        self.sla
    }
}
