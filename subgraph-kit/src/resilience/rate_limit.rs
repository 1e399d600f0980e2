//! A token-bucket rate limit per source (governor).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::{InMemoryState, NotKeyed};

use crate::config::RateLimitConfig;
use crate::error::AdapterError;

/// Limits the calls to one source.
pub struct RateLimiter {
    limiter: governor::RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
}

impl RateLimiter {
    /// A limiter from its configuration; the error names the bad setting.
    pub fn new(config: &RateLimitConfig) -> Result<Self, String> {
        let per_second =
            NonZeroU32::new(config.per_second).ok_or("rate_limit.per_second must be at least 1")?;
        let burst = NonZeroU32::new(config.burst).ok_or("rate_limit.burst must be at least 1")?;
        let quota = governor::Quota::per_second(per_second).allow_burst(burst);
        Ok(RateLimiter {
            limiter: governor::RateLimiter::direct(quota),
        })
    }

    /// Takes a token, waiting for one if it comes within `patience`; otherwise
    /// fails with [`AdapterError::RateLimited`] saying when to come back.
    pub async fn acquire(&self, patience: Duration) -> Result<(), AdapterError> {
        match self.limiter.check() {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                if wait > patience {
                    return Err(AdapterError::RateLimited {
                        retry_after: Some(wait),
                    });
                }
                tokio::time::sleep(wait).await;
                self.limiter.until_ready().await;
                Ok(())
            }
        }
    }
}
