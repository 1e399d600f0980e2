//! The circuit breaker: `tower-resilience`'s resilience4j-style breaker (sliding
//! window, failure-rate threshold, minimum calls, open wait, half-open probes),
//! wrapped so any future can run through it. The router uses the same type for
//! subgraph calls.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::ServiceExt;
use tower_resilience_circuitbreaker::{
    CircuitBreakerError, CircuitBreakerHandle, CircuitBreakerLayer, CircuitState, FailureClassifier,
    SlidingWindowType,
};

use crate::config::{BreakerConfig, WindowKind};

/// Errors that say whether they count against the breaker (a bad request does
/// not; an unreachable source does).
pub trait BreakerFailure {
    /// Whether this error counts as a failure of the guarded service.
    fn is_breaker_failure(&self) -> bool;
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are rejected.
    Open,
    /// A few probe calls pass.
    HalfOpen,
}

impl BreakerState {
    /// The state as a gauge value: 0 closed, 1 open, 2 half-open.
    pub fn as_gauge(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

/// What a call through the breaker can fail with.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakerError<E> {
    /// The breaker is open; the call was not made.
    Open,
    /// The call failed.
    Inner(E),
}

/// What the breaker sees of a call: success, or a failure that does or does
/// not count against it. The call's real output travels beside it.
#[derive(Debug, Clone, Copy)]
pub struct CallFailure {
    counts: bool,
}

/// A call as the breaker's inner service receives it.
pub struct Probe(BoxFuture<'static, Result<(), CallFailure>>);

/// Counts failures that say so.
#[derive(Clone, Copy)]
pub struct ByFailureKind;

impl FailureClassifier<(), CallFailure> for ByFailureKind {
    fn classify(&self, result: &Result<(), CallFailure>) -> bool {
        matches!(result, Err(CallFailure { counts: true }))
    }
}

/// A service whose requests are probes: it runs them.
#[derive(Clone, Copy)]
pub struct RunProbe;

impl tower::Service<Probe> for RunProbe {
    type Response = ();
    type Error = CallFailure;
    type Future = BoxFuture<'static, Result<(), CallFailure>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallFailure>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, probe: Probe) -> Self::Future {
        probe.0
    }
}

/// A named circuit breaker that guards any future.
#[derive(Clone)]
pub struct CircuitBreaker {
    service: tower_resilience_circuitbreaker::CircuitBreaker<RunProbe, ByFailureKind>,
    handle: CircuitBreakerHandle<ByFailureKind>,
}

impl CircuitBreaker {
    /// A breaker named for what it guards; the error names the bad setting.
    pub fn new(name: &str, config: &BreakerConfig) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&config.failure_rate_threshold) || config.failure_rate_threshold == 0.0 {
            return Err("circuit_breaker.failure_rate_threshold must be in (0, 1]".into());
        }
        if config.window_size == 0 {
            return Err("circuit_breaker.window_size must be at least 1".into());
        }
        if config.permitted_calls_in_half_open == 0 {
            return Err("circuit_breaker.permitted_calls_in_half_open must be at least 1".into());
        }
        let mut builder = CircuitBreakerLayer::builder()
            .name(name)
            .failure_rate_threshold(config.failure_rate_threshold)
            .sliding_window_size(config.window_size)
            .minimum_number_of_calls(config.minimum_calls)
            .wait_duration_in_open(config.wait_in_open)
            .permitted_calls_in_half_open(config.permitted_calls_in_half_open)
            .slow_call_rate_threshold(config.slow_call_rate_threshold);
        if config.window == WindowKind::TimeBased {
            builder = builder
                .sliding_window_type(SlidingWindowType::TimeBased)
                .sliding_window_duration(config.window_duration);
        }
        if let Some(slow) = config.slow_call_threshold {
            builder = builder.slow_call_duration_threshold(slow);
        }
        let (layer, handle) = builder
            .failure_classifier_type(ByFailureKind)
            .build_with_handle()
            .map_err(|e| format!("circuit_breaker: {e}"))?;
        Ok(CircuitBreaker {
            service: layer.layer_fn(RunProbe),
            handle,
        })
    }

    /// Runs `call` unless the breaker is open, and records its outcome.
    pub fn call<T, E>(
        &self,
        call: BoxFuture<'static, Result<T, E>>,
    ) -> BoxFuture<'static, Result<T, BreakerError<E>>>
    where
        T: Send + 'static,
        E: BreakerFailure + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let probe = Probe(Box::pin(async move {
            let result = call.await;
            let outcome = match &result {
                Ok(_) => Ok(()),
                Err(error) => Err(CallFailure {
                    counts: error.is_breaker_failure(),
                }),
            };
            let _ = sender.send(result);
            outcome
        }));
        let admitted = self.service.clone().oneshot(probe);
        Box::pin(async move {
            match admitted.await {
                Err(CircuitBreakerError::OpenCircuit) => Err(BreakerError::Open),
                _ => match receiver.await {
                    Ok(result) => result.map_err(BreakerError::Inner),
                    Err(_) => Err(BreakerError::Open),
                },
            }
        })
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match self.handle.state() {
            CircuitState::Closed => BreakerState::Closed,
            CircuitState::Open => BreakerState::Open,
            CircuitState::HalfOpen => BreakerState::HalfOpen,
        }
    }
}
