//! Plans every query of the federation gateway audit corpus against its reference
//! supergraph (`../shared/federation-audit`, outside the repository): every one must
//! plan without error. Without the corpus the test says so loudly and does nothing.

use std::collections::HashSet;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use dictamesh_router::plan::QueryPlanner;
use dictamesh_router::supergraph::Supergraph;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    query: String,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    errors: Option<bool>,
}

fn audit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/federation-audit")
}

#[test]
fn every_audit_query_plans() {
    let dir = audit_dir();
    if !dir.is_dir() {
        eprintln!("==========================================================================");
        eprintln!("!!! federation audit corpus NOT FOUND at {}", dir.display());
        eprintln!("!!! The planning test over the audit's 199 queries did NOT run.");
        eprintln!("!!! Put the corpus in ../shared/federation-audit next to the workspace.");
        eprintln!("==========================================================================");
        return;
    }
    let mut suites: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("audit dir")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("supergraph.graphql").is_file())
        .collect();
    suites.sort();
    let mut failures = Vec::new();
    let mut planned = 0;
    let mut rejected = 0;
    for suite in &suites {
        let name = suite
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let sdl = std::fs::read_to_string(suite.join("supergraph.graphql")).expect("supergraph");
        if std::env::var("AUDIT_TRACE").is_ok() {
            eprintln!("parsing {name}");
        }
        let supergraph = match Supergraph::parse(&sdl) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                failures.push(format!("{name}: supergraph: {e}"));
                continue;
            }
        };
        let planner = QueryPlanner::new(supergraph, 0);
        let cases: Vec<Case> =
            serde_json::from_str(&std::fs::read_to_string(suite.join("tests.json")).expect("tests.json"))
                .expect("tests.json shape");
        for (index, case) in cases.iter().enumerate() {
            if std::env::var("AUDIT_TRACE").is_ok() {
                eprintln!("planning {name} #{index}");
            }
            match planner.plan_query(&case.query, None, &Default::default(), &HashSet::new()) {
                Ok(_) => planned += 1,
                // Cases that expect only errors may be rejected (by validation, or
                // because no subgraph can resolve them).
                Err(_)
                    if case.expected.errors == Some(true)
                        && case.expected.data.as_ref().is_none_or(|d| d.is_null()) =>
                {
                    rejected += 1
                }
                Err(e) => failures.push(format!("{name} #{index}: {e}")),
            }
        }
    }
    eprintln!(
        "audit planning: {planned} queries planned, {rejected} rejected (their cases expect only errors), {} failed",
        failures.len()
    );
    assert_eq!(
        planned + rejected + failures.len(),
        199,
        "the corpus has 199 cases"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
