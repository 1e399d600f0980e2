//! Composition time of a generated 100-subgraph, 5,000-type supergraph.
//!
//! Each subgraph owns 47 entity types chained to its root field, an interface, an enum and an
//! input type (50 types, 5,000 in all), references the entities of the next subgraph through
//! non-resolvable keys, and shares a `@shareable` value type with every other subgraph.

use std::fmt::Write;

use criterion::Criterion;
use criterion::criterion_group;
use criterion::criterion_main;
use dictamesh_router::compose::SubgraphInput;
use dictamesh_router::compose::compose;

const SUBGRAPHS: usize = 100;
const ENTITIES: usize = 47;

fn subgraph_sdl(i: usize) -> String {
    let next = (i + 1) % SUBGRAPHS;
    let mut sdl = String::from(
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [\"@key\", \"@shareable\"])\n",
    );
    let _ = writeln!(
        sdl,
        "type Query {{ root{i}(filter: Filter{i}, kind: Kind{i}): [Entity{i}_0] node{i}: Node{i} }}"
    );
    let _ = writeln!(sdl, "type Money @shareable {{ amount: Int currency: String }}");
    let _ = writeln!(sdl, "interface Node{i} {{ id: ID! }}");
    let _ = writeln!(sdl, "enum Kind{i} {{ SMALL MEDIUM LARGE }}");
    let _ = writeln!(sdl, "input Filter{i} {{ first: Int = 10 after: String }}");
    for j in 0..ENTITIES {
        let _ = writeln!(
            sdl,
            "\"Entity {j} of subgraph {i}.\"\ntype Entity{i}_{j} implements Node{i} @key(fields: \"id\") {{ id: ID! name: String price: Money kind: Kind{i} next: Entity{i}_{} partner: Entity{next}_{j} }}",
            (j + 1) % ENTITIES
        );
        let _ = writeln!(
            sdl,
            "type Entity{next}_{j} @key(fields: \"id\", resolvable: false) {{ id: ID! }}"
        );
    }
    sdl
}

fn generated_subgraphs() -> Vec<SubgraphInput> {
    (0..SUBGRAPHS)
        .map(|i| SubgraphInput {
            name: format!("subgraph{i:03}"),
            url: format!("http://subgraph{i:03}.internal/graphql"),
            sdl: subgraph_sdl(i),
        })
        .collect()
}

fn bench_compose(c: &mut Criterion) {
    let subgraphs = generated_subgraphs();
    let supergraph = compose(&subgraphs).unwrap_or_else(|failure| panic!("{failure}"));
    let types = supergraph.sdl.matches("\ntype ").count()
        + supergraph.sdl.matches("\ninterface ").count()
        + supergraph.sdl.matches("\nenum ").count()
        + supergraph.sdl.matches("\ninput ").count();
    eprintln!("generated supergraph: {SUBGRAPHS} subgraphs, {types} types (spec types included)");
    let mut group = c.benchmark_group("compose");
    group.sample_size(10);
    group.bench_function("100 subgraphs, 5000 types", |b| {
        b.iter(|| compose(&subgraphs).map(|s| s.sdl.len()))
    });
    group.finish();
}

criterion_group!(benches, bench_compose);
criterion_main!(benches);
