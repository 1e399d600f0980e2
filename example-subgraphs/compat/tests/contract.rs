//! The adapter contract suite on the compat subgraph's adapters, in memory and
//! with Redis as the shared L2 cache (the machine's Redis, `REDIS_URL`).

use dictamesh::EntityKey;
use dictamesh::cache::RedisStore;
use dictamesh::testing::{CheckOutcome, ContractSuite, MemoryAdapter};
use dictamesh_compat_products::{UserAdapter, products};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn product_adapter_passes_the_contract() {
    let report = ContractSuite::new(
        MemoryAdapter::new(products()),
        EntityKey::single("Product", "id", "apollo-federation"),
        EntityKey::single("Product", "id", "no-such-product"),
    )
    .run()
    .await;
    report.assert_passed();
    assert_eq!(report.outcome("circuit_breaker"), Some(&CheckOutcome::Passed));
}

#[tokio::test]
async fn user_adapter_passes_the_contract() {
    ContractSuite::new(
        UserAdapter,
        EntityKey::single("User", "email", "support@apollographql.com"),
        EntityKey::single("User", "email", "nobody@example.com"),
    )
    .run()
    .await
    .assert_passed();
}

#[tokio::test]
async fn redis_backed_run_serves_l2_hits_without_source_calls() {
    let store = RedisStore::connect(&redis_url())
        .await
        .expect("the test machine's Redis (REDIS_URL) answers");
    let report = ContractSuite::new(
        MemoryAdapter::new(products()),
        EntityKey::single("Product", "id", "apollo-studio"),
        EntityKey::single("Product", "id", "no-such-product"),
    )
    .with_redis(store)
    .run()
    .await;
    report.assert_passed();
    assert_eq!(
        report.outcome("l2_caching"),
        Some(&CheckOutcome::Passed),
        "{report}"
    );
}
