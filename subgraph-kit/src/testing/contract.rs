//! The adapter contract suite: what every adapter must do, checked through the
//! kit's own runtime (cache, batching, breaker), with a real source behind it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::adapter::DataProductAdapter;
use crate::cache::EntityCache;
use crate::config::{BreakerConfig, CacheConfig, EntityOptions, ResilienceConfig, RetryPolicy};
use crate::entity::Entity;
use crate::error::AdapterError;
use crate::events::InProcessBus;
use crate::key::EntityKey;
use crate::metrics::SubgraphMetrics;
use crate::model::TypeRegistry;
use crate::runtime::{EntityRuntime, EntitySource, RuntimeContext};
use crate::testing::FaultInjector;

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    /// The adapter behaves as the contract says.
    Passed,
    /// It does not; the text says how.
    Failed(String),
    /// The check could not run in this setup (e.g. no Redis given).
    Skipped(String),
}

/// The results of a contract run.
#[derive(Debug, Clone)]
pub struct ContractReport {
    /// Check name → outcome, in the order run.
    pub checks: Vec<(&'static str, CheckOutcome)>,
}

impl ContractReport {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|(_, o)| matches!(o, CheckOutcome::Failed(_)))
    }

    /// The outcome of one check.
    pub fn outcome(&self, check: &str) -> Option<&CheckOutcome> {
        self.checks
            .iter()
            .find(|(name, _)| *name == check)
            .map(|(_, o)| o)
    }

    /// Panics with the whole report if a check failed (for `#[test]`s).
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "adapter contract violated:\n{self}");
    }
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, outcome) in &self.checks {
            match outcome {
                CheckOutcome::Passed => writeln!(f, "  ok      {name}")?,
                CheckOutcome::Failed(why) => writeln!(f, "  FAILED  {name}: {why}")?,
                CheckOutcome::Skipped(why) => writeln!(f, "  skipped {name}: {why}")?,
            }
        }
        Ok(())
    }
}

/// The contract suite for one adapter.
///
/// ```no_run
/// # async fn run(adapter: dictamesh::testing::MemoryAdapter<MyEntity>) {
/// use dictamesh::{EntityKey, testing::ContractSuite};
/// let report = ContractSuite::new(
///     adapter,
///     EntityKey::single("MyEntity", "id", "known-id"),
///     EntityKey::single("MyEntity", "id", "no-such-id"),
/// )
/// .run()
/// .await;
/// report.assert_passed();
/// # }
/// # #[dictamesh::entity(key = "id")] #[derive(Clone)] pub struct MyEntity { pub id: dictamesh::ID }
/// ```
pub struct ContractSuite<A> {
    adapter: Arc<A>,
    existing: EntityKey,
    missing: EntityKey,
    #[cfg(feature = "redis")]
    redis: Option<crate::cache::RedisStore>,
}

fn check(condition: bool, failure: impl FnOnce() -> String) -> CheckOutcome {
    if condition {
        CheckOutcome::Passed
    } else {
        CheckOutcome::Failed(failure())
    }
}

impl<A: DataProductAdapter> ContractSuite<A> {
    /// A suite for `adapter`, with the key of an entity it has and of one it
    /// does not have.
    pub fn new(adapter: A, existing: EntityKey, missing: EntityKey) -> Self {
        ContractSuite {
            adapter: Arc::new(adapter),
            existing,
            missing,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// Also checks the L2 cache: an entity cached in Redis by one replica is
    /// served to another without a source call.
    #[cfg(feature = "redis")]
    pub fn with_redis(mut self, store: crate::cache::RedisStore) -> Self {
        self.redis = Some(store);
        self
    }

    fn options(cache: bool) -> EntityOptions {
        EntityOptions {
            cache: CacheConfig {
                enabled: cache,
                l1_ttl: Some(Duration::from_secs(60)),
                ..CacheConfig::default()
            },
            resilience: ResilienceConfig {
                timeout: Duration::from_secs(5),
                retry: RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                },
                circuit_breaker: BreakerConfig {
                    window_size: 4,
                    minimum_calls: 4,
                    wait_in_open: Duration::from_millis(300),
                    permitted_calls_in_half_open: 1,
                    ..BreakerConfig::default()
                },
                rate_limit: None,
            },
            max_batch_size: None,
        }
    }

    fn runtime(
        &self,
        options: EntityOptions,
        cache: Option<EntityCache>,
    ) -> Result<(EntityRuntime<FaultInjector<A>>, crate::testing::FaultControl), String> {
        let (adapter, control) = FaultInjector::shared(self.adapter.clone());
        let mut registry = TypeRegistry::new();
        registry.register::<A::Entity>();
        let keys = registry
            .object(A::Entity::TYPE_NAME)
            .map(|o| o.keys.clone())
            .unwrap_or_default();
        let context = RuntimeContext {
            metrics: Arc::new(SubgraphMetrics::new("contract")),
            publisher: Arc::new(InProcessBus::default()),
            public_url: "http://127.0.0.1/graphql".into(),
        };
        let runtime = EntityRuntime::new(adapter, keys, options, cache, context)?;
        Ok((runtime, control))
    }

    /// Runs every check.
    pub async fn run(self) -> ContractReport {
        let mut checks = Vec::new();
        let (plain, plain_control) = match self.runtime(Self::options(false), None) {
            Ok(pair) => pair,
            Err(reason) => {
                checks.push(("setup", CheckOutcome::Failed(reason)));
                return ContractReport { checks };
            }
        };
        let existing = plain.load(vec![self.existing.clone()]).await.pop();
        let entity = match &existing {
            Some(Ok(Some(value))) => Some(value.clone()),
            _ => None,
        };
        checks.push((
            "existing_entity",
            check(entity.is_some(), || {
                format!("loading {} gave {existing:?}", self.existing)
            }),
        ));

        let schema = self.adapter.schema();
        checks.push((
            "schema_compliance",
            match &entity {
                Some(value) => {
                    let json = serde_json::to_value(value.as_ref()).unwrap_or_default();
                    let missing = schema.missing_required_fields(&json);
                    check(
                        missing.is_empty() && schema.entity == A::Entity::TYPE_NAME,
                        || format!("required fields missing or null: {missing:?}"),
                    )
                }
                None => CheckOutcome::Skipped("no entity to check".into()),
            },
        ));

        let direct = self.adapter.get_entity(&self.missing).await.map(|_| "an entity");
        let via_kit = plain.load(vec![self.missing.clone()]).await.pop();
        checks.push((
            "not_found",
            check(
                matches!(direct, Err(AdapterError::NotFound { .. })) && matches!(via_kit, Some(Ok(None))),
                || format!("get_entity gave {direct:?}; the kit's load gave {via_kit:?}"),
            ),
        ));

        let before = plain_control.calls();
        let batch = plain
            .load(vec![
                self.existing.clone(),
                self.missing.clone(),
                self.existing.clone(),
            ])
            .await;
        let calls = plain_control.calls() - before;
        let aligned = matches!(
            batch.as_slice(),
            [Ok(Some(a)), Ok(None), Ok(Some(b))] if a == b && Some(a) == entity.as_ref()
        );
        checks.push((
            "batch_alignment",
            check(aligned && calls == 1, || {
                format!(
                    "expected [entity, none, entity] from 1 source call, got {batch:?} from {calls} calls"
                )
            }),
        ));

        checks.push(("caching", self.check_caching().await));
        checks.push(("l2_caching", self.check_l2().await));
        checks.push(("circuit_breaker", self.check_breaker().await));

        let health = self.adapter.health().await;
        checks.push((
            "health",
            check(health.is_ready(), || format!("the adapter reports {health:?}")),
        ));
        ContractReport { checks }
    }

    async fn check_caching(&self) -> CheckOutcome {
        let options = Self::options(true);
        let cache = EntityCache::new(&options.cache, Duration::from_secs(60));
        let (runtime, control) = match self.runtime(options, Some(cache)) {
            Ok(pair) => pair,
            Err(reason) => return CheckOutcome::Failed(reason),
        };
        let first = runtime.load(vec![self.existing.clone()]).await;
        let second = runtime.load(vec![self.existing.clone()]).await;
        check(first == second && control.calls() == 1, || {
            format!(
                "two loads of {} made {} source calls (expected 1) and gave {first:?} then {second:?}",
                self.existing,
                control.calls()
            )
        })
    }

    #[cfg(feature = "redis")]
    async fn check_l2(&self) -> CheckOutcome {
        let Some(store) = &self.redis else {
            return CheckOutcome::Skipped("no Redis store given (ContractSuite::with_redis)".into());
        };
        let prefix = format!("dictamesh:contract:{}:", uuid::Uuid::new_v4());
        let replica = |runtime_store: crate::cache::RedisStore| {
            let options = Self::options(true);
            let cache =
                EntityCache::new(&options.cache, Duration::from_secs(60)).with_l2(runtime_store, None);
            self.runtime(options, Some(cache))
        };
        let (first, first_control) = match replica(store.clone().with_prefix(&prefix)) {
            Ok(pair) => pair,
            Err(reason) => return CheckOutcome::Failed(reason),
        };
        let (second, second_control) = match replica(store.clone().with_prefix(&prefix)) {
            Ok(pair) => pair,
            Err(reason) => return CheckOutcome::Failed(reason),
        };
        let warmed = first.load(vec![self.existing.clone()]).await;
        let served = second.load(vec![self.existing.clone()]).await;
        check(
            warmed == served && first_control.calls() == 1 && second_control.calls() == 0,
            || {
                format!(
                    "the second replica made {} source calls (expected 0: an L2 hit); got {served:?}",
                    second_control.calls()
                )
            },
        )
    }

    #[cfg(not(feature = "redis"))]
    async fn check_l2(&self) -> CheckOutcome {
        CheckOutcome::Skipped("built without the `redis` feature".into())
    }

    async fn check_breaker(&self) -> CheckOutcome {
        let (runtime, control) = match self.runtime(Self::options(false), None) {
            Ok(pair) => pair,
            Err(reason) => return CheckOutcome::Failed(reason),
        };
        control.fail_with(AdapterError::unavailable("contract", "injected outage"));
        for attempt in 0..4 {
            let result = runtime.load(vec![self.existing.clone()]).await.pop();
            if !matches!(result, Some(Err(AdapterError::SourceUnavailable { .. }))) {
                return CheckOutcome::Failed(format!("failing call {attempt} gave {result:?}"));
            }
        }
        let calls_before = control.calls();
        let rejected = runtime.load(vec![self.existing.clone()]).await.pop();
        if !matches!(rejected, Some(Err(AdapterError::CircuitOpen(_)))) || control.calls() != calls_before {
            return CheckOutcome::Failed(format!(
                "after 4 failures the breaker should reject without a source call; got {rejected:?}"
            ));
        }
        control.heal();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let recovered = runtime.load(vec![self.existing.clone()]).await.pop();
        check(matches!(recovered, Some(Ok(Some(_)))), || {
            format!("after the source recovered and the open wait passed, the load gave {recovered:?}")
        })
    }
}
