//! One federated query is one trace: the router continues the client's `traceparent`,
//! has spans for parse, validate, plan, execute and each subgraph fetch, and each
//! subgraph's server span (the kit continues the trace) is a child of the router's
//! fetch span for it. Its own test binary: it installs the global subscriber.

#[allow(dead_code)]
#[path = "e2e/mesh.rs"]
mod mesh;

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::SpanData;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

const QUERY: &str = "query Catalogue { products { name reviews { body } inStock } }";

#[tokio::test]
async fn a_federated_query_is_one_trace_continued_by_each_subgraph() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(dictamesh_router::telemetry::otel::layer(&provider));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");

    let mesh = mesh::start("", None).await;
    exporter.reset(); // the subgraphs' SDL requests at start are traces of their own
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/graphql", mesh.router))
        .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .expect("the router answers")
        .json()
        .await
        .expect("json");
    assert!(response.get("errors").is_none(), "{response}");

    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = exporter.get_finished_spans().expect("spans");
        if spans.iter().any(|s| s.name == "router.request") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let names: HashSet<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    for stage in [
        "router.request",
        "graphql.operation",
        "graphql.parse",
        "graphql.validate",
        "graphql.plan",
        "graphql.execute",
        "subgraph.fetch",
        "graphql.request",
    ] {
        assert!(names.contains(stage), "no {stage} span among {names:?}");
    }
    let traces: HashSet<String> = spans
        .iter()
        .map(|s| s.span_context.trace_id().to_string())
        .collect();
    assert_eq!(
        traces,
        HashSet::from([CLIENT_TRACE.to_string()]),
        "one trace, the client's"
    );
    let request = spans
        .iter()
        .find(|s| s.name == "router.request")
        .expect("the router's request span");
    assert_eq!(
        request.parent_span_id,
        SpanId::from_hex(CLIENT_SPAN).expect("span id")
    );

    let operation = spans
        .iter()
        .find(|s| s.name == "graphql.operation")
        .expect("the operation span");
    assert_eq!(
        attribute(operation, "graphql.operation.name").as_deref(),
        Some("Catalogue")
    );
    assert_eq!(
        attribute(operation, "graphql.operation.hash"),
        Some("029d60559f6a1edf9cd45aa0eb3bd6700b037cd213fda2a1f73a83f95edeee0d".to_string()),
        "the operation is named by the SHA-256 of its text"
    );

    let fetches: Vec<&SpanData> = spans.iter().filter(|s| s.name == "subgraph.fetch").collect();
    let served: Vec<&SpanData> = spans.iter().filter(|s| s.name == "graphql.request").collect();
    let mut subgraphs = HashSet::new();
    for server in &served {
        let subgraph = attribute(server, "subgraph").expect("the kit names its subgraph");
        let parent = fetches
            .iter()
            .find(|fetch| fetch.span_context.span_id() == server.parent_span_id)
            .unwrap_or_else(|| panic!("{subgraph}'s server span is not a child of a fetch span"));
        assert_eq!(
            attribute(parent, "subgraph.name").as_deref(),
            Some(subgraph.as_str()),
            "the fetch span for the same subgraph"
        );
        subgraphs.insert(subgraph);
    }
    assert_eq!(
        subgraphs,
        HashSet::from([
            "products".to_string(),
            "reviews".to_string(),
            "inventory".to_string()
        ])
    );
}
