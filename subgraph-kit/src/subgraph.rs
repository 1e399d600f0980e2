//! [`Subgraph`]: entities and adapters mounted into one Federation v2 subgraph.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dynamic::Schema;

use crate::GraphQLType;
use crate::adapter::{DataProductAdapter, HealthStatus, WritableAdapter};
use crate::cache::EntityCache;
use crate::config::EntityOptions;
use crate::entity::Entity;
use crate::error::BuildError;
use crate::events::{ChangePublisher, InProcessBus};
use crate::metrics::SubgraphMetrics;
use crate::model::{KeyDef, ObjectDef, TypeDef, TypeRegistry};
use crate::resolved::ResolvedField;
use crate::runtime::{EntityRuntime, EntitySource, EntityWriter, RuntimeContext};
use crate::schema::{self, CustomFields, EntityNulls, MountedEntity, MountedWriter, ReferenceBatches};
use crate::sdl::ComposedDirective;

type MountFn = Box<dyn FnOnce(&MountContext<'_>) -> Result<MountedEntity, BuildError> + Send>;

struct MountContext<'a> {
    registry: &'a TypeRegistry,
    options: &'a EntityOptions,
    overrides: &'a HashMap<String, EntityOptions>,
    runtime: RuntimeContext,
    #[cfg(feature = "redis")]
    redis: Option<&'a crate::cache::RedisStore>,
}

impl MountContext<'_> {
    fn options_for(&self, type_name: &str) -> EntityOptions {
        self.overrides.get(type_name).unwrap_or(self.options).clone()
    }

    fn keys_of(&self, type_name: &str) -> Vec<KeyDef> {
        self.registry
            .object(type_name)
            .map(|o| o.keys.clone())
            .unwrap_or_default()
    }

    fn runtime<A: DataProductAdapter>(&self, adapter: A) -> Result<EntityRuntime<A>, BuildError> {
        let name = A::Entity::TYPE_NAME;
        let options = self.options_for(name);
        let cache = options.cache.enabled.then(|| {
            let cache = EntityCache::new(&options.cache, adapter.sla().freshness);
            #[cfg(feature = "redis")]
            let cache = match self.redis {
                Some(store) => cache.with_l2(store.clone(), options.cache.l2_ttl),
                None => cache,
            };
            cache
        });
        EntityRuntime::new(adapter, self.keys_of(name), options, cache, self.runtime.clone()).map_err(
            |reason| BuildError::Config {
                entity: name.into(),
                reason,
            },
        )
    }
}

/// Assembles a subgraph; see [`Subgraph::builder`].
pub struct SubgraphBuilder {
    name: String,
    registry: TypeRegistry,
    mounts: Vec<MountFn>,
    composed: Vec<ComposedDirective>,
    composed_errors: Vec<BuildError>,
    options: EntityOptions,
    overrides: HashMap<String, EntityOptions>,
    publisher: Arc<dyn ChangePublisher>,
    public_url: String,
    custom: CustomFields,
    router_signature: Option<crate::signature::RouterSignature>,
    #[cfg(feature = "redis")]
    redis: Option<crate::cache::RedisStore>,
}

impl SubgraphBuilder {
    /// Adds a custom `Query` field served by its resolver.
    pub fn query(mut self, field: ResolvedField) -> Self {
        self.register_types_of(&field);
        self.custom.queries.push(field);
        self
    }

    /// Adds a custom `Mutation` field served by its resolver.
    pub fn mutation(mut self, field: ResolvedField) -> Self {
        self.register_types_of(&field);
        self.custom.mutations.push(field);
        self
    }

    /// Adds a resolved field (one with arguments, or computed from the parent)
    /// to the object or entity type `type_name`; its resolver sees the parent
    /// object in [`crate::FieldCall::parent`].
    pub fn field(mut self, type_name: impl Into<String>, field: ResolvedField) -> Self {
        self.register_types_of(&field);
        self.custom.fields.push((type_name.into(), field));
        self
    }

    /// Declares an entity type known only at run time, which this subgraph
    /// contributes fields to without an adapter: `_entities` answers each
    /// representation with the representation itself, and the type's other
    /// fields are resolved fields added with [`Self::field`]. `def` carries the
    /// type's `@key`s and key fields, e.g. `type Customer @key(fields: "id") { id: ID! }`.
    pub fn entity_stub(mut self, def: ObjectDef) -> Self {
        self.custom.stubs.push(def.name.clone());
        self.registry.insert(TypeDef::Object(def));
        self
    }

    fn register_types_of(&mut self, field: &ResolvedField) {
        for register in &field.registrations {
            register(&mut self.registry);
        }
    }

    /// Mounts a read-only entity served by `adapter`.
    pub fn entity<A: DataProductAdapter>(mut self, adapter: A) -> Self {
        self.registry.register::<A::Entity>();
        self.mounts.push(Box::new(move |cx| {
            Ok(MountedEntity {
                source: Arc::new(cx.runtime(adapter)?),
                writer: None,
            })
        }));
        self
    }

    /// Mounts an entity whose adapter also writes: adds `create<T>`,
    /// `update<T>` and `delete<T>` mutations that emit change events.
    pub fn writable<A: WritableAdapter>(mut self, adapter: A) -> Self {
        self.registry.register::<A::Entity>();
        self.registry.register::<A::Draft>();
        self.registry.register::<A::Patch>();
        self.mounts.push(Box::new(move |cx| {
            let runtime = Arc::new(cx.runtime(adapter)?);
            let writer: Arc<dyn EntityWriter> = runtime.clone();
            Ok(MountedEntity {
                source: runtime,
                writer: Some(MountedWriter {
                    writer,
                    draft: <A::Draft as GraphQLType>::type_ref(),
                    patch: <A::Patch as GraphQLType>::type_ref(),
                }),
            })
        }));
        self
    }

    /// Registers a type no mounted entity reaches (e.g. an input used by a
    /// custom root field).
    pub fn register<T: GraphQLType>(mut self) -> Self {
        self.registry.register::<T>();
        self
    }

    /// Declares a custom directive that composition keeps in the supergraph,
    /// e.g. `compose_directive("https://myspecs.dev/myCustomDirective/v1.0",
    /// "directive @custom on OBJECT")`. Types and fields apply it with
    /// `directive = "@custom"`.
    pub fn compose_directive(mut self, spec_url: &str, definition: &str) -> Self {
        match ComposedDirective::new(spec_url, definition) {
            Ok(directive) => self.composed.push(directive),
            Err(error) => self.composed_errors.push(error),
        }
        self
    }

    /// Caching and resilience for every entity without its own options.
    pub fn default_options(mut self, options: EntityOptions) -> Self {
        self.options = options;
        self
    }

    /// Caching and resilience for one entity type.
    pub fn options_for<T: Entity>(mut self, options: EntityOptions) -> Self {
        self.overrides.insert(T::TYPE_NAME.to_string(), options);
        self
    }

    /// Where change events go (an in-process bus by default).
    pub fn publisher(mut self, publisher: Arc<dyn ChangePublisher>) -> Self {
        self.publisher = publisher;
        self
    }

    /// The subgraph's public GraphQL URL, put into change events.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = url.into();
        self
    }

    /// Refuses (401) requests that do not carry the router's signature made
    /// with `signature`'s secret (see [`crate::signature`]): callers cannot
    /// bypass the router's authentication, authorization and audit.
    pub fn require_router_signature(mut self, signature: crate::signature::RouterSignature) -> Self {
        self.router_signature = Some(signature);
        self
    }

    /// A shared Redis L2 cache for every entity.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, store: crate::cache::RedisStore) -> Self {
        self.redis = Some(store);
        self
    }

    /// Builds the subgraph; the error names the type, field or setting at fault.
    pub fn build(self) -> Result<Subgraph, BuildError> {
        if let Some(error) = self.composed_errors.into_iter().next() {
            return Err(error);
        }
        let metrics = Arc::new(SubgraphMetrics::new(&self.name));
        let cx = MountContext {
            registry: &self.registry,
            options: &self.options,
            overrides: &self.overrides,
            runtime: RuntimeContext {
                metrics: metrics.clone(),
                publisher: self.publisher,
                public_url: self.public_url.into(),
            },
            #[cfg(feature = "redis")]
            redis: self.redis.as_ref(),
        };
        let mounted = self
            .mounts
            .into_iter()
            .map(|mount| mount(&cx))
            .collect::<Result<Vec<_>, _>>()?;
        let sources: Vec<Arc<dyn EntitySource>> = mounted.iter().map(|m| m.source.clone()).collect();
        let writers: Vec<Arc<dyn EntityWriter>> = mounted
            .iter()
            .filter_map(|m| m.writer.as_ref().map(|w| w.writer.clone()))
            .collect();
        let traced = schema::build(
            self.registry.clone(),
            &mounted,
            &self.composed,
            self.custom.clone(),
            true,
        )?;
        let built = schema::build(self.registry, &mounted, &self.composed, self.custom, false)?;
        Ok(Subgraph {
            inner: Arc::new(SubgraphInner {
                name: self.name,
                schema: built.schema,
                traced_schema: traced.schema,
                sdl: built.sdl,
                sources,
                writers,
                metrics,
                router_signature: self.router_signature,
            }),
        })
    }
}

struct SubgraphInner {
    name: String,
    schema: Schema,
    traced_schema: Schema,
    sdl: String,
    sources: Vec<Arc<dyn EntitySource>>,
    writers: Vec<Arc<dyn EntityWriter>>,
    metrics: Arc<SubgraphMetrics>,
    router_signature: Option<crate::signature::RouterSignature>,
}

/// A built subgraph: executes GraphQL requests, answers health probes and
/// exposes metrics. Cheap to clone.
#[derive(Clone)]
pub struct Subgraph {
    inner: Arc<SubgraphInner>,
}

/// The readiness of a subgraph: every source's health.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Readiness {
    /// Whether the subgraph should receive traffic.
    pub ready: bool,
    /// Health per entity type.
    pub entities: HashMap<String, HealthStatus>,
}

impl Subgraph {
    /// The router signature requests must carry, when the subgraph requires one.
    pub fn router_signature(&self) -> Option<&crate::signature::RouterSignature> {
        self.inner.router_signature.as_ref()
    }

    /// Starts assembling a subgraph named `name` (a metric label and the
    /// default event source).
    pub fn builder(name: impl Into<String>) -> SubgraphBuilder {
        SubgraphBuilder {
            name: name.into(),
            registry: TypeRegistry::new(),
            mounts: Vec::new(),
            composed: Vec::new(),
            composed_errors: Vec::new(),
            options: EntityOptions::default(),
            overrides: HashMap::new(),
            publisher: Arc::new(InProcessBus::default()),
            public_url: "http://127.0.0.1:4001/graphql".into(),
            custom: CustomFields::default(),
            router_signature: None,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// The subgraph's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The Federation SDL (`_service { sdl }`).
    pub fn sdl(&self) -> &str {
        &self.inner.sdl
    }

    /// Executes one GraphQL request.
    pub async fn execute(&self, request: impl Into<async_graphql::Request>) -> async_graphql::Response {
        self.run(&self.inner.schema, request.into()).await
    }

    /// Executes one GraphQL request and adds its federated trace as
    /// `extensions.ftv1` (what a router asks for with
    /// `apollo-federation-include-trace: ftv1`).
    pub async fn execute_traced(
        &self,
        request: impl Into<async_graphql::Request>,
    ) -> async_graphql::Response {
        self.run(&self.inner.traced_schema, request.into()).await
    }

    async fn run(&self, schema: &Schema, request: async_graphql::Request) -> async_graphql::Response {
        let nulls = Arc::new(EntityNulls::default());
        let request = request
            .data(nulls.clone())
            .data(Arc::new(ReferenceBatches::default()));
        let mut response = schema.execute(request).await;
        nulls.apply(&mut response.data);
        response
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<SubgraphMetrics> {
        &self.inner.metrics
    }

    /// Prometheus text with current breaker states and adapter gauges.
    pub fn render_metrics(&self) -> String {
        for source in &self.inner.sources {
            source.export_adapter_metrics();
        }
        self.inner.metrics.render()
    }

    /// Asks every source for its health, each within `timeout`.
    pub async fn readiness(&self, timeout: Duration) -> Readiness {
        let checks = self.inner.sources.iter().map(|source| async move {
            let health = tokio::time::timeout(timeout, source.health())
                .await
                .unwrap_or_else(|_| {
                    HealthStatus::Unhealthy(format!("health check timed out after {timeout:?}"))
                });
            (source.type_name().to_string(), health)
        });
        let entities: HashMap<String, HealthStatus> =
            futures::future::join_all(checks).await.into_iter().collect();
        Readiness {
            ready: entities.values().all(HealthStatus::is_ready),
            entities,
        }
    }

    /// The runtimes of the mounted entities.
    pub fn sources(&self) -> &[Arc<dyn EntitySource>] {
        &self.inner.sources
    }

    /// The runtime of one entity type.
    pub fn source(&self, type_name: &str) -> Option<&Arc<dyn EntitySource>> {
        self.inner.sources.iter().find(|s| s.type_name() == type_name)
    }

    /// Announces every entity type on `system.metadata.entity_registered`
    /// (schema, SLA, lineage, PII and classification), for the catalog.
    pub async fn publish_registrations(
        &self,
        publisher: &dyn crate::events::bus::RawPublisher,
    ) -> Result<(), crate::events::bus::BusError> {
        use crate::events::registration::ENTITY_REGISTERED_TOPIC;
        for source in &self.inner.sources {
            let event = source.registration();
            let payload = serde_json::to_vec(&event).map_err(|e| {
                crate::events::bus::BusError(format!("registration of {}: {e}", source.type_name()))
            })?;
            let headers = [
                ("content-type".to_string(), b"application/json".to_vec()),
                ("event_id".to_string(), event.event_id.clone().into_bytes()),
            ];
            publisher
                .send(
                    ENTITY_REGISTERED_TOPIC,
                    Some(source.type_name().as_bytes()),
                    &payload,
                    &headers,
                )
                .await?;
        }
        Ok(())
    }

    /// Follows every adapter's change stream and relays every outbox in
    /// background tasks (events and cache invalidation). [`crate::serve`] does
    /// this for you.
    pub fn spawn_change_followers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let streams = self
            .inner
            .sources
            .iter()
            .map(|source| tokio::spawn(source.clone().follow_changes()));
        let relays = self
            .inner
            .writers
            .iter()
            .map(|writer| tokio::spawn(writer.clone().relay_outbox()));
        streams.chain(relays).collect()
    }
}
