//! Client limits at the router's door: a client over its rate gets 429 with
//! `Retry-After` while other clients are served; beyond the concurrency limit a
//! request is shed at once with 503 and `Retry-After`; identical requests in
//! flight share subgraph fetches, and with `dedupe` one execution.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::mesh;

async fn post_as(mesh: &mesh::Mesh, client: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/graphql", mesh.router))
        .json(&json!({"query": "{ products { name } }"}));
    if let Some(client) = client {
        request = request.header("x-client-id", client);
    }
    request.send().await.expect("the router answers")
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds")
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_and_others_are_served() {
    let config = "traffic_shaping:\n  router:\n    rate_limit: { per_second: 1, burst: 2, key: { header: x-client-id } }\n";
    let mesh = mesh::start(config, None).await;
    assert_eq!(post_as(&mesh, Some("alice")).await.status().as_u16(), 200);
    let mut limited = None;
    for _ in 0..10 {
        let response = post_as(&mesh, Some("alice")).await;
        if response.status().as_u16() == 429 {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status().as_u16(), 200);
    }
    let limited = limited.expect("alice goes over her budget of 2 at once and 1 a second");
    assert!(retry_after(&limited) >= 1);
    let body: Value = limited.json().await.expect("a GraphQL error");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "REQUEST_RATE_LIMITED",
        "{body}"
    );

    let bob = post_as(&mesh, Some("bob")).await;
    assert_eq!(bob.status().as_u16(), 200, "bob has his own budget");
    let bob: Value = bob.json().await.expect("json");
    assert_eq!(bob["data"]["products"][0]["name"], "Desk");
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_are_shed_with_503() {
    let (slow, received) = mesh::slow_subgraph(
        Duration::from_millis(500),
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy"),
    )
    .await;
    let config = "traffic_shaping:\n  router:\n    max_concurrent_requests: 1\n  subgraphs:\n    inventory: { retry: { max_attempts: 1 } }\n";
    let mesh = Arc::new(mesh::start(config, Some(("inventory", format!("http://{slow}/")))).await);

    let first = {
        let mesh = mesh.clone();
        tokio::spawn(async move { mesh.query("{ products { inStock } }").await })
    };
    received.notified().await;
    let shed = post_as(&mesh, None).await;
    assert_eq!(shed.status().as_u16(), 503);
    assert!(retry_after(&shed) >= 1);
    let body: Value = shed.json().await.expect("a GraphQL error");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_OVERLOADED",
        "{body}"
    );

    let first = first.await.expect("the first request finishes");
    assert_eq!(first["data"]["products"][0]["inStock"], Value::Null, "{first}");
    assert_eq!(
        post_as(&mesh, None).await.status().as_u16(),
        200,
        "a slot is free again"
    );
    let metrics = reqwest::get(format!("http://{}/metrics", mesh.router))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("dictamesh_router_rejected_requests_total{reason=\"overloaded\"} 1"),
        "{metrics}"
    );
}

/// A subgraph stand-in that counts requests and answers `body` to each once
/// `gate` opens; its address and the count.
async fn counting_subgraph(
    body: &'static str,
    gate: Arc<tokio::sync::Notify>,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let counted = count.clone();
    let app = axum::Router::new().fallback(move || {
        let gate = gate.clone();
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            gate.notified().await;
            ([("content-type", "application/json")], body)
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, count)
}

#[tokio::test]
async fn identical_concurrent_queries_reach_the_subgraph_once() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let (products, count) =
        counting_subgraph(r#"{"data":{"products":[{"name":"Desk"}]}}"#, gate.clone()).await;
    let mesh = mesh::start("", Some(("products", format!("http://{products}/")))).await;
    let bodies = concurrent_queries(&mesh, &gate, &["a"; 100]).await;
    let expected = json!({"data": {"products": [{"name": "Desk"}]}});
    assert!(bodies.iter().all(|body| *body == expected), "{bodies:?}");
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one subgraph request for 100 queries"
    );
}

/// Sends one query per tenant header value at once, holds the subgraph's answer
/// until all are inside the router, then returns their bodies.
async fn concurrent_queries(mesh: &mesh::Mesh, gate: &tokio::sync::Notify, tenants: &[&str]) -> Vec<Value> {
    let client = reqwest::Client::new();
    let requests: Vec<_> = tenants
        .iter()
        .map(|tenant| {
            let request = client
                .post(format!("http://{}/graphql", mesh.router))
                .header("x-tenant", *tenant)
                .json(&json!({"query": "{ products { name } }"}))
                .send();
            tokio::spawn(async move {
                request
                    .await
                    .expect("router answers")
                    .json::<Value>()
                    .await
                    .expect("json")
            })
        })
        .collect();
    while mesh.metric("dictamesh_router_requests_in_flight").await < tenants.len() as u64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the last ones get from the door to the subgraph fetch.
    tokio::time::sleep(Duration::from_millis(200)).await;
    gate.notify_waiters();
    let mut bodies = Vec::new();
    for request in requests {
        bodies.push(request.await.expect("task"));
    }
    bodies
}

#[tokio::test]
async fn identical_concurrent_requests_share_one_execution_when_dedupe_is_on() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let (products, count) =
        counting_subgraph(r#"{"data":{"products":[{"name":"Desk"}]}}"#, gate.clone()).await;
    // Subgraph fetches are not shared here: only the router's own de-duplication
    // can bring 50 requests down to one fetch.
    let config = "traffic_shaping:\n  deduplicate_queries: false\n  router:\n    dedupe: { enabled: true }\n";
    let mesh = mesh::start(config, Some(("products", format!("http://{products}/")))).await;
    let expected = json!({"data": {"products": [{"name": "Desk"}]}});

    let bodies = concurrent_queries(&mesh, &gate, &["a"; 50]).await;
    assert!(bodies.iter().all(|body| *body == expected), "{bodies:?}");
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one execution for 50 requests"
    );
    assert_eq!(
        mesh.metric("dictamesh_router_deduplicated_requests_total").await,
        49
    );

    // Requests whose headers differ run on their own (headers: all).
    let bodies = concurrent_queries(&mesh, &gate, &["a", "b", "a", "b"]).await;
    assert!(bodies.iter().all(|body| *body == expected), "{bodies:?}");
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "one execution per tenant"
    );
    assert_eq!(
        mesh.metric("dictamesh_router_deduplicated_requests_total").await,
        51
    );
}
