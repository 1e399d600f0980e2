//! Completing entity references. A field whose type is an entity this subgraph
//! resolves may hold only the entity's key (a [`crate::Reference`]); when the
//! query asks for more, the entity is loaded through its runtime. All such
//! loads of one type that are pending at once in a request become ONE batched
//! load (a DataLoader without a timer: the first caller yields once so that its
//! siblings can join the batch).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::Value;
use tokio::sync::watch;

use crate::error::AdapterError;
use crate::key::{EntityKey, FieldSet};
use crate::runtime::{EntitySource, EntityValue};

type BatchResult = Option<Arc<Vec<Result<Option<EntityValue>, AdapterError>>>>;

struct OpenBatch {
    keys: Vec<EntityKey>,
    done: watch::Sender<BatchResult>,
}

/// Request-scoped batches of reference loads, one open batch per entity type.
#[derive(Default)]
pub struct ReferenceBatches {
    open: Mutex<HashMap<&'static str, OpenBatch>>,
}

impl ReferenceBatches {
    /// Loads one entity, batched with every other load of its type that is
    /// pending in this request.
    pub async fn load(
        &self,
        source: &Arc<dyn EntitySource>,
        key: EntityKey,
    ) -> Result<Option<EntityValue>, AdapterError> {
        let type_name = source.type_name();
        let (position, mut receiver, leader) = {
            let Ok(mut open) = self.open.lock() else {
                return source.load(vec![key]).await.pop().unwrap_or(Ok(None));
            };
            match open.get_mut(type_name) {
                Some(batch) => {
                    batch.keys.push(key);
                    (batch.keys.len() - 1, batch.done.subscribe(), false)
                }
                None => {
                    let (done, receiver) = watch::channel(None);
                    open.insert(
                        type_name,
                        OpenBatch {
                            keys: vec![key],
                            done,
                        },
                    );
                    (0, receiver, true)
                }
            }
        };
        if leader {
            tokio::task::yield_now().await;
            let batch = self.open.lock().ok().and_then(|mut open| open.remove(type_name));
            if let Some(batch) = batch {
                let results = source.load(batch.keys).await;
                let _ = batch.done.send(Some(Arc::new(results)));
            }
        }
        loop {
            if let Some(results) = receiver.borrow_and_update().as_ref() {
                return results
                    .get(position)
                    .cloned()
                    .unwrap_or_else(|| Err(AdapterError::Internal("reference batch lost a result".into())));
            }
            if receiver.changed().await.is_err() {
                return Err(AdapterError::Internal("reference batch was abandoned".into()));
            }
        }
    }
}

/// How to complete references of one entity type.
#[derive(Clone)]
pub struct Completion {
    /// The entity's runtime.
    pub source: Arc<dyn EntitySource>,
    /// The key used to load it (its first resolvable key).
    pub key: FieldSet,
}

impl Completion {
    /// The key of a value that lacks some of the `selected` fields, or `None`
    /// when the value has them all (or has no key to load it by).
    pub fn key_of_incomplete(&self, value: &Value, selected: &[&str]) -> Option<EntityKey> {
        let Value::Object(object) = value else { return None };
        if selected.iter().all(|f| object.contains_key(*f)) {
            return None;
        }
        let Ok(serde_json::Value::Object(json)) = serde_json::to_value(value) else {
            return None;
        };
        let values = self.key.extract(&json).ok()?;
        Some(EntityKey::new(
            self.source.type_name(),
            self.key.clone(),
            values.clone(),
            values,
        ))
    }
}
