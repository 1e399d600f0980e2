//! GraphQL over HTTP: `POST` (JSON, single or batched) and `GET` (queries only) at `/`
//! and `/graphql`, content negotiation between `application/graphql-response+json` and
//! `application/json`, CSRF prevention, a query console for browsers at `GET /`, and
//! the health probes `/health/live` and `/health/ready`.

mod console;
pub mod csrf;
pub mod incremental;
mod parts_body;

use std::sync::Arc;
use std::sync::RwLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::State;
use axum::extract::WebSocketUpgrade;
use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use futures::StreamExt;
use futures::future::join_all;
use serde_json::Map;
use serde_json::Value;

use dictamesh_governance::Caller;

use crate::execute::GraphQLResponse;
use crate::execute::graphql_error;
use crate::pipeline::Pipeline;
use crate::pipeline::RequestMethod;
use crate::request::GraphQLRequest;
use crate::request::RequestError;
use crate::subscriptions::multipart;
use crate::subscriptions::websocket;
use crate::telemetry::RouterMetrics;
use crate::traffic::TrafficLimits;
use dictamesh::events::feed::ChangeFeed;

/// The media type of GraphQL responses (GraphQL over HTTP).
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The request header asking for the query plan in `extensions.queryPlan`.
pub const EXPOSE_PLAN_HEADER: &str = "dictamesh-expose-query-plan";

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Largest accepted request body, in bytes (413 above).
    pub max_body_bytes: usize,
    /// Accept arrays of requests.
    pub batching: bool,
    /// Require a CSRF-safe request (see [`csrf`]).
    pub csrf_prevention: bool,
    /// Serve the query console at `GET /` for browsers.
    pub console: bool,
    /// Honour the [`EXPOSE_PLAN_HEADER`] request header.
    pub expose_plans: bool,
    /// Client rate limit and concurrency limit.
    pub traffic: Arc<TrafficLimits>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_body_bytes: 2 * 1024 * 1024,
            batching: true,
            csrf_prevention: true,
            console: true,
            expose_plans: true,
            traffic: Arc::new(TrafficLimits::default()),
        }
    }
}

/// The state the HTTP layer serves from: the current pipeline (swapped on reload;
/// requests in flight keep the one they started with).
pub struct RouterState {
    pipeline: RwLock<Arc<Pipeline>>,
    options: RwLock<Arc<HttpOptions>>,
    metrics: Arc<RouterMetrics>,
    change_feed: std::sync::OnceLock<Arc<dyn ChangeFeed>>,
    closing: tokio::sync::watch::Sender<bool>,
}

impl RouterState {
    /// State serving `pipeline` (and the metrics it records into).
    pub fn new(pipeline: Pipeline, options: HttpOptions) -> Self {
        RouterState {
            metrics: pipeline.metrics().clone(),
            pipeline: RwLock::new(Arc::new(pipeline)),
            options: RwLock::new(Arc::new(options)),
            change_feed: std::sync::OnceLock::new(),
            closing: tokio::sync::watch::Sender::new(false),
        }
    }

    /// The metrics every pipeline of this router records into.
    pub fn metrics(&self) -> &Arc<RouterMetrics> {
        &self.metrics
    }

    /// Ends every subscription stream (the router is shutting down; graceful
    /// shutdown waits for open responses, and a stream never ends by itself).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Completes once [`RouterState::close_streams`] is called.
    pub fn streams_closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }

    /// Streams `entityChanged` subscriptions from `feed` (the event log); the
    /// first feed given stays.
    pub fn set_change_feed(&self, feed: Arc<dyn ChangeFeed>) {
        let _ = self.change_feed.set(feed);
    }

    /// The event log subscriptions stream from, if any.
    pub fn change_feed(&self) -> Option<Arc<dyn ChangeFeed>> {
        self.change_feed.get().cloned()
    }

    /// The pipeline new requests use.
    pub fn pipeline(&self) -> Arc<Pipeline> {
        match self.pipeline.read() {
            Ok(pipeline) => pipeline.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The HTTP options new requests use.
    pub fn options(&self) -> Arc<HttpOptions> {
        match self.options.read() {
            Ok(options) => options.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Serves a new pipeline from now on.
    pub fn replace_pipeline(&self, pipeline: Pipeline) {
        let new = Arc::new(pipeline);
        match self.pipeline.write() {
            Ok(mut current) => *current = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Uses new HTTP options from now on (keeping the traffic limits' buckets and
    /// slots when their configuration did not change).
    pub fn replace_options(&self, mut options: HttpOptions) {
        let current = self.options();
        if current.traffic.config() == options.traffic.config() {
            options.traffic = current.traffic.clone();
        }
        let new = Arc::new(options);
        match self.options.write() {
            Ok(mut current) => *current = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

/// The router's HTTP application.
pub fn app(state: Arc<RouterState>) -> Router {
    let body_limit = state.options().max_body_bytes;
    Router::new()
        .route("/", get(get_graphql_or_websocket).post(post_graphql))
        .route("/graphql", get(get_graphql_or_websocket).post(post_graphql))
        .route_layer(axum::middleware::from_fn(crate::headers::keep_client_headers))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::telemetry::observe::observe_request,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::traffic::admit,
        ))
        .route("/metrics", get(crate::telemetry::observe::serve_metrics))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn live() -> Response {
    json_response(
        StatusCode::OK,
        "application/json",
        &serde_json::json!({ "status": "UP" }),
    )
}

async fn ready(State(state): State<Arc<RouterState>>) -> Response {
    let subgraphs = state.pipeline().supergraph().subgraphs.len();
    json_response(
        StatusCode::OK,
        "application/json",
        &serde_json::json!({ "status": "UP", "subgraphs": subgraphs }),
    )
}

/// Which media type the client accepts for the response.
fn response_media_type(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains(GRAPHQL_RESPONSE_JSON) && !accept.contains("application/json") {
        GRAPHQL_RESPONSE_JSON
    } else if accept.contains(GRAPHQL_RESPONSE_JSON) {
        // Both accepted: prefer the one listed first.
        let graphql = accept.find(GRAPHQL_RESPONSE_JSON).unwrap_or(usize::MAX);
        let json = accept.find("application/json").unwrap_or(usize::MAX);
        if graphql < json {
            GRAPHQL_RESPONSE_JSON
        } else {
            "application/json"
        }
    } else {
        "application/json"
    }
}

fn json_response(status: StatusCode, media_type: &'static str, body: &Value) -> Response {
    body_response(status, media_type, serde_json::to_vec(body).unwrap_or_default())
}

fn body_response(status: StatusCode, media_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    response
}

fn request_error_response(error: &RequestError, media_type: &'static str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(
        status,
        media_type,
        &GraphQLResponse::from_errors(error.errors.clone()).to_json(),
    )
}

fn wants_plan(headers: &HeaderMap, options: &HttpOptions) -> bool {
    options.expose_plans
        && headers
            .get(EXPOSE_PLAN_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

async fn run_one(
    pipeline: &Pipeline,
    request: &GraphQLRequest,
    method: RequestMethod,
    expose_plan: bool,
    caller: &Caller,
) -> Result<GraphQLResponse, RequestError> {
    pipeline.execute_as(request, method, expose_plan, caller).await
}

async fn post_graphql(State(state): State<Arc<RouterState>>, headers: HeaderMap, body: Bytes) -> Response {
    let options = state.options();
    let media_type = response_media_type(&headers);
    if options.csrf_prevention
        && let Err(error) = csrf::check(&headers)
    {
        return request_error_response(&error, media_type);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.is_empty() && !content_type.to_ascii_lowercase().contains("json") {
        let error = RequestError::new(
            415,
            format!("Unsupported content type {content_type:?}: send application/json"),
            "INVALID_CONTENT_TYPE",
        );
        return request_error_response(&error, media_type);
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            let error = RequestError::new(
                400,
                format!("The request body is not valid JSON: {error}"),
                "INVALID_JSON",
            );
            return request_error_response(&error, media_type);
        }
    };
    let pipeline = state.pipeline();
    let caller = match pipeline.authenticate_audited(&headers).await {
        Ok(caller) => caller,
        Err(error) => return request_error_response(&error, media_type),
    };
    let caller = &caller;
    let expose_plan = wants_plan(&headers, &options);
    match parsed {
        Value::Array(items) => {
            if !options.batching {
                let error = RequestError::new(
                    400,
                    "Batched requests are disabled on this router.",
                    "BATCHING_NOT_ENABLED",
                );
                return request_error_response(&error, media_type);
            }
            let responses = join_all(items.into_iter().map(|item| {
                let pipeline = pipeline.clone();
                async move {
                    match serde_json::from_value::<GraphQLRequest>(item) {
                        Ok(request) => {
                            match run_one(&pipeline, &request, RequestMethod::Post, expose_plan, caller).await
                            {
                                Ok(response) => response,
                                Err(error) => GraphQLResponse::from_errors(error.errors),
                            }
                        }
                        Err(error) => GraphQLResponse::from_errors(vec![graphql_error(
                            format!("Invalid GraphQL request: {error}"),
                            "INVALID_GRAPHQL_REQUEST",
                        )]),
                    }
                }
            }))
            .await;
            let mut body = vec![b'['];
            for (index, response) in responses.iter().enumerate() {
                if index > 0 {
                    body.push(b',');
                }
                response.write(&mut body);
            }
            body.push(b']');
            body_response(StatusCode::OK, media_type, body)
        }
        single => match serde_json::from_value::<GraphQLRequest>(single) {
            Ok(request) => {
                run_single(
                    &state,
                    &pipeline,
                    &request,
                    &headers,
                    caller,
                    expose_plan,
                    media_type,
                )
                .await
            }
            Err(error) => request_error_response(
                &RequestError::new(
                    400,
                    format!("Invalid GraphQL request: {error}"),
                    "INVALID_GRAPHQL_REQUEST",
                ),
                media_type,
            ),
        },
    }
}

/// Runs one POSTed request: a subscription or an operation with `@defer` as a
/// stream when the client accepts one, anything else as one response.
async fn run_single(
    state: &RouterState,
    pipeline: &Arc<Pipeline>,
    request: &GraphQLRequest,
    headers: &HeaderMap,
    caller: &Caller,
    expose_plan: bool,
    media_type: &'static str,
) -> Response {
    if accepts_multipart_subscription(headers) {
        match pipeline.subscribe_as(request, state.change_feed(), caller).await {
            Ok(Some(events)) => {
                return multipart::response(events.take_until(state.streams_closed()).boxed());
            }
            Ok(None) => {}
            Err(error) => return request_error_response(&error, media_type),
        }
    }
    if incremental::accepted(headers) {
        match pipeline.execute_incremental_as(request, caller).await {
            Ok(Some(payloads)) => return incremental::response(payloads),
            Ok(None) => {}
            Err(error) => return request_error_response(&error, media_type),
        }
    }
    respond(
        run_one(pipeline, request, RequestMethod::Post, expose_plan, caller).await,
        media_type,
    )
}

fn respond(result: Result<GraphQLResponse, RequestError>, media_type: &'static str) -> Response {
    match result {
        Ok(response) => body_response(
            StatusCode::OK,
            media_type,
            axum::body::Body::new(parts_body::PartsBody::new(response.into_parts())),
        ),
        Err(error) => request_error_response(&error, media_type),
    }
}

/// Reads a GET request's parameters (`query`, `operationName`, `variables` and
/// `extensions` as JSON strings).
fn request_from_query_string(raw: &str) -> Result<GraphQLRequest, RequestError> {
    let mut request = GraphQLRequest::default();
    for (key, value) in form_urlencoded_pairs(raw) {
        match key.as_str() {
            "query" => request.query = Some(value),
            "operationName" => request.operation_name = Some(value).filter(|v| !v.is_empty()),
            "variables" | "extensions" => {
                let parsed: Option<Map<String, Value>> = serde_json::from_str(&value).map_err(|e| {
                    RequestError::new(
                        400,
                        format!("The {key} parameter is not a JSON object: {e}"),
                        "INVALID_GRAPHQL_REQUEST",
                    )
                })?;
                if key == "variables" {
                    request.variables = parsed.unwrap_or_default();
                } else {
                    request.extensions = parsed.unwrap_or_default();
                }
            }
            _ => {}
        }
    }
    Ok(request)
}

/// Splits `a=1&b=2` into decoded pairs.
fn form_urlencoded_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn accepts_multipart_subscription(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(multipart::accepted)
}

/// `GET`: a WebSocket upgrade (graphql-transport-ws), the console, or a query.
async fn get_graphql_or_websocket(State(state): State<Arc<RouterState>>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        // A token may also come in `connection_init`; a bad one here is refused now.
        let pipeline = state.pipeline();
        let caller = match pipeline.governance().identify(&parts.headers) {
            Ok(caller) => caller,
            Err(error) => {
                pipeline.audit_refusal(&error, "/graphql (WebSocket)").await;
                return request_error_response(&error, "application/json");
            }
        };
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => upgrade
                .protocols([websocket::PROTOCOL])
                .on_upgrade(move |socket| websocket::serve(socket, state, caller)),
            Err(rejection) => rejection.into_response(),
        };
    }
    get_graphql(&state, &parts.headers, parts.uri.query().unwrap_or_default()).await
}

async fn get_graphql(state: &RouterState, headers: &HeaderMap, raw: &str) -> Response {
    let options = state.options();
    let accepts_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if options.console && accepts_html && !raw.contains("query=") {
        return console::page();
    }
    let media_type = response_media_type(headers);
    if options.csrf_prevention
        && let Err(error) = csrf::check(headers)
    {
        return request_error_response(&error, media_type);
    }
    let request = match request_from_query_string(raw) {
        Ok(request) => request,
        Err(error) => return request_error_response(&error, media_type),
    };
    let pipeline = state.pipeline();
    let caller = match pipeline.authenticate_audited(headers).await {
        Ok(caller) => caller,
        Err(error) => return request_error_response(&error, media_type),
    };
    respond(
        run_one(
            &pipeline,
            &request,
            RequestMethod::Get,
            wants_plan(headers, &options),
            &caller,
        )
        .await,
        media_type,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_parameters_are_decoded() {
        let request =
            request_from_query_string("query=%7B%20a%20%7D&operationName=&variables=%7B%22x%22%3A1%7D")
                .expect("valid parameters");
        assert_eq!(request.query.as_deref(), Some("{ a }"));
        assert_eq!(request.operation_name, None);
        assert_eq!(request.variables.get("x"), Some(&Value::from(1)));
        assert!(request_from_query_string("variables=notjson").is_err());
    }
}
