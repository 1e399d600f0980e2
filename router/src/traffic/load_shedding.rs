//! A global concurrency limit that sheds load: a request that finds every slot taken
//! is refused at once rather than queued.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::Semaphore;

/// At most a given number of requests at once.
pub struct ConcurrencyLimit {
    slots: Arc<Semaphore>,
}

impl ConcurrencyLimit {
    /// A limit of `max` requests at once.
    pub fn new(max: usize) -> Self {
        ConcurrencyLimit {
            slots: Arc::new(Semaphore::new(max)),
        }
    }

    /// A slot, held until dropped; `None` when all are taken.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_beyond_the_limit_and_frees_slots_on_drop() {
        let limit = ConcurrencyLimit::new(1);
        let first = limit.try_enter().expect("a free slot");
        assert!(limit.try_enter().is_none(), "the only slot is taken");
        drop(first);
        assert!(limit.try_enter().is_some(), "the slot is free again");
    }
}
