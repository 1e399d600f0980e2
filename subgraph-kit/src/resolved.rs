//! Fields computed by a resolver instead of read from the parent object:
//! custom root fields (`Query`, `Mutation`) and fields with arguments on object
//! types, for subgraphs whose schema is more than entities and their lookups.
//!
//! ```
//! use dictamesh::{AdapterError, ResolvedField, Subgraph};
//!
//! let greeting = ResolvedField::new::<String, _, _>("greeting", |call| async move {
//!     let name: String = call.required("name")?;
//!     Ok::<_, AdapterError>(format!("Hello, {name}!"))
//! })
//! .argument::<String>("name")
//! .description("Greets someone.");
//! let subgraph = Subgraph::builder("hello").query(greeting).build().unwrap();
//! assert!(subgraph.sdl().contains("greeting(name: String!): String!"));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let response = subgraph.execute(r#"{ greeting(name: "Ada") }"#).await;
//! assert_eq!(response.data.to_string(), r#"{greeting: "Hello, Ada!"}"#);
//! # });
//! ```

use std::future::Future;
use std::sync::Arc;

use async_graphql::Value;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Map;

use crate::GraphQLType;
use crate::error::AdapterError;
use crate::model::{FieldDef, InputValueDef, TypeRegistry};

type ResolveFn = dyn Fn(FieldCall) -> BoxFuture<'static, Result<Value, AdapterError>> + Send + Sync;

/// A field whose value a resolver computes from the field's arguments and its
/// parent object. Mount it with [`crate::SubgraphBuilder::query`],
/// [`crate::SubgraphBuilder::mutation`] or [`crate::SubgraphBuilder::field`].
#[derive(Clone)]
pub struct ResolvedField {
    pub(crate) def: FieldDef,
    pub(crate) registrations: Vec<fn(&mut TypeRegistry)>,
    pub(crate) resolve: Arc<ResolveFn>,
}

impl ResolvedField {
    /// A field named `name` of the GraphQL type of `T`, computed by `resolve`.
    /// A failed resolver yields the error with its code at the field's path
    /// (and `null` when the field is nullable).
    pub fn new<T, F, Fut>(name: impl Into<String>, resolve: F) -> Self
    where
        T: GraphQLType + Serialize + Send + 'static,
        F: Fn(FieldCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, AdapterError>> + Send + 'static,
    {
        let resolve = Arc::new(resolve);
        let erased: Arc<ResolveFn> = Arc::new(move |call: FieldCall| {
            let future = resolve(call);
            Box::pin(async move {
                let output = future.await?;
                async_graphql::to_value(&output)
                    .map_err(|e| AdapterError::Internal(format!("resolver output does not serialize: {e}")))
            }) as BoxFuture<'static, Result<Value, AdapterError>>
        });
        ResolvedField {
            def: FieldDef::new(name, T::type_ref()),
            registrations: vec![T::register],
            resolve: erased,
        }
    }

    /// Adds an argument of the GraphQL type of `A` (`Option<A>` for an
    /// optional one).
    pub fn argument<A: GraphQLType>(mut self, name: impl Into<String>) -> Self {
        self.def.args.push(InputValueDef::new(name, A::type_ref()));
        self.registrations.push(A::register);
        self
    }

    /// Adds an optional argument of the GraphQL type of `A` with a default value.
    pub fn argument_with_default<A: GraphQLType>(mut self, name: impl Into<String>, default: Value) -> Self {
        let mut arg = InputValueDef::new(name, A::type_ref().nullable());
        arg.default = Some(default);
        self.def.args.push(arg);
        self.registrations.push(A::register);
        self
    }

    /// The field's description, printed in the SDL.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.def.description = Some(text.into());
        self
    }

    /// The field's name.
    pub fn name(&self) -> &str {
        &self.def.name
    }
}

/// What a resolver receives: the field's arguments and its parent object, as JSON.
#[derive(Debug, Clone, Default)]
pub struct FieldCall {
    arguments: Map<String, serde_json::Value>,
    parent: serde_json::Value,
}

impl FieldCall {
    /// A call with these arguments and parent (`null` for root fields).
    pub fn new(arguments: Map<String, serde_json::Value>, parent: serde_json::Value) -> Self {
        FieldCall { arguments, parent }
    }

    /// An argument, `None` when absent or `null`; `InvalidInput` when it does
    /// not decode as `T`.
    pub fn argument<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, AdapterError> {
        match self.arguments.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(value) => T::deserialize(value)
                .map(Some)
                .map_err(|e| AdapterError::InvalidInput(format!("argument `{name}`: {e}"))),
        }
    }

    /// An argument that must be present.
    pub fn required<T: DeserializeOwned>(&self, name: &str) -> Result<T, AdapterError> {
        self.argument(name)?
            .ok_or_else(|| AdapterError::InvalidInput(format!("argument `{name}` is required")))
    }

    /// The parent object (an entity's fields, or its representation for a type
    /// declared with [`crate::SubgraphBuilder::entity_stub`]); `null` for root fields.
    pub fn parent(&self) -> &serde_json::Value {
        &self.parent
    }
}
