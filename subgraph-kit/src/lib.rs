//! # DictaMesh subgraph kit
//!
//! Turn a data source into an Apollo Federation v2 subgraph: describe the
//! entity with `#[dictamesh::entity]`, implement [`DataProductAdapter`] for the
//! source, mount it in a [`Subgraph`]. The kit adds what every data product
//! needs: `_entities` with one batched source call per type and request, an L1
//! memory and optional L2 Redis cache, a timeout, retries with backoff and
//! jitter, a rate limit and a circuit breaker around every source call,
//! federated tracing (`ftv1`), W3C trace context, Prometheus metrics, health
//! probes and change events.
//!
//! ```
//! use dictamesh::{async_trait, AdapterError, DataProductAdapter, EntityKey, Subgraph, ID};
//!
//! /// A customer of the shop.
//! #[dictamesh::entity(key = "id", domain = "customers", source = "crm", lookup = "customer")]
//! #[derive(Clone, Debug)]
//! pub struct Customer {
//!     pub id: ID,
//!     #[dictamesh(pii)]
//!     pub name: String,
//! }
//!
//! struct Crm;
//!
//! #[async_trait]
//! impl DataProductAdapter for Crm {
//!     type Entity = Customer;
//!
//!     async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Customer>>, AdapterError> {
//!         Ok(keys
//!             .iter()
//!             .map(|key| key.id().map(|id| Customer { id: ID(id), name: "Ada".into() }))
//!             .collect())
//!     }
//! }
//!
//! # tokio_test_block(async {
//! let subgraph = Subgraph::builder("customers").entity(Crm).build().unwrap();
//! assert!(subgraph.sdl().contains(r#"type Customer @key(fields: "id")"#));
//! let response = subgraph.execute(r#"{ customer(id: "7") { name } }"#).await;
//! assert_eq!(response.data.to_string(), r#"{customer: {name: "Ada"}}"#);
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Runtime::new().unwrap().block_on(f)
//! # }
//! ```

mod adapter;
pub mod cache;
pub mod config;
mod entity;
mod error;
pub mod events;
pub mod ftv1;
mod graphql_type;
pub mod key;
pub mod metrics;
pub mod model;
#[cfg(feature = "outbox")]
pub mod outbox;
pub mod resilience;
mod resolved;
pub mod runtime;
mod schema;
pub mod sdl;
pub mod server;
pub mod signature;
mod subgraph;
pub mod testing;

pub use adapter::{
    AdapterMetrics, DataProductAdapter, DataSchema, EntityQuery, HealthStatus, LatencySla, Lineage,
    LineageEdge, SchemaField, Sla, WritableAdapter,
};
pub use async_graphql;
pub use async_trait::async_trait;
pub use config::EntityOptions;
pub use dictamesh_macros::{entity, enumeration, input, object};
pub use entity::{Entity, EntityMeta, InputType};
pub use error::{AdapterError, BuildError};
pub use graphql_type::{GraphQLType, ID, Reference};
pub use key::EntityKey;
pub use resolved::{FieldCall, ResolvedField};
pub use server::{router, serve};
pub use subgraph::{Readiness, Subgraph, SubgraphBuilder};

/// Items the macros' generated code uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;

    use crate::key::FieldSet;
    use crate::model::{AppliedDirective, KeyDef};

    /// A `@key` from a field set the macro already checked.
    pub fn key_def(fields: &str, resolvable: bool) -> KeyDef {
        KeyDef {
            fields: FieldSet::parse(fields).expect("#[dictamesh::entity] checked the key's syntax"),
            resolvable,
        }
    }

    /// A custom directive from its text, e.g. `@custom` or `@audit(level: 2)`.
    pub fn custom_directive(text: &str) -> AppliedDirective {
        use async_graphql::parser::types::TypeSystemDefinition;
        let document = async_graphql::parser::parse_schema(format!("scalar Probe {text}"));
        let directive = document
            .ok()
            .and_then(|d| match d.definitions.into_iter().next() {
                Some(TypeSystemDefinition::Type(t)) => t.node.directives.into_iter().next(),
                _ => None,
            });
        match directive {
            Some(d) => AppliedDirective {
                name: d.node.name.node.to_string(),
                args: d
                    .node
                    .arguments
                    .into_iter()
                    .map(|(name, value)| (name.node.to_string(), value.node))
                    .collect(),
            },
            None => AppliedDirective::new(text.trim_start_matches('@')),
        }
    }
}
