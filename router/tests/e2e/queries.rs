//! Federated queries across the mesh.

use serde_json::json;

use crate::mesh;

#[tokio::test]
async fn entity_jumps_requires_and_lists_merge_into_one_response() {
    let mesh = mesh::start("", None).await;
    let response = mesh
        .query("{ products { id name reviews { body stars } inStock shippingEstimate } }")
        .await;
    assert_eq!(
        response,
        json!({"data": {"products": [
            {"id": "p1", "name": "Desk", "reviews": [{"body": "Sturdy", "stars": 5}, {"body": "Heavy", "stars": 3}], "inStock": true, "shippingEstimate": 70},
            {"id": "p2", "name": "Lamp", "reviews": [{"body": "Bright", "stars": 4}], "inStock": false, "shippingEstimate": 9}
        ]}})
    );
}

#[tokio::test]
async fn aliases_fragments_variables_and_conditions() {
    let mesh = mesh::start("", None).await;
    let (status, response) = mesh
        .post(json!({
            "query": "query Q($id: ID!, $withReviews: Boolean!) { item: product(id: $id) { ...Basics reviews @include(if: $withReviews) { stars } } } fragment Basics on Product { label: name }",
            "variables": {"id": "p2", "withReviews": false},
            "operationName": "Q"
        }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(response, json!({"data": {"item": {"label": "Lamp"}}}));
    let (_, with_reviews) = mesh
        .post(json!({
            "query": "query Q($id: ID!, $withReviews: Boolean!) { item: product(id: $id) { label: name reviews @include(if: $withReviews) { stars } } }",
            "variables": {"id": "p2", "withReviews": true}
        }))
        .await;
    assert_eq!(
        with_reviews,
        json!({"data": {"item": {"label": "Lamp", "reviews": [{"stars": 4}]}}})
    );
}

/// The entity fetches of one step that go to one subgraph are one request: the
/// same operation at two paths shares an aliased `_entities` field, a different
/// operation gets its own.
#[tokio::test]
async fn entity_fetches_to_one_subgraph_in_one_step_are_one_request() {
    let mesh = mesh::start("", None).await;
    let response = mesh
        .query(r#"{ products { id reviews { body } } product(id: "p1") { name reviews { stars } } again: products { reviews { body } } }"#)
        .await;
    let desk = json!([{"body": "Sturdy"}, {"body": "Heavy"}]);
    let lamp = json!([{"body": "Bright"}]);
    assert_eq!(
        response,
        json!({"data": {
            "products": [{"id": "p1", "reviews": desk}, {"id": "p2", "reviews": lamp}],
            "product": {"name": "Desk", "reviews": [{"stars": 5}, {"stars": 3}]},
            "again": [{"reviews": desk}, {"reviews": lamp}],
        }})
    );
    assert_eq!(
        mesh.metric(r#"dictamesh_router_subgraph_fetch_duration_seconds_count{subgraph="reviews"}"#)
            .await,
        1
    );
}

#[tokio::test]
async fn the_plan_can_be_seen_with_a_header() {
    let mesh = mesh::start("", None).await;
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/graphql", mesh.router))
        .header("dictamesh-expose-query-plan", "true")
        .json(&json!({"query": "{ products { name shippingEstimate } }"}))
        .send()
        .await
        .expect("router answers")
        .json()
        .await
        .expect("json");
    let plan = response["extensions"]["queryPlan"].as_str().expect("a plan");
    assert!(plan.contains("Fetch(service: \"products\")"), "{plan}");
    assert!(plan.contains("Flatten(path: \"products.@\")"), "{plan}");
    assert!(plan.contains("Fetch(service: \"inventory\")"), "{plan}");
}

#[tokio::test]
async fn introspection_is_answered_by_the_router() {
    let mesh = mesh::start("", None).await;
    let response = mesh
        .query("{ __typename __type(name: \"Product\") { fields { name } } }")
        .await;
    let fields: Vec<&str> = response["data"]["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(fields.contains(&"shippingEstimate"), "{response}");
    assert!(!fields.contains(&"_entities"), "{response}");
    assert_eq!(response["data"]["__typename"], "Query");
    let disabled = mesh::start("introspection: false\n", None).await;
    let (status, refused) = disabled
        .post(json!({"query": "{ __schema { types { name } } }"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "INTROSPECTION_DISABLED"
    );
}

#[tokio::test]
async fn subgraphs_can_be_reached_over_http2() {
    let mesh = mesh::start("traffic_shaping:\n  http2: true\n", None).await;
    let response = mesh.query("{ products { name inStock } }").await;
    assert_eq!(
        response,
        json!({"data": {"products": [{"name": "Desk", "inStock": true}, {"name": "Lamp", "inStock": false}]}})
    );
}
