//! Bad input and a database that goes away: readiness turns false, requests
//! fail with clear errors, and nothing is half-written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dictamesh_catalog::Database;
use dictamesh_catalog::ingest::Ingestor;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::ingest::changed;
use crate::support::{Backend, TestDb, first_error, gql, on_both, serve};

/// A TCP proxy to PostgreSQL that can be cut, standing for a database that
/// goes down and comes back.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: &'static str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, tasks) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        });
        Proxy {
            port,
            up,
            connections,
        }
    }

    /// Refuses new connections and cuts the open ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_database_that_goes_down_makes_the_catalog_unready_with_clear_errors_and_it_recovers() {
    let t = TestDb::new(Backend::Postgres).await;
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let via_proxy = t
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    let db = Database::connect(&via_proxy).await.unwrap();
    let catalog = dictamesh_catalog::Catalog::start(db.clone(), "http://127.0.0.1:0/graphql")
        .await
        .unwrap();
    let base = serve(&catalog).await;
    let client = reqwest::Client::new();
    let ready = || async { client.get(format!("{base}/health/ready")).send().await.unwrap() };
    assert_eq!(ready().await.status(), 200);

    proxy.cut();
    let response = ready().await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert!(
        body["entities"]["CatalogEntry"]["reason"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{body}"
    );
    let response = gql(
        &catalog,
        r#"{ catalogEntry(entityType: "Customer", sourceEntityId: "c1") { id } }"#,
        json!({}),
    )
    .await;
    let (code, message) = first_error(&response);
    assert_eq!(code, "SOURCE_UNAVAILABLE", "{response}");
    assert!(
        message.contains("catalog-database") && message.contains("unavailable"),
        "{message}"
    );
    let subjects = client.get(format!("{base}/subjects")).send().await.unwrap();
    assert_eq!(subjects.status(), 500);
    let body: serde_json::Value = subjects.json().await.unwrap();
    assert_eq!(body["error_code"], 50003);
    let ingest = client
        .post(format!("{base}/ingest"))
        .body(json!({"messages": [changed("e1", "c1", 1_700_000_000_000, json!([]))]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 503);

    proxy.restore();
    assert_eq!(ready().await.status(), 200);
    let ingest = client
        .post(format!("{base}/ingest"))
        .body(json!({"messages": [changed("e1", "c1", 1_700_000_000_000, json!([]))]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 200);
    db.close().await;
}

#[tokio::test]
async fn a_batch_that_fails_midway_writes_nothing() {
    on_both(|backend, t| async move {
        let poison = match backend {
            Backend::Postgres => vec![
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.entity_id = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$",
                "CREATE TRIGGER poison BEFORE INSERT ON event_log FOR EACH ROW EXECUTE FUNCTION poison()",
            ],
            Backend::Sqlite => vec![
                "CREATE TRIGGER poison BEFORE INSERT ON event_log WHEN NEW.entity_id = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
            ],
        };
        for statement in poison {
            match &t.db {
                Database::Postgres(pool) => sqlx::query(statement).execute(pool).await.map(|_| ()),
                Database::Sqlite(pool) => sqlx::query(statement).execute(pool).await.map(|_| ()),
            }
            .unwrap();
        }
        let invoices = json!([{"type": "Invoice", "entity_id": "i1", "source_system": "billing",
                               "relationship_kind": "has_invoice", "display_name": null}]);
        let batch = vec![
            changed("e1", "c1", 1_700_000_000_000, invoices),
            changed("e2", "poison", 1_700_000_000_000, json!([])),
        ];
        let error = Ingestor::new(t.db.clone()).ingest(&batch).await.unwrap_err();
        assert!(error.to_string().contains("poisoned"), "{error}");
        for table in ["event_ids", "event_log", "entity_catalog", "entity_relationships"] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let count: i64 = match &t.db {
                Database::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
                Database::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
            };
            assert_eq!(count, 0, "{backend:?}: {table} is untouched");
        }
    })
    .await;
}

#[tokio::test]
async fn bad_graphql_input_names_what_is_wrong() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let unknown_schema = json!({"entityType": "Customer", "domain": "d", "sourceSystem": "s",
            "sourceEntityId": "1", "apiBaseUrl": "u", "apiPathTemplate": "/{id}", "schemaId": 77});
        let response = gql(
            &catalog,
            "mutation ($i: EntityRegistration!) { registerEntity(input: $i) { id } }",
            json!({"i": unknown_schema}),
        )
        .await;
        let (code, message) = first_error(&response);
        assert_eq!(code, "BAD_USER_INPUT");
        assert!(message.contains("schemaId 77"), "{message}");
        let response = gql(
            &catalog,
            r#"{ events(entityType: "Customer", entityId: "c1", limit: 0) { hasMore } }"#,
            json!({}),
        )
        .await;
        assert!(first_error(&response).1.contains("limit"), "{response}");
    })
    .await;
}

#[tokio::test]
async fn with_a_write_token_writes_without_it_are_refused_and_audited() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = catalog.protected_router("s3cret".into());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let client = reqwest::Client::new();
        let mutation = json!({"query": "mutation { registerSchema(input: {entityType: \"T\", schema: \"type T { id: ID }\", format: GRAPHQL}) { version } }"});
        let refused = client.post(format!("{base}/graphql")).json(&mutation).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        let wrong = client
            .post(format!("{base}/subjects/s/versions"))
            .bearer_auth("guess")
            .body(json!({"schema": "\"string\""}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let allowed = client.post(format!("{base}/graphql")).bearer_auth("s3cret").json(&mutation).send().await.unwrap();
        let body: serde_json::Value = allowed.json().await.unwrap();
        assert_eq!(body["data"]["registerSchema"]["version"], 1);
        let read = client.post(format!("{base}/graphql")).json(&json!({"query": "{ entityTypes }"})).send().await.unwrap();
        assert_eq!(read.status(), 200);
        let denied = dictamesh_catalog::audit::count(&t.db, dictamesh_catalog::audit::AuditAction::AccessDenied)
            .await
            .unwrap();
        assert_eq!(denied, 2);
    })
    .await;
}
