//! A decorator that counts the calls reaching an adapter and can make it fail
//! or slow down, for resilience tests of real adapters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::adapter::{
    AdapterMetrics, DataProductAdapter, DataSchema, EntityQuery, HealthStatus, Lineage, Sla,
};
use crate::error::AdapterError;
use crate::events::SourceChange;
use crate::key::EntityKey;

#[derive(Default)]
struct Faults {
    calls: AtomicUsize,
    failure: Mutex<Option<AdapterError>>,
    delay: Mutex<Option<Duration>>,
}

/// Controls a [`FaultInjector`] after it has been mounted.
#[derive(Clone, Default)]
pub struct FaultControl {
    faults: Arc<Faults>,
}

impl FaultControl {
    /// Calls that reached the wrapped adapter (or would have, when failing).
    pub fn calls(&self) -> usize {
        self.faults.calls.load(Ordering::SeqCst)
    }

    /// Makes every call fail with `error` until [`Self::heal`].
    pub fn fail_with(&self, error: AdapterError) {
        if let Ok(mut failure) = self.faults.failure.lock() {
            *failure = Some(error);
        }
    }

    /// Adds a delay before every call.
    pub fn delay(&self, delay: Duration) {
        if let Ok(mut slot) = self.faults.delay.lock() {
            *slot = Some(delay);
        }
    }

    /// Removes failures and delays.
    pub fn heal(&self) {
        if let Ok(mut failure) = self.faults.failure.lock() {
            *failure = None;
        }
        if let Ok(mut delay) = self.faults.delay.lock() {
            *delay = None;
        }
    }

    async fn before_call(&self) -> Result<(), AdapterError> {
        self.faults.calls.fetch_add(1, Ordering::SeqCst);
        let delay = self.faults.delay.lock().ok().and_then(|d| *d);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        match self.faults.failure.lock().ok().and_then(|f| f.clone()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Wraps an adapter: counts calls, injects failures and delays.
pub struct FaultInjector<A> {
    inner: Arc<A>,
    control: FaultControl,
}

impl<A> Clone for FaultInjector<A> {
    fn clone(&self) -> Self {
        FaultInjector {
            inner: self.inner.clone(),
            control: self.control.clone(),
        }
    }
}

impl<A: DataProductAdapter> FaultInjector<A> {
    /// Wraps `adapter`; the control changes its behaviour later.
    pub fn new(adapter: A) -> (Self, FaultControl) {
        Self::shared(Arc::new(adapter))
    }

    /// Wraps a shared adapter.
    pub fn shared(adapter: Arc<A>) -> (Self, FaultControl) {
        let control = FaultControl::default();
        (
            FaultInjector {
                inner: adapter,
                control: control.clone(),
            },
            control,
        )
    }
}

#[async_trait]
impl<A: DataProductAdapter> DataProductAdapter for FaultInjector<A> {
    type Entity = A::Entity;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<A::Entity>>, AdapterError> {
        self.control.before_call().await?;
        self.inner.get_entities(keys).await
    }

    async fn get_entity(&self, key: &EntityKey) -> Result<A::Entity, AdapterError> {
        self.control.before_call().await?;
        self.inner.get_entity(key).await
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<A::Entity>, AdapterError> {
        self.control.before_call().await?;
        self.inner.query_entities(query).await
    }

    fn schema(&self) -> DataSchema {
        self.inner.schema()
    }

    fn sla(&self) -> Sla {
        self.inner.sla()
    }

    fn lineage(&self) -> Lineage {
        self.inner.lineage()
    }

    fn stream_changes(&self) -> BoxStream<'static, SourceChange> {
        self.inner.stream_changes()
    }

    async fn health(&self) -> HealthStatus {
        self.inner.health().await
    }

    fn metrics(&self) -> AdapterMetrics {
        self.inner.metrics()
    }
}
