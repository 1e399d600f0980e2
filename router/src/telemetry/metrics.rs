//! The router's Prometheus metrics, served at `/metrics` in the text exposition
//! format: requests by operation name and status, subgraph fetches, the plan cache,
//! circuit breakers, requests in flight and requests turned away. Labels carry
//! operation and subgraph names only, never variable values (they may hold PII).

use std::time::Duration;

use dictamesh::resilience::BreakerState;
use prometheus::Encoder;
use prometheus::HistogramOpts;
use prometheus::HistogramVec;
use prometheus::IntCounter;
use prometheus::IntCounterVec;
use prometheus::IntGauge;
use prometheus::IntGaugeVec;
use prometheus::Opts;
use prometheus::Registry;
use prometheus::TextEncoder;

/// How a GraphQL request ended, as the `status` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Data and no errors.
    Ok,
    /// Data with errors (a subgraph failed).
    Partial,
    /// No data: the request was refused (parse, validation, limits, ...).
    Error,
}

impl RequestStatus {
    fn label(self) -> &'static str {
        match self {
            RequestStatus::Ok => "ok",
            RequestStatus::Partial => "partial",
            RequestStatus::Error => "error",
        }
    }
}

/// The router's metric families, in their own registry. Shared by every pipeline a
/// reload builds, so counters survive reloads.
pub struct RouterMetrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    in_flight: IntGauge,
    rejected: IntCounterVec,
    fetches: IntCounterVec,
    fetch_duration: HistogramVec,
    fetch_retries: IntCounterVec,
    plan_cache_hits: IntCounter,
    plan_cache_misses: IntCounter,
    deduplicated: IntCounter,
    breaker_state: IntGaugeVec,
}

impl std::fmt::Debug for RouterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterMetrics").finish_non_exhaustive()
    }
}

impl Default for RouterMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn must<T>(result: prometheus::Result<T>) -> T {
    // The names and labels below are constants: registration fails only on a
    // programming error (a duplicate name), which every test would show.
    result.expect("metric definitions are valid and unique")
}

impl RouterMetrics {
    /// Fresh metric families (all at zero).
    pub fn new() -> Self {
        let registry = must(Registry::new_custom(Some("dictamesh_router".into()), None));
        let register = |collector: Box<dyn prometheus::core::Collector>| must(registry.register(collector));
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let counter = must(IntCounterVec::new(Opts::new(name, help), labels));
            register(Box::new(counter.clone()));
            counter
        };
        let histogram_vec = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            let histogram = must(HistogramVec::new(opts, labels));
            register(Box::new(histogram.clone()));
            histogram
        };
        let counter = |name: &str, help: &str| {
            let counter = must(IntCounter::new(name, help));
            register(Box::new(counter.clone()));
            counter
        };
        let in_flight = must(IntGauge::new(
            "requests_in_flight",
            "GraphQL HTTP requests being served.",
        ));
        register(Box::new(in_flight.clone()));
        let breaker_state = must(IntGaugeVec::new(
            Opts::new(
                "circuit_breaker_state",
                "Circuit breaker state by subgraph: 0 closed, 1 open, 2 half-open.",
            ),
            &["subgraph"],
        ));
        register(Box::new(breaker_state.clone()));
        RouterMetrics {
            requests: counter_vec(
                "requests_total",
                "GraphQL operations by operation name and status (ok, partial, error).",
                &["operation", "status"],
            ),
            request_duration: histogram_vec(
                "request_duration_seconds",
                "GraphQL operation latency by operation name and status.",
                &["operation", "status"],
            ),
            in_flight,
            rejected: counter_vec(
                "rejected_requests_total",
                "Requests turned away by reason (rate_limited, overloaded).",
                &["reason"],
            ),
            fetches: counter_vec(
                "subgraph_fetches_total",
                "Subgraph fetches by subgraph and outcome (ok, graphql_error, http_error, timeout, circuit_open).",
                &["subgraph", "outcome"],
            ),
            fetch_duration: histogram_vec(
                "subgraph_fetch_duration_seconds",
                "Subgraph fetch latency (all attempts) by subgraph.",
                &["subgraph"],
            ),
            fetch_retries: counter_vec(
                "subgraph_retries_total",
                "Retried subgraph fetches by subgraph.",
                &["subgraph"],
            ),
            plan_cache_hits: counter("query_plan_cache_hits_total", "Query plans found in the cache."),
            plan_cache_misses: counter(
                "query_plan_cache_misses_total",
                "Query plans computed because the cache had none.",
            ),
            deduplicated: counter(
                "deduplicated_requests_total",
                "Query requests answered by an identical request's execution in flight.",
            ),
            breaker_state,
            registry,
        }
    }

    /// Counts one GraphQL operation and its latency.
    pub fn record_request(&self, operation: &str, status: RequestStatus, elapsed: Duration) {
        let labels = [operation, status.label()];
        self.requests.with_label_values(&labels).inc();
        self.request_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The gauge of requests in flight.
    pub fn in_flight(&self) -> &IntGauge {
        &self.in_flight
    }

    /// Counts a request turned away for `reason`.
    pub fn record_rejected(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    /// Counts one subgraph fetch, its outcome and its latency.
    pub fn record_fetch(&self, subgraph: &str, outcome: &str, elapsed: Duration) {
        self.fetches.with_label_values(&[subgraph, outcome]).inc();
        self.fetch_duration
            .with_label_values(&[subgraph])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a retry of a subgraph fetch.
    pub fn record_retry(&self, subgraph: &str) {
        self.fetch_retries.with_label_values(&[subgraph]).inc();
    }

    /// Counts a plan cache lookup.
    pub fn record_plan_cache(&self, hit: bool) {
        if hit {
            self.plan_cache_hits.inc();
        } else {
            self.plan_cache_misses.inc();
        }
    }

    /// Counts a request that shared an identical request's execution.
    pub fn record_deduplicated(&self) {
        self.deduplicated.inc();
    }

    /// Sets a subgraph's breaker state.
    pub fn set_breaker_state(&self, subgraph: &str, state: BreakerState) {
        self.breaker_state
            .with_label_values(&[subgraph])
            .set(state.as_gauge());
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(%error, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The media type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_recorded_values_with_their_labels() {
        let metrics = RouterMetrics::new();
        metrics.record_request("TopProducts", RequestStatus::Partial, Duration::from_millis(3));
        metrics.record_fetch("inventory", "timeout", Duration::from_millis(3));
        metrics.record_plan_cache(false);
        metrics.set_breaker_state("inventory", BreakerState::Open);
        let text = metrics.render();
        assert!(
            text.contains("dictamesh_router_requests_total{operation=\"TopProducts\",status=\"partial\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "dictamesh_router_subgraph_fetches_total{outcome=\"timeout\",subgraph=\"inventory\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("dictamesh_router_query_plan_cache_misses_total 1"),
            "{text}"
        );
        assert!(
            text.contains("dictamesh_router_circuit_breaker_state{subgraph=\"inventory\"} 1"),
            "{text}"
        );
    }
}
