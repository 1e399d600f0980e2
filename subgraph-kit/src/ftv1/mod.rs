//! Federated tracing (`ftv1`): when a router sends
//! `apollo-federation-include-trace: ftv1`, the response's `extensions.ftv1`
//! carries a base64 protobuf [`Trace`] of every resolver's timing and errors.

mod proto;

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
};
use async_graphql::{QueryPathSegment, Response, ServerResult, Value};
use base64::Engine;
use prost::Message;

pub use proto::{Location, Node, NodeId, Timestamp, Trace, TraceError};

/// The header a router sends to ask for a trace, and its value.
pub const TRACE_HEADER: (&str, &str) = ("apollo-federation-include-trace", "ftv1");

/// The async-graphql extension that records a federated trace of every
/// request it sees (the kit installs it on a second schema used only for
/// requests that ask for a trace).
pub struct FederatedTracing;

impl ExtensionFactory for FederatedTracing {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(TraceRecorder::default())
    }
}

#[derive(Default)]
struct TraceRecorder {
    state: Mutex<Option<TraceState>>,
}

struct TraceState {
    started: Instant,
    started_wall: SystemTime,
    fields: Vec<RecordedField>,
}

enum Segment {
    Field(String),
    Index(u32),
}

struct RecordedField {
    path: Vec<Segment>,
    original_name: String,
    return_type: String,
    parent_type: String,
    start: u64,
    end: u64,
    errors: Vec<TraceError>,
}

fn timestamp(time: SystemTime) -> Timestamp {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: since.as_secs() as i64,
        nanos: since.subsec_nanos() as i32,
    }
}

impl TraceRecorder {
    fn elapsed_ns(&self) -> Option<u64> {
        let state = self.state.lock().ok()?;
        state.as_ref().map(|s| s.started.elapsed().as_nanos() as u64)
    }
}

impl TraceState {
    fn finish(self) -> Trace {
        let duration = self.started.elapsed();
        let mut root = Node::default();
        for field in self.fields {
            let mut node = &mut root;
            for segment in &field.path {
                let id = match segment {
                    Segment::Field(name) => NodeId::ResponseName(name.clone()),
                    Segment::Index(i) => NodeId::Index(*i),
                };
                let position = node.child.iter().position(|c| c.id.as_ref() == Some(&id));
                let position = position.unwrap_or_else(|| {
                    node.child.push(Node {
                        id: Some(id),
                        ..Node::default()
                    });
                    node.child.len() - 1
                });
                node = &mut node.child[position];
            }
            node.original_field_name = field.original_name;
            node.r#type = field.return_type;
            node.parent_type = field.parent_type;
            node.start_time = field.start;
            node.end_time = field.end;
            node.error = field.errors;
        }
        Trace {
            start_time: Some(timestamp(self.started_wall)),
            end_time: Some(timestamp(self.started_wall + duration)),
            duration_ns: duration.as_nanos() as u64,
            root: Some(root),
        }
    }
}

#[async_trait::async_trait]
impl Extension for TraceRecorder {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Ok(mut state) = self.state.lock() {
            *state = Some(TraceState {
                started: Instant::now(),
                started_wall: SystemTime::now(),
                fields: Vec::new(),
            });
        }
        let mut response = next.run(ctx, operation_name).await;
        let finished = self.state.lock().ok().and_then(|mut s| s.take());
        if let Some(state) = finished {
            let encoded = base64::engine::general_purpose::STANDARD.encode(state.finish().encode_to_vec());
            response
                .extensions
                .insert("ftv1".to_string(), Value::String(encoded));
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let Some(start) = self.elapsed_ns() else {
            return next.run(ctx, info).await;
        };
        let mut path: Vec<Segment> = std::iter::once(info.path_node)
            .chain(info.path_node.parents())
            .map(|node| match node.segment {
                QueryPathSegment::Name(name) => Segment::Field(name.to_string()),
                QueryPathSegment::Index(i) => Segment::Index(i as u32),
            })
            .collect();
        path.reverse();
        let original_name = if info.alias.is_some() {
            info.name.to_string()
        } else {
            String::new()
        };
        let return_type = info.return_type.to_string();
        let parent_type = info.parent_type.to_string();
        let result = next.run(ctx, info).await;
        let end = self.elapsed_ns().unwrap_or(start);
        let errors = match &result {
            Err(error) => vec![TraceError {
                message: error.message.clone(),
                location: error
                    .locations
                    .iter()
                    .map(|p| Location {
                        line: p.line as u32,
                        column: p.column as u32,
                    })
                    .collect(),
                time_ns: end,
                json: serde_json::to_string(error).unwrap_or_default(),
            }],
            Ok(_) => Vec::new(),
        };
        if let Ok(mut state) = self.state.lock()
            && let Some(state) = state.as_mut()
        {
            state.fields.push(RecordedField {
                path,
                original_name,
                return_type,
                parent_type,
                start,
                end,
                errors,
            });
        }
        result
    }
}
