//! `/metrics` is Prometheus text whose counters move with traffic: requests by
//! operation name and status, subgraph fetches, the plan cache, breaker states and
//! requests in flight; variable values never appear.

use std::collections::HashMap;

use serde_json::json;

use crate::mesh;

/// The samples of a scrape, by series (`name{label="value",...}` with sorted labels).
async fn scrape(mesh: &mesh::Mesh) -> (String, HashMap<String, f64>) {
    let response = reqwest::get(format!("http://{}/metrics", mesh.router))
        .await
        .expect("the router answers");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("text");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_string())))
        .expect("Prometheus text exposition");
    let mut samples = HashMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => 0.0,
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    (text, samples)
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_prometheus_text_and_move_with_traffic() {
    let mesh = mesh::start("", None).await;
    let (_, before) = scrape(&mesh).await;
    let query = "query ProductWithStock($id: ID!) { product(id: $id) { name inStock } }";
    for _ in 0..3 {
        let (status, response) = mesh
            .post(json!({"query": query, "operationName": "ProductWithStock", "variables": {"id": "p1"}}))
            .await;
        assert_eq!(status, 200, "{response}");
    }
    let (_, unknown) = mesh
        .post(json!({"query": query, "operationName": "ProductWithStock", "variables": {"id": "secret-p9"}}))
        .await;
    assert_eq!(unknown["data"]["product"], json!(null), "{unknown}");
    let (status, _) = mesh.post(json!({"query": "{ products { nope } }"})).await;
    assert_eq!(status, 400);
    let (text, after) = scrape(&mesh).await;

    let ok = r#"dictamesh_router_requests_total{operation="ProductWithStock",status="ok"}"#;
    assert_eq!(value(&after, ok) - value(&before, ok), 4.0, "{text}");
    let refused = r#"dictamesh_router_requests_total{operation="unknown",status="error"}"#;
    assert_eq!(value(&after, refused) - value(&before, refused), 1.0, "{text}");
    let latency = r#"dictamesh_router_request_duration_seconds{operation="ProductWithStock",status="ok"}"#;
    assert_eq!(value(&after, latency), 4.0, "four observations: {text}");
    for subgraph in ["products", "inventory"] {
        let fetches =
            format!(r#"dictamesh_router_subgraph_fetches_total{{outcome="ok",subgraph="{subgraph}"}}"#);
        assert!(value(&after, &fetches) >= 1.0, "{subgraph}: {text}");
        let breaker = format!(r#"dictamesh_router_circuit_breaker_state{{subgraph="{subgraph}"}}"#);
        assert!(after.contains_key(&breaker), "{breaker}: {text}");
        assert_eq!(value(&after, &breaker), 0.0, "closed");
    }
    assert_eq!(
        value(&after, "dictamesh_router_query_plan_cache_misses_total{}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&after, "dictamesh_router_query_plan_cache_hits_total{}"),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(&after, "dictamesh_router_requests_in_flight{}"),
        0.0,
        "nothing in flight between requests"
    );
    assert!(
        !text.contains("secret-p9"),
        "variable values never appear: {text}"
    );
}

#[tokio::test]
async fn failed_fetches_and_open_breakers_show_in_the_metrics() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let config = "traffic_shaping:\n  subgraphs:\n    inventory:\n      retry: { max_attempts: 1 }\n      circuit_breaker: { window_size: 2, minimum_calls: 2, wait_in_open: 60s }\n";
    let mesh = mesh::start(config, Some(("inventory", format!("http://{closed}/graphql")))).await;
    for _ in 0..3 {
        mesh.query("query Stock { products { inStock } }").await;
    }
    let (text, after) = scrape(&mesh).await;
    let partial = r#"dictamesh_router_requests_total{operation="Stock",status="partial"}"#;
    assert_eq!(value(&after, partial), 3.0, "{text}");
    let failed = r#"dictamesh_router_subgraph_fetches_total{outcome="http_error",subgraph="inventory"}"#;
    assert_eq!(value(&after, failed), 2.0, "{text}");
    let rejected = r#"dictamesh_router_subgraph_fetches_total{outcome="circuit_open",subgraph="inventory"}"#;
    assert_eq!(value(&after, rejected), 1.0, "{text}");
    let breaker = r#"dictamesh_router_circuit_breaker_state{subgraph="inventory"}"#;
    assert_eq!(value(&after, breaker), 1.0, "open: {text}");
}
