//! Benchmarks of the kit's hot paths: `_entities` with 1, 100 and 1000
//! representations (one source call each), and L1 / L2 (Redis) cache hits.
//!
//! `cargo bench -p dictamesh --bench entities`; the L2 bench uses `REDIS_URL`
//! (default redis://127.0.0.1:6379) and is skipped when Redis does not answer.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dictamesh::async_graphql::{Request, Variables};
use dictamesh::cache::{EntityCache, RedisStore};
use dictamesh::config::{CacheConfig, EntityOptions};
use dictamesh::events::InProcessBus;
use dictamesh::metrics::SubgraphMetrics;
use dictamesh::runtime::{EntityRuntime, EntitySource, RuntimeContext};
use dictamesh::testing::{FaultInjector, MemoryAdapter};
use dictamesh::{EntityKey, ID, Subgraph};
use serde_json::json;

/// A product with a few fields of each kind.
#[dictamesh::entity(key = "id", key = "sku")]
#[derive(Clone, Debug)]
pub struct Product {
    pub id: ID,
    pub sku: String,
    pub name: String,
    pub price_cents: i32,
    pub tags: Vec<String>,
    pub dimensions: Dimensions,
}

/// Nested value type.
#[dictamesh::object]
#[derive(Clone, Debug)]
pub struct Dimensions {
    pub width: f64,
    pub height: f64,
}

fn products(count: usize) -> Vec<Product> {
    (0..count)
        .map(|i| Product {
            id: ID(i.to_string()),
            sku: format!("sku-{i}"),
            name: format!("Product {i}"),
            price_cents: i as i32 * 100,
            tags: vec!["a".into(), "b".into()],
            dimensions: Dimensions {
                width: 1.5,
                height: 2.5,
            },
        })
        .collect()
}

fn no_cache() -> EntityOptions {
    EntityOptions {
        cache: CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        },
        ..EntityOptions::default()
    }
}

fn entities_request(count: usize) -> Request {
    let representations: Vec<_> = (0..count)
        .map(|i| json!({"__typename": "Product", "id": i.to_string()}))
        .collect();
    Request::new(
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name priceCents tags dimensions { width } } } }",
    )
    .variables(Variables::from_json(json!({ "r": representations })))
}

fn bench_entities(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (adapter, control) = FaultInjector::new(MemoryAdapter::new(products(1000)));
    let subgraph = Subgraph::builder("bench")
        .entity(adapter)
        .default_options(no_cache())
        .build()
        .unwrap();
    let mut group = c.benchmark_group("_entities (source call, no cache)");
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    for count in [1usize, 100, 1000] {
        let before = control.calls();
        let response = runtime.block_on(subgraph.execute(entities_request(count)));
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        println!(
            "_entities with {count} representations: {} source call(s) per request",
            control.calls() - before
        );
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, &count| {
            b.to_async(&runtime)
                .iter(|| subgraph.execute(entities_request(count)));
        });
    }
    group.finish();
}

fn entity_runtime(cache: EntityCache) -> EntityRuntime<MemoryAdapter<Product>> {
    let mut registry = dictamesh::model::TypeRegistry::new();
    registry.register::<Product>();
    let keys = registry.object("Product").unwrap().keys.clone();
    let context = RuntimeContext {
        metrics: Arc::new(SubgraphMetrics::new("bench")),
        publisher: Arc::new(InProcessBus::default()),
        public_url: "http://127.0.0.1/graphql".into(),
    };
    EntityRuntime::new(
        MemoryAdapter::new(products(10)),
        keys,
        EntityOptions::default(),
        Some(cache),
        context,
    )
    .unwrap()
}

fn bench_cache_hits(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = EntityKey::single("Product", "id", "3");
    let config = CacheConfig {
        l1_ttl: Some(Duration::from_secs(600)),
        ..CacheConfig::default()
    };

    let l1 = entity_runtime(EntityCache::new(&config, Duration::from_secs(600)));
    runtime.block_on(l1.load(vec![key.clone()]));
    c.bench_function("L1 hit (one entity through the runtime)", |b| {
        b.to_async(&runtime).iter(|| l1.load(vec![key.clone()]));
    });

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let Ok(store) = runtime.block_on(RedisStore::connect(&url)) else {
        eprintln!("\n!!! Redis at {url} does not answer: the L2 benchmark is skipped !!!\n");
        return;
    };
    let store = store.with_prefix("dictamesh:bench:");
    let l2_only = CacheConfig {
        l1_capacity: 0,
        ..config
    };
    let l2 = entity_runtime(EntityCache::new(&l2_only, Duration::from_secs(600)).with_l2(store, None));
    runtime.block_on(l2.load(vec![key.clone()]));
    let calls_before = l2.adapter().source_calls();
    c.bench_function("L2 hit (one entity from Redis, L1 off)", |b| {
        b.to_async(&runtime).iter(|| l2.load(vec![key.clone()]));
    });
    println!(
        "L2 bench: {} source call(s) during the measurement (0 means every load was an L2 hit)",
        l2.adapter().source_calls() - calls_before
    );
}

criterion_group!(benches, bench_entities, bench_cache_hits);
criterion_main!(benches);
