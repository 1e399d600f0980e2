//! The router's own configuration (`router.yaml`): YAML with `${env.NAME}` and
//! `${env.NAME:-default}` expansion, checked at start with errors that name the key
//! and the line.
//!
//! ```yaml
//! listen: 127.0.0.1:4000
//! introspection: true
//! limits: { max_depth: 20, max_aliases: 30, max_root_fields: 20, max_tokens: 15000 }
//! http: { max_body_bytes: 2000000, batching: true, csrf_prevention: true, console: true }
//! apq: { enabled: true, cache_size: 1000 }
//! subscriptions: { enabled: false }   # Subscription.entityChanged over WebSocket and multipart HTTP
//! traffic_shaping:
//!   http2: false
//!   deduplicate_queries: true
//!   all:
//!     timeout: 30s
//!     retry: { max_attempts: 3, initial_backoff: 50ms, max_backoff: 2s, jitter: true }
//!     circuit_breaker: { failure_rate_threshold: 0.5, window_size: 20, minimum_calls: 10, wait_in_open: 5s }
//!   subgraphs:
//!     products: { timeout: 5s, url: "http://products:4001/graphql" }
//!   router:
//!     rate_limit: { per_second: 50, burst: 100, key: { header: x-client-id } }
//!     max_concurrent_requests: 512
//!     dedupe: { enabled: true, headers: all }
//! override_labels: [beta]
//! headers:
//!   all:
//!     - propagate: { named: authorization }
//! authentication:
//!   jwt:
//!     jwks: [{ url: "https://issuer.example/.well-known/jwks.json", poll_interval: 60s }]
//!     issuer: https://issuer.example
//!     audience: [dictamesh]
//!     clock_skew: 60s
//! authorization:
//!   require_authentication: false
//!   directives: { reject_unauthorized: false, dry_run: false, errors: { response: errors } }
//!   policies: { files: [policies/authz.rego] }
//! ```

use std::collections::HashMap;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use dictamesh::config::BreakerConfig;
use dictamesh::config::RetryPolicy;
use serde::Deserialize;

use crate::compose::env_expansion::expand_env;
use crate::headers::HeadersConfig;
use crate::request::OperationLimits;
use crate::resilience::SubgraphGuard;
use crate::resilience::SubgraphPolicy;
use crate::traffic::RouterTrafficConfig;

/// What is wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// `${env.NAME}` names an unset variable without a default.
    #[error(
        "{path}:{line}: environment variable {name} is not set (use ${{env.{name}:-default}} for a default)"
    )]
    UnsetVariable {
        /// The file.
        path: String,
        /// The line of the reference.
        line: usize,
        /// The variable.
        name: String,
    },
    /// The YAML does not match the configuration's shape.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The line (0 when unknown).
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// The router configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Address to listen on (the `--listen` flag wins).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Whether introspection is answered (default true).
    #[serde(default = "yes")]
    pub introspection: bool,
    /// Operation limits.
    #[serde(default)]
    pub limits: OperationLimits,
    /// HTTP settings.
    #[serde(default)]
    pub http: HttpConfig,
    /// Automatic persisted queries.
    #[serde(default)]
    pub apq: ApqConfig,
    /// `Subscription.entityChanged`.
    #[serde(default)]
    pub subscriptions: SubscriptionsConfig,
    /// Subgraph timeouts, URL overrides and protocol.
    #[serde(default)]
    pub traffic_shaping: TrafficShaping,
    /// Progressive override labels to enable.
    #[serde(default)]
    pub override_labels: HashSet<String>,
    /// Query plans kept in the cache.
    #[serde(default = "default_cache_size")]
    pub plan_cache_size: usize,
    /// Header propagation to subgraphs.
    #[serde(default)]
    pub headers: HeadersConfig,
    /// JWT authentication (none: every caller is anonymous).
    #[serde(default)]
    pub authentication: Option<dictamesh_governance::authn::AuthenticationConfig>,
    /// Authorization directives and policies.
    #[serde(default)]
    pub authorization: dictamesh_governance::authz::AuthorizationConfig,
    /// Signs every subgraph request with a secret the subgraphs share, so they can
    /// refuse callers that bypass the router.
    #[serde(default)]
    pub subgraph_signature: Option<SubgraphSignatureConfig>,
}

fn yes() -> bool {
    true
}

fn default_cache_size() -> usize {
    1024
}

/// `subgraph_signature`: the secret subgraph requests are signed with (see
/// `dictamesh::signature`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubgraphSignatureConfig {
    /// The shared secret (e.g. `${env.DICTAMESH_ROUTER_SIGNING_SECRET}`).
    pub secret: String,
}

/// HTTP settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Accept batched (array) requests.
    pub batching: bool,
    /// Require CSRF-safe requests.
    pub csrf_prevention: bool,
    /// Serve the query console at `GET /`.
    pub console: bool,
    /// Honour the `dictamesh-expose-query-plan: true` request header.
    pub expose_query_plans: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 2 * 1024 * 1024,
            batching: true,
            csrf_prevention: true,
            console: true,
            expose_query_plans: true,
        }
    }
}

/// Automatic persisted queries.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApqConfig {
    /// Whether APQ is on.
    pub enabled: bool,
    /// Queries remembered.
    pub cache_size: usize,
}

impl Default for ApqConfig {
    fn default() -> Self {
        ApqConfig {
            enabled: true,
            cache_size: 1000,
        }
    }
}

/// `Subscription.entityChanged` (streamed from the event log the router is
/// given; `dictamesh dev` gives it the embedded one).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SubscriptionsConfig {
    /// Whether the API schema offers `entityChanged`.
    pub enabled: bool,
}

/// Subgraph traffic settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrafficShaping {
    /// Talk HTTP/2 (prior knowledge) to subgraphs.
    #[serde(default)]
    pub http2: bool,
    /// Identical query requests to a subgraph in flight at the same time share one
    /// exchange (default true).
    #[serde(default = "yes")]
    pub deduplicate_queries: bool,
    /// Defaults for every subgraph.
    #[serde(default)]
    pub all: SubgraphTraffic,
    /// Per subgraph name.
    #[serde(default)]
    pub subgraphs: HashMap<String, SubgraphTraffic>,
    /// Limits on the router's clients: rate limit, concurrency.
    #[serde(default)]
    pub router: RouterTrafficConfig,
}

/// Settings for one subgraph (or, under `all`, for every subgraph). `retry` and
/// `circuit_breaker` have the kit's schema; a subgraph's block replaces the one
/// under `all` as a whole.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubgraphTraffic {
    /// Deadline of one attempt, e.g. `30s`, `500ms`.
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    /// A URL replacing the supergraph's routing URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Retries of failed queries (mutations are never retried).
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    /// The circuit breaker.
    #[serde(default)]
    pub circuit_breaker: Option<BreakerConfig>,
}

impl Default for TrafficShaping {
    fn default() -> Self {
        TrafficShaping {
            http2: false,
            deduplicate_queries: true,
            all: SubgraphTraffic::default(),
            subgraphs: HashMap::new(),
            router: RouterTrafficConfig::default(),
        }
    }
}

impl TrafficShaping {
    /// The timeout for a subgraph (30 s unless configured).
    pub fn timeout(&self, subgraph: &str) -> Duration {
        self.subgraphs
            .get(subgraph)
            .and_then(|s| s.timeout)
            .or(self.all.timeout)
            .unwrap_or(Duration::from_secs(30))
    }

    /// The timeout, retries and circuit breaker of a subgraph: its own settings, else
    /// those under `all`, else the defaults.
    pub fn policy(&self, subgraph: &str) -> SubgraphPolicy {
        let own = self.subgraphs.get(subgraph);
        let defaults = SubgraphPolicy::default();
        SubgraphPolicy {
            timeout: self.timeout(subgraph),
            retry: own
                .and_then(|s| s.retry.clone())
                .or_else(|| self.all.retry.clone())
                .unwrap_or(defaults.retry),
            circuit_breaker: own
                .and_then(|s| s.circuit_breaker.clone())
                .or_else(|| self.all.circuit_breaker.clone())
                .unwrap_or(defaults.circuit_breaker),
        }
    }

    /// Checks every subgraph's policy; the error names the key and its line in `text`.
    fn check(&self, text: &str, path: &str) -> Result<(), ConfigError> {
        if let Err(message) = self.router.check() {
            let setting = message.split([' ', '.']).next().unwrap_or_default();
            return Err(ConfigError::Invalid {
                path: path.to_string(),
                line: line_of(text, &["traffic_shaping", "router", setting]),
                message: format!("traffic_shaping.router: {message}"),
            });
        }
        let mut blocks: Vec<(Vec<&str>, String)> = vec![(vec!["traffic_shaping", "all"], String::new())];
        for name in self.subgraphs.keys() {
            blocks.push((vec!["traffic_shaping", "subgraphs", name.as_str()], name.clone()));
        }
        for (keys, subgraph) in blocks {
            let policy = if subgraph.is_empty() {
                self.policy("")
            } else {
                self.policy(&subgraph)
            };
            if let Err(message) = SubgraphGuard::new(&subgraph, policy) {
                let setting = message.split([' ', '.']).next().unwrap_or_default();
                let mut located = keys.clone();
                located.push(setting);
                return Err(ConfigError::Invalid {
                    path: path.to_string(),
                    line: line_of(text, &located),
                    message: format!("{}: {message}", keys.join(".")),
                });
            }
        }
        Ok(())
    }

    /// The URL for a subgraph: the configured override or the routing URL.
    pub fn url(&self, subgraph: &str, routing_url: &str) -> String {
        self.subgraphs
            .get(subgraph)
            .and_then(|s| s.url.clone())
            .unwrap_or_else(|| routing_url.to_string())
    }
}

/// The line where the nested `keys` appear in YAML `text` (each found after the one
/// before), or that of the last one found; 0 when none is.
fn line_of(text: &str, keys: &[&str]) -> usize {
    let mut line = 0;
    let mut rest = keys.iter().peekable();
    for (index, content) in text.lines().enumerate() {
        while let Some(key) = rest.peek() {
            let found = content.match_indices(&format!("{key}:")).any(|(at, _)| {
                at == 0
                    || !content.as_bytes()[at - 1].is_ascii_alphanumeric()
                        && content.as_bytes()[at - 1] != b'_'
            });
            if !found {
                break;
            }
            line = index + 1;
            rest.next();
        }
        if rest.peek().is_none() {
            break;
        }
    }
    line
}

/// Parses `30s`, `500ms`, `2m` or a number of milliseconds.
fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }
    let Some(raw) = Option::<Raw>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match raw {
        Raw::Millis(ms) => Ok(Some(Duration::from_millis(ms))),
        Raw::Text(text) => parse_duration(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid duration {text:?} (use e.g. 500ms, 30s, 2m)"))
        }),
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => Some(Duration::from_secs(number * 60)),
        _ => None,
    }
}

impl RouterConfig {
    /// Reads and checks a configuration file.
    pub fn from_file(path: &Path) -> Result<RouterConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_yaml(&text, &path.display().to_string(), |name| {
            std::env::var(name).ok()
        })
    }

    /// Parses configuration text; `path` names it in errors, `lookup` reads the
    /// environment.
    pub fn from_yaml(
        text: &str,
        path: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<RouterConfig, ConfigError> {
        let expanded = expand_env(text, lookup).map_err(|unset| ConfigError::UnsetVariable {
            path: path.to_string(),
            line: unset.line,
            name: unset.name,
        })?;
        if expanded.trim().is_empty() {
            return Ok(RouterConfig {
                introspection: true,
                plan_cache_size: default_cache_size(),
                ..RouterConfig::default()
            });
        }
        let config: RouterConfig = serde_yaml::from_str(&expanded).map_err(|error| ConfigError::Invalid {
            path: path.to_string(),
            line: error.location().map(|l| l.line()).unwrap_or(0),
            message: error.to_string(),
        })?;
        config.traffic_shaping.check(&expanded, path)?;
        if config
            .subgraph_signature
            .as_ref()
            .is_some_and(|signing| signing.secret.is_empty())
        {
            return Err(ConfigError::Invalid {
                path: path.to_string(),
                line: line_of(&expanded, &["subgraph_signature", "secret"]),
                message: "subgraph_signature.secret is empty".to_string(),
            });
        }
        let keyed_by_claim = config
            .traffic_shaping
            .router
            .rate_limit
            .as_ref()
            .is_some_and(|limit| matches!(limit.key, crate::traffic::ClientKey::Claim(_)));
        if keyed_by_claim && config.authentication.is_none() {
            return Err(ConfigError::Invalid {
                path: path.to_string(),
                line: line_of(&expanded, &["traffic_shaping", "router", "rate_limit"]),
                message: "traffic_shaping.router.rate_limit.key: a claim key needs `authentication.jwt` \
                          (without it no request has verified claims)"
                    .to_string(),
            });
        }
        config.headers.check().map_err(|message| ConfigError::Invalid {
            path: path.to_string(),
            line: line_of(&expanded, &["headers"]),
            message,
        })?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_configuration_with_environment_variables() {
        let yaml = "listen: 127.0.0.1:4100\nintrospection: false\nlimits:\n  max_depth: ${env.DEPTH}\ntraffic_shaping:\n  all: { timeout: 2s }\n  subgraphs:\n    products: { timeout: 500ms, url: \"http://p\" }\n";
        let config = RouterConfig::from_yaml(yaml, "router.yaml", |name| {
            (name == "DEPTH").then(|| "7".to_string())
        })
        .expect("valid configuration");
        assert!(!config.introspection);
        assert_eq!(config.limits.max_depth, Some(7));
        assert_eq!(
            config.traffic_shaping.timeout("products"),
            Duration::from_millis(500)
        );
        assert_eq!(config.traffic_shaping.timeout("reviews"), Duration::from_secs(2));
        assert_eq!(config.traffic_shaping.url("products", "http://x"), "http://p");
    }

    #[test]
    fn errors_name_the_key_and_the_line() {
        let error = RouterConfig::from_yaml(
            "introspection: true\nlimits:\n  max_dept: 3\n",
            "router.yaml",
            |_| None,
        )
        .expect_err("unknown key");
        let text = error.to_string();
        assert!(text.contains("router.yaml:3"), "{text}");
        assert!(text.contains("max_dept"), "{text}");
        let unset =
            RouterConfig::from_yaml("listen: ${env.NOPE}\n", "router.yaml", |_| None).expect_err("unset");
        assert!(unset.to_string().contains("NOPE"), "{unset}");
    }

    #[test]
    fn resilience_uses_the_kit_schema_per_subgraph_over_all() {
        let yaml = "traffic_shaping:\n  all:\n    retry: { max_attempts: 2 }\n  subgraphs:\n    products:\n      timeout: 1s\n      circuit_breaker: { window_size: 4, minimum_calls: 4, wait_in_open: 2s }\n";
        let config = RouterConfig::from_yaml(yaml, "router.yaml", |_| None).expect("valid configuration");
        let products = config.traffic_shaping.policy("products");
        assert_eq!(products.timeout, Duration::from_secs(1));
        assert_eq!(products.retry.max_attempts, 2, "inherited from all");
        assert_eq!(products.circuit_breaker.window_size, 4);
        assert_eq!(products.circuit_breaker.wait_in_open, Duration::from_secs(2));
        let reviews = config.traffic_shaping.policy("reviews");
        assert_eq!(reviews.circuit_breaker, BreakerConfig::default());
    }

    #[test]
    fn bad_resilience_settings_name_the_key_and_the_line() {
        let yaml = "traffic_shaping:\n  subgraphs:\n    products:\n      timeout: 1s\n      circuit_breaker:\n        failure_rate_threshold: 2.0\n";
        let error = RouterConfig::from_yaml(yaml, "router.yaml", |_| None).expect_err("threshold above 1");
        let text = error.to_string();
        assert!(text.contains("router.yaml:5"), "{text}");
        assert!(text.contains("traffic_shaping.subgraphs.products"), "{text}");
        assert!(text.contains("failure_rate_threshold"), "{text}");
        let unknown = RouterConfig::from_yaml(
            "traffic_shaping:\n  all:\n    retry: { max_attempt: 2 }\n",
            "router.yaml",
            |_| None,
        )
        .expect_err("unknown key");
        assert!(unknown.to_string().contains("max_attempt"), "{unknown}");
    }

    #[test]
    fn client_limits_are_read_and_checked() {
        let yaml = "traffic_shaping:\n  router:\n    rate_limit: { per_second: 5, burst: 10, key: { header: x-client-id } }\n    max_concurrent_requests: 64\n";
        let config = RouterConfig::from_yaml(yaml, "router.yaml", |_| None).expect("valid configuration");
        let router = &config.traffic_shaping.router;
        assert_eq!(router.max_concurrent_requests, Some(64));
        assert_eq!(
            router.rate_limit.as_ref().map(|r| r.key.clone()),
            Some(crate::traffic::ClientKey::Header("x-client-id".into()))
        );
        let error = RouterConfig::from_yaml(
            "traffic_shaping:\n  router:\n    rate_limit: { per_second: 0, burst: 1 }\n",
            "router.yaml",
            |_| None,
        )
        .expect_err("no tokens");
        let text = error.to_string();
        assert!(
            text.contains("router.yaml:3") && text.contains("per_second"),
            "{text}"
        );
        let error = RouterConfig::from_yaml(
            "traffic_shaping:\n  router:\n    rate_limit: { per_second: 1, burst: 1, key: { claim: sub } }\n",
            "router.yaml",
            |_| None,
        )
        .expect_err("a claim key without authentication");
        let text = error.to_string();
        assert!(
            text.contains("router.yaml:3") && text.contains("authentication.jwt"),
            "{text}"
        );
        let config = RouterConfig::from_yaml(
            "traffic_shaping:\n  router:\n    dedupe: { enabled: true, headers: { include: [authorization] } }\n",
            "router.yaml",
            |_| None,
        )
        .expect("valid de-duplication settings");
        assert_eq!(
            config.traffic_shaping.router.dedupe.headers,
            crate::traffic::request_dedupe::DedupeHeaders::Include(vec!["authorization".into()])
        );
        let error = RouterConfig::from_yaml(
            "traffic_shaping:\n  router:\n    dedupe:\n      headers: { include: ['x y'] }\n",
            "router.yaml",
            |_| None,
        )
        .expect_err("not a header name");
        let text = error.to_string();
        assert!(
            text.contains("router.yaml:3") && text.contains("dedupe.headers.include"),
            "{text}"
        );
        let error = RouterConfig::from_yaml("subgraph_signature:\n  secret: \"\"\n", "router.yaml", |_| None)
            .expect_err("an empty signing secret");
        let text = error.to_string();
        assert!(
            text.contains("router.yaml:2") && text.contains("subgraph_signature.secret"),
            "{text}"
        );
    }
}
