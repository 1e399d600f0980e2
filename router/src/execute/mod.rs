//! Running a query plan: fetches in sequence or in parallel, `_entities` calls with
//! de-duplicated representations, results merged by path, and the final response
//! shaped by the client's operation with GraphQL null propagation. A subgraph that
//! fails leaves partial data and an error naming it.

pub mod data;
mod incremental;
pub mod json_parse;
mod json_text;
pub mod node;
mod response;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::future::join_all;
use serde_json::Map;
use serde_json::Value;
use serde_json::json;

pub use self::node::Node;
pub use self::response::write_projected;
use crate::fetch::FetchError;
use crate::fetch::SendOptions;
use crate::fetch::SubgraphClient;
use crate::headers::HeaderRules;
use crate::plan::FetchNode;
use crate::plan::PathElement;
use crate::plan::PlanNode;
use crate::plan::Projection;
use crate::plan::QueryPlan;
use crate::resilience::SubgraphGuard;
use crate::supergraph::Supergraph;
use crate::telemetry::RouterMetrics;

/// A GraphQL response: `data` (absent on request errors), `errors` and `extensions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphQLResponse {
    /// `data` as JSON text, written by [`write_projected`]; `None` means no `data` key.
    /// Shared, not copied, when the response is cloned (requests that share an
    /// execution each get a clone).
    pub data: Option<Bytes>,
    /// `errors`.
    pub errors: Vec<Value>,
    /// `extensions` (omitted when empty).
    pub extensions: Map<String, Value>,
}

impl GraphQLResponse {
    /// A response with only errors (a request error: no `data` key).
    pub fn from_errors(errors: Vec<Value>) -> Self {
        GraphQLResponse {
            data: None,
            errors,
            extensions: Map::new(),
        }
    }

    /// Appends the response as JSON to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_head(out);
        if let Some(data) = &self.data {
            out.extend_from_slice(data);
        }
        self.write_tail(out);
    }

    /// The response as JSON text in three parts, the middle one the `data`
    /// as written (not copied): what comes before it, it, what comes after.
    pub fn into_parts(self) -> [Bytes; 3] {
        let mut head = Vec::with_capacity(16);
        self.write_head(&mut head);
        let mut tail = Vec::with_capacity(1);
        self.write_tail(&mut tail);
        [head.into(), self.data.unwrap_or_default(), tail.into()]
    }

    /// `{`, the errors and the `data` key: what precedes the data's text.
    fn write_head(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if !self.errors.is_empty() {
            out.extend_from_slice(b"\"errors\":");
            let _ = serde_json::to_writer(&mut *out, &self.errors);
            if self.data.is_some() {
                out.push(b',');
            }
        }
        if self.data.is_some() {
            out.extend_from_slice(b"\"data\":");
        }
    }

    /// The extensions and `}`: what follows the data's text.
    fn write_tail(&self, out: &mut Vec<u8>) {
        if !self.extensions.is_empty() {
            if !self.errors.is_empty() || self.data.is_some() {
                out.push(b',');
            }
            out.extend_from_slice(b"\"extensions\":");
            let _ = serde_json::to_writer(&mut *out, &self.extensions);
        }
        out.push(b'}');
    }

    /// The response as JSON text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.as_ref().map_or(64, |d| d.len() + 64));
        self.write(&mut out);
        out
    }

    /// The response as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::from_slice(&self.to_bytes()).unwrap_or(Value::Null)
    }
}

/// A GraphQL error object with a message and an `extensions.code`.
pub fn graphql_error(message: impl Into<String>, code: &str) -> Value {
    json!({ "message": message.into(), "extensions": { "code": code } })
}

/// Where subgraph requests go and how they are guarded.
#[derive(Clone)]
pub struct SubgraphSettings {
    /// Per subgraph (by index): where its requests go.
    pub urls: Vec<String>,
    /// Per subgraph (by index): timeout, retries and circuit breaker.
    pub guards: Vec<Arc<SubgraphGuard>>,
    /// Per subgraph (by index): which client headers it gets.
    pub header_rules: Vec<HeaderRules>,
    /// Identical query requests to a subgraph in flight at the same time share one
    /// exchange.
    pub deduplicate: bool,
    /// Signs every subgraph request (subgraphs may require the signature).
    pub signature: Option<Arc<dictamesh::signature::RouterSignature>>,
}

/// Runs query plans against the subgraphs.
pub struct Executor {
    supergraph: Arc<Supergraph>,
    client: SubgraphClient,
    settings: SubgraphSettings,
    metrics: Arc<RouterMetrics>,
}

/// The state of one execution: the merged data and the errors so far (the data
/// is shared by the parts of an incremental execution, each with its errors).
struct ExecutionState<'d> {
    data: &'d Mutex<Node>,
    errors: Mutex<Vec<Value>>,
    /// Bytes received from subgraphs: about the size of the response to write.
    received: AtomicUsize,
}

impl ExecutionState<'_> {
    fn new(data: &Mutex<Node>) -> ExecutionState<'_> {
        ExecutionState {
            data,
            errors: Mutex::new(Vec::new()),
            received: AtomicUsize::new(0),
        }
    }

    /// Room for the response: what the subgraphs sent, at least 4 KiB.
    fn response_capacity(&self) -> usize {
        self.received.load(Ordering::Relaxed).max(4096)
    }

    fn push_error(&self, error: Value) {
        if let Ok(mut errors) = self.errors.lock() {
            errors.push(error);
        }
    }
}

impl Executor {
    /// An executor for a supergraph; fetches are counted in `metrics`.
    pub fn new(
        supergraph: Arc<Supergraph>,
        client: SubgraphClient,
        settings: SubgraphSettings,
        metrics: Arc<RouterMetrics>,
    ) -> Self {
        Executor {
            supergraph,
            client,
            settings,
            metrics,
        }
    }

    /// Runs a plan and writes the response through `projection`; `initial_data` holds
    /// what the router answered itself (introspection).
    pub async fn execute(
        &self,
        plan: &QueryPlan,
        projection: &Projection,
        variables: &Map<String, Value>,
        initial_data: Map<String, Value>,
    ) -> GraphQLResponse {
        self.execute_then(plan, projection, variables, initial_data, |_| {})
            .await
    }

    /// Like [`execute`](Self::execute), with `before_shaping` applied to the
    /// merged data before the response is shaped from it (redaction).
    pub async fn execute_then(
        &self,
        plan: &QueryPlan,
        projection: &Projection,
        variables: &Map<String, Value>,
        initial_data: Map<String, Value>,
        before_shaping: impl FnOnce(&mut Node),
    ) -> GraphQLResponse {
        let data = Mutex::new(Node::Object(initial_data.into()));
        let state = ExecutionState::new(&data);
        if let Some(root) = &plan.root {
            self.run(root, &state, variables).await;
        }
        let capacity = state.response_capacity();
        let errors = state.errors.into_inner().unwrap_or_default();
        let mut data = data.into_inner().unwrap_or_default();
        before_shaping(&mut data);
        GraphQLResponse {
            data: Some(self.shape(projection, &data, capacity).into()),
            errors,
            extensions: Map::new(),
        }
    }

    /// The response `data` written through `projection` from the merged data,
    /// into room for `capacity` bytes or the projection's last response
    /// (entities repeat in a response: it is often longer than what the
    /// subgraphs sent, and growing it copies it each time).
    fn shape(&self, projection: &Projection, data: &Node, capacity: usize) -> Vec<u8> {
        let last = projection.last_length();
        let mut written = Vec::with_capacity(capacity.max(last + last / 8));
        write_projected(&self.supergraph, projection, data, &mut written);
        projection.record_length(written.len());
        written
    }

    fn run<'a>(
        &'a self,
        node: &'a PlanNode,
        state: &'a ExecutionState<'_>,
        variables: &'a Map<String, Value>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match node {
                PlanNode::Sequence(nodes) => {
                    for child in nodes {
                        self.run(child, state, variables).await;
                    }
                }
                PlanNode::Parallel(nodes) => {
                    // Entity fetches that send the same operation to the same subgraph
                    // (at different paths) go as one request, their representations
                    // de-duplicated together.
                    let mut batches: Vec<(&FetchNode, Vec<&[PathElement]>)> = Vec::new();
                    let mut others = Vec::new();
                    for child in nodes {
                        match entity_fetch(child) {
                            Some((path, fetch)) => {
                                match batches.iter_mut().find(|(f, _)| same_fetch(f, fetch)) {
                                    Some((_, paths)) => paths.push(path),
                                    None => batches.push((fetch, vec![path])),
                                }
                            }
                            None => others.push(child),
                        }
                    }
                    let batched = batches
                        .iter()
                        .map(|(fetch, paths)| self.fetch_entities(paths, fetch, state, variables));
                    let rest = others.into_iter().map(|child| self.run(child, state, variables));
                    futures::future::join(join_all(batched), join_all(rest)).await;
                }
                PlanNode::Fetch(fetch) => self.fetch_root(fetch, state, variables).await,
                PlanNode::Flatten { path, node } => {
                    if let PlanNode::Fetch(fetch) = node.as_ref() {
                        self.fetch_entities(&[path], fetch, state, variables).await;
                    } else {
                        self.run(node, state, variables).await;
                    }
                }
            }
        })
    }

    /// The JSON body of a subgraph request; `representations` are JSON texts already.
    fn request_body(
        &self,
        fetch: &FetchNode,
        variables: &Map<String, Value>,
        representations: Option<&data::Representations>,
    ) -> Bytes {
        let mut body = Vec::with_capacity(fetch.operation.len() + 256);
        body.extend_from_slice(b"{\"query\":");
        let _ = serde_json::to_writer(&mut body, &fetch.operation);
        let used: Vec<(&str, &Value)> = fetch
            .variable_usages
            .iter()
            .filter_map(|name| variables.get_key_value(name.as_str()))
            .map(|(name, value)| (name.as_str(), value))
            .collect();
        if !used.is_empty() || representations.is_some() {
            body.extend_from_slice(b",\"variables\":{");
            let mut first = true;
            for (name, value) in used {
                if !first {
                    body.push(b',');
                }
                first = false;
                let _ = serde_json::to_writer(&mut body, name);
                body.push(b':');
                let _ = serde_json::to_writer(&mut body, value);
            }
            if let Some(representations) = representations {
                if !first {
                    body.push(b',');
                }
                body.extend_from_slice(b"\"representations\":[");
                for (index, representation) in representations.unique().enumerate() {
                    if index > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(representation);
                }
                body.push(b']');
            }
            body.push(b'}');
        }
        body.push(b'}');
        Bytes::from(body)
    }

    async fn send(
        &self,
        fetch: &FetchNode,
        body: Bytes,
    ) -> Result<crate::fetch::SubgraphResponse, FetchError> {
        let url = self
            .settings
            .urls
            .get(fetch.graph)
            .map(String::as_str)
            .unwrap_or_default();
        let Some(guard) = self.settings.guards.get(fetch.graph) else {
            return Err(FetchError::InvalidUrl {
                url: url.to_string(),
                message: format!("no settings for subgraph '{}'", fetch.subgraph_name),
            });
        };
        let send = SendOptions {
            query: fetch.operation_kind == apollo_compiler::ast::OperationType::Query,
            deduplicate: self.settings.deduplicate,
        };
        let span = tracing::info_span!(
            "subgraph.fetch",
            otel.kind = "client",
            subgraph.name = %fetch.subgraph_name,
            otel.status_code = tracing::field::Empty,
        );
        let mut headers = http::HeaderMap::new();
        if let Some(rules) = self.settings.header_rules.get(fetch.graph)
            && !rules.is_empty()
        {
            rules.apply(&crate::headers::client_headers(), &mut headers);
        }
        crate::telemetry::trace_context::inject(&span, &mut headers);
        if let Some(signature) = &self.settings.signature {
            let signed = signature.sign(&body, dictamesh::signature::RouterSignature::now());
            if let Ok(value) = http::HeaderValue::from_str(&signed) {
                headers.insert(dictamesh::signature::SIGNATURE_HEADER, value);
            }
        }
        let started = std::time::Instant::now();
        let metrics = self.metrics.clone();
        let subgraph = fetch.subgraph_name.clone();
        let on_retry = move || metrics.record_retry(&subgraph);
        // The span is not entered on every poll of the exchange: it is the parent of
        // nothing the router creates, the subgraph continues it through the
        // `traceparent` injected above, and it lasts until this function returns.
        let result = self.client.send(url, body, headers, guard, send, on_retry).await;
        let outcome = match &result {
            Ok(response) if response.errors.is_empty() => "ok",
            Ok(_) => "graphql_error",
            Err(FetchError::Timeout(_)) => "timeout",
            Err(FetchError::CircuitOpen { .. }) => "circuit_open",
            Err(_) => "http_error",
        };
        if outcome != "ok" {
            span.record("otel.status_code", "ERROR");
        }
        self.metrics
            .record_fetch(&fetch.subgraph_name, outcome, started.elapsed());
        result
    }

    /// The guards of the subgraphs, by index.
    pub fn guards(&self) -> &[Arc<SubgraphGuard>] {
        &self.settings.guards
    }

    fn fetch_error(&self, fetch: &FetchNode, error: &FetchError, path: Option<Vec<Value>>) -> Value {
        let (message, code) = match error {
            FetchError::CircuitOpen { .. } => (
                format!(
                    "Subgraph '{}' is unavailable: its circuit breaker is open",
                    fetch.subgraph_name
                ),
                "SUBREQUEST_CIRCUIT_OPEN",
            ),
            _ => (
                format!("HTTP fetch failed from '{}': {error}", fetch.subgraph_name),
                "SUBREQUEST_HTTP_ERROR",
            ),
        };
        let mut value = json!({
            "message": message,
            "extensions": {
                "code": code,
                "service": fetch.subgraph_name,
                "reason": error.to_string(),
            }
        });
        if let (Some(path), Value::Object(object)) = (path, &mut value) {
            object.insert("path".to_string(), Value::Array(path));
        }
        value
    }

    async fn fetch_root(
        &self,
        fetch: &FetchNode,
        state: &ExecutionState<'_>,
        variables: &Map<String, Value>,
    ) {
        let body = self.request_body(fetch, variables, None);
        match self.send(fetch, body).await {
            Ok(mut response) => {
                state.received.fetch_add(response.size, Ordering::Relaxed);
                data::apply_renames(&mut response.data, &fetch.output_renames, &self.supergraph);
                if let Ok(mut data) = state.data.lock()
                    && response.data.is_object()
                {
                    data::deep_merge(&mut data, response.data);
                }
                for error in response.errors {
                    state.push_error(subgraph_error(error, &fetch.subgraph_name, None));
                }
            }
            Err(error) => state.push_error(self.fetch_error(fetch, &error, None)),
        }
    }

    /// One `_entities` request for the objects at `paths`.
    async fn fetch_entities(
        &self,
        paths: &[&[PathElement]],
        fetch: &FetchNode,
        state: &ExecutionState<'_>,
        variables: &Map<String, Value>,
    ) {
        let Some(requires) = &fetch.requires else {
            return;
        };
        let (targets, representations) = {
            let Ok(data) = state.data.lock() else { return };
            let mut targets = data::Targets::default();
            let mut representations = data::Representations::default();
            for (number, path) in paths.iter().enumerate() {
                data::for_each_object(&data, path, &self.supergraph, |indices, object| {
                    if representations.push(object, requires, &fetch.input_rewrites, &self.supergraph) {
                        targets.push(number, indices);
                    }
                });
            }
            (targets, representations)
        };
        if targets.is_empty() {
            return;
        }
        let body = self.request_body(fetch, variables, Some(&representations));
        let response = match self.send(fetch, body).await {
            Ok(response) => {
                state.received.fetch_add(response.size, Ordering::Relaxed);
                response
            }
            Err(error) => {
                let path = targets
                    .iter()
                    .next()
                    .map(|(number, indices)| data::path_to_json(&data::segments(paths[number], indices)));
                state.push_error(self.fetch_error(fetch, &error, path));
                return;
            }
        };
        let indices = representations.indices();
        let mut entities = match response.data {
            Node::Object(mut object) => match object.remove("_entities") {
                Some(Node::Array(entities)) => entities,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        if !fetch.output_renames.is_empty() {
            for entity in &mut entities {
                data::apply_renames(entity, &fetch.output_renames, &self.supergraph);
            }
        }
        let mut remaining_uses = vec![0usize; entities.len()];
        for &index in indices {
            if let Some(uses) = remaining_uses.get_mut(index) {
                *uses += 1;
            }
        }
        if let Ok(mut data) = state.data.lock() {
            let mut merge = |target: &mut Node, index: usize| {
                let Some(uses) = remaining_uses.get_mut(index) else {
                    return;
                };
                *uses -= 1;
                let entity = if *uses == 0 {
                    std::mem::take(&mut entities[index])
                } else {
                    entities[index].clone()
                };
                if entity.is_object() {
                    data::deep_merge(target, entity);
                }
            };
            // One walk per path meets the objects in the order they were collected
            // (instead of a walk from the root per object).
            let mut merged = vec![false; indices.len()];
            for (number, path) in paths.iter().enumerate() {
                let mut pending = targets
                    .iter()
                    .zip(indices)
                    .enumerate()
                    .filter(|(_, ((path_number, _), _))| *path_number == number)
                    .peekable();
                data::for_each_object_mut(&mut data, path, &self.supergraph, |at, target| {
                    if let Some(&(position, ((_, wanted), &index))) = pending.peek()
                        && wanted == at
                    {
                        pending.next();
                        merged[position] = true;
                        merge(target, index);
                    }
                });
            }
            // Objects the walks missed (the data changed shape meanwhile), one by one.
            for (((number, list_indices), &index), _) in targets
                .iter()
                .zip(indices)
                .zip(&merged)
                .filter(|(_, merged)| !**merged)
            {
                if let Some(target) = data::object_at_mut(&mut data, paths[number], list_indices) {
                    merge(target, index);
                }
            }
        }
        let mut first_target: Vec<Option<(usize, &[usize])>> = vec![None; remaining_uses.len()];
        for (target, &index) in targets.iter().zip(indices) {
            if let Some(slot @ None) = first_target.get_mut(index) {
                *slot = Some(target);
            }
        }
        for error in response.errors {
            let entity_path = error
                .get("path")
                .and_then(Value::as_array)
                .filter(|p| p.first().and_then(Value::as_str) == Some("_entities"))
                .and_then(|p| {
                    let index = p.get(1)?.as_u64()? as usize;
                    let (number, list_indices) = first_target.get(index).copied().flatten()?;
                    let mut full = data::path_to_json(&data::segments(paths[number], list_indices));
                    full.extend(p.iter().skip(2).cloned());
                    Some(full)
                });
            state.push_error(subgraph_error(error, &fetch.subgraph_name, Some(entity_path)));
        }
    }
}

/// The path and fetch of a `Flatten` over a `Fetch`.
fn entity_fetch(node: &PlanNode) -> Option<(&[PathElement], &FetchNode)> {
    match node {
        PlanNode::Flatten { path, node } => match node.as_ref() {
            PlanNode::Fetch(fetch) => Some((path.as_slice(), fetch.as_ref())),
            _ => None,
        },
        _ => None,
    }
}

/// Whether two entity fetches send the same request shape to the same subgraph.
fn same_fetch(a: &FetchNode, b: &FetchNode) -> bool {
    a.graph == b.graph
        && a.operation == b.operation
        && a.requires == b.requires
        && a.input_rewrites == b.input_rewrites
        && a.output_renames == b.output_renames
}

/// A subgraph's error as the client sees it: the path rewritten into the client's
/// response (or dropped when it pointed into `_entities` we cannot map) and the
/// subgraph named in `extensions.service`.
fn subgraph_error(error: Value, subgraph: &str, entity_path: Option<Option<Vec<Value>>>) -> Value {
    let mut object = match error {
        Value::Object(object) => object,
        other => {
            let mut object = Map::new();
            object.insert("message".to_string(), Value::String(other.to_string()));
            object
        }
    };
    if let Some(entity_path) = entity_path {
        match entity_path {
            Some(path) => {
                object.insert("path".to_string(), Value::Array(path));
            }
            None => {
                object.remove("path");
            }
        }
    }
    let extensions = object
        .entry("extensions".to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(extensions) = extensions {
        extensions
            .entry("service".to_string())
            .or_insert_with(|| Value::String(subgraph.to_string()));
    }
    object.remove("locations");
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_in_parts_is_the_same_text_as_written_whole() {
        let error = graphql_error("boom", "SUBREQUEST_HTTP_ERROR");
        let mut extensions = Map::new();
        extensions.insert("cost".into(), json!(3));
        let data = Some(Bytes::from_static(br#"{"a":1}"#));
        for (data, errors, extensions) in [
            (data.clone(), vec![], Map::new()),
            (data.clone(), vec![error.clone()], Map::new()),
            (data.clone(), vec![error.clone()], extensions.clone()),
            (data, vec![], extensions.clone()),
            (None, vec![error.clone()], Map::new()),
            (None, vec![error], extensions.clone()),
            (None, vec![], extensions),
            (None, vec![], Map::new()),
        ] {
            let response = GraphQLResponse {
                data,
                errors,
                extensions,
            };
            let whole = response.to_bytes();
            serde_json::from_slice::<Value>(&whole).expect("valid JSON");
            assert_eq!(response.into_parts().concat(), whole);
        }
    }
}
