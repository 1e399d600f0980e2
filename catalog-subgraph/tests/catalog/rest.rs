//! The Confluent REST API: routes, bodies, content type and error codes.

use serde_json::{Value, json};

use crate::support::{on_both, serve};

const CT: &str = "application/vnd.schemaregistry.v1+json";

fn avro(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"Order","namespace":"shop","fields":[{fields}]}}"#)
}

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, url).header("accept", CT);
    if let Some(body) = body {
        request = request.header("content-type", CT).body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(response.headers()["content-type"], CT);
    }
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn subjects_versions_ids_and_config_behave_as_confluent() {
    on_both(|backend, t| async move {
        let catalog = t.catalog().await;
        let base = serve(&catalog).await;
        let get = |path: &str| call(reqwest::Method::GET, format!("{base}{path}"), None);
        let post = |path: &str, body: Value| call(reqwest::Method::POST, format!("{base}{path}"), Some(body));
        let v1 = avro(r#"{"name":"id","type":"string"}"#);
        let v2 =
            avro(r#"{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}"#);

        assert_eq!(get("/subjects").await, (200, json!([])));
        let (status, body) = post("/subjects/orders-value/versions", json!({"schema": v1})).await;
        assert_eq!((status, body.clone()), (200, json!({"id": 1})), "{backend:?}");
        // The same schema under another subject shares the id.
        assert_eq!(
            post("/subjects/audit-value/versions", json!({"schema": v1}))
                .await
                .1,
            json!({"id": 1})
        );
        assert_eq!(
            post("/subjects/orders-value/versions", json!({"schema": v2}))
                .await
                .1,
            json!({"id": 2})
        );
        assert_eq!(get("/subjects").await.1, json!(["audit-value", "orders-value"]));
        assert_eq!(get("/subjects/orders-value/versions").await.1, json!([1, 2]));
        let (_, latest) = get("/subjects/orders-value/versions/latest").await;
        assert_eq!(
            (latest["version"].clone(), latest["id"].clone()),
            (json!(2), json!(2))
        );
        assert!(latest.get("schemaType").is_none(), "AVRO is implied");
        assert_eq!(
            get("/subjects/orders-value/versions/1/schema").await.1,
            serde_json::from_str::<Value>(&v1).unwrap()
        );
        assert_eq!(get("/schemas/ids/1").await.1, json!({"schema": v1}));
        assert_eq!(
            get("/schemas/ids/1/versions").await.1,
            json!([{"subject": "audit-value", "version": 1}, {"subject": "orders-value", "version": 1}])
        );
        assert_eq!(get("/schemas/types").await.1, json!(["AVRO", "GRAPHQL"]));
        let (_, found) = post("/subjects/orders-value", json!({"schema": v1})).await;
        assert_eq!(found["version"], 1);

        // Errors with Confluent's codes.
        assert_eq!(get("/subjects/missing/versions").await.1["error_code"], 40401);
        let (status, body) = get("/subjects/orders-value/versions/9").await;
        assert_eq!((status, body["error_code"].clone()), (404, json!(40402)));
        assert_eq!(
            get("/subjects/orders-value/versions/zero").await.1["error_code"],
            42202
        );
        assert_eq!(get("/schemas/ids/999").await.1["error_code"], 40403);
        let other = avro(r#"{"name":"sku","type":"string"}"#);
        assert_eq!(
            post("/subjects/orders-value", json!({"schema": other})).await.1["error_code"],
            40403
        );
        let (status, body) = post(
            "/subjects/orders-value/versions",
            json!({"schema": r#"{"type":"record","name":"X"}"#}),
        )
        .await;
        assert_eq!((status, body["error_code"].clone()), (422, json!(42201)));
        assert!(
            body["message"].as_str().unwrap().contains("fields"),
            "the parser's reason: {body}"
        );
        let breaking = avro(r#"{"name":"id","type":"int"}"#);
        let (status, body) = post("/subjects/orders-value/versions", json!({"schema": breaking})).await;
        assert_eq!((status, body["error_code"].clone()), (409, json!(409)));
        assert!(
            body["message"].as_str().unwrap().contains("'id'"),
            "names the field: {body}"
        );
        let (_, check) = post(
            "/compatibility/subjects/orders-value/versions/latest?verbose=true",
            json!({"schema": breaking}),
        )
        .await;
        assert_eq!(check["is_compatible"], false);
        assert!(!check["messages"].as_array().unwrap().is_empty());
        let (_, check) = post(
            "/compatibility/subjects/orders-value/versions",
            json!({"schema": v2}),
        )
        .await;
        assert_eq!(check, json!({"is_compatible": true}));
        assert_eq!(
            post(
                "/compatibility/subjects/missing/versions/1",
                json!({"schema": v1})
            )
            .await
            .1["error_code"],
            40401
        );

        // Configuration.
        assert_eq!(get("/config").await.1, json!({"compatibilityLevel": "BACKWARD"}));
        let put = |path: &str, body: Value| call(reqwest::Method::PUT, format!("{base}{path}"), Some(body));
        assert_eq!(
            put("/config", json!({"compatibility": "full"})).await.1,
            json!({"compatibility": "FULL"})
        );
        assert_eq!(get("/config/orders-value").await.1["error_code"], 40408);
        assert_eq!(
            get("/config/orders-value?defaultToGlobal=true").await.1["compatibilityLevel"],
            "FULL"
        );
        assert_eq!(
            put("/config/orders-value", json!({"compatibility": "NONE"}))
                .await
                .1["compatibility"],
            "NONE"
        );
        assert_eq!(
            put("/config/orders-value", json!({"compatibility": "SIDEWAYS"}))
                .await
                .1["error_code"],
            42203
        );
        assert_eq!(
            post("/subjects/orders-value/versions", json!({"schema": breaking}))
                .await
                .1,
            json!({"id": 3})
        );
        let delete = |path: &str| call(reqwest::Method::DELETE, format!("{base}{path}"), None);
        assert_eq!(
            delete("/config/orders-value").await.1["compatibilityLevel"],
            "NONE"
        );

        // Soft deletes: ids stay readable, versions keep counting.
        assert_eq!(delete("/subjects/orders-value/versions/3").await.1, json!(3));
        assert_eq!(get("/subjects/orders-value/versions").await.1, json!([1, 2]));
        assert_eq!(delete("/subjects/audit-value").await.1, json!([1]));
        assert_eq!(get("/subjects").await.1, json!(["orders-value"]));
        assert_eq!(
            get("/subjects?deleted=true").await.1,
            json!(["audit-value", "orders-value"])
        );
        assert_eq!(get("/schemas/ids/3").await.0, 200);
        let graphql_schema = json!({"schema": "type Order { id: ID! }", "schemaType": "GRAPHQL"});
        assert_eq!(post("/subjects/order-sdl/versions", graphql_schema).await.0, 200);
        assert_eq!(
            get("/subjects/order-sdl/versions/1").await.1["schemaType"],
            "GRAPHQL"
        );
        let protobuf = json!({"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"});
        assert_eq!(
            post("/subjects/p/versions", protobuf).await.1["error_code"],
            42201
        );
    })
    .await;
}
