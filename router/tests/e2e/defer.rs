//! `@defer` end to end: incremental delivery over `multipart/mixed` from the
//! router in front of subgraphs built with the kit (and stand-ins that fail or
//! hold their answer back).

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::mesh;

const ACCEPT: &str = "multipart/mixed;deferSpec=20220824, application/json";

/// The JSON payloads of a multipart body.
fn payloads(body: &str) -> Vec<Value> {
    body.split("\r\n--graphql")
        .filter_map(|part| part.split_once("\r\n\r\n"))
        .map(|(_, json)| serde_json::from_str(json.trim()).expect("each part is JSON"))
        .collect()
}

/// POSTs a GraphQL request accepting incremental delivery.
async fn post_accepting_multipart(mesh: &mesh::Mesh, request: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{}/graphql", mesh.router))
        .header("accept", ACCEPT)
        .json(&request)
        .send()
        .await
        .expect("router answers")
}

/// POSTs `query` accepting incremental delivery; the response's content type and
/// every payload.
async fn deferred(mesh: &mesh::Mesh, query: &str) -> (String, Vec<Value>) {
    let response = post_accepting_multipart(mesh, json!({ "query": query })).await;
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("content type")
        .to_string();
    (content_type, payloads(&response.text().await.expect("body")))
}

/// A subgraph stand-in that answers `body` to every request once `gate` opens.
async fn gated_subgraph(body: &'static str, gate: Arc<Notify>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().fallback(move || {
        let gate = gate.clone();
        async move {
            gate.notified().await;
            ([("content-type", "application/json")], body)
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

#[tokio::test]
async fn the_primary_response_goes_out_before_a_deferred_entity_fetch_answers() {
    let gate = Arc::new(Notify::new());
    let reviews = gated_subgraph(
        r#"{"data":{"_entities":[{"__typename":"Product","reviews":[{"body":"Sturdy"}]},{"__typename":"Product","reviews":[{"body":"Bright"}]}]}}"#,
        gate.clone(),
    )
    .await;
    let mesh = mesh::start("", Some(("reviews", format!("http://{reviews}/")))).await;
    let query = r#"{ products { id name ... @defer(label: "reviews") { reviews { body } } } }"#;
    let mut response = post_accepting_multipart(&mesh, json!({ "query": query })).await;
    assert_eq!(
        response.headers()["content-type"],
        "multipart/mixed;boundary=\"graphql\";deferSpec=20220824"
    );
    // The reviews subgraph has not answered yet: the primary part must arrive alone.
    let mut received = String::new();
    while payloads(&received).is_empty() {
        let chunk = response.chunk().await.expect("read").expect("a first part");
        received.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    assert_eq!(
        payloads(&received),
        vec![json!({
            "data": {"products": [{"id": "p1", "name": "Desk"}, {"id": "p2", "name": "Lamp"}]},
            "hasNext": true
        })]
    );
    gate.notify_one();
    while let Some(chunk) = response.chunk().await.expect("read") {
        received.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    assert!(received.ends_with("\r\n--graphql--\r\n"), "{received:?}");
    assert_eq!(
        payloads(&received)[1],
        json!({
            "hasNext": false,
            "incremental": [
                {"data": {"reviews": [{"body": "Sturdy"}]}, "path": ["products", 0], "label": "reviews"},
                {"data": {"reviews": [{"body": "Bright"}]}, "path": ["products", 1], "label": "reviews"}
            ]
        })
    );
}

#[tokio::test]
async fn nested_defers_inside_a_list_arrive_after_their_parent() {
    let mesh = mesh::start("", None).await;
    let (_, parts) = deferred(
        &mesh,
        r#"{ products { name ... @defer(label: "outer") { reviews { body } ... @defer(label: "inner") { inStock } } } }"#,
    )
    .await;
    assert_eq!(
        parts,
        vec![
            json!({"data": {"products": [{"name": "Desk"}, {"name": "Lamp"}]}, "hasNext": true}),
            json!({"hasNext": true, "incremental": [
                {"data": {"reviews": [{"body": "Sturdy"}, {"body": "Heavy"}]}, "path": ["products", 0], "label": "outer"},
                {"data": {"reviews": [{"body": "Bright"}]}, "path": ["products", 1], "label": "outer"}
            ]}),
            json!({"hasNext": false, "incremental": [
                {"data": {"inStock": true}, "path": ["products", 0], "label": "inner"},
                {"data": {"inStock": false}, "path": ["products", 1], "label": "inner"}
            ]}),
        ]
    );
}

#[tokio::test]
async fn a_deferred_field_with_requires_and_a_root_defer() {
    let mesh = mesh::start("", None).await;
    let (_, parts) = deferred(
        &mesh,
        r#"{ product(id: "p1") { name ... @defer { shippingEstimate } } ... @defer(label: "all") { products { id } } }"#,
    )
    .await;
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(
        parts[0],
        json!({"data": {"product": {"name": "Desk"}}, "hasNext": true})
    );
    let entries: Vec<&Value> = parts[1..]
        .iter()
        .flat_map(|part| part["incremental"].as_array().expect("entries"))
        .collect();
    assert!(
        entries.contains(&&json!({"data": {"shippingEstimate": 70}, "path": ["product"]})),
        "{parts:?}"
    );
    assert!(
        entries.contains(
            &&json!({"data": {"products": [{"id": "p1"}, {"id": "p2"}]}, "path": [], "label": "all"})
        ),
        "{parts:?}"
    );
    assert_eq!(parts[2]["hasNext"], json!(false));
}

#[tokio::test]
async fn an_error_in_a_deferred_fragment_stays_in_its_part() {
    // Apollo Router #1818: the error belongs to the deferred part, not the primary.
    let (inventory, _) = mesh::slow_subgraph(
        std::time::Duration::ZERO,
        r#"{"data":{"_entities":[null]},"errors":[{"message":"stock lookup failed","path":["_entities",0]}]}"#,
    )
    .await;
    let mesh = mesh::start("", Some(("inventory", format!("http://{inventory}/")))).await;
    let (_, parts) = deferred(&mesh, r#"{ product(id: "p1") { id ... @defer { inStock } } }"#).await;
    assert_eq!(
        parts[0],
        json!({"data": {"product": {"id": "p1"}}, "hasNext": true})
    );
    let entry = &parts[1]["incremental"][0];
    assert_eq!(entry["data"], json!({"inStock": null}));
    assert_eq!(entry["path"], json!(["product"]));
    assert_eq!(entry["errors"][0]["message"], json!("stock lookup failed"));
    assert_eq!(entry["errors"][0]["path"], json!(["product"]));
    assert_eq!(parts[1]["hasNext"], json!(false));

    // Apollo Router #1834: a non-null field that fails nulls the deferred
    // fragment's data, not the product around it.
    let (_, parts) = deferred(
        &mesh,
        r#"{ product(id: "p1") { id ... @defer { shippingEstimate } } }"#,
    )
    .await;
    assert_eq!(
        parts[0],
        json!({"data": {"product": {"id": "p1"}}, "hasNext": true})
    );
    let entry = &parts[1]["incremental"][0];
    assert_eq!(entry["data"], Value::Null, "{parts:?}");
    assert_eq!(entry["errors"][0]["message"], json!("stock lookup failed"));
}

#[tokio::test]
async fn errors_of_a_deferred_list_go_to_the_entry_they_belong_to() {
    let (inventory, _) = mesh::slow_subgraph(
        std::time::Duration::ZERO,
        r#"{"data":{"_entities":[{"__typename":"Product","inStock":true},null]},"errors":[{"message":"no stock record","path":["_entities",1]}]}"#,
    )
    .await;
    let mesh = mesh::start("", Some(("inventory", format!("http://{inventory}/")))).await;
    let (_, parts) = deferred(&mesh, "{ products { id ... @defer { inStock } } }").await;
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts[0].get("errors").is_none(), "{parts:?}");
    assert_eq!(
        parts[1]["incremental"],
        json!([
            {"data": {"inStock": true}, "path": ["products", 0]},
            {"data": {"inStock": null}, "path": ["products", 1],
             "errors": [{"message": "no stock record", "path": ["products", 1],
                         "extensions": {"service": "inventory"}}]}
        ])
    );
}

#[tokio::test]
async fn a_client_without_multipart_gets_the_whole_response_at_once() {
    let mesh = mesh::start("", None).await;
    let query = r#"{ products { name ... @defer { reviews { body } } } }"#;
    let (status, body) = mesh.post(json!({ "query": query })).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": {"products": [
            {"name": "Desk", "reviews": [{"body": "Sturdy"}, {"body": "Heavy"}]},
            {"name": "Lamp", "reviews": [{"body": "Bright"}]}
        ]}})
    );
    // Without any deferred fragment, a multipart client gets a plain response.
    let response = post_accepting_multipart(&mesh, json!({ "query": "{ products { name } }" })).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("content type")
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn deferred_operations_are_counted_in_the_metrics() {
    let mesh = mesh::start("", None).await;
    let (_, parts) = deferred(
        &mesh,
        "query DeferredReviews { products { name ... @defer { reviews { body } } } }",
    )
    .await;
    assert_eq!(parts.len(), 2, "{parts:?}");
    let metrics = reqwest::get(format!("http://{}/metrics", mesh.router))
        .await
        .expect("the router answers")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|line| line
                == r#"dictamesh_router_requests_total{operation="DeferredReviews",status="ok"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn deferred_data_keeps_the_clients_field_order() {
    let mesh = mesh::start("", None).await;
    let query = r#"{ product(id: "p1") { ... @defer { weight name } } }"#;
    let body = post_accepting_multipart(&mesh, json!({ "query": query }))
        .await
        .text()
        .await
        .expect("body");
    assert!(
        body.contains(
            r#"{"hasNext":false,"incremental":[{"data":{"weight":20,"name":"Desk"},"path":["product"]}]}"#
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_defer_turned_off_by_a_variable_gets_its_own_plan() {
    let mesh = mesh::start("", None).await;
    let query = r#"query($later: Boolean) { product(id: "p1") { name ... @defer(if: $later) { inStock } } }"#;
    let send = async |variables: Value| {
        let response =
            post_accepting_multipart(&mesh, json!({ "query": query, "variables": variables })).await;
        payloads(&response.text().await.expect("body"))
    };
    let deferred = send(json!({ "later": true })).await;
    assert_eq!(deferred.len(), 2, "{deferred:?}");
    let whole = send(json!({ "later": false })).await;
    assert_eq!(
        whole,
        vec![json!({"data": {"product": {"name": "Desk", "inStock": true}}, "hasNext": false})],
        "`if: false` is resolved in the primary payload, not served the cached deferred plan"
    );
    // A null `if` defers (the directive's argument defaults to true).
    assert_eq!(send(json!({ "later": null })).await.len(), 2);
}
