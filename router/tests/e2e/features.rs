//! Client features: GET, batching, automatic persisted queries, CSRF prevention, the
//! console page, health probes and reload.

use serde_json::{Value, json};

use crate::mesh;

#[tokio::test]
async fn get_queries_and_csrf_prevention() {
    let mesh = mesh::start("", None).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/graphql", mesh.router);
    let blocked = client
        .get(&url)
        .query(&[("query", "{ products { name } }")])
        .send()
        .await
        .expect("answer");
    assert_eq!(blocked.status().as_u16(), 400);
    let body: Value = blocked.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "CSRF_PREVENTION");

    let allowed: Value = client
        .get(&url)
        .header("apollo-require-preflight", "true")
        .query(&[
            ("query", "query($id: ID!) { product(id: $id) { name } }"),
            ("variables", "{\"id\":\"p1\"}"),
        ])
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(allowed, json!({"data": {"product": {"name": "Desk"}}}));

    let mutation = client
        .get(&url)
        .header("apollo-require-preflight", "true")
        .query(&[("query", "mutation { __typename }")])
        .send()
        .await
        .expect("answer");
    assert!(mutation.status().as_u16() >= 400);
}

#[tokio::test]
async fn batches_and_graphql_response_media_type() {
    let mesh = mesh::start("", None).await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/", mesh.router))
        .header("accept", "application/graphql-response+json")
        .json(&json!([
            {"query": "{ product(id: \"p1\") { name } }"},
            {"query": "{ product(id: \"p2\") { name } }"}
        ]))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap_or_default(),
        "application/graphql-response+json"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!([{"data": {"product": {"name": "Desk"}}}, {"data": {"product": {"name": "Lamp"}}}])
    );
}

#[tokio::test]
async fn automatic_persisted_queries() {
    let mesh = mesh::start("", None).await;
    let query = "{ products { name } }";
    let hash = "a4f4ad5a2e7ff2a4b3b1d4b5ba3b3a9ac5c9e0e5c4d5b6b7a8a9b0c1d2e3f4a5";
    let extensions = |hash: &str| json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let (_, unknown) = mesh.post(json!({"extensions": extensions(hash)})).await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let (_, mismatch) = mesh
        .post(json!({"query": query, "extensions": extensions(hash)}))
        .await;
    assert_eq!(
        mismatch["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_HASH_MISMATCH"
    );
    let digest = sha256_hex(query);
    let (_, registered) = mesh
        .post(json!({"query": query, "extensions": extensions(&digest)}))
        .await;
    assert_eq!(registered["data"]["products"][0]["name"], "Desk");
    let (_, by_hash) = mesh.post(json!({"extensions": extensions(&digest)})).await;
    assert_eq!(by_hash, registered);
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn console_page_and_health_probes() {
    let mesh = mesh::start("", None).await;
    let client = reqwest::Client::new();
    let page = client
        .get(format!("http://{}/", mesh.router))
        .header("accept", "text/html")
        .send()
        .await
        .expect("answer");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html")
    );
    let html = page.text().await.expect("text");
    assert!(
        html.contains("<script>") && !html.contains("src=\"http"),
        "the console must be self-contained"
    );
    for probe in ["/health/live", "/health/ready"] {
        let response = client
            .get(format!("http://{}{probe}", mesh.router))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{probe}");
    }
}

#[tokio::test]
async fn a_new_pipeline_serves_new_requests() {
    let mesh = mesh::start("", None).await;
    let before = mesh.query("{ products { name } }").await;
    assert_eq!(before["data"]["products"][1]["name"], "Lamp");
    let config =
        dictamesh_router::config::RouterConfig::from_yaml("introspection: false\n", "router.yaml", |_| None)
            .expect("config");
    let pipeline = dictamesh_router::server::build_pipeline(
        &mesh.supergraph,
        &config,
        dictamesh_router::server::subgraph_client(&config),
    )
    .expect("pipeline");
    mesh.state.replace_pipeline(pipeline);
    let (status, refused) = mesh
        .post(json!({"query": "{ __schema { queryType { name } } }"}))
        .await;
    assert_eq!(status, 400, "{refused}");
    let after = mesh.query("{ products { name } }").await;
    assert_eq!(after, before);
}

#[tokio::test]
async fn the_reloader_picks_up_configuration_changes() {
    let mesh = mesh::start("", None).await;
    let dir = std::env::temp_dir().join(format!("dictamesh-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let supergraph = dir.join("supergraph.graphql");
    std::fs::write(&supergraph, &mesh.supergraph).expect("write supergraph");
    let config = dir.join("router.yaml");
    std::fs::write(&config, "introspection: true\n").expect("write config");
    let reloader = dictamesh_router::server::spawn_reloader(
        mesh.state.clone(),
        dictamesh_router::server::SupergraphSource::Sdl(supergraph),
        Some(config.clone()),
        std::time::Duration::from_millis(50),
    );
    let introspect = json!({"query": "{ __schema { queryType { name } } }"});
    assert_eq!(mesh.post(introspect.clone()).await.0, 200);
    // A broken configuration is ignored; a good one is applied.
    std::fs::write(&config, "introspection: maybe\n").expect("write config");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(mesh.post(introspect.clone()).await.0, 200);
    std::fs::write(&config, "introspection: false\n").expect("write config");
    let mut refused = false;
    for _ in 0..200 {
        if mesh.post(introspect.clone()).await.0 == 400 {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    reloader.abort();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(refused, "the new configuration was not applied");
    assert_eq!(
        mesh.query("{ products { name } }").await["data"]["products"][0]["name"],
        "Desk"
    );
}

#[tokio::test]
async fn subgraphs_that_require_the_router_signature_refuse_direct_callers() {
    let secret = "a secret shared by the router and its subgraphs";
    let config = format!("subgraph_signature: {{ secret: \"{secret}\" }}\n");
    let mesh = mesh::start_signed(&config, None, Some(secret)).await;
    let through_router = mesh.query("{ products { name reviews { body } inStock } }").await;
    assert_eq!(
        through_router["data"]["products"][0]["name"], "Desk",
        "{through_router}"
    );
    assert_eq!(
        through_router["data"]["products"][0]["inStock"], true,
        "{through_router}"
    );
    assert!(through_router.get("errors").is_none(), "{through_router}");

    let (_, products) = mesh
        .subgraphs
        .iter()
        .find(|(name, _)| name == "products")
        .expect("products");
    let direct = |body: Value, signature: Option<String>| {
        let mut request = reqwest::Client::new()
            .post(format!("http://{products}/graphql"))
            .json(&body);
        if let Some(signature) = signature {
            request = request.header(dictamesh::signature::SIGNATURE_HEADER, signature);
        }
        async move {
            let response = request.send().await.expect("the subgraph answers");
            (
                response.status().as_u16(),
                response.json::<Value>().await.expect("json"),
            )
        }
    };
    let query = json!({ "query": "{ products { name } }" });
    let (status, body) = direct(query.clone(), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let forged = dictamesh::signature::RouterSignature::new("another secret")
        .expect("a secret")
        .sign(
            query.to_string().as_bytes(),
            dictamesh::signature::RouterSignature::now(),
        );
    assert_eq!(direct(query, Some(forged)).await.0, 401);
    let (status, sdl) = direct(json!({ "query": "{ _service { sdl } }" }), None).await;
    assert_eq!(status, 200, "composition may still read the SDL: {sdl}");

    let unsigned_router = mesh::start_signed("", None, Some(secret)).await;
    let refused = unsigned_router.query("{ products { name } }").await;
    assert_eq!(refused["data"]["products"], Value::Null, "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["service"], "products",
        "{refused}"
    );
}
