//! The seed's `TestFederatedQueryExecution`, end to end through the binary:
//! `dictamesh dev` runs the example mesh and the router; a customer, a product
//! and an invoice are created through the router, and the invoice is queried
//! with its customer and its items' products. Once on embedded defaults
//! (SQLite, in-memory caches), once on PostgreSQL and Redis.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

mod support;

use support::{Dev, graphql, start, supergraph_yaml};

fn federated_query_execution(dev: &Dev) {
    let customer = graphql(
        dev,
        r#"mutation { createCustomer(input: {name: "John Doe", email: "john@example.com"}) { id } }"#,
    )["createCustomer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let product = graphql(
        dev,
        r#"mutation { createProduct(input: {sku: "W-1", name: "Widget", price: "19.99"}) { id } }"#,
    )["createProduct"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let invoice = graphql(
        dev,
        &format!(
            r#"mutation {{ createInvoice(input: {{customerId: "{customer}", items: [{{productId: "{product}", quantity: 2, unitPrice: "19.99"}}]}}) {{ id }} }}"#
        ),
    )["createInvoice"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let result = graphql(
        dev,
        &format!(
            r#"query {{ invoice(id: "{invoice}") {{
                invoiceNumber total {{ amount currency }}
                customer {{ name email }}
                items {{ product {{ name price {{ amount }} }} quantity total {{ amount }} }}
            }} }}"#
        ),
    );
    let invoice = &result["invoice"];
    assert_eq!(invoice["customer"]["name"], "John Doe");
    assert_eq!(invoice["customer"]["email"], "john@example.com");
    assert_eq!(invoice["items"][0]["product"]["name"], "Widget");
    assert_eq!(invoice["items"][0]["product"]["price"]["amount"], "19.99");
    assert_eq!(invoice["items"][0]["quantity"], 2);
    assert_eq!(invoice["total"], json!({"amount": "39.98", "currency": "USD"}));

    let by_customer = graphql(
        dev,
        &format!(r#"{{ customer(id: "{customer}") {{ name invoices {{ total {{ amount }} }} }} }}"#),
    );
    assert_eq!(
        by_customer["customer"],
        json!({"name": "John Doe", "invoices": [{"total": {"amount": "39.98"}}]}),
        "Customer.invoices comes from the invoices subgraph through federation"
    );

    // The change events reach the catalog, which answers in the same query.
    let catalog_query =
        format!(r#"{{ customer(id: "{customer}") {{ name catalog {{ entityType domain containsPii }} }} }}"#);
    let mut entry = Value::Null;
    for _ in 0..100 {
        entry = graphql(dev, &catalog_query)["customer"]["catalog"].clone();
        if !entry.is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        entry,
        json!({"entityType": "Customer", "domain": "customers", "containsPii": true}),
        "the catalog knows the customer from its change event, with the type's governance"
    );
}

#[test]
fn seed_query_on_embedded_defaults() {
    let dev = start(&[]);
    federated_query_execution(&dev);
    audited_in_the_catalog(&dev);
}

/// The PII reads of the seed query reach the in-process catalog's `audit_log`
/// through the router's audit outbox.
fn audited_in_the_catalog(dev: &Dev) {
    let reads = support::audited_pii_reads(dev, "entity_type = 'Customer' AND field IN ('name', 'email')", 3);
    assert!(
        reads >= 3,
        "the seed query's PII reads are audited in the catalog ({reads} found)"
    );
}

/// A fresh PostgreSQL database on the machine's server.
fn postgres_database() -> String {
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!(
        "dictamesh_dev_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    );
    let status = Command::new("psql")
        .args([admin.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "cannot create database {name}");
    let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin);
    format!("{base}/{name}")
}

#[test]
fn seed_query_on_postgres_and_redis() {
    let database = postgres_database();
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let dev = start(&["--database-url", &database, "--redis-url", &redis]);
    federated_query_execution(&dev);
}

fn failing(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_dictamesh"))
        .arg("dev")
        .args(args)
        .output()
        .expect("the dictamesh binary runs");
    assert!(!output.status.success(), "dictamesh dev {args:?} must fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_input_stops_dev_with_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "subgraphs:\n  customers: [oops\n").unwrap();
    let stderr = failing(&[
        "--supergraph",
        broken.to_str().unwrap(),
        "--data-dir",
        data,
        "--no-demo-data",
    ]);
    assert!(stderr.contains("broken.yaml"), "{stderr}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let stderr = failing(&[
        "--listen",
        &port,
        "--data-dir",
        data,
        "--no-demo-data",
        "--supergraph",
        supergraph_yaml(dir.path()).to_str().unwrap(),
    ]);
    assert!(stderr.contains(&format!("cannot listen on {port}")), "{stderr}");

    let stderr = failing(&[
        "--database-url",
        "sqlite:///no/such/dir/customers.db",
        "--data-dir",
        data,
        "--no-demo-data",
    ]);
    assert!(
        stderr.contains("database file `/no/such/dir/customers.db` does not exist"),
        "{stderr}"
    );
}
