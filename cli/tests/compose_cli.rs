//! `dictamesh compose` through the binary: a good config, and bad inputs that must each give
//! one clear message and a non-zero exit, never a panic.

use std::path::PathBuf;
use std::process::Command;
use std::process::Output;

/// A fresh directory under the system temp dir.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dictamesh-compose-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dictamesh"))
        .args(args)
        .env_remove("DICTAMESH_UNSET_FOR_TEST")
        .output()
        .expect("run dictamesh")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn assert_fails_with(output: &Output, expected: &[&str]) {
    let message = stderr(output);
    assert!(!output.status.success(), "should fail: {message}");
    assert!(!message.contains("panicked"), "panicked: {message}");
    for part in expected {
        assert!(message.contains(part), "expected {part:?} in: {message}");
    }
}

const USERS: &str = r#"
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { me: User }
type User @key(fields: "id") { id: ID! name: String }
"#;

const REVIEWS: &str = r#"
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type User @key(fields: "id") { id: ID! reviews: [String] }
"#;

fn write_config(dir: &std::path::Path, yaml: &str) -> String {
    let path = dir.join("supergraph.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path.to_string_lossy().to_string()
}

#[test]
fn composes_files_and_inline_sdl_to_the_output_file() {
    let dir = scratch_dir("ok");
    std::fs::write(dir.join("users.graphql"), USERS).expect("write users");
    let inline = REVIEWS.replace('\n', "\n        ");
    let config = write_config(
        &dir,
        &format!(
            "federation_version: =2.3.2\nsubgraphs:\n  users:\n    routing_url: http://localhost:${{env.DICTAMESH_UNSET_FOR_TEST:-4001}}/graphql\n    schema:\n      file: ./users.graphql\n  reviews:\n    routing_url: http://localhost:4002/graphql\n    schema:\n      sdl: |\n        {inline}\n"
        ),
    );
    let output_file = dir.join("supergraph.graphql");
    let output = run(&[
        "compose",
        "--config",
        &config,
        "--output",
        &output_file.to_string_lossy(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let sdl = std::fs::read_to_string(output_file).expect("output written");
    assert!(
        sdl.contains(r#"USERS @join__graph(name: "users", url: "http://localhost:4001/graphql")"#),
        "{sdl}"
    );
    assert!(
        sdl.contains("reviews: [String] @join__field(graph: REVIEWS)"),
        "{sdl}"
    );
}

#[test]
fn missing_config_file() {
    let dir = scratch_dir("missing");
    let config = dir.join("nope.yaml");
    let output = run(&["compose", "--config", &config.to_string_lossy()]);
    assert_fails_with(&output, &["cannot read supergraph config", "nope.yaml"]);
}

#[test]
fn yaml_error_names_the_line() {
    let dir = scratch_dir("yaml");
    let config = write_config(&dir, "subgraphs:\n  a:\n    routing_url: x\n   schema: [\n");
    let output = run(&["compose", "--config", &config]);
    assert_fails_with(&output, &["invalid supergraph config", "line 4"]);
}

#[test]
fn unset_environment_variable() {
    let dir = scratch_dir("env");
    let config = write_config(
        &dir,
        "subgraphs:\n  a:\n    routing_url: ${env.DICTAMESH_UNSET_FOR_TEST}\n    schema:\n      file: a.graphql\n",
    );
    let output = run(&["compose", "--config", &config]);
    assert_fails_with(&output, &["DICTAMESH_UNSET_FOR_TEST", "line 3", "not set"]);
}

#[test]
fn unreadable_schema_file() {
    let dir = scratch_dir("schema-file");
    let config = write_config(
        &dir,
        "subgraphs:\n  a:\n    routing_url: http://a\n    schema:\n      file: missing.graphql\n",
    );
    let output = run(&["compose", "--config", &config]);
    assert_fails_with(
        &output,
        &["subgraph \"a\"", "cannot read schema file", "missing.graphql"],
    );
}

#[test]
fn unreachable_subgraph_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let dir = scratch_dir("unreachable");
    let config = write_config(
        &dir,
        &format!("subgraphs:\n  a:\n    schema:\n      subgraph_url: http://127.0.0.1:{port}/graphql\n"),
    );
    let output = run(&["compose", "--config", &config]);
    assert_fails_with(
        &output,
        &["subgraph \"a\"", "cannot fetch its schema", &port.to_string()],
    );
}

#[test]
fn invalid_sdl_names_line_and_column() {
    let dir = scratch_dir("sdl");
    std::fs::write(dir.join("a.graphql"), "type Query {\n  a: Int\n  b: Strin\n}\n").expect("write");
    let config = write_config(
        &dir,
        "subgraphs:\n  a:\n    routing_url: http://a\n    schema:\n      file: a.graphql\n",
    );
    let output = run(&["compose", "--config", &config]);
    assert_fails_with(&output, &["INVALID_GRAPHQL", "[a]", "line 3, column 6", "Strin"]);
}

#[test]
fn composition_errors_and_hints() {
    let dir = scratch_dir("errors");
    std::fs::write(
        dir.join("a.graphql"),
        "type Query { a: Int }\ntype T { x: Int }\nextend type Query { t: T }\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("b.graphql"),
        "type Query { b: Int }\ntype T { x: String }\n",
    )
    .expect("write");
    let config = write_config(
        &dir,
        "subgraphs:\n  a:\n    routing_url: http://a\n    schema:\n      file: a.graphql\n  b:\n    routing_url: http://b\n    schema:\n      file: b.graphql\n",
    );
    let output = run(&["compose", "--config", &config]);
    assert_fails_with(&output, &["FIELD_TYPE_MISMATCH", "T.x", "\"a\"", "\"b\""]);
}
