//! The kit continues a caller's W3C trace: a `traceparent` sent to the
//! subgraph becomes the parent of its request span, and the change events the
//! request causes carry that trace id.

use std::sync::Arc;

use dictamesh::events::InProcessBus;
use dictamesh::testing::MemoryAdapter;
use dictamesh::{AdapterError, DataProductAdapter, EntityKey, ID, Subgraph, WritableAdapter, async_trait};
use opentelemetry::trace::TracerProvider;
use tracing_subscriber::layer::SubscriberExt;

/// A note.
#[dictamesh::entity(key = "id", domain = "notes", source = "memory")]
#[derive(Clone, Debug)]
pub struct Note {
    pub id: ID,
    pub text: String,
}

/// What `createNote` takes.
#[dictamesh::input]
pub struct NewNote {
    pub text: String,
}

/// What `updateNote` takes.
#[dictamesh::input]
pub struct NotePatch {
    pub text: Option<String>,
}

struct Notes(MemoryAdapter<Note>);

#[async_trait]
impl DataProductAdapter for Notes {
    type Entity = Note;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Note>>, AdapterError> {
        self.0.get_entities(keys).await
    }
}

#[async_trait]
impl WritableAdapter for Notes {
    type Draft = NewNote;
    type Patch = NotePatch;

    async fn create(&self, draft: NewNote) -> Result<Note, AdapterError> {
        let note = Note {
            id: ID("n1".into()),
            text: draft.text,
        };
        self.0.insert(note.clone());
        Ok(note)
    }

    async fn update(&self, _key: &EntityKey, _patch: NotePatch) -> Result<Note, AdapterError> {
        Err(AdapterError::Unsupported("update"))
    }

    async fn delete(&self, _key: &EntityKey) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("delete"))
    }
}

#[tokio::test]
async fn traceparent_is_continued_into_spans_and_change_events() {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let bus = InProcessBus::new(4);
    let mut events = bus.subscribe();
    let subgraph = Subgraph::builder("notes")
        .writable(Notes(MemoryAdapter::new([])))
        .publisher(Arc::new(bus))
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{address}/"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&serde_json::json!({"query": "mutation { createNote(input: {text: \"hi\"}) { id } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["data"]["createNote"]["id"], "n1", "{response}");
    let event = events.recv().await.unwrap();
    assert_eq!(
        event.trace_context.trace_id, trace_id,
        "the event belongs to the caller's trace"
    );
    assert_eq!(event.trace_context.span_id.len(), 16);
    assert_ne!(
        event.trace_context.span_id, "00f067aa0ba902b7",
        "the subgraph's own span, a child"
    );
}
