//! Sending one operation to one subgraph: a pooled HTTP client (HTTP/1.1 keep-alive,
//! and HTTP/2 when the subgraph URL says `h2c` through [`SubgraphClient::new`]'s
//! options), each exchange run by the subgraph's [`SubgraphGuard`] (timeout, retries,
//! circuit breaker), and errors that name the subgraph.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::future::Shared;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::execute::node::Node;
use crate::resilience::SubgraphGuard;

/// A subgraph's answer: the `data` and `errors` of its GraphQL response.
#[derive(Debug, Default, Clone)]
pub struct SubgraphResponse {
    /// `data`, `Node::Null` when absent.
    pub data: Node,
    /// `errors`, as sent.
    pub errors: Vec<Value>,
    /// The length of the body, in bytes.
    pub size: usize,
}

/// Why a subgraph gave no usable response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The subgraph URL is not a valid URI.
    #[error("invalid URL {url:?}: {message}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The connection or the exchange failed (refused, reset, ...).
    #[error("{0}")]
    Http(String),
    /// No answer within the subgraph's timeout.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The subgraph answered with a non-success status.
    #[error("HTTP status {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The body is not a GraphQL response.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The subgraph's circuit breaker is open: the request was not sent.
    #[error("the circuit breaker of subgraph '{subgraph}' is open")]
    CircuitOpen {
        /// The subgraph.
        subgraph: String,
    },
}

/// How the client talks to subgraphs.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Speak HTTP/2 without TLS (prior knowledge) instead of HTTP/1.1.
    pub http2_only: bool,
    /// Idle pooled connections per host.
    pub max_idle_per_host: usize,
    /// How long an idle connection stays in the pool.
    pub idle_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            http2_only: false,
            max_idle_per_host: 256,
            idle_timeout: Duration::from_secs(90),
        }
    }
}

/// A pooled HTTP client for subgraph requests; cheap to clone.
#[derive(Clone)]
pub struct SubgraphClient {
    client: Client<HttpConnector, Full<Bytes>>,
    inflight: Inflight,
}

impl SubgraphClient {
    /// A client with the given options.
    pub fn new(options: &ClientOptions) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(options.max_idle_per_host)
            .pool_idle_timeout(options.idle_timeout)
            .http2_only(options.http2_only)
            .build(connector);
        SubgraphClient {
            client,
            inflight: Inflight::default(),
        }
    }

    /// POSTs a GraphQL request body to `url` through `guard` and reads the GraphQL
    /// response. A `query` may be retried and, with `deduplicate`, a query identical
    /// to one already in flight (same URL and body) waits for that one's answer
    /// instead of being sent again. `headers` go with every attempt; `on_retry` hears
    /// of each retry.
    pub async fn send(
        &self,
        url: &str,
        body: Bytes,
        headers: http::HeaderMap,
        guard: &Arc<SubgraphGuard>,
        send: SendOptions,
        on_retry: impl Fn() + Send + Sync + 'static,
    ) -> Result<SubgraphResponse, FetchError> {
        let client = self.client.clone();
        let target = url.to_string();
        let payload = body.clone();
        let guard = guard.clone();
        let retry = send.query;
        let sent_headers = headers.clone();
        // Boxed: the exchange's state is large (hyper's request futures), and the
        // futures that await this one would otherwise copy it as they move.
        let exchange = Box::pin(async move {
            guard
                .call(
                    retry,
                    || {
                        exchange(
                            client.clone(),
                            target.clone(),
                            payload.clone(),
                            sent_headers.clone(),
                        )
                    },
                    on_retry,
                )
                .await
        });
        let answer = async move {
            let (status, bytes) = exchange.await?;
            parse_response(status, &bytes).map(Arc::new)
        };
        let response = if send.query && send.deduplicate {
            let key = InflightKey {
                url: url.to_string(),
                body,
                headers: sharing_headers(&headers),
            };
            // Read once for everyone who shares the exchange; each gets its own copy
            // of the data to merge (copying the tree costs less than reading the JSON).
            self.inflight.share(key, answer).await?
        } else {
            answer.await?
        };
        Ok(Arc::try_unwrap(response).unwrap_or_else(|shared| (*shared).clone()))
    }
}

/// How one subgraph request may be sent.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// The operation is a query: it may be retried and shared.
    pub query: bool,
    /// Share identical queries in flight.
    pub deduplicate: bool,
}

/// What an exchange yields: the status and the body.
pub type Exchange = Result<(u16, Bytes), FetchError>;

/// What an exchange's requesters get: the response read from it.
type Answer = Result<Arc<SubgraphResponse>, FetchError>;

/// An answer several requests wait for.
type SharedAnswer = Shared<BoxFuture<'static, Answer>>;

/// What makes two requests identical: the URL, the body and the headers sent (the
/// trace context and the router's signature aside: each request has its own).
#[derive(Clone, PartialEq, Eq, Hash)]
struct InflightKey {
    url: String,
    body: Bytes,
    headers: Vec<(String, Bytes)>,
}

/// The headers two requests must share to share an exchange, in a stable order.
fn sharing_headers(headers: &http::HeaderMap) -> Vec<(String, Bytes)> {
    crate::headers::fingerprint(headers, |name| {
        !matches!(
            name,
            "traceparent" | "tracestate" | dictamesh::signature::SIGNATURE_HEADER
        )
    })
}

/// Requests in flight, by [`InflightKey`]: identical ones share one exchange.
#[derive(Clone, Default)]
struct Inflight {
    /// Keyed with a fast hash: the key holds the whole request body.
    requests: Arc<Mutex<HashMap<InflightKey, SharedAnswer, foldhash::fast::RandomState>>>,
}

impl Inflight {
    /// Joins the exchange in flight for `key`, or starts `exchange` for it.
    async fn share(
        &self,
        key: InflightKey,
        exchange: impl Future<Output = Answer> + Send + 'static,
    ) -> Answer {
        let shared = {
            let Ok(mut requests) = self.requests.lock() else {
                return exchange.await;
            };
            match requests.get(&key) {
                Some(shared) => shared.clone(),
                None => {
                    let requests_map = self.requests.clone();
                    let entry = key.clone();
                    let shared = async move {
                        let result = exchange.await;
                        if let Ok(mut requests) = requests_map.lock() {
                            requests.remove(&entry);
                        }
                        result
                    }
                    .boxed()
                    .shared();
                    requests.insert(key, shared.clone());
                    shared
                }
            }
        };
        shared.await
    }
}

/// One HTTP exchange: the status and the body.
async fn exchange(
    client: Client<HttpConnector, Full<Bytes>>,
    url: String,
    body: Bytes,
    headers: http::HeaderMap,
) -> Exchange {
    let mut request = http::Request::post(url.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            http::header::ACCEPT,
            "application/graphql-response+json, application/json",
        )
        .body(Full::new(body))
        .map_err(|e| FetchError::InvalidUrl {
            url: url.clone(),
            message: e.to_string(),
        })?;
    request.headers_mut().extend(headers);
    let response = client
        .request(request)
        .await
        .map_err(|e| FetchError::Http(error_chain(&e)))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?
        .to_bytes();
    Ok((status.as_u16(), bytes))
}

/// Reads a subgraph's HTTP answer as a GraphQL response.
fn parse_response(status: u16, bytes: &Bytes) -> Result<SubgraphResponse, FetchError> {
    // UTF-8 checked once for the whole body (fast for ASCII), not string by string.
    let parsed = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| crate::execute::json_parse::parse(text).ok());
    let graphql = match parsed {
        Some(Node::Object(body)) if body.get("data").is_some() || body.get("errors").is_some() => Some(body),
        _ => None,
    };
    if !(200..300).contains(&status) && graphql.is_none() {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_string();
        return Err(FetchError::Status { status, body: text });
    }
    let Some(mut body) = graphql else {
        return Err(FetchError::InvalidResponse(
            "the body is not a JSON GraphQL response with data or errors".to_string(),
        ));
    };
    let errors = match body.remove("errors") {
        Some(Node::Array(errors)) => errors.iter().map(Node::to_json).collect(),
        _ => Vec::new(),
    };
    Ok(SubgraphResponse {
        data: body.remove("data").unwrap_or_default(),
        errors,
        size: bytes.len(),
    })
}

/// An error and its sources, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_share_an_exchange_only_with_the_same_headers_trace_context_aside() {
        let headers = |authorization: &'static str, traceparent: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("authorization", http::HeaderValue::from_static(authorization));
            headers.insert("traceparent", http::HeaderValue::from_static(traceparent));
            sharing_headers(&headers)
        };
        assert_eq!(headers("Bearer a", "00-1-1-01"), headers("Bearer a", "00-2-2-01"));
        assert_ne!(headers("Bearer a", "00-1-1-01"), headers("Bearer b", "00-1-1-01"));
    }
}
