//! Resilience around every source call: rate limit, circuit breaker, timeout
//! and retry with backoff, combined by [`SourceGuard`].

mod breaker;
mod rate_limit;
mod retry;

pub use breaker::{BreakerError, BreakerFailure, BreakerState, CircuitBreaker};
pub use rate_limit::RateLimiter;
use std::future::Future;

use crate::config::ResilienceConfig;
use crate::error::AdapterError;

/// Runs calls to one source under its resilience configuration.
pub struct SourceGuard {
    name: String,
    config: ResilienceConfig,
    breaker: Option<CircuitBreaker>,
    limiter: Option<RateLimiter>,
}

impl SourceGuard {
    /// A guard for the source called `name`; the error says which setting is wrong.
    pub fn new(name: impl Into<String>, config: ResilienceConfig) -> Result<Self, String> {
        let name = name.into();
        let breaker = if config.circuit_breaker.enabled {
            Some(CircuitBreaker::new(&name, &config.circuit_breaker)?)
        } else {
            None
        };
        let limiter = config.rate_limit.as_ref().map(RateLimiter::new).transpose()?;
        if config.retry.max_attempts == 0 {
            return Err("retry.max_attempts must be at least 1".into());
        }
        Ok(SourceGuard {
            name,
            config,
            breaker,
            limiter,
        })
    }

    /// The breaker's state (closed when there is no breaker).
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker
            .as_ref()
            .map_or(BreakerState::Closed, CircuitBreaker::state)
    }

    /// Runs `attempt` until it succeeds, fails with a non-retryable error, or
    /// the attempts are used up. Each attempt waits for the rate limiter, passes
    /// the circuit breaker and has the configured timeout. `on_retry` hears of
    /// each retry (for metrics).
    pub async fn call<T, F, Fut>(
        &self,
        mut attempt: F,
        on_retry: &(dyn Fn(&AdapterError) + Send + Sync),
    ) -> Result<T, AdapterError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AdapterError>> + Send + 'static,
        T: Send + 'static,
    {
        let retry = &self.config.retry;
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self.attempt_once(attempt()).await;
            match result {
                Err(error) if error.is_retryable() && tries < retry.max_attempts => {
                    on_retry(&error);
                    let wait = match &error {
                        AdapterError::RateLimited {
                            retry_after: Some(after),
                        } => *after,
                        _ => retry.backoff(tries),
                    };
                    tokio::time::sleep(wait.min(retry.max_backoff)).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt_once<T, Fut>(&self, call: Fut) -> Result<T, AdapterError>
    where
        Fut: Future<Output = Result<T, AdapterError>> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(limiter) = &self.limiter {
            limiter.acquire(self.config.timeout).await?;
        }
        let timeout = self.config.timeout;
        let timed = async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(AdapterError::Timeout(timeout)),
            }
        };
        match &self.breaker {
            None => timed.await,
            Some(breaker) => breaker.call(Box::pin(timed)).await.map_err(|error| match error {
                BreakerError::Open => AdapterError::CircuitOpen(self.name.clone()),
                BreakerError::Inner(inner) => inner,
            }),
        }
    }
}

impl BreakerFailure for AdapterError {
    fn is_breaker_failure(&self) -> bool {
        self.is_source_failure()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::config::{BreakerConfig, RateLimitConfig, RetryPolicy};

    fn quick(config: impl FnOnce(&mut ResilienceConfig)) -> SourceGuard {
        let mut c = ResilienceConfig {
            timeout: Duration::from_millis(50),
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(5),
                multiplier: 2.0,
                jitter: true,
            },
            circuit_breaker: BreakerConfig {
                minimum_calls: 4,
                window_size: 4,
                wait_in_open: Duration::from_millis(100),
                permitted_calls_in_half_open: 1,
                ..BreakerConfig::default()
            },
            rate_limit: None,
        };
        config(&mut c);
        SourceGuard::new("test", c).unwrap()
    }

    #[tokio::test]
    async fn retries_retryable_errors_and_stops_at_the_limit() {
        let guard = quick(|_| {});
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let result: Result<(), _> = guard
            .call(
                move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async { Err(AdapterError::unavailable("test", "connection refused")) }
                },
                &|_| {},
            )
            .await;
        assert!(matches!(result, Err(AdapterError::SourceUnavailable { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn does_not_retry_errors_that_retrying_cannot_fix() {
        let guard = quick(|_| {});
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let result: Result<(), _> = guard
            .call(
                move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async { Err(AdapterError::InvalidKey("not a uuid".into())) }
                },
                &|_| {},
            )
            .await;
        assert!(matches!(result, Err(AdapterError::InvalidKey(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn times_out_slow_calls() {
        let guard = quick(|c| c.retry.max_attempts = 1);
        let result: Result<(), _> = guard
            .call(
                || async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(())
                },
                &|_| {},
            )
            .await;
        assert_eq!(result, Err(AdapterError::Timeout(Duration::from_millis(50))));
    }

    #[tokio::test]
    async fn breaker_opens_after_failures_and_recovers_after_the_wait() {
        let guard = quick(|c| c.retry.max_attempts = 1);
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let calls = Arc::new(AtomicU32::new(0));
        let run = |failing: Arc<std::sync::atomic::AtomicBool>, calls: Arc<AtomicU32>| {
            move || {
                let fail = failing.load(Ordering::SeqCst);
                let calls = calls.clone();
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if fail {
                        Err(AdapterError::unavailable("test", "down"))
                    } else {
                        Ok(())
                    }
                }
            }
        };
        for _ in 0..4 {
            let _ = guard.call(run(failing.clone(), calls.clone()), &|_| {}).await;
        }
        assert_eq!(guard.breaker_state(), BreakerState::Open);
        let rejected = guard.call(run(failing.clone(), calls.clone()), &|_| {}).await;
        assert_eq!(rejected, Err(AdapterError::CircuitOpen("test".into())));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "an open breaker does not call the source"
        );

        failing.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let recovered = guard.call(run(failing.clone(), calls.clone()), &|_| {}).await;
        assert_eq!(recovered, Ok(()));
        assert_eq!(guard.breaker_state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn rate_limit_rejects_calls_that_would_wait_past_the_timeout() {
        let guard = quick(|c| {
            c.retry.max_attempts = 1;
            c.timeout = Duration::from_millis(10);
            c.rate_limit = Some(RateLimitConfig {
                per_second: 1,
                burst: 1,
            });
        });
        assert_eq!(guard.call(|| async { Ok(()) }, &|_| {}).await, Ok(()));
        let limited = guard.call(|| async { Ok(()) }, &|_| {}).await;
        assert!(matches!(
            limited,
            Err(AdapterError::RateLimited { retry_after: Some(_) })
        ));
    }

    #[test]
    fn rejects_invalid_configuration() {
        let mut config = ResilienceConfig::default();
        config.retry.max_attempts = 0;
        assert!(
            SourceGuard::new("x", config)
                .err()
                .unwrap_or_default()
                .contains("max_attempts")
        );
        let config = ResilienceConfig {
            rate_limit: Some(RateLimitConfig {
                per_second: 0,
                burst: 1,
            }),
            ..ResilienceConfig::default()
        };
        assert!(
            SourceGuard::new("x", config)
                .err()
                .unwrap_or_default()
                .contains("per_second")
        );
    }
}
