//! Per-subgraph resilience: a deadline per attempt, retries with exponential backoff
//! and jitter for queries only (never mutations), and the kit's circuit breaker
//! ([`dictamesh::resilience::CircuitBreaker`], configured with the kit's
//! [`BreakerConfig`] and [`RetryPolicy`]: one implementation, one schema). An open
//! breaker fails a fetch at once with [`FetchError::CircuitOpen`].

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use dictamesh::config::BreakerConfig;
use dictamesh::config::RetryPolicy;
use dictamesh::resilience::BreakerError;
use dictamesh::resilience::BreakerFailure;
use dictamesh::resilience::BreakerState;
use dictamesh::resilience::CircuitBreaker;

use crate::fetch::Exchange;
use crate::fetch::FetchError;

/// How calls to one subgraph are guarded.
#[derive(Debug, Clone, PartialEq)]
pub struct SubgraphPolicy {
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// Retries of failed queries.
    pub retry: RetryPolicy,
    /// The circuit breaker.
    pub circuit_breaker: BreakerConfig,
}

impl Default for SubgraphPolicy {
    fn default() -> Self {
        SubgraphPolicy {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            circuit_breaker: BreakerConfig::default(),
        }
    }
}

/// Runs the exchanges with one subgraph under its [`SubgraphPolicy`].
pub struct SubgraphGuard {
    subgraph: String,
    policy: SubgraphPolicy,
    breaker: Option<CircuitBreaker>,
}

/// Why one attempt failed, as the breaker and the retry loop see it.
enum AttemptFailure {
    /// No usable exchange.
    Fetch(FetchError),
    /// The subgraph answered with a 5xx status (kept to report it as before).
    ServerError(u16, Bytes),
}

impl BreakerFailure for AttemptFailure {
    fn is_breaker_failure(&self) -> bool {
        !matches!(self, AttemptFailure::Fetch(FetchError::InvalidUrl { .. }))
    }
}

impl AttemptFailure {
    fn is_retryable(&self) -> bool {
        match self {
            AttemptFailure::Fetch(error) => matches!(error, FetchError::Http(_) | FetchError::Timeout(_)),
            AttemptFailure::ServerError(..) => true,
        }
    }

    fn into_exchange(self) -> Exchange {
        match self {
            AttemptFailure::Fetch(error) => Err(error),
            AttemptFailure::ServerError(status, body) => Ok((status, body)),
        }
    }
}

impl SubgraphGuard {
    /// A guard for `subgraph`; the error names the bad setting.
    pub fn new(subgraph: &str, policy: SubgraphPolicy) -> Result<Self, String> {
        if policy.retry.max_attempts == 0 {
            return Err("retry.max_attempts must be at least 1".to_string());
        }
        if policy.timeout.is_zero() {
            return Err("timeout must be longer than 0".to_string());
        }
        let breaker = if policy.circuit_breaker.enabled {
            Some(CircuitBreaker::new(subgraph, &policy.circuit_breaker)?)
        } else {
            None
        };
        Ok(SubgraphGuard {
            subgraph: subgraph.to_string(),
            policy,
            breaker,
        })
    }

    /// The subgraph guarded.
    pub fn subgraph(&self) -> &str {
        &self.subgraph
    }

    /// The breaker's state (closed when the breaker is disabled).
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker
            .as_ref()
            .map_or(BreakerState::Closed, CircuitBreaker::state)
    }

    /// Runs `attempt` through the breaker with the subgraph's deadline; when `retry`
    /// (a query) and the failure is retryable (connection error, timeout, 5xx), tries
    /// again after a jittered backoff until the attempts are used up. `on_retry` hears
    /// of each retry.
    pub async fn call<F, Fut>(&self, retry: bool, mut attempt: F, on_retry: impl Fn()) -> Exchange
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Exchange> + Send + 'static,
    {
        let policy = &self.policy.retry;
        let mut tries = 0;
        loop {
            tries += 1;
            let failure = match self.attempt_once(attempt()).await {
                Ok(exchange) => return Ok(exchange),
                Err(failure) => failure,
            };
            if !(retry && failure.is_retryable() && tries < policy.max_attempts) {
                return failure.into_exchange();
            }
            on_retry();
            tokio::time::sleep(policy.backoff(tries).min(policy.max_backoff)).await;
        }
    }

    async fn attempt_once(
        &self,
        exchange: impl Future<Output = Exchange> + Send + 'static,
    ) -> Result<(u16, Bytes), AttemptFailure> {
        let timeout = self.policy.timeout;
        let timed = async move {
            match tokio::time::timeout(timeout, exchange).await {
                Err(_) => Err(AttemptFailure::Fetch(FetchError::Timeout(timeout))),
                Ok(Err(error)) => Err(AttemptFailure::Fetch(error)),
                Ok(Ok((status, body))) if status >= 500 => Err(AttemptFailure::ServerError(status, body)),
                Ok(Ok(exchange)) => Ok(exchange),
            }
        };
        match &self.breaker {
            None => timed.await,
            Some(breaker) => breaker.call(Box::pin(timed)).await.map_err(|error| match error {
                BreakerError::Open => AttemptFailure::Fetch(FetchError::CircuitOpen {
                    subgraph: self.subgraph.clone(),
                }),
                BreakerError::Inner(failure) => failure,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;
    use std::sync::atomic::Ordering;

    use super::*;

    fn policy(max_attempts: u32, window: usize) -> SubgraphPolicy {
        SubgraphPolicy {
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(2),
                ..RetryPolicy::default()
            },
            circuit_breaker: BreakerConfig {
                minimum_calls: window,
                window_size: window,
                wait_in_open: Duration::from_secs(60),
                ..BreakerConfig::default()
            },
        }
    }

    async fn run(guard: &SubgraphGuard, retry: bool, answer: Exchange) -> (Exchange, u32) {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let result = guard
            .call(
                retry,
                move || {
                    let (counter, answer) = (counter.clone(), answer.clone());
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        answer
                    }
                },
                || {},
            )
            .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn queries_are_retried_and_mutations_are_not() {
        let guard = SubgraphGuard::new("s", policy(3, 10)).expect("valid policy");
        let refused = Err(FetchError::Http("connection refused".into()));
        let (result, calls) = run(&guard, true, refused.clone()).await;
        assert!(matches!(result, Err(FetchError::Http(_))));
        assert_eq!(calls, 3);
        let guard = SubgraphGuard::new("s", policy(3, 10)).expect("valid policy");
        let (_, calls) = run(&guard, false, refused).await;
        assert_eq!(calls, 1, "a mutation is sent once");
    }

    #[tokio::test]
    async fn a_5xx_is_retried_then_reported_as_the_subgraph_answered() {
        let guard = SubgraphGuard::new("s", policy(2, 10)).expect("valid policy");
        let (result, calls) = run(&guard, true, Ok((503, Bytes::from_static(b"busy")))).await;
        assert_eq!(calls, 2);
        assert_eq!(result.expect("the last answer").0, 503);
        let (ok, calls) = run(&guard, true, Ok((400, Bytes::new()))).await;
        assert_eq!((ok.expect("answer").0, calls), (400, 1), "a 4xx is not retried");
    }

    #[tokio::test]
    async fn an_open_breaker_fails_at_once_naming_the_subgraph() {
        let guard = SubgraphGuard::new("inventory", policy(1, 2)).expect("valid policy");
        for _ in 0..2 {
            let _ = run(&guard, true, Err(FetchError::Http("down".into()))).await;
        }
        assert_eq!(guard.breaker_state(), BreakerState::Open);
        let (result, calls) = run(&guard, true, Ok((200, Bytes::new()))).await;
        assert_eq!(calls, 0, "an open breaker does not call the subgraph");
        assert!(
            matches!(&result, Err(FetchError::CircuitOpen { subgraph }) if subgraph == "inventory"),
            "{result:?}"
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let mut bad = policy(0, 10);
        assert!(
            SubgraphGuard::new("s", bad.clone())
                .err()
                .unwrap_or_default()
                .contains("max_attempts")
        );
        bad.retry.max_attempts = 1;
        bad.circuit_breaker.failure_rate_threshold = 0.0;
        assert!(
            SubgraphGuard::new("s", bad)
                .err()
                .unwrap_or_default()
                .contains("failure_rate_threshold")
        );
    }
}
