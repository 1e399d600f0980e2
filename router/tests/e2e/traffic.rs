//! Client limits at the router's door: a client over its rate gets 429 with
//! `Retry-After` while other clients are served; beyond the concurrency limit a
//! request is shed at once with 503 and `Retry-After`.

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
