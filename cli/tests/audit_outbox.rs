//! The durable audit end to end, on real services: the example customers
//! subgraph, the router with JWT authentication and the audit outbox, and the
//! metadata catalog on PostgreSQL receiving the outbox's records through its
//! ingest API. The catalog is stopped mid-run: records wait in the outbox and
//! arrive, once each, after it returns.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dictamesh::WritableAdapter;
use dictamesh_catalog::audit::{AuditAction, count};
use dictamesh_catalog::{Catalog, Database as CatalogDatabase};
use dictamesh_example_mesh::Database;
use dictamesh_example_mesh::customers::{self, NewCustomer, SqlCustomers};
use dictamesh_governance::audit::outbox::AuditOutbox;
use dictamesh_router::compose::{SubgraphInput, compose};
use dictamesh_router::config::RouterConfig;
use dictamesh_router::http::RouterState;
use dictamesh_router::server;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The catalog's write token, which its ingest API requires of the relay.
const WRITE_TOKEN: &str = "catalog-write-token";

const LOOKUP: &str = "query Lookup($id: ID!) { customer(id: $id) { id email } }";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../governance/tests/fixtures")
        .join(name)
}

/// A token signed with the fixture key the router's JWKS holds.
fn token(subject: &str, scope: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let claims = json!({
        "sub": subject, "iss": "https://issuer.example", "aud": "dictamesh",
        "exp": now + 600, "scope": scope,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let key = std::fs::read(fixture("rsa.pem")).expect("fixture key");
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(&key).expect("rsa key"),
    )
    .expect("token")
}

/// A fresh PostgreSQL database for the catalog, dropped by [`Postgres::drop_database`].
struct Postgres {
    admin: String,
    name: String,
}

impl Postgres {
    async fn create() -> (Postgres, CatalogDatabase) {
        let admin = std::env::var("CATALOG_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("audit_test_{}", uuid::Uuid::new_v4().simple());
        let admin_db = CatalogDatabase::connect(&admin)
            .await
            .expect("PostgreSQL for tests");
        let CatalogDatabase::Postgres(pool) = &admin_db else {
            panic!("the admin URL is not PostgreSQL")
        };
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(pool)
            .await
            .expect("create the test database");
        admin_db.close().await;
        let base = admin
            .rsplit_once('/')
            .map(|(base, _)| base)
            .expect("a database URL");
        let db = CatalogDatabase::connect(&format!("{base}/{name}"))
            .await
            .expect("the test database");
        db.migrate().await.expect("migrate the catalog");
        (Postgres { admin, name }, db)
    }

    async fn drop_database(self, db: CatalogDatabase) {
        db.close().await;
        if let Ok(CatalogDatabase::Postgres(pool)) = CatalogDatabase::connect(&self.admin).await.as_ref() {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                .execute(pool)
                .await;
        }
    }
}

/// The catalog's HTTP server, which the test stops and starts again.
struct CatalogServer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl CatalogServer {
    async fn start(catalog: &Catalog, address: SocketAddr) -> CatalogServer {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(address).await {
                Ok(listener) => break listener,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("rebinding the catalog on {address}: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot listen on {address}: {error}"),
            }
        };
        let (stop, stopped) = oneshot::channel();
        let app = catalog.protected_router(WRITE_TOKEN.into());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        CatalogServer { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The mesh: the customers subgraph and the router, auditing into `outbox`
/// delivered to the catalog at `catalog`.
struct Mesh {
    router: SocketAddr,
    customers: Vec<String>,
    relay: Option<JoinHandle<()>>,
}

async fn start_mesh(dir: &Path, outbox: &Path, catalog: SocketAddr) -> Mesh {
    std::fs::create_dir_all(dir).expect("the mesh's directory");
    let store = SqlCustomers::new(
        Database::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.join("customers.db").display()
        ))
        .await
        .expect("customers database"),
    )
    .await
    .expect("customers store");
    let mut ids = Vec::new();
    for n in 0..10 {
        let customer = store
            .create(NewCustomer {
                name: format!("Customer {n}"),
                email: format!("c{n}@example.com"),
            })
            .await
            .expect("a customer");
        ids.push(customer.id.0);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/graphql", listener.local_addr().expect("address"));
    let subgraph = customers::subgraph(store)
        .public_url(url.clone())
        .build()
        .expect("customers subgraph");
    let sdl = subgraph.sdl().to_string();
    tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));
    let supergraph = compose(&[SubgraphInput {
        name: "customers".into(),
        url,
        sdl,
    }])
    .expect("the mesh composes")
    .sdl;
    let yaml = format!(
        "authentication:\n  jwt:\n    jwks: [{{ url: \"file://{jwks}\" }}]\n    issuer: https://issuer.example\n    \
         audience: [dictamesh]\nauthorization:\n  pii: {{ scope: \"pii:read\" }}\n  audit:\n    outbox: \"{outbox}\"\n    \
         deliver_to: \"http://{catalog}/ingest\"\n    token: {WRITE_TOKEN}\n    batch_size: 100\n    interval: 100ms\n",
        jwks = fixture("jwks.json").display(),
        outbox = outbox.display(),
    );
    let config = RouterConfig::from_yaml(&yaml, "router.yaml", |_| None).expect("router config");
    let pipeline =
        server::build_pipeline(&supergraph, &config, server::subgraph_client(&config)).expect("pipeline");
    let relay = dictamesh_router::governance::spawn_audit_relay(&config.authorization.audit).expect("relay");
    let state = Arc::new(RouterState::new(pipeline, server::http_options(&config)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let router = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    Mesh {
        router,
        customers: ids,
        relay,
    }
}

async fn lookup(client: &reqwest::Client, router: SocketAddr, token: &str, id: &str) -> (u16, Value) {
    let response = client
        .post(format!("http://{router}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": LOOKUP, "variables": { "id": id } }))
        .send()
        .await
        .expect("the router answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON response"))
}

/// Waits until the catalog holds `expected` entries of `action` and the outbox is
/// empty; returns how long that took.
async fn wait_for_delivery(
    db: &CatalogDatabase,
    outbox: &AuditOutbox,
    action: AuditAction,
    expected: i64,
) -> Duration {
    let start = Instant::now();
    loop {
        let delivered = count(db, action).await.expect("count audit entries");
        let waiting = outbox.len().await.expect("outbox length");
        if delivered == expected && waiting == 0 {
            return start.elapsed();
        }
        assert!(
            delivered <= expected,
            "{delivered} {action:?} entries, more than {expected}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "after 60 s: {delivered} of {expected} delivered, {waiting} waiting in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A catalog on its own PostgreSQL database, served on a port of its own, and a
/// mesh whose router audits into an outbox (under `dir`) delivered to it.
struct Scene {
    dir: tempfile::TempDir,
    postgres: Postgres,
    db: CatalogDatabase,
    catalog_address: SocketAddr,
    catalog: Catalog,
    server: CatalogServer,
    outbox: AuditOutbox,
    mesh: Mesh,
}

impl Scene {
    async fn start() -> Scene {
        let dir = tempfile::tempdir().expect("temp dir");
        let (postgres, db) = Postgres::create().await;
        let catalog_address = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("address")
        };
        let catalog = Catalog::start(db.clone(), format!("http://{catalog_address}/graphql"))
            .await
            .expect("the catalog");
        let server = CatalogServer::start(&catalog, catalog_address).await;
        let outbox_path = dir.path().join("audit-outbox.db");
        let mesh = start_mesh(dir.path(), &outbox_path, catalog_address).await;
        let outbox = AuditOutbox::open(&outbox_path).expect("outbox");
        Scene {
            dir,
            postgres,
            db,
            catalog_address,
            catalog,
            server,
            outbox,
            mesh,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_pii_reads_reach_the_audit_log_once_each_across_a_catalog_restart() {
    let Scene {
        // Kept until the end: the outbox lives in it.
        dir: _dir,
        postgres,
        db,
        catalog_address,
        catalog,
        server,
        outbox,
        mesh,
    } = Scene::start().await;

    const READS: usize = 1000;
    const WORKERS: usize = 10;
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<JoinHandle<()>> = (0..WORKERS)
        .map(|worker| {
            let done = done.clone();
            let ids = mesh.customers.clone();
            let router = mesh.router;
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let token = token("auditor-1", "pii:read");
                for n in 0..READS / WORKERS {
                    let id = &ids[(worker + n) % ids.len()];
                    let (status, body) = lookup(&client, router, &token, id).await;
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["data"]["customer"]["id"], json!(id), "{body}");
                    assert!(body["data"]["customer"]["email"].is_string(), "{body}");
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // A third of the way in, the catalog goes away; reads go on being answered.
    while done.load(Ordering::SeqCst) < READS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await;
    let stopped_at = done.load(Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("a worker");
    }
    let elapsed = started.elapsed();
    let waiting = outbox.len().await.expect("outbox length");
    let delivered_while_down = count(&db, AuditAction::PiiRead).await.expect("count");
    assert!(
        waiting > 0,
        "records wait in the outbox while the catalog is down"
    );
    assert_eq!(
        delivered_while_down + waiting as i64,
        READS as i64,
        "every read is either delivered or waiting"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let server = CatalogServer::start(&catalog, catalog_address).await;
    let drained = wait_for_delivery(&db, &outbox, AuditAction::PiiRead, READS as i64).await;
    // Another relay round delivers nothing new.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&db, AuditAction::PiiRead).await.expect("count"),
        READS as i64
    );

    let CatalogDatabase::Postgres(pool) = &db else {
        panic!("PostgreSQL")
    };
    let complete: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT id) FROM audit_log WHERE action = 'pii_read' AND principal = 'auditor-1' \
         AND entity_type = 'Customer' AND field = 'email' AND path = 'customer.email' \
         AND operation = 'Lookup' AND entity_id IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .expect("query the audit log");
    assert_eq!(
        complete, READS as i64,
        "every record names who, what and which entity"
    );
    let per_customer: Vec<i64> =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'pii_read' GROUP BY entity_id")
            .fetch_all(pool)
            .await
            .expect("query the audit log");
    assert_eq!(
        per_customer,
        vec![(READS / mesh.customers.len()) as i64; mesh.customers.len()]
    );
    eprintln!(
        "{READS} reads in {elapsed:?} ({:.0}/s); catalog stopped after {stopped_at} reads with \
         {delivered_while_down} delivered, {waiting} waited in the outbox and were delivered {drained:?} \
         after it returned",
        READS as f64 / elapsed.as_secs_f64()
    );

    server.stop().await;
    if let Some(relay) = mesh.relay {
        relay.abort();
    }
    postgres.drop_database(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_access_is_audited_and_an_unwritable_outbox_fails_the_request() {
    let Scene {
        dir,
        postgres,
        db,
        catalog_address,
        catalog: _,
        server,
        outbox,
        mesh,
    } = Scene::start().await;
    let client = reqwest::Client::new();
    let id = &mesh.customers[0];

    // Without the PII scope: the field is removed, and the removal audited.
    let (status, body) = lookup(&client, mesh.router, &token("guest-1", ""), id).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["customer"]["email"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "UNAUTHORIZED_FIELD_OR_TYPE"
    );
    // A forged token: 401, audited.
    let (status, _) = lookup(&client, mesh.router, "not-a-token", id).await;
    assert_eq!(status, 401);
    wait_for_delivery(&db, &outbox, AuditAction::AccessDenied, 2).await;
    assert_eq!(count(&db, AuditAction::PiiRead).await.expect("count"), 0);
    let CatalogDatabase::Postgres(pool) = &db else {
        panic!("PostgreSQL")
    };
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT principal, path, reason FROM audit_log WHERE action = 'access_denied' ORDER BY principal",
    )
    .fetch_all(pool)
    .await
    .expect("query the audit log");
    assert_eq!(
        rows,
        vec![
            (
                Some("guest-1".into()),
                Some("customer.email".into()),
                Some("UNAUTHORIZED_FIELD_OR_TYPE: customer.email".into())
            ),
            (None, None, Some("UNAUTHENTICATED (401)".into())),
        ]
    );
    server.stop().await;
    if let Some(relay) = mesh.relay {
        relay.abort();
    }
    postgres.drop_database(db).await;

    // A router whose outbox cannot be written answers a PII read with an error,
    // not with the data. (The outbox file is replaced by a directory before the
    // router's first connection to it.)
    let blocked = dir.path().join("blocked-outbox.db");
    let mesh = start_mesh(&dir.path().join("second"), &blocked, catalog_address).await;
    // The relay, polling every 100 ms, may create the file again between the two
    // steps: retry until the directory stands.
    for attempt in 0.. {
        let _ = std::fs::remove_file(&blocked);
        match std::fs::create_dir(&blocked) {
            Ok(()) => break,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {}
            Err(error) => panic!("a directory in place of the outbox: {error}"),
        }
    }
    let (status, body) = lookup(
        &client,
        mesh.router,
        &token("auditor-1", "pii:read"),
        &mesh.customers[0],
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "AUDIT_UNAVAILABLE",
        "{body}"
    );
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "no data leaves unaudited: {body}"
    );
}
