//! Header propagation rules: the subgraph receives the client's headers that the
//! rules for all and for it select, renamed or inserted as configured, and nothing
//! else of the client's.

use serde_json::json;

use crate::mesh;
use crate::resilience::{Fault, FaultyInventory};

#[tokio::test]
async fn subgraphs_get_the_headers_their_rules_select() {
    assert_rules_select_the_headers("").await;
}

/// A shared execution (inbound de-duplication) runs on threads of its own: the
/// client's headers still reach its fetches.
#[tokio::test]
async fn shared_executions_send_the_headers_the_rules_select() {
    assert_rules_select_the_headers("traffic_shaping:\n  router:\n    dedupe: { enabled: true }\n").await;
}

async fn assert_rules_select_the_headers(more_config: &str) {
    let inventory = FaultyInventory::start(Fault::Healthy).await;
    let config = format!(
        "headers:\n  all:\n    - propagate: {{ named: authorization }}\n    - propagate: {{ matching: '^x-tenant-' }}\n    - propagate: {{ named: x-user, rename: x-forwarded-user }}\n    - insert: {{ name: x-gateway, value: dictamesh }}\n  subgraphs:\n    inventory:\n      - remove: {{ named: x-tenant-region }}\n{more_config}"
    );
    let mesh = mesh::start(
        &config,
        Some(("inventory", format!("http://{}/graphql", inventory.address))),
    )
    .await;
    inventory.forward_to(&mesh);
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/graphql", mesh.router))
        .header("authorization", "Bearer token")
        .header("x-tenant-id", "acme")
        .header("x-tenant-region", "eu")
        .header("x-user", "ada")
        .header("cookie", "session=secret")
        .json(&json!({"query": "{ products { inStock } }"}))
        .send()
        .await
        .expect("the router answers")
        .json()
        .await
        .expect("json");
    assert!(response.get("errors").is_none(), "{response}");
    let seen = inventory.headers.lock().expect("headers").clone();
    let headers = seen.last().expect("inventory was called");
    assert_eq!(headers["authorization"], "Bearer token");
    assert_eq!(headers["x-tenant-id"], "acme");
    assert_eq!(headers["x-forwarded-user"], "ada");
    assert_eq!(headers["x-gateway"], "dictamesh");
    assert!(headers.get("x-tenant-region").is_none(), "removed for inventory");
    assert!(headers.get("x-user").is_none(), "sent renamed only");
    assert!(headers.get("cookie").is_none(), "not selected by any rule");
}
