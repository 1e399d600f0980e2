//! Observing each GraphQL HTTP request: a server span that continues the client's
//! trace, and the in-flight gauge. Also the `/metrics` handler.

use std::sync::Arc;

use axum::extract::Request;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use tracing::Instrument;

use super::metrics::CONTENT_TYPE;
use crate::http::RouterState;

/// Decrements the in-flight gauge when the request ends, even when it is cancelled.
struct InFlight(prometheus::IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Runs a GraphQL request inside a `router.request` span (a child of the client's
/// `traceparent`, when given; its `trace_id` field puts the trace id in every log line
/// of the request) and counts it as in flight.
pub async fn observe_request(
    State(state): State<Arc<RouterState>>,
    request: Request,
    next: Next,
) -> Response {
    let gauge = state.metrics().in_flight().clone();
    gauge.inc();
    let _in_flight = InFlight(gauge);
    let span = tracing::info_span!(
        "router.request",
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        trace_id = tracing::field::Empty,
    );
    super::trace_context::continue_client_trace(&span, request.headers());
    if let Some(trace_id) = super::trace_context::trace_id(&span) {
        span.record("trace_id", trace_id.as_str());
    }
    next.run(request).instrument(span).await
}

/// `GET /metrics`: the Prometheus text format, with each subgraph's breaker state read
/// at scrape time.
pub async fn serve_metrics(State(state): State<Arc<RouterState>>) -> Response {
    let metrics = state.metrics();
    for guard in state.pipeline().guards() {
        metrics.set_breaker_state(guard.subgraph(), guard.breaker_state());
    }
    let mut response = metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}
