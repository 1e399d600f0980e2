//! The seed's `TestFederatedQueryExecution`, end to end through the binary:
//! `dictamesh dev` runs the example mesh and the router; a customer, a product
//! and an invoice are created through the router, and the invoice is queried
//! with its customer and its items' products. Once on embedded defaults
//! (SQLite, in-memory caches), once on PostgreSQL and Redis.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// A running `dictamesh dev`, stopped (SIGTERM) when dropped.
struct Dev {
    child: Child,
    router: String,
    _data: tempfile::TempDir,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn supergraph_yaml(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("supergraph.yaml");
    let subgraph = |name: &str| {
        format!(
            "  {name}:\n    routing_url: http://127.0.0.1:0/graphql\n    schema:\n      subgraph_url: http://127.0.0.1:0/graphql\n"
        )
    };
    let yaml = format!(
        "federation_version: =2.3.2\nsubgraphs:\n{}{}{}",
        subgraph("customers"),
        subgraph("products"),
        subgraph("invoices")
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

fn start(extra: &[&str]) -> Dev {
    let data = tempfile::tempdir().unwrap();
    let yaml = supergraph_yaml(data.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_dictamesh"))
        .args(["dev", "--listen", "127.0.0.1:0", "--no-demo-data", "--supergraph"])
        .arg(&yaml)
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the dictamesh binary starts");
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.trim().strip_prefix("router (GraphiQL)") {
                let _ = sender.send(url.trim().to_string());
            }
        }
    });
    let router = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("dictamesh dev prints the router's URL");
    Dev {
        child,
        router,
        _data: data,
    }
}

fn graphql(dev: &Dev, query: &str) -> Value {
    let response: Value = reqwest::blocking::Client::new()
        .post(format!("{}graphql", dev.router))
        .json(&json!({ "query": query }))
        .send()
        .expect("the router answers")
        .json()
        .expect("a JSON response");
    assert_eq!(response.get("errors"), None, "{query}\n{response}");
    response["data"].clone()
}

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
