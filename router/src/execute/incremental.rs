//! Running an [`IncrementalPlan`] (`@defer`): the primary plan first, its payload
//! sent at once; then each deferred part as soon as the part it depends on is
//! done, its payload (`incremental` entries, one per object it applies to, with
//! `path` and `label`) sent as it completes. The payloads follow the incremental
//! delivery format Apollo Client and Apollo Router speak (`deferSpec=20220824`).
//!
//! Each part keeps its own errors: an error in a deferred fragment lands in the
//! entry whose path it falls under, never in the primary payload. Null
//! propagation stops at the fragment: a non-null field that fails nulls the
//! entry's `data`, not the objects around it. An entry whose object the client
//! received as `null` is not sent.

use std::sync::Mutex;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::Map;
use serde_json::Value;

use super::ExecutionState;
use super::Executor;
use super::GraphQLResponse;
use super::data;
use super::node::Node;
use super::write_projected;
use crate::plan::DeferredPart;
use crate::plan::IncrementalPlan;

impl Executor {
    /// Runs `plan`, handing each payload (JSON text) to `send` as it is ready;
    /// `finish_primary` may add to the primary response before it is sent
    /// (authorization errors, audit). `initial_data` holds what the router
    /// answered itself (introspection).
    pub async fn execute_incremental(
        &self,
        plan: &IncrementalPlan,
        variables: &Map<String, Value>,
        initial_data: Map<String, Value>,
        finish_primary: impl FnOnce(&mut GraphQLResponse),
        mut send: impl FnMut(Vec<u8>),
    ) {
        let data = Mutex::new(Node::Object(initial_data.into()));
        let state = ExecutionState::new(&data);
        if let Some(root) = &plan.primary.plan.root {
            self.run(root, &state, variables).await;
        }
        let written = match data.lock() {
            Ok(data) => self.shape(&plan.primary.projection, &data, state.response_capacity()),
            Err(_) => b"null".to_vec(),
        };
        let mut delivered = parse_written(&written);
        let mut primary = GraphQLResponse {
            data: Some(written.into()),
            errors: state.errors.into_inner().unwrap_or_default(),
            extensions: Map::new(),
        };
        finish_primary(&mut primary);
        let mut payload = primary.to_bytes();
        payload.pop();
        payload.extend_from_slice(if plan.parts.is_empty() {
            b",\"hasNext\":false}"
        } else {
            b",\"hasNext\":true}"
        });
        send(payload);

        let run_part = |index: usize| {
            let data = &data;
            async move {
                let state = ExecutionState::new(data);
                if let Some(root) = &plan.parts[index].plan.root {
                    self.run(root, &state, variables).await;
                }
                (index, state.errors.into_inner().unwrap_or_default())
            }
        };
        let mut running: FuturesUnordered<_> = plan
            .parts
            .iter()
            .enumerate()
            .filter(|(_, part)| part.parent.is_none())
            .map(|(index, _)| run_part(index))
            .collect();
        let mut remaining = plan.parts.len();
        while let Some((index, errors)) = running.next().await {
            remaining -= 1;
            let entries = match data.lock() {
                Ok(data) => self.entries(&plan.parts[index], &data, &mut delivered, errors),
                Err(_) => Vec::new(),
            };
            for (child, part) in plan.parts.iter().enumerate() {
                if part.parent == Some(index) {
                    running.push(run_part(child));
                }
            }
            if entries.is_empty() && remaining > 0 {
                continue;
            }
            let mut payload = Vec::with_capacity(256);
            payload.extend_from_slice(if remaining > 0 {
                b"{\"hasNext\":true"
            } else {
                b"{\"hasNext\":false"
            });
            if !entries.is_empty() {
                payload.extend_from_slice(b",\"incremental\":[");
                for (position, entry) in entries.iter().enumerate() {
                    if position > 0 {
                        payload.push(b',');
                    }
                    entry.write(&mut payload);
                }
                payload.push(b']');
            }
            payload.push(b'}');
            send(payload);
        }
    }

    /// The `incremental` entries of a finished part: one per object it applies to
    /// that the client received, each with the errors under its path (errors
    /// under none go to the first entry). What is sent is merged into `delivered`,
    /// so nested parts see their objects.
    fn entries(
        &self,
        part: &DeferredPart,
        data: &Node,
        delivered: &mut Node,
        errors: Vec<Value>,
    ) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for path in data::objects_at(data, &part.path, &self.supergraph) {
            if !matches!(data::value_at(delivered, &path), Some(Node::Object(_))) {
                continue;
            }
            let Some(object) = data::value_at(data, &path) else {
                continue;
            };
            let mut written = Vec::with_capacity(256);
            write_projected(&self.supergraph, &part.projection, object, &mut written);
            if let (value @ Node::Object(_), Some(target)) =
                (parse_written(&written), data::value_at_mut(delivered, &path))
            {
                data::deep_merge(target, value);
            }
            entries.push(Entry {
                data: written,
                path: data::path_to_json(&path),
                label: part.label.clone(),
                errors: Vec::new(),
            });
        }
        if entries.is_empty() {
            return entries;
        }
        for error in errors {
            let error_path = error.get("path").and_then(Value::as_array);
            let owner = error_path
                .and_then(|error_path| {
                    entries
                        .iter()
                        .position(|entry| error_path.starts_with(&entry.path))
                })
                .unwrap_or(0);
            entries[owner].errors.push(error);
        }
        entries
    }
}

/// Data the router wrote, read back (`null` if it could not be, which cannot happen).
fn parse_written(written: &[u8]) -> Node {
    std::str::from_utf8(written)
        .ok()
        .and_then(|text| super::json_parse::parse(text).ok())
        .unwrap_or_default()
}

/// One `incremental` entry: the fragment's data at one object (JSON text, in
/// the client's selection order), where, and its errors.
struct Entry {
    data: Vec<u8>,
    path: Vec<Value>,
    label: Option<String>,
    errors: Vec<Value>,
}

impl Entry {
    /// Appends the entry as JSON to `out`.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"data\":");
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b",\"path\":");
        // Writing JSON values into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &self.path);
        if let Some(label) = &self.label {
            out.extend_from_slice(b",\"label\":");
            let _ = serde_json::to_writer(&mut *out, label);
        }
        if !self.errors.is_empty() {
            out.extend_from_slice(b",\"errors\":");
            let _ = serde_json::to_writer(&mut *out, &self.errors);
        }
        out.push(b'}');
    }
}
