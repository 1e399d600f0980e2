//! Prometheus metrics of a subgraph: requests, source calls, batch sizes, cache
//! hits and misses, breaker states, change events.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The metric families of one subgraph, in their own registry.
pub struct SubgraphMetrics {
    registry: Registry,
    /// GraphQL requests by operation name and outcome (`ok` or `error`).
    pub requests: IntCounterVec,
    /// GraphQL request latency by operation name.
    pub request_duration: HistogramVec,
    /// Source calls by entity and outcome (`ok` or an error code).
    pub source_calls: IntCounterVec,
    /// Source call latency by entity (all attempts of one call).
    pub source_call_duration: HistogramVec,
    /// Retries by entity.
    pub source_retries: IntCounterVec,
    /// Keys per source call by entity.
    pub batch_size: HistogramVec,
    /// Cache hits by entity and layer.
    pub cache_hits: IntCounterVec,
    /// Cache misses by entity (after both layers).
    pub cache_misses: IntCounterVec,
    /// Breaker state by entity: 0 closed, 1 open, 2 half-open.
    pub breaker_state: IntGaugeVec,
    /// Change events by entity, type and outcome.
    pub change_events: IntCounterVec,
    /// Adapters' own gauges by entity and name.
    pub adapter_gauges: GaugeVec,
    /// Messages an event consumer took, by consumer group and outcome
    /// (`handled`, `duplicate`, `dead_lettered`).
    pub consumer_messages: IntCounterVec,
    /// Messages an event consumer has not read yet, by group, topic and partition.
    pub consumer_lag: IntGaugeVec,
}

fn must<T>(result: prometheus::Result<T>) -> T {
    // Metric names and labels below are constants; registration can only fail
    // on a programming error (a duplicate name), caught by the tests.
    result.expect("metric definitions are valid and unique")
}

impl SubgraphMetrics {
    /// Creates the metric families; `subgraph` is a constant label on all of them.
    pub fn new(subgraph: &str) -> Self {
        let registry = Registry::new_custom(
            Some("dictamesh".into()),
            Some([("subgraph".to_string(), subgraph.to_string())].into()),
        )
        .expect("a constant prefix and label are valid");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = must(IntCounterVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(c.clone())));
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            let h = must(HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets),
                labels,
            ));
            must(registry.register(Box::new(h.clone())));
            h
        };
        let latency = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let requests = counter(
            "requests_total",
            "GraphQL requests served, by operation name and outcome",
            &["operation", "status"],
        );
        let request_duration = histogram(
            "request_duration_seconds",
            "GraphQL request latency",
            &["operation"],
            latency.clone(),
        );
        let source_calls = counter(
            "source_calls_total",
            "Calls to data sources",
            &["entity", "outcome"],
        );
        let source_call_duration = histogram(
            "source_call_duration_seconds",
            "Latency of data source calls, retries included",
            &["entity"],
            latency,
        );
        let source_retries = counter(
            "source_retries_total",
            "Retried source call attempts",
            &["entity"],
        );
        let batch_size = histogram(
            "entity_batch_size",
            "Keys per source call",
            &["entity"],
            vec![1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0],
        );
        let cache_hits = counter("cache_hits_total", "Entity cache hits", &["entity", "layer"]);
        let cache_misses = counter("cache_misses_total", "Entity cache misses", &["entity"]);
        let breaker_state = must(IntGaugeVec::new(
            Opts::new(
                "circuit_breaker_state",
                "Circuit breaker state: 0 closed, 1 open, 2 half-open",
            ),
            &["entity"],
        ));
        must(registry.register(Box::new(breaker_state.clone())));
        let change_events = counter(
            "change_events_total",
            "Entity change events",
            &["entity", "type", "outcome"],
        );
        let adapter_gauges = must(GaugeVec::new(
            Opts::new("adapter_gauge", "Adapter-specific gauges"),
            &["entity", "name"],
        ));
        must(registry.register(Box::new(adapter_gauges.clone())));
        let consumer_messages = counter(
            "consumer_messages_total",
            "Messages taken by event consumers, by outcome",
            &["group", "outcome"],
        );
        let consumer_lag = must(IntGaugeVec::new(
            Opts::new("consumer_lag", "Messages an event consumer has not read yet"),
            &["group", "topic", "partition"],
        ));
        must(registry.register(Box::new(consumer_lag.clone())));
        SubgraphMetrics {
            registry,
            requests,
            request_duration,
            source_calls,
            source_call_duration,
            source_retries,
            batch_size,
            cache_hits,
            cache_misses,
            breaker_state,
            change_events,
            adapter_gauges,
            consumer_messages,
            consumer_lag,
        }
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(error) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "could not encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}
