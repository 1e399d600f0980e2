//! Per-subgraph resilience against real HTTP subgraphs: a subgraph that is down, slow
//! past its timeout or failing half its requests opens its circuit breaker within its
//! window; queries that do not need it keep answering; queries that do get partial
//! data and `SUBREQUEST_CIRCUIT_OPEN` naming it; the breaker closes once the subgraph
//! recovers. Queries are retried, with backoff, before a failure counts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};

use crate::mesh;

/// How the subgraph in front of `inventory` behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Forwards every request.
    Healthy,
    /// Answers after two seconds.
    Slow,
    /// Fails every other request with a 500.
    EveryOther,
}

/// `inventory` behind a proxy whose faults the test switches; it keeps the headers of
/// each request.
pub struct FaultyInventory {
    pub address: SocketAddr,
    fault: Arc<AtomicU8>,
    target: Arc<OnceLock<SocketAddr>>,
    requests: Arc<AtomicUsize>,
    pub headers: Arc<Mutex<Vec<axum::http::HeaderMap>>>,
}

impl FaultyInventory {
    pub async fn start(fault: Fault) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(listener, fault)
    }

    fn serve(listener: tokio::net::TcpListener, fault: Fault) -> Self {
        let address = listener.local_addr().expect("address");
        let fault = Arc::new(AtomicU8::new(fault as u8));
        let target = Arc::new(OnceLock::<SocketAddr>::new());
        let requests = Arc::new(AtomicUsize::new(0));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let (mode, to, count, seen_headers) =
            (fault.clone(), target.clone(), requests.clone(), headers.clone());
        let client = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |request_headers: axum::http::HeaderMap, body: Bytes| {
            let (mode, to, count, client) = (mode.clone(), to.clone(), count.clone(), client.clone());
            if let Ok(mut seen) = seen_headers.lock() {
                seen.push(request_headers);
            }
            async move {
                let seen = count.fetch_add(1, Ordering::SeqCst);
                let mode = mode.load(Ordering::SeqCst);
                if mode == Fault::Slow as u8 {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                if mode == Fault::EveryOther as u8 && seen % 2 == 0 {
                    return (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        Bytes::from("failing"),
                    );
                }
                let Some(target) = to.get() else {
                    return (axum::http::StatusCode::BAD_GATEWAY, Bytes::from("no target"));
                };
                let answer = client
                    .post(format!("http://{target}/graphql"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("inventory answers");
                let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap_or_default();
                (status, answer.bytes().await.unwrap_or_default())
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        FaultyInventory {
            address,
            fault,
            target,
            requests,
            headers,
        }
    }

    fn set(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    pub fn forward_to(&self, mesh: &mesh::Mesh) {
        let inventory = mesh
            .subgraphs
            .iter()
            .find(|(name, _)| name == "inventory")
            .map(|(_, address)| *address)
            .expect("inventory runs");
        let _ = self.target.set(inventory);
    }
}

/// `inventory` with a small breaker window: opens after 4 calls at 50 % failures,
/// probes again after 300 ms.
fn config(timeout: &str, attempts: u32) -> String {
    format!(
        "traffic_shaping:\n  subgraphs:\n    inventory:\n      timeout: {timeout}\n      retry: {{ max_attempts: {attempts}, initial_backoff: 5ms, max_backoff: 10ms }}\n      circuit_breaker: {{ failure_rate_threshold: 0.5, window_size: 4, minimum_calls: 4, wait_in_open: 300ms, permitted_calls_in_half_open: 1 }}\n"
    )
}

const AFFECTED: &str = "{ products { name inStock } }";
const UNAFFECTED: &str = "{ products { name price } }";

fn codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Sends affected queries until the breaker answers for the subgraph; fails when that
/// takes more than the window's calls. Unaffected queries in between answer in full.
async fn breaker_opens_within_the_window(mesh: &mesh::Mesh) -> Value {
    for _ in 0..=4 {
        let unaffected = mesh.query(UNAFFECTED).await;
        assert_eq!(
            unaffected,
            json!({"data": {"products": [{"name": "Desk", "price": 300}, {"name": "Lamp", "price": 50}]}}),
            "a query that does not need inventory answers in full"
        );
        let response = mesh.query(AFFECTED).await;
        if codes(&response).contains(&"SUBREQUEST_CIRCUIT_OPEN".to_string()) {
            return response;
        }
    }
    panic!("the breaker did not open within its window of 4 calls");
}

fn assert_open_breaker_answer(response: &Value) {
    assert_eq!(
        response["data"],
        json!({"products": [{"name": "Desk", "inStock": null}, {"name": "Lamp", "inStock": null}]}),
        "partial data: {response}"
    );
    let error = &response["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "SUBREQUEST_CIRCUIT_OPEN",
        "{response}"
    );
    assert_eq!(error["extensions"]["service"], "inventory", "{response}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("inventory"),
        "{response}"
    );
}

async fn assert_recovers(mesh: &mesh::Mesh) {
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..3 {
        let response = mesh.query(AFFECTED).await;
        assert_eq!(
            response,
            json!({"data": {"products": [{"name": "Desk", "inStock": true}, {"name": "Lamp", "inStock": false}]}}),
            "the breaker closed again"
        );
    }
}

#[tokio::test]
async fn a_subgraph_that_is_down_opens_its_breaker_which_closes_when_it_is_back() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = reserved.local_addr().expect("address");
    drop(reserved);
    let mesh = mesh::start(
        &config("1s", 2),
        Some(("inventory", format!("http://{address}/graphql"))),
    )
    .await;
    let open = breaker_opens_within_the_window(&mesh).await;
    assert_open_breaker_answer(&open);

    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("the port is free again");
    let back = FaultyInventory::serve(listener, Fault::Healthy);
    back.forward_to(&mesh);
    assert_recovers(&mesh).await;
}

#[tokio::test]
async fn a_subgraph_slower_than_its_timeout_opens_its_breaker() {
    let inventory = FaultyInventory::start(Fault::Slow).await;
    let mesh = mesh::start(
        &config("100ms", 1),
        Some(("inventory", format!("http://{}/graphql", inventory.address))),
    )
    .await;
    inventory.forward_to(&mesh);
    let first = mesh.query(AFFECTED).await;
    assert_eq!(codes(&first), ["SUBREQUEST_HTTP_ERROR"], "{first}");
    assert!(
        first["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{first}"
    );
    let open = breaker_opens_within_the_window(&mesh).await;
    assert_open_breaker_answer(&open);
    inventory.set(Fault::Healthy);
    assert_recovers(&mesh).await;
}

#[tokio::test]
async fn a_subgraph_failing_half_its_requests_opens_its_breaker() {
    let inventory = FaultyInventory::start(Fault::EveryOther).await;
    let mesh = mesh::start(
        &config("1s", 1),
        Some(("inventory", format!("http://{}/graphql", inventory.address))),
    )
    .await;
    inventory.forward_to(&mesh);
    let open = breaker_opens_within_the_window(&mesh).await;
    assert_open_breaker_answer(&open);
    inventory.set(Fault::Healthy);
    assert_recovers(&mesh).await;
}

#[tokio::test]
async fn a_failed_query_is_retried_and_answers() {
    let inventory = FaultyInventory::start(Fault::EveryOther).await;
    let without_breaker = "traffic_shaping:\n  all:\n    retry: { max_attempts: 2, initial_backoff: 5ms }\n    circuit_breaker: { enabled: false }\n";
    let mesh = mesh::start(
        without_breaker,
        Some(("inventory", format!("http://{}/graphql", inventory.address))),
    )
    .await;
    inventory.forward_to(&mesh);
    for round in 1..=5 {
        let response = mesh.query(AFFECTED).await;
        assert!(response.get("errors").is_none(), "round {round}: {response}");
        assert_eq!(
            inventory.requests.load(Ordering::SeqCst),
            2 * round,
            "each query failed once and succeeded on its retry"
        );
    }
}
