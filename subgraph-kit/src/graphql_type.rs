//! How Rust types map to GraphQL types.
//!
//! Every field type of an `#[dictamesh::entity]`, `#[dictamesh::object]` or
//! `#[dictamesh::input]` implements [`GraphQLType`]; a field of a type that does
//! not is a compile error on that field.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::model::{ScalarDef, TypeDef, TypeRef, TypeRegistry};

/// A Rust type with a GraphQL counterpart.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no GraphQL type",
    label = "this field's type is not a GraphQL type",
    note = "use String, ID, i32, f64, bool, Decimal, DateTime<Utc>, serde_json::Value, Option<T>, Vec<T>, \
            Reference<T>, or a type with #[dictamesh::object], #[dictamesh::enumeration], \
            #[dictamesh::entity] or #[dictamesh::input]"
)]
pub trait GraphQLType {
    /// The GraphQL type of a field of this Rust type.
    fn type_ref() -> TypeRef;

    /// Registers the named types this type needs (itself, nested objects,
    /// enums and custom scalars). Built-in scalars need nothing.
    fn register(_registry: &mut TypeRegistry) {}
}

/// The GraphQL `ID` scalar: serialized as a string.
pub use async_graphql::ID;

macro_rules! builtin_scalar {
    ($name:literal => $($ty:ty),+) => {
        $(impl GraphQLType for $ty {
            fn type_ref() -> TypeRef {
                TypeRef::named_nn($name)
            }
        })+
    };
}

builtin_scalar!("String" => String, Box<str>, Arc<str>);
builtin_scalar!("ID" => ID, uuid::Uuid);
builtin_scalar!("Int" => i8, i16, i32, u8, u16);
builtin_scalar!("Float" => f32, f64);
builtin_scalar!("Boolean" => bool);

/// Registers a custom scalar once.
fn register_scalar(registry: &mut TypeRegistry, name: &str, description: &str, url: Option<&str>) {
    registry.insert(TypeDef::Scalar(ScalarDef {
        name: name.to_string(),
        description: Some(description.to_string()),
        specified_by: url.map(str::to_string),
    }));
}

impl GraphQLType for Value {
    fn type_ref() -> TypeRef {
        TypeRef::named_nn("JSON")
    }

    fn register(registry: &mut TypeRegistry) {
        register_scalar(registry, "JSON", "Any JSON value.", None);
    }
}

#[cfg(feature = "decimal")]
impl GraphQLType for rust_decimal::Decimal {
    fn type_ref() -> TypeRef {
        TypeRef::named_nn("Decimal")
    }

    fn register(registry: &mut TypeRegistry) {
        register_scalar(
            registry,
            "Decimal",
            "An exact decimal number, serialized as a string (\"19.99\").",
            None,
        );
    }
}

#[cfg(feature = "chrono")]
impl GraphQLType for chrono::DateTime<chrono::Utc> {
    fn type_ref() -> TypeRef {
        TypeRef::named_nn("DateTime")
    }

    fn register(registry: &mut TypeRegistry) {
        register_scalar(
            registry,
            "DateTime",
            "A date and time in RFC 3339 format.",
            Some("https://datatracker.ietf.org/doc/html/rfc3339"),
        );
    }
}

impl<T: GraphQLType> GraphQLType for Option<T> {
    fn type_ref() -> TypeRef {
        T::type_ref().nullable()
    }

    fn register(registry: &mut TypeRegistry) {
        T::register(registry);
    }
}

impl<T: GraphQLType> GraphQLType for Vec<T> {
    fn type_ref() -> TypeRef {
        T::type_ref().list_nn()
    }

    fn register(registry: &mut TypeRegistry) {
        T::register(registry);
    }
}

impl<T: GraphQLType> GraphQLType for Box<T> {
    fn type_ref() -> TypeRef {
        T::type_ref()
    }

    fn register(registry: &mut TypeRegistry) {
        T::register(registry);
    }
}

impl<T: GraphQLType> GraphQLType for Arc<T> {
    fn type_ref() -> TypeRef {
        T::type_ref()
    }

    fn register(registry: &mut TypeRegistry) {
        T::register(registry);
    }
}

/// A reference to an entity that another subgraph (or this one) resolves: it
/// holds only the entity's key values and is served as the entity's type, so the
/// router completes it through federation.
///
/// ```
/// use dictamesh::Reference;
/// # #[dictamesh::entity(key = "id")]
/// # pub struct Customer { pub id: dictamesh::ID }
/// let customer: Reference<Customer> = Reference::key("id", "c-1");
/// assert_eq!(customer.values()["id"], "c-1");
/// ```
pub struct Reference<T> {
    values: Map<String, Value>,
    entity: PhantomData<fn() -> T>,
}

impl<T> Reference<T> {
    /// A reference by one key field.
    pub fn key(field: &str, value: impl Into<Value>) -> Self {
        let mut values = Map::new();
        values.insert(field.to_string(), value.into());
        Self::from_values(values)
    }

    /// A reference by several key fields (a composite or nested key).
    pub fn from_values(values: Map<String, Value>) -> Self {
        Self {
            values,
            entity: PhantomData,
        }
    }

    /// The key values.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }
}

impl<T> Clone for Reference<T> {
    fn clone(&self) -> Self {
        Self::from_values(self.values.clone())
    }
}

impl<T> std::fmt::Debug for Reference<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Reference").field(&self.values).finish()
    }
}

impl<T> PartialEq for Reference<T> {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl<T> Serialize for Reference<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Reference<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self::from_values)
    }
}

impl<T: GraphQLType> GraphQLType for Reference<T> {
    fn type_ref() -> TypeRef {
        T::type_ref()
    }

    fn register(registry: &mut TypeRegistry) {
        T::register(registry);
    }
}
