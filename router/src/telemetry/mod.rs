//! Telemetry: Prometheus [`metrics`] at `/metrics`, `tracing` spans for each stage
//! (request, parse, validate, plan, execute, each subgraph fetch) with the W3C trace
//! context taken from the client and passed on to subgraphs ([`trace_context`]), and
//! the OpenTelemetry pipeline that exports them ([`otel`]; over OTLP with the `otlp`
//! feature).

pub mod metrics;
pub mod observe;
pub mod operation;
pub mod otel;
pub mod trace_context;

pub use self::metrics::RequestStatus;
pub use self::metrics::RouterMetrics;
