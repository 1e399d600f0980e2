//! A running `dictamesh dev` for tests: started on free ports with the
//! embedded defaults, stopped (SIGTERM) when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// A running `dictamesh dev`, stopped (SIGTERM) when dropped.
pub struct Dev {
    child: Child,
    /// The router's base URL (ends with `/`).
    pub router: String,
    data: tempfile::TempDir,
}

impl Dev {
    /// The data directory `dictamesh dev` was given.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data.path().join("data")
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// A `supergraph.yaml` naming the three example subgraphs (dev fills in their URLs).
pub fn supergraph_yaml(dir: &std::path::Path) -> std::path::PathBuf {
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

/// Starts `dictamesh dev` with `extra` arguments.
pub fn start(extra: &[&str]) -> Dev {
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
    Dev { child, router, data }
}

/// Runs a GraphQL operation through the router; asserts it has no errors.
/// How many `pii_read` records matching `condition` (SQL over `audit_log`) the
/// dev catalog holds, waiting up to 10 s for at least `expected`.
pub fn audited_pii_reads(dev: &Dev, condition: &str, expected: i64) -> i64 {
    let catalog = format!("sqlite://{}", dev.data_dir().join("catalog.db").display());
    let query = format!("SELECT COUNT(*) FROM audit_log WHERE action = 'pii_read' AND {condition}");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&catalog)
            .await
            .expect("the dev catalog");
        let mut reads = 0;
        for _ in 0..100 {
            reads = sqlx::query_scalar::<_, i64>(&query)
                .fetch_one(&pool)
                .await
                .expect("count");
            if reads >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        reads
    })
}

pub fn graphql(dev: &Dev, query: &str) -> Value {
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

/// Reads multipart parts from a streaming response until one carries a payload.
pub struct Parts {
    body: reqwest::blocking::Response,
    buffer: String,
}

impl Parts {
    /// Sends `query` to `url` asking for multipart subscription responses.
    pub fn open(url: &str, query: &str, variables: Value) -> Parts {
        let body = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
            .post(url)
            .header(
                "accept",
                "multipart/mixed;subscriptionSpec=\"1.0\", application/json",
            )
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .expect("the router answers");
        assert_eq!(body.status(), 200);
        let content_type = body.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("multipart/mixed"), "{content_type}");
        Parts {
            body,
            buffer: String::new(),
        }
    }

    /// The next part with a payload (heartbeats skipped).
    pub fn next_payload(&mut self) -> Value {
        let buffered = self.buffer.clone();
        self.next_payload_or_end()
            .unwrap_or_else(|| panic!("the stream ended early: {buffered}"))
    }

    /// The next part with a payload, or `None` once the stream ends.
    pub fn next_payload_or_end(&mut self) -> Option<Value> {
        loop {
            if let Some(payload) = self.take_part() {
                return Some(payload);
            }
            let mut chunk = [0u8; 4096];
            match self.body.read(&mut chunk) {
                Ok(read) if read > 0 => self.buffer.push_str(&String::from_utf8_lossy(&chunk[..read])),
                _ => return None,
            }
        }
    }

    fn take_part(&mut self) -> Option<Value> {
        loop {
            let start = self.buffer.find("\r\n\r\n")?;
            let rest = &self.buffer[start + 4..];
            let end = rest.find("\r\n--graphql")?;
            let part: Value = serde_json::from_str(&rest[..end]).expect("a JSON part");
            self.buffer = rest[end..].to_string();
            if let Some(payload) = part.get("payload") {
                return Some(payload.clone());
            }
        }
    }
}
