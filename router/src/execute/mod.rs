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
pub(crate) mod threads;

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
use crate::plan::BatchFetchNode;
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
                    join_all(nodes.iter().map(|child| self.run(child, state, variables))).await;
                }
                PlanNode::BatchFetch(batch) => self.fetch_batch(batch, state, variables).await,
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

    /// The JSON body of a subgraph request; `representations` are the lists of
    /// representations (JSON texts already), by variable name.
    fn request_body(
        &self,
        fetch: &FetchNode,
        variables: &Map<String, Value>,
        representations: &[(&str, &data::Representations)],
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
        if !used.is_empty() || !representations.is_empty() {
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
            for (name, list) in representations {
                if !first {
                    body.push(b',');
                }
                first = false;
                let _ = serde_json::to_writer(&mut body, name);
                body.extend_from_slice(b":[");
                for (index, representation) in list.unique().enumerate() {
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
        let body = self.request_body(fetch, variables, &[]);
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
        let Some(found) = state
            .data
            .lock()
            .ok()
            .and_then(|data| self.find_entities(paths, fetch, &data))
        else {
            return;
        };
        if found.targets.is_empty() {
            return;
        }
        let body = self.request_body(fetch, variables, &[("representations", &found.representations)]);
        let response = match self.send(fetch, body).await {
            Ok(response) => {
                state.received.fetch_add(response.size, Ordering::Relaxed);
                response
            }
            Err(error) => {
                state.push_error(self.fetch_error(fetch, &error, found.first_path(paths)));
                return;
            }
        };
        let entities = match response.data {
            Node::Object(mut object) => take_list(&mut object, "_entities"),
            _ => Vec::new(),
        };
        let answer = EntitiesAnswer {
            key: "_entities",
            entities,
            errors: response.errors,
        };
        self.merge_entities(paths, fetch, &found, answer, state);
    }

    /// One request for the entity fetches of `batch`, each under its alias.
    async fn fetch_batch(
        &self,
        batch: &BatchFetchNode,
        state: &ExecutionState<'_>,
        variables: &Map<String, Value>,
    ) {
        let paths: Vec<Vec<&[PathElement]>> = batch
            .batches
            .iter()
            .map(|entities| entities.paths.iter().map(Vec::as_slice).collect())
            .collect();
        let found: Vec<FoundEntities> = {
            let Ok(data) = state.data.lock() else { return };
            batch
                .batches
                .iter()
                .zip(&paths)
                .map(|(entities, paths)| {
                    self.find_entities(paths, &entities.fetch, &data)
                        .unwrap_or_default()
                })
                .collect()
        };
        if found.iter().all(|found| found.targets.is_empty()) {
            return;
        }
        let lists: Vec<(&str, &data::Representations)> = batch
            .batches
            .iter()
            .zip(&found)
            .map(|(entities, found)| (entities.representations_variable.as_str(), &found.representations))
            .collect();
        let body = self.request_body(&batch.request, variables, &lists);
        let response = match self.send(&batch.request, body).await {
            Ok(response) => {
                state.received.fetch_add(response.size, Ordering::Relaxed);
                response
            }
            Err(error) => {
                for (found, paths) in found.iter().zip(&paths) {
                    if !found.targets.is_empty() {
                        state.push_error(self.fetch_error(&batch.request, &error, found.first_path(paths)));
                    }
                }
                return;
            }
        };
        let mut errors: Vec<Vec<Value>> = vec![Vec::new(); batch.batches.len()];
        let mut unaddressed = Vec::new();
        for error in response.errors {
            let alias = error
                .get("path")
                .and_then(|path| path.get(0))
                .and_then(Value::as_str)
                .and_then(|key| batch.batches.iter().position(|entities| entities.alias == key));
            match alias {
                Some(index) => errors[index].push(error),
                None => unaddressed.push(error),
            }
        }
        let mut data = match response.data {
            Node::Object(object) => object,
            _ => node::Object::new(),
        };
        for (((entities, found), paths), errors) in batch.batches.iter().zip(&found).zip(&paths).zip(errors) {
            let answer = EntitiesAnswer {
                key: &entities.alias,
                entities: take_list(&mut data, &entities.alias),
                errors,
            };
            self.merge_entities(paths, &entities.fetch, found, answer, state);
        }
        for error in unaddressed {
            state.push_error(subgraph_error(error, &batch.request.subgraph_name, Some(None)));
        }
    }

    /// The objects at `paths` that `fetch` resolves, with their representations
    /// (`None` when the fetch is not an entity fetch).
    fn find_entities(
        &self,
        paths: &[&[PathElement]],
        fetch: &FetchNode,
        data: &Node,
    ) -> Option<FoundEntities> {
        let requires = fetch.requires.as_ref()?;
        let mut found = FoundEntities::default();
        for (number, path) in paths.iter().enumerate() {
            data::for_each_object(data, path, &self.supergraph, |indices, object| {
                if found
                    .representations
                    .push(object, requires, &fetch.input_rewrites, &self.supergraph)
                {
                    found.targets.push(number, indices);
                }
            });
        }
        Some(found)
    }

    /// Merges a subgraph's answer to an entity fetch into the objects it was asked
    /// for, and its errors with their paths rewritten into the client's response.
    fn merge_entities(
        &self,
        paths: &[&[PathElement]],
        fetch: &FetchNode,
        found: &FoundEntities,
        answer: EntitiesAnswer<'_>,
        state: &ExecutionState<'_>,
    ) {
        let EntitiesAnswer {
            key,
            mut entities,
            errors,
        } = answer;
        let targets = &found.targets;
        let indices = found.representations.indices();
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
        for error in errors {
            let entity_path = error
                .get("path")
                .and_then(Value::as_array)
                .filter(|p| p.first().and_then(Value::as_str) == Some(key))
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

/// The objects an entity fetch resolves and their representations.
#[derive(Default)]
struct FoundEntities {
    targets: data::Targets,
    representations: data::Representations,
}

impl FoundEntities {
    /// The response path of the first object, for an error about the whole fetch.
    fn first_path(&self, paths: &[&[PathElement]]) -> Option<Vec<Value>> {
        self.targets
            .iter()
            .next()
            .map(|(number, indices)| data::path_to_json(&data::segments(paths[number], indices)))
    }
}

/// A subgraph's answer to one entity fetch: the entities under `key` (`_entities`,
/// or a batch's alias) and the errors about them.
struct EntitiesAnswer<'a> {
    key: &'a str,
    entities: Vec<Node>,
    errors: Vec<Value>,
}

/// The list under `key` of a subgraph's `data` (empty when absent or not a list).
fn take_list(data: &mut node::Object, key: &str) -> Vec<Node> {
    match data.remove(key) {
        Some(Node::Array(items)) => items,
        _ => Vec::new(),
    }
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
