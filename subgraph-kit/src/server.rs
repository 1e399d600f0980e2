//! Serving a subgraph over HTTP: GraphQL (POST and GET, single and batched),
//! `/health/live`, `/health/ready`, `/metrics`, W3C trace context and graceful
//! shutdown.

use std::future::Future;
use std::time::{Duration, Instant};

use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::ftv1::TRACE_HEADER;
use crate::subgraph::Subgraph;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// The HTTP application of a subgraph, to serve or to nest in another router.
pub fn router(subgraph: Subgraph) -> axum::Router {
    axum::Router::new()
        .route("/", get(graphql_get).post(graphql_post))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(subgraph)
}

/// Serves a subgraph on a bound listener until `shutdown` resolves, then
/// finishes in-flight requests. Adapters' change streams are followed meanwhile.
pub async fn serve(
    subgraph: Subgraph,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let followers = subgraph.spawn_change_followers();
    let result = axum::serve(listener, router(subgraph))
        .with_graceful_shutdown(shutdown)
        .await;
    for follower in followers {
        follower.abort();
    }
    result
}

async fn live() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "live"}))
}

async fn ready(State(subgraph): State<Subgraph>) -> Response {
    let readiness = subgraph.readiness(Duration::from_secs(2)).await;
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness)).into_response()
}

async fn metrics(State(subgraph): State<Subgraph>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        subgraph.render_metrics(),
    )
        .into_response()
}

/// Query parameters of a GraphQL GET request.
#[derive(serde::Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn request_error(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({
        "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
    });
    (status, axum::Json(body)).into_response()
}

async fn graphql_get(
    State(subgraph): State<Subgraph>,
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> Response {
    let Some(query) = params.query else {
        return request_error(StatusCode::BAD_REQUEST, "missing `query` parameter".into());
    };
    if is_mutation(&query, params.operation_name.as_deref()) {
        return request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are not allowed over GET; use POST".into(),
        );
    }
    if let Some(refusal) = refuse_unsigned(&subgraph, &headers, None, Some(&query)) {
        return refusal;
    }
    let mut request = Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    for (name, raw) in [("variables", params.variables), ("extensions", params.extensions)] {
        let Some(raw) = raw else { continue };
        match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(value) if name == "variables" => {
                request = request.variables(async_graphql::Variables::from_json(value));
            }
            Ok(value) => match serde_json::from_value(value) {
                Ok(extensions) => request.extensions = extensions,
                Err(e) => {
                    return request_error(StatusCode::BAD_REQUEST, format!("invalid `extensions`: {e}"));
                }
            },
            Err(e) => return request_error(StatusCode::BAD_REQUEST, format!("`{name}` is not JSON: {e}")),
        }
    }
    execute(subgraph, headers, BatchRequest::Single(request)).await
}

async fn graphql_post(State(subgraph): State<Subgraph>, headers: HeaderMap, body: Bytes) -> Response {
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                format!("the body is not a GraphQL request in JSON: {e}"),
            );
        }
    };
    let only_query = match &batch {
        BatchRequest::Single(request) => Some(request.query.as_str()),
        BatchRequest::Batch(_) => None,
    };
    if let Some(refusal) = refuse_unsigned(&subgraph, &headers, Some(&body), only_query) {
        return refusal;
    }
    execute(subgraph, headers, batch).await
}

/// The 401 for a request without the router's valid signature, when the
/// subgraph requires one (`body`: the signed POST body; GET requests cannot be
/// signed). The SDL query alone stays open, for composition.
fn refuse_unsigned(
    subgraph: &Subgraph,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    query: Option<&str>,
) -> Option<Response> {
    let signature = subgraph.router_signature()?;
    let header = headers
        .get(crate::signature::SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or_default());
    let result = match body {
        Some(body) => signature.verify(header, body, crate::signature::RouterSignature::now()),
        None => Err(crate::signature::SignatureError::Missing),
    };
    let reason = result.err()?;
    // Checked only for unsigned requests: signed ones are not parsed twice.
    if query.is_some_and(asks_only_for_the_sdl) {
        return None;
    }
    tracing::info!(subgraph = subgraph.name(), %reason, "request refused");
    let body = serde_json::json!({
        "errors": [{"message": format!("{reason}: send requests through the router"),
                    "extensions": {"code": "UNAUTHENTICATED"}}]
    });
    Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response())
}

/// Whether a query selects nothing but `_service` (and `__typename`).
fn asks_only_for_the_sdl(query: &str) -> bool {
    use async_graphql::parser::types::{DocumentOperations, Selection};
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    if !document.fragments.is_empty() {
        return false;
    }
    let DocumentOperations::Single(operation) = &document.operations else {
        return false;
    };
    operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .all(|item| match &item.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "_service" | "__typename")
            }
            _ => false,
        })
}

/// Whether the operation to run is a mutation (GET may only run queries).
fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let operation = match &document.operations {
        DocumentOperations::Single(op) => Some(&op.node),
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(name).map(|op| &op.node),
            None => ops.values().next().map(|op| &op.node),
        },
    };
    operation.is_some_and(|op| op.ty == OperationType::Mutation)
}

struct HeaderCarrier<'a>(&'a HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

async fn execute(subgraph: Subgraph, headers: HeaderMap, batch: BatchRequest) -> Response {
    let include_trace = headers
        .get(TRACE_HEADER.0)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(TRACE_HEADER.1.as_bytes()));
    let span = tracing::info_span!(
        "graphql.request",
        subgraph = subgraph.name(),
        otel.kind = "server"
    );
    let parent = TraceContextPropagator::new().extract(&HeaderCarrier(&headers));
    let _ = span.set_parent(parent);
    let graphql_response_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(GRAPHQL_RESPONSE));

    let run = |request: Request| {
        let subgraph = subgraph.clone();
        async move {
            let operation = request
                .operation_name
                .clone()
                .unwrap_or_else(|| "anonymous".into());
            let started = Instant::now();
            let response = if include_trace {
                subgraph.execute_traced(request).await
            } else {
                subgraph.execute(request).await
            };
            let metrics = subgraph.metrics();
            let status = if response.errors.is_empty() { "ok" } else { "error" };
            metrics
                .requests
                .with_label_values(&[operation.as_str(), status])
                .inc();
            metrics
                .request_duration
                .with_label_values(&[operation.as_str()])
                .observe(started.elapsed().as_secs_f64());
            response
        }
    };
    let response = async {
        match batch {
            BatchRequest::Single(request) => BatchResponse::Single(run(request).await),
            BatchRequest::Batch(requests) => {
                BatchResponse::Batch(futures::future::join_all(requests.into_iter().map(run)).await)
            }
        }
    }
    .instrument(span)
    .await;

    let request_failed = matches!(&response, BatchResponse::Single(r) if r.data == async_graphql::Value::Null && !r.errors.is_empty());
    let (status, content_type) = if graphql_response_json {
        let status = if request_failed {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        (status, GRAPHQL_RESPONSE)
    } else {
        (StatusCode::OK, "application/json")
    };
    match serde_json::to_vec(&response) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response(),
        Err(e) => request_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("response does not serialize: {e}"),
        ),
    }
}
