//! Client traffic at the router's door: a per-client rate limit (token bucket keyed by
//! a header, a claim of the caller's verified JWT, or the client's IP; 429 with
//! `Retry-After`) and a global concurrency limit
//! that sheds load (503 with `Retry-After`). Configured under
//! `traffic_shaping.router`:
//!
//! ```yaml
//! traffic_shaping:
//!   router:
//!     rate_limit: { per_second: 50, burst: 100, key: { header: x-client-id } }  # or key: ip, or key: { claim: sub }
//!     max_concurrent_requests: 512
//!     dedupe: { enabled: true, headers: all }   # identical queries in flight share one execution
//! ```

mod load_shedding;
mod rate_limit;
pub mod request_dedupe;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;

pub use self::load_shedding::ConcurrencyLimit;
pub use self::rate_limit::ClientRateLimiter;
pub use self::request_dedupe::DedupeConfig;
pub use self::request_dedupe::RequestDedupe;
use crate::http::RouterState;

/// What identifies a client for its rate limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientKey {
    /// The client's IP address (of the TCP peer).
    #[default]
    Ip,
    /// A request header, e.g. `x-client-id`; requests without it are keyed by IP.
    Header(String),
    /// A claim of the caller's verified token, e.g. `sub`; requests without a
    /// valid token or without the claim are keyed by IP.
    Claim(String),
}

/// A token bucket per client: `per_second` tokens a second, up to `burst`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRateLimitConfig {
    /// Sustained requests per second per client.
    pub per_second: u32,
    /// Requests a client may send at once after a quiet period.
    pub burst: u32,
    /// What identifies a client.
    #[serde(default)]
    pub key: ClientKey,
}

/// Limits on the router's own clients (`traffic_shaping.router`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterTrafficConfig {
    /// A per-client rate limit; none by default.
    #[serde(default)]
    pub rate_limit: Option<ClientRateLimitConfig>,
    /// GraphQL requests served at once; more are answered 503 at once. None by default.
    #[serde(default)]
    pub max_concurrent_requests: Option<usize>,
    /// Identical query requests in flight share one execution; off by default.
    #[serde(default)]
    pub dedupe: DedupeConfig,
}

impl RouterTrafficConfig {
    /// Checks the settings; the error names the bad one.
    pub fn check(&self) -> Result<(), String> {
        if let Some(limit) = &self.rate_limit {
            ClientRateLimiter::new(limit)?;
        }
        if self.max_concurrent_requests == Some(0) {
            return Err("max_concurrent_requests must be at least 1".to_string());
        }
        self.dedupe.check()
    }
}

/// The limits in force: built from a [`RouterTrafficConfig`], kept across reloads
/// that do not change it (so buckets and slots carry over). The default has none.
#[derive(Default)]
pub struct TrafficLimits {
    config: RouterTrafficConfig,
    rate_limit: Option<ClientRateLimiter>,
    concurrency: Option<ConcurrencyLimit>,
}

impl std::fmt::Debug for TrafficLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrafficLimits")
            .field("config", &self.config)
            .finish()
    }
}

impl TrafficLimits {
    /// The limits a configuration asks for; the error names the bad setting.
    pub fn new(config: &RouterTrafficConfig) -> Result<Self, String> {
        config.check()?;
        Ok(TrafficLimits {
            config: config.clone(),
            rate_limit: config
                .rate_limit
                .as_ref()
                .map(ClientRateLimiter::new)
                .transpose()?,
            concurrency: config.max_concurrent_requests.map(ConcurrencyLimit::new),
        })
    }

    /// The configuration these limits enforce.
    pub fn config(&self) -> &RouterTrafficConfig {
        &self.config
    }
}

/// The client key of a request under `key`.
fn client_key(key: &ClientKey, request: &Request, state: &RouterState) -> String {
    let peer = || {
        request.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(
            || "unknown".to_string(),
            |ConnectInfo(peer)| peer.ip().to_string(),
        )
    };
    match key {
        ClientKey::Ip => peer(),
        ClientKey::Header(name) => request
            .headers()
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map_or_else(peer, |value| format!("header:{value}")),
        ClientKey::Claim(name) => state
            .pipeline()
            .governance()
            .identify(request.headers())
            .ok()
            .and_then(|caller| {
                let value = caller.claims()?.get(name.as_str())?;
                Some(match value {
                    serde_json::Value::String(text) => format!("claim:{text}"),
                    other => format!("claim:{other}"),
                })
            })
            .unwrap_or_else(peer),
    }
}

/// A GraphQL error response with a status and a `Retry-After` in whole seconds.
fn refusal(status: StatusCode, retry_after: Duration, message: &str, code: &str) -> Response {
    let body =
        crate::execute::GraphQLResponse::from_errors(vec![crate::execute::graphql_error(message, code)]);
    let mut response = (status, body.to_bytes()).into_response();
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// Admits a GraphQL request: 429 when its client is over its rate, 503 when the
/// router already serves its maximum of requests; otherwise runs it.
pub async fn admit(State(state): State<Arc<RouterState>>, request: Request, next: Next) -> Response {
    let limits = state.options().traffic.clone();
    if let Some(limiter) = &limits.rate_limit {
        let key = client_key(&limiter.key(), &request, &state);
        if let Err(wait) = limiter.check(key) {
            state.metrics().record_rejected("rate_limited");
            return refusal(
                StatusCode::TOO_MANY_REQUESTS,
                wait,
                "Your request has been rate limited: retry after the time in Retry-After",
                "REQUEST_RATE_LIMITED",
            );
        }
    }
    let _slot = match &limits.concurrency {
        None => None,
        Some(limit) => match limit.try_enter() {
            Some(slot) => Some(slot),
            None => {
                state.metrics().record_rejected("overloaded");
                return refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Duration::from_secs(1),
                    "The router is serving as many requests as it may: retry after the time in Retry-After",
                    "SERVICE_OVERLOADED",
                );
            }
        },
    };
    next.run(request).await
}
