//! The production path of `entityChanged`: `dictamesh subgraph customers`
//! publishes its changes to Kafka (`KAFKA_BROKERS`, tansu in `.ci/run`) and a
//! separate `dictamesh router` with `subscriptions.enabled` streams them to a
//! multipart HTTP subscriber.
#![cfg(feature = "kafka")]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::Parts;

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(args: &[&str], dir: &std::path::Path) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_dictamesh"))
            .args(args)
            .current_dir(dir)
            .env(
                "KAFKA_BROKERS",
                std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
            )
            .env_remove("SCHEMA_REGISTRY_URL")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the dictamesh binary starts"),
    )
}

fn wait_ready(base: &str) {
    for _ in 0..300 {
        let ready =
            reqwest::blocking::get(format!("{base}/health/ready")).is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{base} did not become ready");
}

#[test]
fn a_standalone_router_streams_changes_published_to_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let subgraph_port = free_port();
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("customers.db").display());
    let _customers = spawn(
        &[
            "subgraph",
            "customers",
            "--listen",
            &format!("127.0.0.1:{subgraph_port}"),
            "--database-url",
            &database,
        ],
        dir.path(),
    );
    wait_ready(&format!("http://127.0.0.1:{subgraph_port}"));
    let url = format!("http://127.0.0.1:{subgraph_port}/graphql");
    std::fs::write(
        dir.path().join("supergraph.yaml"),
        format!("subgraphs:\n  customers:\n    routing_url: {url}\n    schema:\n      subgraph_url: {url}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("router.yaml"),
        "subscriptions: { enabled: true }\n",
    )
    .unwrap();
    let router_port = free_port();
    let _router = spawn(
        &[
            "router",
            "--supergraph",
            "supergraph.yaml",
            "--config",
            "router.yaml",
            "--listen",
            &format!("127.0.0.1:{router_port}"),
        ],
        dir.path(),
    );
    let router = format!("http://127.0.0.1:{router_port}");
    wait_ready(&router);

    let mut parts = Parts::open(
        &format!("{router}/graphql"),
        r#"subscription { entityChanged(type: "Customer") { eventType entityId entity { ... on Customer { name email } } } }"#,
        json!({}),
    );
    let created: Value = reqwest::blocking::Client::new()
        .post(format!("{router}/graphql"))
        .json(&json!({ "query": r#"mutation { createCustomer(input: {name: "Edsger", email: "edsger@example.com"}) { id } }"# }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = created["data"]["createCustomer"]["id"]
        .as_str()
        .expect("created")
        .to_string();
    // Other processes may publish customer changes on the same broker: skip theirs.
    let payload = (0..1000)
        .map(|_| parts.next_payload())
        .find(|payload| payload["data"]["entityChanged"]["entityId"] == json!(id))
        .expect("the change of the created customer");
    assert_eq!(
        payload,
        json!({ "data": { "entityChanged": {
            "eventType": "CREATED",
            "entityId": id,
            "entity": { "name": "Edsger", "email": "edsger@example.com" }
        } } })
    );
}
