//! The products subgraph over its two sources: a REST API (wiremock stands in
//! for the third-party service) and a watched directory of files.

use std::sync::Arc;
use std::time::Duration;

use dictamesh::events::{ChangeType, InProcessBus};
use dictamesh::testing::ContractSuite;
use dictamesh::{DataProductAdapter, EntityKey, EntityQuery, Subgraph};
use dictamesh_example_mesh::products::files::FileProducts;
use dictamesh_example_mesh::products::rest::{RestConfig, RestProducts};
use dictamesh_example_mesh::products::{self, ProductRecord};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn record(id: &str, name: &str, price: &str) -> Value {
    json!({"id": id, "sku": format!("sku-{id}"), "name": name, "price_amount": price,
           "price_currency": "USD", "inventory": 7, "provider": "acme"})
}

async fn api() -> (MockServer, RestProducts) {
    let server = MockServer::start().await;
    let mut config = RestConfig::new(server.uri());
    config.token = Some("secret-token".into());
    config.page_size = 2;
    (server, RestProducts::new(config).unwrap())
}

async fn run(subgraph: &Subgraph, query: &str) -> Value {
    serde_json::to_value(subgraph.execute(query).await).unwrap()
}

#[tokio::test]
async fn rest_batches_keys_into_one_filtered_request_with_the_token() {
    let (server, adapter) = api().await;
    Mock::given(method("GET"))
        .and(path("/items/products"))
        .and(header("authorization", "Bearer secret-token"))
        .and(query_param("filter", r#"{"id":{"_in":["1","2","3"]}}"#))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"data": [record("2", "Gadget", "5.00"), record("1", "Widget", "19.99")]}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let subgraph = products::subgraph(adapter).build().unwrap();
    let response = run(
        &subgraph,
        r#"{ _entities(representations: [{__typename: "Product", id: "1"}, {__typename: "Product", id: "2"}, {__typename: "Product", id: "3"}]) { ... on Product { name price { amount currency } } } }"#,
    )
    .await;
    assert_eq!(
        response["data"]["_entities"],
        json!([{"name": "Widget", "price": {"amount": "19.99", "currency": "USD"}}, {"name": "Gadget", "price": {"amount": "5.00", "currency": "USD"}}, null])
    );
}

#[tokio::test]
async fn rest_revalidates_single_products_with_etags() {
    let (server, adapter) = api().await;
    Mock::given(method("GET"))
        .and(path("/items/products/1"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/items/products/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_json(json!({"data": record("1", "Widget", "19.99")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let key = EntityKey::single("Product", "id", "1");
    let first = adapter.get_entity(&key).await.unwrap();
    let second = adapter.get_entity(&key).await.unwrap();
    assert_eq!(first, second, "a 304 answer serves the copy the ETag names");
}

#[tokio::test]
async fn rest_pages_through_lists() {
    let (server, adapter) = api().await;
    for (offset, items) in [
        ("0", vec![record("1", "A", "1"), record("2", "B", "2")]),
        ("2", vec![record("3", "C", "3")]),
    ] {
        Mock::given(method("GET"))
            .and(path("/items/products"))
            .and(query_param("offset", offset))
            .and(query_param("limit", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": items})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let all = adapter.query_entities(&EntityQuery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["A", "B", "C"]
    );
}

#[tokio::test]
async fn rest_rate_limits_and_failures_become_clear_errors() {
    let (server, adapter) = api().await;
    Mock::given(method("GET"))
        .and(path("/items/products/limited"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/items/products/broken"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/items/products/garbage"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    let limited = adapter
        .get_entity(&EntityKey::single("Product", "id", "limited"))
        .await
        .unwrap_err();
    assert_eq!(
        limited,
        dictamesh::AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    let broken = adapter
        .get_entity(&EntityKey::single("Product", "id", "broken"))
        .await
        .unwrap_err();
    assert!(broken.to_string().contains("the API answered 503"));
    let garbage = adapter
        .get_entity(&EntityKey::single("Product", "id", "garbage"))
        .await
        .unwrap_err();
    assert!(
        matches!(garbage, dictamesh::AdapterError::InvalidResponse(_)),
        "{garbage}"
    );
}

#[tokio::test]
async fn rest_honours_a_spent_rate_limit_before_calling_again() {
    let (server, adapter) = api().await;
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    Mock::given(method("GET"))
        .and(path("/items/products/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string())
                .set_body_json(json!({"data": record("1", "Widget", "19.99")})),
        )
        .mount(&server)
        .await;
    let key = EntityKey::single("Product", "id", "1");
    adapter.get_entity(&key).await.unwrap();
    let refused = adapter.get_entity(&key).await.unwrap_err();
    assert!(
        matches!(refused, dictamesh::AdapterError::RateLimited { retry_after: Some(wait) } if wait > Duration::from_secs(50)),
        "{refused:?}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no call while the limit is spent"
    );
}

#[tokio::test]
async fn rest_writes_go_to_the_api() {
    let (server, adapter) = api().await;
    Mock::given(method("POST"))
        .and(path("/items/products"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": record("new", "Widget", "19.99")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let subgraph = products::subgraph(adapter).build().unwrap();
    let response = run(
        &subgraph,
        r#"mutation { createProduct(input: {sku: "w", name: "Widget", price: "19.99"}) { id name } }"#,
    )
    .await;
    assert_eq!(
        response["data"]["createProduct"],
        json!({"id": "new", "name": "Widget"})
    );
    let sent: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["price_amount"], "19.99");
}

fn write(dir: &std::path::Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

#[tokio::test]
async fn files_serve_json_and_csv_with_json_overriding_csv() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "catalog.csv",
        "id,sku,name,price_amount,price_currency,inventory,provider\n1,w-1,Widget,19.99,USD,10,acme\n2,g-2,Gadget,5.00,EUR,3,\"Acme, Inc.\"\n",
    );
    write(
        dir.path(),
        "2.json",
        &record("2", "Gadget Pro", "6.00").to_string(),
    );
    write(dir.path(), "broken.json", "{ not json");
    let adapter = FileProducts::open(dir.path()).unwrap();
    assert!(
        matches!(adapter.health().await, dictamesh::HealthStatus::Degraded(reason) if reason.contains("broken.json"))
    );
    let subgraph = products::subgraph(adapter).build().unwrap();
    let response = run(
        &subgraph,
        "{ products { id name price { amount currency } provider } }",
    )
    .await;
    assert_eq!(
        response["data"]["products"],
        json!([
            {"id": "1", "name": "Widget", "price": {"amount": "19.99", "currency": "USD"}, "provider": "acme"},
            {"id": "2", "name": "Gadget Pro", "price": {"amount": "6.00", "currency": "USD"}, "provider": "acme"}
        ])
    );
}

#[tokio::test]
async fn files_changes_become_events_and_writes_become_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.json", &record("1", "Widget", "19.99").to_string());
    let bus = InProcessBus::new(16);
    let mut events = bus.subscribe();
    let adapter = Arc::new(
        FileProducts::open(dir.path())
            .unwrap()
            .poll_every(Duration::from_millis(50)),
    );
    let subgraph = products::subgraph(adapter.clone())
        .publisher(Arc::new(bus))
        .build()
        .unwrap();
    let followers = subgraph.spawn_change_followers();
    assert_eq!(
        run(&subgraph, r#"{ product(id: "1") { name } }"#).await["data"]["product"]["name"],
        "Widget"
    );

    write(
        dir.path(),
        "1.json",
        &record("1", "Widget Mk II", "21.00").to_string(),
    );
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.event_type, event.entity.id.as_str()),
        (ChangeType::Updated, "1")
    );
    assert_eq!(
        run(&subgraph, r#"{ product(id: "1") { name } }"#).await["data"]["product"]["name"],
        "Widget Mk II",
        "the change dropped the cached product"
    );

    let created = run(
        &subgraph,
        r#"mutation { createProduct(input: {sku: "g", name: "Gizmo", price: "3.50"}) { id } }"#,
    )
    .await;
    let id = created["data"]["createProduct"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stored: ProductRecord =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(format!("{id}.json"))).unwrap())
            .unwrap();
    assert_eq!(stored.name, "Gizmo");
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.event_type, ChangeType::Created);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        events.try_recv().is_err(),
        "the adapter's own write is not reported twice"
    );

    std::fs::remove_file(dir.path().join("1.json")).unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.event_type, event.entity.id.as_str()),
        (ChangeType::Deleted, "1")
    );
    for follower in followers {
        follower.abort();
    }
}

#[tokio::test]
async fn file_adapter_passes_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.json", &record("1", "Widget", "19.99").to_string());
    ContractSuite::new(
        FileProducts::open(dir.path()).unwrap(),
        EntityKey::single("Product", "id", "1"),
        EntityKey::single("Product", "id", "nope"),
    )
    .run()
    .await
    .assert_passed();
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let error = FileProducts::open("/no/such/products").err().unwrap();
    assert!(
        error.starts_with("cannot read the products directory `/no/such/products`"),
        "{error}"
    );
}
