//! Test databases (a fresh PostgreSQL database or SQLite file per test,
//! dropped afterwards), catalogs over them and small request helpers.

use std::future::Future;

use dictamesh_catalog::{Catalog, Database};
use serde_json::Value;

/// The server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("CATALOG_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A migrated database that is removed when dropped.
pub struct TestDb {
    pub db: Database,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres { admin: String, name: String },
    Sqlite { path: std::path::PathBuf },
}

impl TestDb {
    /// A fresh, migrated database on `backend`.
    pub async fn new(backend: Backend) -> TestDb {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (url, cleanup) = match backend {
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("catalog_test_{unique}");
                let admin_db = Database::connect(&admin).await.expect("PostgreSQL for tests");
                let Database::Postgres(pool) = &admin_db else {
                    unreachable!()
                };
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(pool)
                    .await
                    .unwrap();
                admin_db.close().await;
                let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap().to_string();
                (format!("{base}/{name}"), Cleanup::Postgres { admin, name })
            }
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("catalog-test-{unique}.db"));
                (format!("sqlite://{}", path.display()), Cleanup::Sqlite { path })
            }
        };
        let db = Database::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        TestDb { db, url, cleanup }
    }

    /// A catalog serving this database.
    pub async fn catalog(&self) -> Catalog {
        Catalog::start(self.db.clone(), "http://127.0.0.1:0/graphql")
            .await
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let cleanup = std::mem::replace(
            &mut self.cleanup,
            Cleanup::Sqlite {
                path: Default::default(),
            },
        );
        // Dropping runs outside the test's runtime: a thread with its own. The
        // test's pool is not closed (its connections may wait on the blocked
        // test runtime); dropping the database with FORCE ends them.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Runtime::new() else {
                return;
            };
            runtime.block_on(async move {
                match cleanup {
                    Cleanup::Postgres { admin, name } => {
                        if let Ok(Database::Postgres(pool)) = Database::connect(&admin).await {
                            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&pool)
                                .await;
                            pool.close().await;
                        }
                    }
                    Cleanup::Sqlite { path } => {
                        for suffix in ["", "-wal", "-shm"] {
                            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                        }
                    }
                }
            });
        })
        .join();
    }
}

/// Runs a test body once per backend.
pub async fn on_both<F, Fut>(test: F)
where
    F: Fn(Backend, TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let db = TestDb::new(backend).await;
        test(backend, db).await;
    }
}

/// Executes a GraphQL request against a catalog's current subgraph.
pub async fn gql(catalog: &Catalog, query: &str, variables: Value) -> Value {
    let request = dictamesh::async_graphql::Request::new(query)
        .variables(dictamesh::async_graphql::Variables::from_json(variables));
    serde_json::to_value(catalog.subgraph().execute(request).await).unwrap()
}

/// Executes a GraphQL request and returns its data, failing on errors.
pub async fn data(catalog: &Catalog, query: &str, variables: Value) -> Value {
    let response = gql(catalog, query, variables).await;
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {response:#}"
    );
    response["data"].clone()
}

/// The first error's `extensions.code` and message.
pub fn first_error(response: &Value) -> (String, String) {
    let error = &response["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Serves a catalog on 127.0.0.1 (an OS-chosen port); returns its base URL.
pub async fn serve(catalog: &Catalog) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = catalog.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

/// A registration of `entity_type` `id` in `source`.
pub fn registration(entity_type: &str, id: &str, source: &str) -> Value {
    serde_json::json!({
        "entityType": entity_type,
        "domain": format!("{}s", entity_type.to_lowercase()),
        "sourceSystem": source,
        "sourceEntityId": id,
        "apiBaseUrl": format!("https://{source}.example.com"),
        "apiPathTemplate": format!("/{}s/{{id}}", entity_type.to_lowercase()),
    })
}

/// Registers an entity through the `registerEntity` mutation.
pub async fn register(catalog: &Catalog, entity_type: &str, id: &str, source: &str) -> Value {
    let data = data(
        catalog,
        "mutation ($input: EntityRegistration!) { registerEntity(input: $input) { id entityType sourceEntityId } }",
        serde_json::json!({"input": registration(entity_type, id, source)}),
    )
    .await;
    data["registerEntity"].clone()
}
