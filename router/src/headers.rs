//! Header propagation to subgraphs, configured under `headers:` for all subgraphs and
//! per subgraph (rules for all run first, then the subgraph's, in order):
//!
//! ```yaml
//! headers:
//!   all:
//!     - propagate: { named: authorization }
//!     - propagate: { matching: "^x-tenant-" }
//!     - propagate: { named: x-user, rename: x-forwarded-user, default: anonymous }
//!     - insert: { name: x-gateway, value: dictamesh }
//!   subgraphs:
//!     products:
//!       - remove: { named: authorization }
//! ```
//!
//! Connection-level headers (`host`, `content-length`, `content-type`, `accept`,
//! `connection`, ...) are never propagated. The client's headers reach the fetches
//! through [`with_client_headers`], which the HTTP layer wraps each request in.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use http::HeaderName;
use http::HeaderValue;
use regex::Regex;
use serde::Deserialize;

/// Header rules for all subgraphs and per subgraph.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersConfig {
    /// Rules for every subgraph.
    #[serde(default)]
    pub all: Vec<HeaderRule>,
    /// Rules per subgraph name, after those for all.
    #[serde(default)]
    pub subgraphs: HashMap<String, Vec<HeaderRule>>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HeaderRule {
    /// Copy client headers (one by name, or those matching a regular expression).
    Propagate(PropagateRule),
    /// Set a header to a fixed value.
    Insert(InsertRule),
    /// Drop headers set by the rules before (one by name, or those matching).
    Remove(SelectRule),
}

/// Which client headers to copy, and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropagateRule {
    /// A header name.
    #[serde(default)]
    pub named: Option<String>,
    /// A regular expression over header names (lower case).
    #[serde(default)]
    pub matching: Option<String>,
    /// Send the header under this name (with `named` only).
    #[serde(default)]
    pub rename: Option<String>,
    /// The value to send when the client sent none (with `named` only).
    #[serde(default)]
    pub default: Option<String>,
}

/// A header with a fixed value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsertRule {
    /// The header name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// Headers by name or by a regular expression over names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectRule {
    /// A header name.
    #[serde(default)]
    pub named: Option<String>,
    /// A regular expression over header names (lower case).
    #[serde(default)]
    pub matching: Option<String>,
}

/// Headers a subgraph request never takes from the client.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "accept",
    "accept-encoding",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "traceparent",
    "tracestate",
];

/// Which headers a compiled rule selects.
#[derive(Debug, Clone)]
enum Selector {
    Named(HeaderName),
    Matching(Regex),
}

impl Selector {
    fn new(named: &Option<String>, matching: &Option<String>, rule: &str) -> Result<Self, String> {
        match (named, matching) {
            (Some(name), None) => Ok(Selector::Named(header_name(name, rule)?)),
            (None, Some(pattern)) => Regex::new(pattern)
                .map(Selector::Matching)
                .map_err(|e| format!("{rule}.matching: {e}")),
            _ => Err(format!("{rule} needs one of `named` or `matching`")),
        }
    }

    fn selects(&self, name: &HeaderName) -> bool {
        match self {
            Selector::Named(named) => named == name,
            Selector::Matching(pattern) => pattern.is_match(name.as_str()),
        }
    }
}

/// A rule ready to apply.
#[derive(Debug, Clone)]
enum Compiled {
    Propagate {
        selector: Selector,
        rename: Option<HeaderName>,
        default: Option<HeaderValue>,
    },
    Insert(HeaderName, HeaderValue),
    Remove(Selector),
}

fn header_name(name: &str, rule: &str) -> Result<HeaderName, String> {
    HeaderName::try_from(name).map_err(|_| format!("{rule}: {name:?} is not a header name"))
}

fn header_value(value: &str, rule: &str) -> Result<HeaderValue, String> {
    HeaderValue::try_from(value).map_err(|_| format!("{rule}: {value:?} is not a header value"))
}

fn compile(rule: &HeaderRule) -> Result<Compiled, String> {
    match rule {
        HeaderRule::Propagate(p) => {
            let selector = Selector::new(&p.named, &p.matching, "propagate")?;
            if p.named.is_none() && (p.rename.is_some() || p.default.is_some()) {
                return Err("propagate: `rename` and `default` need `named`".to_string());
            }
            Ok(Compiled::Propagate {
                selector,
                rename: p
                    .rename
                    .as_deref()
                    .map(|n| header_name(n, "propagate.rename"))
                    .transpose()?,
                default: p
                    .default
                    .as_deref()
                    .map(|v| header_value(v, "propagate.default"))
                    .transpose()?,
            })
        }
        HeaderRule::Insert(i) => Ok(Compiled::Insert(
            header_name(&i.name, "insert.name")?,
            header_value(&i.value, "insert.value")?,
        )),
        HeaderRule::Remove(r) => Ok(Compiled::Remove(Selector::new(&r.named, &r.matching, "remove")?)),
    }
}

/// The rules for one subgraph, compiled.
#[derive(Debug, Clone, Default)]
pub struct HeaderRules {
    rules: Vec<Compiled>,
}

impl HeadersConfig {
    /// Checks every rule; the error names the subgraph (or `all`) and the rule.
    pub fn check(&self) -> Result<(), String> {
        self.rules_for("")?;
        for name in self.subgraphs.keys() {
            self.rules_for(name)?;
        }
        Ok(())
    }

    /// The compiled rules for `subgraph`: those for all, then its own.
    pub fn rules_for(&self, subgraph: &str) -> Result<HeaderRules, String> {
        let mut rules = Vec::new();
        for (index, rule) in self.all.iter().enumerate() {
            rules.push(compile(rule).map_err(|e| format!("headers.all[{index}]: {e}"))?);
        }
        for (index, rule) in self.subgraphs.get(subgraph).into_iter().flatten().enumerate() {
            rules.push(compile(rule).map_err(|e| format!("headers.subgraphs.{subgraph}[{index}]: {e}"))?);
        }
        Ok(HeaderRules { rules })
    }
}

impl HeaderRules {
    /// Whether there are no rules (nothing to send).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the rules to the client's headers, adding to `out`.
    pub fn apply(&self, client: &HeaderMap, out: &mut HeaderMap) {
        for rule in &self.rules {
            match rule {
                Compiled::Propagate {
                    selector,
                    rename,
                    default,
                } => {
                    let mut found = false;
                    for (name, value) in client {
                        if RESERVED.contains(&name.as_str()) || !selector.selects(name) {
                            continue;
                        }
                        found = true;
                        out.append(rename.clone().unwrap_or_else(|| name.clone()), value.clone());
                    }
                    if let (false, Some(default), Selector::Named(name)) = (found, default, selector) {
                        out.insert(rename.clone().unwrap_or_else(|| name.clone()), default.clone());
                    }
                }
                Compiled::Insert(name, value) => {
                    out.insert(name.clone(), value.clone());
                }
                Compiled::Remove(selector) => {
                    let names: Vec<HeaderName> =
                        out.keys().filter(|n| selector.selects(n)).cloned().collect();
                    for name in names {
                        out.remove(name);
                    }
                }
            }
        }
    }
}

/// The headers `include` keeps, as owned name/value pairs in a stable order:
/// what two requests must have in common to be treated as identical.
pub fn fingerprint(headers: &HeaderMap, include: impl Fn(&str) -> bool) -> Vec<(String, bytes::Bytes)> {
    let mut kept: Vec<(String, bytes::Bytes)> = headers
        .iter()
        .filter(|(name, _)| include(name.as_str()))
        .map(|(name, value)| (name.to_string(), bytes::Bytes::copy_from_slice(value.as_bytes())))
        .collect();
    kept.sort();
    kept
}

tokio::task_local! {
    static CLIENT_HEADERS: Arc<HeaderMap>;
}

/// Runs `future` (one client request) with the client's headers available to the
/// subgraph fetches it makes.
pub async fn with_client_headers<F: Future>(headers: HeaderMap, future: F) -> F::Output {
    CLIENT_HEADERS.scope(Arc::new(headers), future).await
}

/// Middleware: makes each request's headers available to its subgraph fetches.
pub async fn keep_client_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let headers = request.headers().clone();
    with_client_headers(headers, next.run(request)).await
}

/// `future` with the headers of the client request being served, wherever it
/// runs (a task of its own does not see the request's).
pub fn carrying_client_headers<F: Future>(future: F) -> impl Future<Output = F::Output> {
    CLIENT_HEADERS.scope(client_headers(), future)
}

/// The headers of the client request being served (empty outside one).
pub fn client_headers() -> Arc<HeaderMap> {
    CLIENT_HEADERS
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::new(HeaderMap::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> HeadersConfig {
        serde_yaml::from_str(yaml).expect("valid rules")
    }

    fn client() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert("x-tenant-id", HeaderValue::from_static("acme"));
        headers.insert("x-tenant-region", HeaderValue::from_static("eu"));
        headers.insert("x-user", HeaderValue::from_static("ada"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("cookie", HeaderValue::from_static("secret"));
        headers
    }

    #[test]
    fn propagate_insert_remove_and_rename_in_order() {
        let rules = config(
            "all:\n  - propagate: { named: authorization }\n  - propagate: { matching: '^x-tenant-' }\n  - propagate: { named: x-user, rename: x-forwarded-user }\n  - propagate: { named: x-missing, default: none }\n  - propagate: { matching: '.*' }\n  - insert: { name: x-gateway, value: dictamesh }\nsubgraphs:\n  products:\n    - remove: { named: authorization }\n    - remove: { named: cookie }\n",
        );
        let mut reviews = HeaderMap::new();
        rules
            .rules_for("reviews")
            .expect("rules")
            .apply(&client(), &mut reviews);
        assert_eq!(reviews["authorization"], "Bearer t");
        assert_eq!(reviews["x-tenant-id"], "acme");
        assert_eq!(reviews["x-tenant-region"], "eu");
        assert_eq!(reviews["x-forwarded-user"], "ada");
        assert_eq!(reviews["x-missing"], "none");
        assert_eq!(reviews["x-gateway"], "dictamesh");
        assert!(
            reviews.get("content-type").is_none(),
            "connection-level headers stay"
        );
        let mut products = HeaderMap::new();
        rules
            .rules_for("products")
            .expect("rules")
            .apply(&client(), &mut products);
        assert!(products.get("authorization").is_none());
        assert!(products.get("cookie").is_none());
        assert_eq!(products["x-gateway"], "dictamesh");
    }

    #[test]
    fn bad_rules_are_named() {
        let error = |yaml: &str| config(yaml).check().err().unwrap_or_default();
        assert!(
            error("all:\n  - propagate: { matching: '(' }\n").contains("headers.all[0]: propagate.matching")
        );
        assert!(
            error("subgraphs:\n  a:\n    - insert: { name: 'bad name', value: x }\n")
                .contains("headers.subgraphs.a[0]")
        );
        assert!(error("all:\n  - remove: {}\n").contains("named"));
        assert!(error("all:\n  - propagate: { matching: x, rename: y }\n").contains("rename"));
    }
}
