//! Bad input gets a clear error; a failing subgraph leaves partial data and an error
//! naming it.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::mesh;

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn syntax_and_validation_errors() {
    let mesh = mesh::start("", None).await;
    let (status, parse) = mesh.post(json!({"query": "{ products { name "})).await;
    assert_eq!(status, 400);
    assert_eq!(code(&parse), "GRAPHQL_PARSE_FAILED", "{parse}");
    assert!(parse["errors"][0]["locations"][0]["line"].is_number(), "{parse}");
    assert!(parse.get("data").is_none(), "{parse}");

    let (status, invalid) = mesh.post(json!({"query": "{ products { colour } }"})).await;
    assert_eq!(status, 400);
    assert_eq!(code(&invalid), "GRAPHQL_VALIDATION_FAILED", "{invalid}");

    let (_, missing_name) = mesh
        .post(json!({"query": "query A { products { id } } query B { products { name } }"}))
        .await;
    assert_eq!(code(&missing_name), "GRAPHQL_VALIDATION_FAILED", "{missing_name}");
    assert!(
        missing_name["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("operation name")
    );

    let (_, bad_variables) = mesh
        .post(json!({"query": "query($id: ID!) { product(id: $id) { name } }", "variables": {"id": {"not": "an id"}}}))
        .await;
    assert_eq!(
        code(&bad_variables),
        "VALIDATION_INVALID_TYPE_VARIABLE",
        "{bad_variables}"
    );

    let (status, no_query) = mesh.post(json!({"variables": {}})).await;
    assert_eq!(status, 400);
    assert_eq!(code(&no_query), "MISSING_QUERY_STRING");
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let mesh = mesh::start("http:\n  max_body_bytes: 1000\n", None).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/graphql", mesh.router);
    let not_json = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{ this is not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(not_json.status().as_u16(), 400);
    let body: Value = not_json.json().await.expect("json");
    assert_eq!(code(&body), "INVALID_JSON");

    let huge = format!("{{\"query\": \"{{ products {{ {} }} }}\"}}", "name ".repeat(400));
    let oversized = client
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("answer");
    assert_eq!(oversized.status().as_u16(), 413);
}

#[tokio::test]
async fn operation_limits() {
    let mesh = mesh::start(
        "limits:\n  max_depth: 2\n  max_aliases: 1\n  max_root_fields: 1\n",
        None,
    )
    .await;
    let (status, deep) = mesh
        .post(json!({"query": "{ products { reviews { body } } }"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(code(&deep), "MAX_DEPTH_LIMIT");
    let (_, aliases) = mesh
        .post(json!({"query": "{ products { a: id b: name } }"}))
        .await;
    assert_eq!(code(&aliases), "MAX_ALIASES_LIMIT");
    let (_, roots) = mesh
        .post(json!({"query": "{ products { id } product(id: \"p1\") { id } }"}))
        .await;
    assert_eq!(code(&roots), "MAX_ROOT_FIELDS_LIMIT");
    let nested = |depth: usize| {
        format!(
            "{{ __type(name: \"Product\") {{ {}name{} }} }}",
            "ofType { ".repeat(depth),
            " }".repeat(depth)
        )
    };
    let unlimited = mesh::start("", None).await;
    for depth in [130, 200, 5_000] {
        let (status, refused) = unlimited.post(json!({"query": nested(depth)})).await;
        assert_eq!(status, 400, "depth {depth}: {refused}");
        assert!(refused.get("data").is_none(), "depth {depth}: {refused}");
        let refusal = code(&refused);
        assert!(
            [
                "MAX_DEPTH_LIMIT",
                "GRAPHQL_VALIDATION_FAILED",
                "GRAPHQL_PARSE_FAILED"
            ]
            .contains(&refusal),
            "depth {depth}: {refused}"
        );
    }
    let tokens = mesh::start("limits:\n  max_tokens: 5\n", None).await;
    let (_, too_many) = tokens
        .post(json!({"query": "{ products { id name price } }"}))
        .await;
    assert_eq!(code(&too_many), "GRAPHQL_PARSE_FAILED");
}

/// A subgraph that answers every request with `status` and `body` (after `delay_ms`).
async fn broken_subgraph(status: u16, body: &'static str, delay_ms: u64) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().fallback(move || async move {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        (axum::http::StatusCode::from_u16(status).unwrap_or_default(), body)
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

async fn assert_partial(mesh: &mesh::Mesh) {
    let response = mesh.query("{ products { name inStock } }").await;
    assert_eq!(
        response["data"],
        json!({"products": [{"name": "Desk", "inStock": null}, {"name": "Lamp", "inStock": null}]}),
        "{response}"
    );
    let error = &response["errors"][0];
    assert_eq!(error["extensions"]["code"], "SUBREQUEST_HTTP_ERROR", "{response}");
    assert_eq!(error["extensions"]["service"], "inventory", "{response}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("inventory"),
        "{response}"
    );
}

#[tokio::test]
async fn a_subgraph_that_is_down_500_non_json_or_slow_gives_partial_data() {
    // A port bound but not listening refuses connections, and no other test's
    // server can take it while the socket is held (a port merely released can be).
    let held = tokio::net::TcpSocket::new_v4().expect("socket");
    held.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let closed = held.local_addr().expect("address");
    let down = mesh::start("", Some(("inventory", format!("http://{closed}/graphql")))).await;
    assert_partial(&down).await;

    let failing = broken_subgraph(500, "internal error", 0).await;
    let five_hundred = mesh::start("", Some(("inventory", format!("http://{failing}/")))).await;
    assert_partial(&five_hundred).await;

    let garbage = broken_subgraph(200, "<html>not json</html>", 0).await;
    let non_json = mesh::start("", Some(("inventory", format!("http://{garbage}/")))).await;
    assert_partial(&non_json).await;

    let slow = broken_subgraph(200, "{}", 5_000).await;
    let timed_out = mesh::start(
        "traffic_shaping:\n  subgraphs:\n    inventory: { timeout: 50ms }\n",
        Some(("inventory", format!("http://{slow}/"))),
    )
    .await;
    assert_partial(&timed_out).await;
}

/// A batched entity request that fails leaves an error for each fetch in it, at
/// that fetch's path; a subgraph error under an alias reaches the client at the
/// path of the object it is about.
#[tokio::test]
async fn a_batched_entity_request_maps_failures_and_errors_to_each_fetch() {
    let query = r#"{ products { id reviews { body } } product(id: "p2") { name reviews { stars } } }"#;
    let held = tokio::net::TcpSocket::new_v4().expect("socket");
    held.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let closed = held.local_addr().expect("address");
    let down = mesh::start("", Some(("reviews", format!("http://{closed}/graphql")))).await;
    let response = down.query(query).await;
    // `reviews` is a non-null list: its null takes the products, then the data.
    assert_eq!(response["data"], Value::Null, "{response}");
    let paths: Vec<&Value> = response["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .inspect(|error| assert_eq!(error["extensions"]["service"], "reviews", "{response}"))
        .map(|error| &error["path"])
        .collect();
    assert_eq!(
        paths,
        [&json!(["products", 0]), &json!(["product"])],
        "{response}"
    );

    let answer = r#"{"data":{"_e0":[{"reviews":[{"body":"Sturdy"}]},{"reviews":[]}],"_e1":[null]},
        "errors":[{"message":"stars are hidden","path":["_e1",0,"reviews"]},{"message":"reviews are slow today"}]}"#;
    let partial = broken_subgraph(200, answer, 0).await;
    let mesh = mesh::start("", Some(("reviews", format!("http://{partial}/")))).await;
    let response = mesh.query(query).await;
    assert_eq!(
        response["data"],
        json!({"products": [{"id": "p1", "reviews": [{"body": "Sturdy"}]}, {"id": "p2", "reviews": []}], "product": null}),
        "{response}"
    );
    let errors: Vec<(&Value, Option<&Value>)> = response["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| (&error["message"], error.get("path")))
        .collect();
    assert_eq!(
        errors,
        [
            (&json!("stars are hidden"), Some(&json!(["product", "reviews"]))),
            (&json!("reviews are slow today"), None)
        ],
        "{response}"
    );
}
