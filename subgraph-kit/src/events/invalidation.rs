//! Cache invalidation from change events: every replica of a subgraph drops
//! an entity from its L1 and L2 caches when the entity's change event arrives,
//! whichever replica (or source) caused it.

use std::sync::Arc;

use async_trait::async_trait;

use super::EntityChangeEvent;
use super::bus::{EventHandler, HandlerError};
use crate::runtime::EntitySource;

/// An event handler that invalidates the cached entities events name.
pub struct CacheInvalidation {
    sources: Vec<Arc<dyn EntitySource>>,
}

impl CacheInvalidation {
    /// Invalidates entities of the given runtimes (e.g. `Subgraph::sources()`).
    pub fn new(sources: Vec<Arc<dyn EntitySource>>) -> Self {
        CacheInvalidation { sources }
    }

    /// The topics the handler needs: each entity's `<domain>.<source>.entity_changed`.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .sources
            .iter()
            .map(|s| format!("{}.{}.entity_changed", s.meta().domain, s.meta().source))
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }
}

#[async_trait]
impl EventHandler for CacheInvalidation {
    async fn handle(&self, events: &[EntityChangeEvent]) -> Result<(), HandlerError> {
        for event in events {
            for source in self
                .sources
                .iter()
                .filter(|s| s.type_name() == event.entity.entity_type)
            {
                source.invalidate_id(&event.entity.id).await;
            }
        }
        Ok(())
    }
}
