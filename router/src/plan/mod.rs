//! Query planning: from a normalized client operation to a [`QueryPlan`] of subgraph
//! fetches, cached by the operation and the inputs that change the plan.
//!
//! ```
//! use std::collections::HashSet;
//! use dictamesh_router::plan::QueryPlanner;
//! use dictamesh_router::supergraph::Supergraph;
//!
//! let sdl = r#"
//! schema @link(url: "https://specs.apollo.dev/link/v1.0")
//!        @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
//! directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
//! directive @join__graph(name: String!, url: String!) on ENUM_VALUE
//! directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
//! directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
//! scalar link__Import
//! scalar join__FieldSet
//! enum link__Purpose { SECURITY EXECUTION }
//! enum join__Graph {
//!   PRODUCTS @join__graph(name: "products", url: "http://localhost:4001")
//!   REVIEWS @join__graph(name: "reviews", url: "http://localhost:4002")
//! }
//! type Query @join__type(graph: PRODUCTS) @join__type(graph: REVIEWS) {
//!   products: [Product] @join__field(graph: PRODUCTS)
//! }
//! type Product @join__type(graph: PRODUCTS, key: "id") @join__type(graph: REVIEWS, key: "id") {
//!   id: ID!
//!   name: String @join__field(graph: PRODUCTS)
//!   rating: Int @join__field(graph: REVIEWS)
//! }
//! "#;
//! let supergraph = Supergraph::parse(sdl).unwrap();
//! let planner = QueryPlanner::new(supergraph.into(), 100);
//! let plan = planner.plan_query("{ products { name rating } }", None, &Default::default(), &HashSet::new()).unwrap();
//! assert_eq!(plan.fetch_count(), 2);
//! ```

mod batch;
mod cache;
mod conflicts;
pub mod defer;
mod model;
pub mod operation;
mod planner;
pub mod projection;
pub mod selection;

use std::collections::HashSet;
use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable;

pub use self::cache::PlanCacheKey;
pub use self::conflicts::KeyRename;
pub use self::defer::DeferredPart;
pub use self::defer::IncrementalPlan;
pub use self::model::BatchFetchNode;
pub use self::model::EntityBatch;
pub use self::model::FetchNode;
pub use self::model::PathElement;
pub use self::model::PlanNode;
pub use self::model::QueryPlan;
pub use self::model::ResponsePath;
pub use self::model::TypenameRewrite;
pub use self::model::path_to_string;
pub use self::operation::Operation;
pub use self::operation::OperationError;
pub use self::projection::Projection;
use crate::supergraph::Supergraph;

/// Why an operation could not be planned.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// No subgraph can resolve a field from where the operation reaches it.
    #[error("no subgraph can resolve {type_name}.{field} from here")]
    Unresolvable {
        /// The parent type.
        type_name: String,
        /// The field.
        field: String,
    },
    /// An entity jump needs a key the subgraph does not declare.
    #[error("subgraph {subgraph} has no resolvable @key for {type_name}")]
    NoKey {
        /// The entity type.
        type_name: String,
        /// The subgraph.
        subgraph: String,
    },
    /// Keys and `@requires` fields depend on each other in a loop.
    #[error("the keys or @requires of {type_name} depend on each other in a loop")]
    RequirementCycle {
        /// The entity type.
        type_name: String,
    },
    /// The operation could not be normalized.
    #[error(transparent)]
    Operation(#[from] OperationError),
    /// The document could not be parsed or validated (only from [`QueryPlanner::plan_query`]).
    #[error("invalid operation: {0}")]
    InvalidDocument(String),
}

/// A normalized operation with its plan: what the plan cache keeps.
#[derive(Debug)]
pub struct PreparedPlan {
    /// The normalized operation.
    pub operation: Operation,
    /// Its plan.
    pub plan: QueryPlan,
    /// How its response is written from the merged data.
    pub projection: Projection,
}

impl PreparedPlan {
    /// An operation with its plan, and its response projection worked out.
    pub fn new(supergraph: &Supergraph, operation: Operation, plan: QueryPlan) -> Self {
        let projection = Projection::new(supergraph, &operation.root_type, &operation.selection_set);
        PreparedPlan {
            operation,
            plan,
            projection,
        }
    }
}

/// Plans operations against one supergraph and caches the plans.
pub struct QueryPlanner {
    supergraph: Arc<Supergraph>,
    cache: cache::PlanCache<PreparedPlan>,
    incremental: cache::PlanCache<IncrementalPlan>,
}

impl QueryPlanner {
    /// A planner whose cache keeps at most `cache_capacity` plans.
    pub fn new(supergraph: Arc<Supergraph>, cache_capacity: usize) -> Self {
        QueryPlanner {
            supergraph,
            cache: cache::PlanCache::new(cache_capacity),
            incremental: cache::PlanCache::new(cache_capacity),
        }
    }

    /// The supergraph plans are made for.
    pub fn supergraph(&self) -> &Arc<Supergraph> {
        &self.supergraph
    }

    /// Plans a normalized operation, without the cache.
    pub fn plan_operation(
        &self,
        operation: &Operation,
        override_labels: &HashSet<String>,
    ) -> Result<QueryPlan, PlanError> {
        planner::Planner::new(&self.supergraph, override_labels).plan(operation)
    }

    /// The plan for `key` from the cache, or else normalizes (with `normalize`), plans
    /// and caches it.
    pub fn plan_cached(
        &self,
        key: PlanCacheKey,
        normalize: impl FnOnce() -> Result<Operation, PlanError>,
        override_labels: &HashSet<String>,
    ) -> Result<Arc<PreparedPlan>, PlanError> {
        self.plan_cached_filtered(key, normalize, || Ok(None), override_labels)
    }

    /// Like [`plan_cached`](Self::plan_cached), but plans the operation that
    /// `filtered` normalizes when it gives one (the client's operation without the
    /// selections authorization removed); the response is still shaped by the
    /// client's operation, so the removed fields answer `null`.
    pub fn plan_cached_filtered(
        &self,
        key: PlanCacheKey,
        normalize: impl FnOnce() -> Result<Operation, PlanError>,
        filtered: impl FnOnce() -> Result<Option<Operation>, PlanError>,
        override_labels: &HashSet<String>,
    ) -> Result<Arc<PreparedPlan>, PlanError> {
        if let Some(prepared) = self.cache.get(&key) {
            return Ok(prepared);
        }
        let _planning = tracing::info_span!("graphql.plan").entered();
        let operation = normalize()?;
        let plan = match filtered()? {
            Some(filtered) => self.plan_operation(&filtered, override_labels)?,
            None => self.plan_operation(&operation, override_labels)?,
        };
        let prepared = Arc::new(PreparedPlan::new(&self.supergraph, operation, plan));
        self.cache.insert(key, prepared.clone());
        Ok(prepared)
    }

    /// The incremental-delivery plan (`@defer`) for `key` from the cache, or else
    /// plans and caches it.
    pub fn plan_incremental_cached(
        &self,
        key: PlanCacheKey,
        document: &ExecutableDocument,
        operation: &executable::Operation,
        variables: &serde_json::Map<String, serde_json::Value>,
        override_labels: &HashSet<String>,
    ) -> Result<Arc<IncrementalPlan>, PlanError> {
        if let Some(plan) = self.incremental.get(&key) {
            return Ok(plan);
        }
        let plan = Arc::new(defer::plan(
            &self.supergraph,
            document,
            operation,
            variables,
            override_labels,
        )?);
        self.incremental.insert(key, plan.clone());
        Ok(plan)
    }

    /// Parses, validates (against the API schema), normalizes and plans a query
    /// string: the entry point of `dictamesh plan` and of tests.
    pub fn plan_query(
        &self,
        query: &str,
        operation_name: Option<&str>,
        variables: &serde_json::Map<String, serde_json::Value>,
        override_labels: &HashSet<String>,
    ) -> Result<QueryPlan, PlanError> {
        self.with_operation(query, operation_name, |document, operation| {
            let normalized = normalize_operation(&self.supergraph, document, operation, variables)?;
            self.plan_operation(&normalized, override_labels)
        })
    }

    /// Like [`plan_query`](Self::plan_query), for incremental delivery: the
    /// primary plan and one plan per deferred fragment.
    pub fn plan_incremental_query(
        &self,
        query: &str,
        operation_name: Option<&str>,
        variables: &serde_json::Map<String, serde_json::Value>,
        override_labels: &HashSet<String>,
    ) -> Result<IncrementalPlan, PlanError> {
        self.with_operation(query, operation_name, |document, operation| {
            defer::plan(&self.supergraph, document, operation, variables, override_labels)
        })
    }

    /// Parses and validates `query`, checks the default limits, and hands the
    /// selected operation to `plan`.
    fn with_operation<T>(
        &self,
        query: &str,
        operation_name: Option<&str>,
        plan: impl FnOnce(&ExecutableDocument, &executable::Operation) -> Result<T, PlanError>,
    ) -> Result<T, PlanError> {
        let parsed = crate::request::parse_document(
            &self.supergraph.api_schema,
            Arc::from(query),
            &crate::request::OperationLimits::default(),
        )
        .map_err(|e| PlanError::InvalidDocument(e.messages()))?;
        let document = &parsed.document;
        let operation = document
            .operations
            .get(operation_name)
            .map_err(|e| PlanError::InvalidDocument(e.message().to_string()))?;
        crate::request::limits::check(&crate::request::OperationLimits::default(), document, operation)
            .map_err(|e| PlanError::InvalidDocument(e.messages()))?;
        plan(document, operation)
    }
}

/// Normalizes an operation of a validated document (see [`operation::normalize`]).
pub fn normalize_operation(
    supergraph: &Supergraph,
    document: &ExecutableDocument,
    operation: &executable::Operation,
    variables: &serde_json::Map<String, serde_json::Value>,
) -> Result<Operation, OperationError> {
    operation::normalize(supergraph, document, operation, variables)
}
