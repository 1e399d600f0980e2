//! Fuzzes the request stage and the planner: any bytes, as an operation, are parsed and
//! validated against a supergraph's API schema, normalized and planned (whole, and
//! for incremental delivery when it uses `@defer`). Nothing may panic; errors are
//! fine.
//!
//! The first byte picks the supergraph: the built-in one below, or one of the
//! `supergraph.graphql` files under `$FUZZ_SUPERGRAPHS` (the federation audit corpus,
//! by default `../../../shared/federation-audit`). `seed.sh` fills the corpus with the
//! audit's queries.
#![no_main]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::OnceLock;

use dictamesh_router::plan::QueryPlanner;
use dictamesh_router::supergraph::Supergraph;
use libfuzzer_sys::fuzz_target;

const BUILT_IN: &str = include_str!("../../tests/fixtures/products_reviews.graphql");

fn planners() -> &'static Vec<QueryPlanner> {
    static PLANNERS: OnceLock<Vec<QueryPlanner>> = OnceLock::new();
    PLANNERS.get_or_init(|| {
        let mut sources = vec![BUILT_IN.to_string()];
        let dir = std::env::var("FUZZ_SUPERGRAPHS")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/federation-audit").to_string());
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut paths: Vec<_> = entries.filter_map(|e| Some(e.ok()?.path().join("supergraph.graphql"))).collect();
            paths.sort();
            sources.extend(paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
        }
        sources
            .iter()
            .filter_map(|sdl| Supergraph::parse(sdl).ok())
            .map(|supergraph| QueryPlanner::new(Arc::new(supergraph), 0))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let planners = planners();
    let planner = &planners[usize::from(choice) % planners.len()];
    let Ok(query) = std::str::from_utf8(rest) else {
        return;
    };
    let _ = planner.plan_query(query, None, &Default::default(), &HashSet::new());
    if query.contains("@defer") {
        let _ = planner.plan_incremental_query(query, None, &Default::default(), &HashSet::new());
    }
});
