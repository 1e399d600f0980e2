//! The plan cache: plans by operation text, operation name and the request inputs that
//! change a plan (`@skip`/`@include` variables, enabled override labels, selections
//! removed by authorization).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;

/// What identifies a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanCacheKey {
    /// The operation document, as the client sent it.
    pub query: Arc<str>,
    /// The operation to run.
    pub operation_name: Option<String>,
    /// Values of the variables used by `@skip`/`@include`/`@defer`, in document
    /// order (`None`: absent or null, which `@defer` reads as true).
    pub conditions: Vec<(String, Option<bool>)>,
    /// Enabled progressive-override labels, sorted.
    pub override_labels: Vec<String>,
    /// What authorization removed (paths, fields, type conditions; empty when
    /// nothing was): a caller's filtered plan never serves another caller.
    pub authorization: Vec<String>,
}

/// A bounded map of plans; when full, it forgets everything (plans are cheap to
/// redo, and a full cache usually means the set of operations changed).
pub(super) struct PlanCache<P> {
    capacity: usize,
    /// Keyed with a fast seeded hash: a key holds the whole query text.
    plans: RwLock<HashMap<PlanCacheKey, Arc<P>, foldhash::fast::RandomState>>,
}

impl<P> PlanCache<P> {
    pub(super) fn new(capacity: usize) -> Self {
        PlanCache {
            capacity,
            plans: RwLock::new(HashMap::default()),
        }
    }

    pub(super) fn get(&self, key: &PlanCacheKey) -> Option<Arc<P>> {
        self.plans.read().ok()?.get(key).cloned()
    }

    pub(super) fn insert(&self, key: PlanCacheKey, plan: Arc<P>) {
        if self.capacity == 0 {
            return;
        }
        if let Ok(mut plans) = self.plans.write() {
            if plans.len() >= self.capacity {
                plans.clear();
            }
            plans.insert(key, plan);
        }
    }
}
