//! The OpenTelemetry side of `tracing`: a tracer provider and the layer that turns
//! `tracing` spans into OpenTelemetry spans (with trace ids, so the trace context can
//! be passed on). With the `otlp` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans
//! are exported over OTLP (HTTP/protobuf; the other `OTEL_EXPORTER_OTLP_*` variables
//! apply); otherwise they are not exported.

use opentelemetry::trace::TracerProvider as _;
pub use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

/// The environment variable that turns OTLP export on.
pub const OTLP_ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Whether spans are recorded, from `DICTAMESH_TRACING` (`setting`) and whether an
/// OTLP endpoint is configured (`exporting`): `on` always (trace ids in logs and
/// audit records, `traceparent` passed to subgraphs, even with nowhere to export
/// to), `off` never, and by default (`auto`, or unset) only when they are exported:
/// recording spans that go nowhere costs about a tenth of the router's throughput.
/// The error names a setting that is none of these.
pub fn spans_wanted(setting: Option<&str>, exporting: bool) -> Result<bool, String> {
    match setting {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        None | Some("auto") => Ok(exporting),
        Some(other) => Err(format!("DICTAMESH_TRACING={other:?} is not one of on, off, auto")),
    }
}

/// Whether an OTLP endpoint is configured ([`OTLP_ENDPOINT_VARIABLE`] set and not empty).
pub fn otlp_configured() -> bool {
    std::env::var_os(OTLP_ENDPOINT_VARIABLE).is_some_and(|v| !v.is_empty())
}

/// A tracer provider for `service` (the `service.name` resource unless
/// `OTEL_SERVICE_NAME` says otherwise). The error says why the OTLP exporter could not
/// be built.
pub fn tracer_provider(service: &str) -> Result<SdkTracerProvider, String> {
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_string());
    }
    let resource = resource.build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    if !otlp_configured() {
        return Ok(builder.build());
    }
    with_otlp(builder)
}

#[cfg(feature = "otlp")]
fn with_otlp(builder: opentelemetry_sdk::trace::TracerProviderBuilder) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("cannot build the OTLP span exporter: {e}"))?;
    Ok(builder.with_batch_exporter(exporter).build())
}

#[cfg(not(feature = "otlp"))]
fn with_otlp(_builder: opentelemetry_sdk::trace::TracerProviderBuilder) -> Result<SdkTracerProvider, String> {
    Err(format!(
        "{OTLP_ENDPOINT_VARIABLE} is set but this build has no OTLP exporter (build with the `otlp` feature)"
    ))
}

/// The `tracing` layer that records spans with `provider`: spans and events at `INFO`
/// and above only (the libraries underneath, such as hyper's connection pool, emit
/// `DEBUG` and `TRACE` events on every request; recorded, they would swell every span
/// and cost on every request). It keeps to what a trace needs (no busy/idle times,
/// threads or code locations, no context activation on each poll): spans are entered
/// on every poll of a future, so those would cost on every request.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S> + use<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    use tracing_subscriber::Layer as _;
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("dictamesh"))
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_context_activation(false)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_recorded_when_exported_unless_forced_either_way() {
        assert_eq!(spans_wanted(None, false), Ok(false));
        assert_eq!(spans_wanted(None, true), Ok(true));
        assert_eq!(spans_wanted(Some("auto"), true), Ok(true));
        assert_eq!(spans_wanted(Some("on"), false), Ok(true));
        assert_eq!(spans_wanted(Some("off"), true), Ok(false));
        let error = spans_wanted(Some("yes"), false).unwrap_err();
        assert!(
            error.contains("\"yes\"") && error.contains("on, off, auto"),
            "{error}"
        );
    }
}
