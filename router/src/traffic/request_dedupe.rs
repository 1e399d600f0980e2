//! Inbound request de-duplication (`traffic_shaping.router.dedupe`, as in Hive
//! Router): query requests identical to one already being executed — the same
//! operation, variables, plan (override labels, authorization) and request
//! headers — wait for that execution and share its response instead of running
//! again. Each request is still admitted, authorized, counted and answered on
//! its own; only the execution (subgraph fetches, merge, response writing) is
//! shared, and only when the response depends on nothing else: no field
//! masked, refused or audited for the caller. Mutations are never shared.
//!
//! ```yaml
//! traffic_shaping:
//!   router:
//!     dedupe:
//!       enabled: true
//!       headers: all          # or none, or { include: [authorization, x-tenant] }
//! ```
//!
//! `headers` says which request headers must match: all of them (the default;
//! the trace context and `content-length` aside), none (requests of different
//! callers may share an execution: only for a graph without per-caller data), or
//! those listed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;

use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::execute::GraphQLResponse;
use crate::plan::PlanCacheKey;

/// `traffic_shaping.router.dedupe`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeConfig {
    /// Share executions of identical query requests in flight (default false).
    #[serde(default)]
    pub enabled: bool,
    /// The request headers identical requests must have in common.
    #[serde(default)]
    pub headers: DedupeHeaders,
}

/// Which request headers are part of what makes two requests identical.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DedupeHeaders {
    /// Every header but the trace context (`traceparent`, `tracestate`) and
    /// `content-length`.
    #[default]
    All,
    /// No header.
    None,
    /// The headers named (case-insensitive).
    Include(Vec<String>),
}

impl DedupeConfig {
    /// Checks the settings; the error names a header name that is not one.
    pub fn check(&self) -> Result<(), String> {
        if let DedupeHeaders::Include(names) = &self.headers {
            for name in names {
                http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("dedupe.headers.include: `{name}` is not an HTTP header name"))?;
            }
        }
        Ok(())
    }
}

/// What makes two requests identical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupeKey {
    plan: PlanCacheKey,
    variables: String,
    headers: Vec<(String, Bytes)>,
}

/// One execution that identical requests wait for.
type SharedExecution = Arc<OnceCell<GraphQLResponse>>;

/// The executions in flight, by [`DedupeKey`].
#[derive(Debug, Default)]
pub struct RequestDedupe {
    headers: Option<DedupeHeaders>,
    inflight: Mutex<HashMap<DedupeKey, SharedExecution, foldhash::fast::RandomState>>,
}

impl RequestDedupe {
    /// De-duplication as configured (`None` when it is off).
    pub fn new(config: &DedupeConfig) -> Self {
        let headers = config.enabled.then(|| match &config.headers {
            DedupeHeaders::Include(names) => {
                DedupeHeaders::Include(names.iter().map(|n| n.to_ascii_lowercase()).collect())
            }
            other => other.clone(),
        });
        RequestDedupe {
            headers,
            inflight: Mutex::default(),
        }
    }

    /// Whether requests are de-duplicated at all.
    pub fn is_enabled(&self) -> bool {
        self.headers.is_some()
    }

    /// The key of a request with this plan key, variables and headers; `None`
    /// when de-duplication is off.
    pub fn key(
        &self,
        plan: &PlanCacheKey,
        variables: &serde_json::Map<String, serde_json::Value>,
        headers: &HeaderMap,
    ) -> Option<DedupeKey> {
        let which = self.headers.as_ref()?;
        let headers = crate::headers::fingerprint(headers, |name| match which {
            DedupeHeaders::All => !matches!(name, "traceparent" | "tracestate" | "content-length"),
            DedupeHeaders::None => false,
            DedupeHeaders::Include(names) => names.iter().any(|n| n == name),
        });
        Some(DedupeKey {
            plan: plan.clone(),
            variables: serde_json::to_string(variables).unwrap_or_default(),
            headers,
        })
    }

    /// The response of the execution in flight for `key`, or of `execute` run
    /// now (when the request that started one was cancelled, a waiting request
    /// runs it instead); the flag says whether it came from another request.
    pub async fn share<F>(&self, key: DedupeKey, execute: F) -> (GraphQLResponse, bool)
    where
        F: Future<Output = GraphQLResponse>,
    {
        let execution = {
            let Ok(mut inflight) = self.inflight.lock() else {
                return (execute.await, false);
            };
            inflight.entry(key.clone()).or_default().clone()
        };
        let waiting = Waiting {
            dedupe: self,
            key,
            execution,
        };
        let mut ran = false;
        let response = waiting
            .execution
            .get_or_init(|| async {
                ran = true;
                execute.await
            })
            .await
            .clone();
        drop(waiting);
        (response, !ran)
    }
}

/// A request waiting for (or running) an execution. When it ends, finished or
/// cancelled, it takes the execution out of the map if the execution is done
/// or nobody else waits for it, so that the map never keeps one for nothing.
struct Waiting<'a> {
    dedupe: &'a RequestDedupe,
    key: DedupeKey,
    execution: SharedExecution,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Ok(mut inflight) = self.dedupe.inflight.lock() else {
            return;
        };
        let ours = inflight
            .get(&self.key)
            .is_some_and(|current| Arc::ptr_eq(current, &self.execution));
        // Holders are counted under the lock that new waiters take: 2 is the
        // map and this request.
        if ours && (self.execution.initialized() || Arc::strong_count(&self.execution) == 2) {
            inflight.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(dedupe: &RequestDedupe, headers: &[(&str, &str)]) -> DedupeKey {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let plan = PlanCacheKey {
            query: Arc::from("{ a }"),
            operation_name: None,
            conditions: Vec::new(),
            override_labels: Vec::new(),
            authorization: Vec::new(),
        };
        dedupe
            .key(&plan, &serde_json::Map::new(), &map)
            .expect("de-duplication is on")
    }

    fn dedupe(yaml: &str) -> RequestDedupe {
        let config: DedupeConfig = serde_yaml::from_str(yaml).expect("valid settings");
        config.check().expect("valid header names");
        RequestDedupe::new(&config)
    }

    #[test]
    fn headers_that_must_match_are_all_none_or_those_listed() {
        let all = dedupe("enabled: true");
        assert_eq!(
            key(&all, &[("authorization", "a"), ("traceparent", "1")]),
            key(&all, &[("authorization", "a"), ("traceparent", "2")]),
            "the trace context differs per request"
        );
        assert_ne!(
            key(&all, &[("authorization", "a")]),
            key(&all, &[("authorization", "b")])
        );
        let none = dedupe("enabled: true\nheaders: none");
        assert_eq!(
            key(&none, &[("authorization", "a")]),
            key(&none, &[("authorization", "b")])
        );
        let listed = dedupe("enabled: true\nheaders: { include: [X-Tenant] }");
        assert_eq!(
            key(&listed, &[("x-tenant", "t"), ("user-agent", "a")]),
            key(&listed, &[("x-tenant", "t"), ("user-agent", "b")])
        );
        assert_ne!(
            key(&listed, &[("x-tenant", "t")]),
            key(&listed, &[("x-tenant", "u")])
        );
    }

    #[test]
    fn off_by_default_and_header_names_are_checked() {
        assert!(!dedupe("{}").is_enabled());
        let config: DedupeConfig =
            serde_yaml::from_str("enabled: true\nheaders: { include: ['bad header'] }").expect("parses");
        let error = config
            .check()
            .expect_err("a space is not allowed in a header name");
        assert!(error.contains("`bad header`"), "{error}");
    }

    #[tokio::test]
    async fn requests_waiting_for_an_execution_share_its_response_and_later_ones_run_again() {
        let dedupe = dedupe("enabled: true");
        let gate = tokio::sync::Notify::new();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let execute = || async {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            gate.notified().await;
            GraphQLResponse::from_errors(vec![serde_json::json!({"message": "shared"})])
        };
        let requests = futures::future::join_all((0..5).map(|_| dedupe.share(key(&dedupe, &[]), execute())));
        let release = async {
            while runs.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            tokio::task::yield_now().await;
            gate.notify_waiters();
        };
        let (responses, ()) = futures::join!(requests, release);
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(responses.iter().filter(|(_, shared)| *shared).count(), 4);
        assert!(responses.iter().all(|(r, _)| r.errors[0]["message"] == "shared"));
        assert!(
            dedupe.inflight.lock().unwrap().is_empty(),
            "nothing left in flight"
        );
        gate.notify_one();
        let (_, shared) = dedupe.share(key(&dedupe, &[]), execute()).await;
        assert!(!shared, "a request after the execution ended runs its own");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_cancelled_execution_is_run_by_a_waiting_request_or_forgotten() {
        let dedupe = dedupe("enabled: true");
        let never = || async { std::future::pending::<GraphQLResponse>().await };
        let answer = || async { GraphQLResponse::from_errors(vec![serde_json::json!({"message": "own"})]) };

        let alone = tokio::time::timeout(
            Duration::from_millis(10),
            dedupe.share(key(&dedupe, &[]), never()),
        )
        .await;
        assert!(alone.is_err(), "the execution never ends");
        assert!(
            dedupe.inflight.lock().unwrap().is_empty(),
            "a cancelled execution nobody waits for is forgotten"
        );

        let mut leader = Box::pin(dedupe.share(key(&dedupe, &[]), never()));
        assert!(
            futures::poll!(leader.as_mut()).is_pending(),
            "the leader runs its execution"
        );
        let mut follower = Box::pin(dedupe.share(key(&dedupe, &[]), answer()));
        assert!(
            futures::poll!(follower.as_mut()).is_pending(),
            "the follower waits for it"
        );
        drop(leader);
        let (response, shared) = follower.await;
        assert!(!shared, "the follower ran the execution itself");
        assert_eq!(response.errors[0]["message"], "own");
        assert!(dedupe.inflight.lock().unwrap().is_empty());
    }
}
