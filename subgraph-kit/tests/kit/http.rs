//! GraphQL over HTTP, health probes and metrics.

use std::net::SocketAddr;

use dictamesh::Subgraph;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::books::{Genre, Shelf, book};

async fn serve(shelf: Shelf) -> SocketAddr {
    let subgraph = Subgraph::builder("library").writable(shelf).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));
    address
}

fn shelf() -> Shelf {
    Shelf::new([book("1", "Dune", Genre::ScienceFiction)])
}

#[tokio::test]
async fn post_get_and_batches() {
    let address = serve(shelf()).await;
    let client = reqwest::Client::new();
    let post: Value = client
        .post(format!("http://{address}/graphql"))
        .json(&json!({"query": "query Q($id: ID!) { book(id: $id) { title } }", "variables": {"id": "1"}, "operationName": "Q"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(post, json!({"data": {"book": {"title": "Dune"}}}));

    let get = client
        .get(format!("http://{address}/"))
        .query(&[
            ("query", "query($id: ID!) { book(id: $id) { title } }"),
            ("variables", r#"{"id":"1"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(
        get.json::<Value>().await.unwrap(),
        json!({"data": {"book": {"title": "Dune"}}})
    );

    let batch: Value = client
        .post(format!("http://{address}/"))
        .json(&json!([{"query": "{ a: book(id: \"1\") { title } }"}, {"query": "{ b: book(id: \"2\") { title } }"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        batch,
        json!([{"data": {"a": {"title": "Dune"}}}, {"data": {"b": null}}])
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let address = serve(shelf()).await;
    let client = reqwest::Client::new();

    let mutation_over_get = client
        .get(format!("http://{address}/"))
        .query(&[("query", "mutation { deleteBook(id: \"1\") }")])
        .send()
        .await
        .unwrap();
    assert_eq!(mutation_over_get.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = mutation_over_get.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("mutations are not allowed over GET")
    );

    let not_json = client
        .post(format!("http://{address}/"))
        .header("content-type", "application/json")
        .body("{ book(id: 1) }")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let body: Value = not_json.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("the body is not a GraphQL request in JSON")
    );

    let bad_variables = client
        .get(format!("http://{address}/"))
        .query(&[("query", "{ __typename }"), ("variables", "{oops")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_variables.status(), StatusCode::BAD_REQUEST);

    let syntax: Value = client
        .post(format!("http://{address}/"))
        .json(&json!({"query": "{ book(id: \"1\") { title }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(syntax["errors"][0]["locations"].is_array(), "{syntax}");

    let strict = client
        .post(format!("http://{address}/"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ nope }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        strict.status(),
        StatusCode::BAD_REQUEST,
        "a validation error is a request error"
    );
    assert_eq!(
        strict.headers()["content-type"],
        "application/graphql-response+json"
    );
}

#[tokio::test]
async fn health_probes_reflect_the_adapters() {
    let healthy = serve(shelf()).await;
    let sick = serve(shelf().unhealthy()).await;
    let client = reqwest::Client::new();
    for address in [healthy, sick] {
        let live = client
            .get(format!("http://{address}/health/live"))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), StatusCode::OK);
    }
    let ready = client
        .get(format!("http://{healthy}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let not_ready = client
        .get(format!("http://{sick}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = not_ready.json().await.unwrap();
    assert_eq!(
        body["entities"]["Book"],
        json!({"status": "unhealthy", "reason": "shelf database unreachable"})
    );
}

/// Parses the Prometheus text format into (series, value) pairs; panics on a
/// malformed line.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("malformed line {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("malformed value in {line:?}"));
            (series.to_string(), value)
        })
        .collect()
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_move_with_traffic() {
    let address = serve(shelf()).await;
    let client = reqwest::Client::new();
    let scrape = || async {
        let text = client
            .get(format!("http://{address}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        parse_prometheus(&text)
    };
    let value = |samples: &[(String, f64)], series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| *v)
            .unwrap_or(0.0)
    };
    let before = scrape().await;
    for _ in 0..3 {
        client
            .post(format!("http://{address}/"))
            .json(&json!({"query": "query Lookup { book(id: \"1\") { title } }", "operationName": "Lookup"}))
            .send()
            .await
            .unwrap();
    }
    let after = scrape().await;
    let requests = r#"dictamesh_requests_total{operation="Lookup",status="ok",subgraph="library"}"#;
    assert_eq!(value(&after, requests) - value(&before, requests), 3.0);
    let calls = r#"dictamesh_source_calls_total{entity="Book",outcome="ok",subgraph="library"}"#;
    assert_eq!(value(&after, calls), 1.0, "one source call, then cache hits");
    assert_eq!(
        value(
            &after,
            r#"dictamesh_cache_hits_total{entity="Book",layer="l1",subgraph="library"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &after,
            r#"dictamesh_circuit_breaker_state{entity="Book",subgraph="library"}"#
        ),
        0.0
    );
    assert!(
        after
            .iter()
            .any(|(s, _)| s.starts_with("dictamesh_entity_batch_size_bucket"))
    );
}
