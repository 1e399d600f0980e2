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
