//! What `#[dictamesh::entity]` implements: the [`Entity`] trait and its metadata.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::GraphQLType;

/// A Federation entity type served by an adapter. Implemented by
/// `#[dictamesh::entity]`; the type's fields and keys come from
/// [`GraphQLType::register`].
pub trait Entity: GraphQLType + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The GraphQL type name.
    const TYPE_NAME: &'static str;

    /// Ownership and root fields of the entity.
    fn meta() -> EntityMeta;
}

/// Entity metadata declared on `#[dictamesh::entity]`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityMeta {
    /// The owning domain (`customers`, `invoices`); names event topics.
    pub domain: String,
    /// The source system (`directus`, `postgres`, `shopify`).
    pub source: String,
    /// Name of a root field that looks an entity up by its first key.
    pub lookup: Option<String>,
    /// Deprecation reason of that root field.
    pub lookup_deprecated: Option<String>,
    /// Name of a root field that lists entities (filter, limit, offset).
    pub list: Option<String>,
}

/// A GraphQL input object, implemented by `#[dictamesh::input]`.
pub trait InputType: GraphQLType + Serialize + DeserializeOwned + Send + Sync + 'static {}
