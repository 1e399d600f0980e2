//! The W3C trace context (`traceparent`, `tracestate`): read from a client's request
//! to continue its trace, written into each subgraph request so the subgraph's spans
//! join the router's fetch span. Needs an OpenTelemetry layer in the `tracing`
//! subscriber (see [`super::otel`]); without one, nothing is written.

use http::HeaderMap;
use http::HeaderName;
use http::HeaderValue;
use opentelemetry::Context;
use opentelemetry::propagation::Extractor;
use opentelemetry::propagation::Injector;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct Reader<'a>(&'a HeaderMap);

impl Extractor for Reader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Writer<'a>(&'a mut HeaderMap);

impl Injector for Writer<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// The trace context a client sent (empty when it sent none or an invalid one).
pub fn from_client(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&Reader(headers))
}

/// Makes `span` a child of the client's trace, when the client sent one.
pub fn continue_client_trace(span: &tracing::Span, headers: &HeaderMap) {
    let parent = from_client(headers);
    if opentelemetry::trace::TraceContextExt::has_active_span(&parent) {
        let _ = span.set_parent(parent);
    }
}

/// Writes `span`'s trace context into a subgraph request's headers.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(&span.context(), &mut Writer(headers));
}

/// The trace id of `span`, when it is recorded with OpenTelemetry.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let span_context = opentelemetry::trace::TraceContextExt::span(&context)
        .span_context()
        .clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}
