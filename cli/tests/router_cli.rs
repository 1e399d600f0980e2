//! `dictamesh router` and `dictamesh plan` through the binary: plans print, and bad
//! inputs give one clear message and a non-zero exit, never a panic.

use std::path::PathBuf;
use std::process::Command;
use std::process::Output;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dictamesh-router-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dictamesh"))
        .args(args)
        .output()
        .expect("run dictamesh")
}

fn assert_fails_with(output: &Output, expected: &[&str]) {
    let message = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "should fail: {message}");
    assert!(!message.contains("panicked"), "panicked: {message}");
    for part in expected {
        assert!(message.contains(part), "expected {part:?} in: {message}");
    }
}

const SUPERGRAPH: &str = include_str!("../../router/tests/fixtures/products_reviews.graphql");

#[test]
fn plan_prints_the_query_plan() {
    let dir = scratch_dir("plan");
    let supergraph = dir.join("supergraph.graphql");
    std::fs::write(&supergraph, SUPERGRAPH).expect("write supergraph");
    let query = dir.join("query.graphql");
    std::fs::write(&query, "{ topProduct { name inStock } }").expect("write query");
    let output = run(&[
        "plan",
        "--supergraph",
        &supergraph.to_string_lossy(),
        &query.to_string_lossy(),
    ]);
    let plan = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        plan.contains("Fetch(service: \"products\")") && plan.contains("Fetch(service: \"inventory\")"),
        "{plan}"
    );

    std::fs::write(&query, "{ topProduct { colour } }").expect("write query");
    let invalid = run(&[
        "plan",
        "--supergraph",
        &supergraph.to_string_lossy(),
        &query.to_string_lossy(),
    ]);
    assert_fails_with(&invalid, &["colour"]);
}

#[test]
fn router_refuses_bad_supergraphs_and_configurations() {
    let dir = scratch_dir("bad");
    let missing = run(&[
        "router",
        "--supergraph",
        &dir.join("missing.graphql").to_string_lossy(),
    ]);
    assert_fails_with(&missing, &["missing.graphql"]);

    let not_a_supergraph = dir.join("plain.graphql");
    std::fs::write(&not_a_supergraph, "type Query { a: Int }").expect("write");
    let plain = run(&["router", "--supergraph", &not_a_supergraph.to_string_lossy()]);
    assert_fails_with(&plain, &["join__Graph"]);

    let supergraph = dir.join("supergraph.graphql");
    std::fs::write(&supergraph, SUPERGRAPH).expect("write supergraph");
    let config = dir.join("router.yaml");
    std::fs::write(&config, "introspection: true\nlimits:\n  max_dept: 3\n").expect("write config");
    let bad_key = run(&[
        "router",
        "--supergraph",
        &supergraph.to_string_lossy(),
        "--config",
        &config.to_string_lossy(),
    ]);
    assert_fails_with(&bad_key, &["router.yaml:3", "max_dept"]);
}

/// A products subgraph that signals each request on `received`, then answers after
/// 500 ms.
fn slow_products(received: std::sync::mpsc::Sender<()>) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let received = received.clone();
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                }
                let _ = received.send(());
                std::thread::sleep(std::time::Duration::from_millis(500));
                let body = r#"{"data":{"products":[{"id":"1"}]}}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    address
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_requests_in_flight_then_exits() {
    let dir = scratch_dir("sigterm");
    let (received, request_arrived) = std::sync::mpsc::channel();
    let products = slow_products(received);
    std::fs::write(dir.join("supergraph.graphql"), SUPERGRAPH).expect("write supergraph");
    std::fs::write(
        dir.join("router.yaml"),
        format!("traffic_shaping:\n  subgraphs:\n    products: {{ url: \"http://{products}/\" }}\n"),
    )
    .expect("write config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut router = Command::new(env!("CARGO_BIN_EXE_dictamesh"))
        .args(["router", "--supergraph"])
        .arg(dir.join("supergraph.graphql"))
        .arg("--config")
        .arg(dir.join("router.yaml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DICTAMESH_LOG", "error")
        .spawn()
        .expect("start the router");
    let client = reqwest::blocking::Client::new();
    let live = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        client
            .get(format!("http://127.0.0.1:{port}/health/live"))
            .send()
            .is_ok()
    });
    assert!(live, "the router starts");
    let query = std::thread::spawn(move || {
        client
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&serde_json::json!({"query": "{ products { id } }"}))
            .send()
            .and_then(|r| r.json::<serde_json::Value>())
    });
    request_arrived
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the query reaches the subgraph");
    let terminated = Command::new("kill")
        .args(["-TERM", &router.id().to_string()])
        .status()
        .expect("kill");
    assert!(terminated.success());
    let answer = query
        .join()
        .expect("the query thread")
        .expect("the query is answered");
    assert_eq!(answer, serde_json::json!({"data": {"products": [{"id": "1"}]}}));
    let status = router.wait().expect("the router exits");
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens any more"
    );
}
