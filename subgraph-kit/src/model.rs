//! The schema model: the GraphQL types an entity describes, before they become a
//! served schema (`crate::schema`) and a Federation SDL (`crate::sdl`).
//!
//! `#[dictamesh::entity]` and its siblings emit code that fills a [`TypeRegistry`]
//! with these definitions; everything after that is ordinary runtime code.

use std::borrow::Cow;
use std::fmt;

use async_graphql::Value;
use indexmap::IndexMap;

use crate::key::FieldSet;

/// A reference to a GraphQL type, with its list and non-null wrappers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeRef {
    /// A named type (`String`, `Product`).
    Named(Cow<'static, str>),
    /// A non-null wrapper (`T!`).
    NonNull(Box<TypeRef>),
    /// A list wrapper (`[T]`).
    List(Box<TypeRef>),
}

impl TypeRef {
    /// A non-null named type: `Name!`.
    pub fn named_nn(name: impl Into<Cow<'static, str>>) -> Self {
        TypeRef::NonNull(Box::new(TypeRef::Named(name.into())))
    }

    /// The same type without its outer non-null wrapper.
    pub fn nullable(self) -> Self {
        match self {
            TypeRef::NonNull(inner) => *inner,
            other => other,
        }
    }

    /// A non-null list of this type: `[T]!`.
    pub fn list_nn(self) -> Self {
        TypeRef::NonNull(Box::new(TypeRef::List(Box::new(self))))
    }

    /// Whether the outer wrapper is non-null.
    pub fn is_non_null(&self) -> bool {
        matches!(self, TypeRef::NonNull(_))
    }

    /// Whether the type is a list (under an optional non-null wrapper).
    pub fn is_list(&self) -> bool {
        match self {
            TypeRef::List(_) => true,
            TypeRef::NonNull(inner) => inner.is_list(),
            TypeRef::Named(_) => false,
        }
    }

    /// The innermost named type.
    pub fn base_name(&self) -> &str {
        match self {
            TypeRef::Named(name) => name,
            TypeRef::NonNull(inner) | TypeRef::List(inner) => inner.base_name(),
        }
    }

    /// The same reference for async-graphql's dynamic schema.
    pub fn to_dynamic(&self) -> async_graphql::dynamic::TypeRef {
        use async_graphql::dynamic::TypeRef as D;
        match self {
            TypeRef::Named(name) => D::Named(name.clone()),
            TypeRef::NonNull(inner) => D::NonNull(Box::new(inner.to_dynamic())),
            TypeRef::List(inner) => D::List(Box::new(inner.to_dynamic())),
        }
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(name) => f.write_str(name),
            TypeRef::NonNull(inner) => write!(f, "{inner}!"),
            TypeRef::List(inner) => write!(f, "[{inner}]"),
        }
    }
}

/// A directive applied to a type or field, e.g. `@shareable` or `@tag(name: "x")`.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedDirective {
    /// The directive's name without `@`.
    pub name: String,
    /// Its arguments in order.
    pub args: Vec<(String, Value)>,
}

impl AppliedDirective {
    /// A directive without arguments.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.args.push((name.into(), value.into()));
        self
    }

    /// `@shareable`
    pub fn shareable() -> Self {
        Self::new("shareable")
    }

    /// `@inaccessible`
    pub fn inaccessible() -> Self {
        Self::new("inaccessible")
    }

    /// `@external`
    pub fn external() -> Self {
        Self::new("external")
    }

    /// `@extends`
    pub fn extends() -> Self {
        Self::new("extends")
    }

    /// `@interfaceObject`
    pub fn interface_object() -> Self {
        Self::new("interfaceObject")
    }

    /// `@authenticated`
    pub fn authenticated() -> Self {
        Self::new("authenticated")
    }

    /// `@tag(name: ...)`
    pub fn tag(name: impl Into<String>) -> Self {
        Self::new("tag").arg("name", Value::String(name.into()))
    }

    /// `@requires(fields: ...)`
    pub fn requires(fields: impl Into<String>) -> Self {
        Self::new("requires").arg("fields", Value::String(fields.into()))
    }

    /// `@provides(fields: ...)`
    pub fn provides(fields: impl Into<String>) -> Self {
        Self::new("provides").arg("fields", Value::String(fields.into()))
    }

    /// `@override(from: ..., label: ...)`; a label makes it a progressive override.
    pub fn override_from(from: impl Into<String>, label: Option<String>) -> Self {
        let directive = Self::new("override").arg("from", Value::String(from.into()));
        match label {
            Some(label) => directive.arg("label", Value::String(label)),
            None => directive,
        }
    }

    /// `@requiresScopes(scopes: [[...]])`: outer list OR, inner list AND.
    pub fn requires_scopes(scopes: Vec<Vec<String>>) -> Self {
        Self::new("requiresScopes").arg("scopes", nested_strings(scopes))
    }

    /// `@policy(policies: [[...]])`: outer list OR, inner list AND.
    pub fn policy(policies: Vec<Vec<String>>) -> Self {
        Self::new("policy").arg("policies", nested_strings(policies))
    }

    /// The value of a string argument, if present.
    pub fn string_arg(&self, name: &str) -> Option<&str> {
        self.args.iter().find_map(|(arg, value)| match value {
            Value::String(s) if arg == name => Some(s.as_str()),
            _ => None,
        })
    }
}

fn nested_strings(groups: Vec<Vec<String>>) -> Value {
    Value::List(
        groups
            .into_iter()
            .map(|group| Value::List(group.into_iter().map(Value::String).collect()))
            .collect(),
    )
}

/// Data classification levels, from least to most sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    /// Anyone may read it.
    Public,
    /// Staff only.
    Internal,
    /// A need-to-know basis.
    Confidential,
    /// The most sensitive data (regulated, secret).
    Restricted,
}

impl Classification {
    /// The level's name as it appears in SDL and in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Restricted => "restricted",
        }
    }

    /// Parses a level name (`public`, `internal`, `confidential`, `restricted`).
    pub fn parse(level: &str) -> Option<Self> {
        match level {
            "public" => Some(Classification::Public),
            "internal" => Some(Classification::Internal),
            "confidential" => Some(Classification::Confidential),
            "restricted" => Some(Classification::Restricted),
            _ => None,
        }
    }
}

/// Governance metadata of a field or type: personal data and classification.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Governance {
    /// The field holds personally identifiable information.
    pub pii: bool,
    /// Its data classification, when declared.
    pub classification: Option<Classification>,
}

/// An argument of a field or a field of an input object.
#[derive(Debug, Clone, PartialEq)]
pub struct InputValueDef {
    /// GraphQL name.
    pub name: String,
    /// GraphQL type.
    pub ty: TypeRef,
    /// Description printed in the SDL.
    pub description: Option<String>,
    /// Default value.
    pub default: Option<Value>,
}

impl InputValueDef {
    /// An input value without description or default.
    pub fn new(name: impl Into<String>, ty: TypeRef) -> Self {
        Self {
            name: name.into(),
            ty,
            description: None,
            default: None,
        }
    }
}

/// A field of an object type.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// GraphQL name (camelCase of the Rust field unless renamed).
    pub name: String,
    /// GraphQL type.
    pub ty: TypeRef,
    /// Description printed in the SDL (from the field's doc comment).
    pub description: Option<String>,
    /// Arguments.
    pub args: Vec<InputValueDef>,
    /// Directives applied to the field (`@external`, `@requires`, `@tag`, ...).
    pub directives: Vec<AppliedDirective>,
    /// Deprecation reason, when deprecated.
    pub deprecation: Option<String>,
    /// PII and classification.
    pub governance: Governance,
}

impl FieldDef {
    /// A plain field.
    pub fn new(name: impl Into<String>, ty: TypeRef) -> Self {
        Self {
            name: name.into(),
            ty,
            description: None,
            args: Vec::new(),
            directives: Vec::new(),
            deprecation: None,
            governance: Governance::default(),
        }
    }

    /// Whether a directive of that name is applied.
    pub fn has_directive(&self, name: &str) -> bool {
        self.directives.iter().any(|d| d.name == name)
    }

    /// The directive of that name, if applied.
    pub fn directive(&self, name: &str) -> Option<&AppliedDirective> {
        self.directives.iter().find(|d| d.name == name)
    }
}

/// A `@key` of an entity type.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDef {
    /// The field set, e.g. `sku variation { id }`.
    pub fields: FieldSet,
    /// Whether this subgraph resolves the entity by this key.
    pub resolvable: bool,
}

/// An object type (an entity when it has keys).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDef {
    /// GraphQL name.
    pub name: String,
    /// Description printed in the SDL.
    pub description: Option<String>,
    /// Fields in declaration order.
    pub fields: Vec<FieldDef>,
    /// `@key`s; empty for a value type.
    pub keys: Vec<KeyDef>,
    /// Other type-level directives (`@shareable`, `@interfaceObject`, custom ones).
    pub directives: Vec<AppliedDirective>,
    /// Type-level classification.
    pub classification: Option<Classification>,
}

impl ObjectDef {
    /// An object type without fields.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            fields: Vec::new(),
            keys: Vec::new(),
            directives: Vec::new(),
            classification: None,
        }
    }

    /// The field of that GraphQL name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether a type-level directive of that name is applied.
    pub fn has_directive(&self, name: &str) -> bool {
        self.directives.iter().any(|d| d.name == name)
    }
}

/// A value of an enum type.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumValueDef {
    /// GraphQL name.
    pub name: String,
    /// Description printed in the SDL.
    pub description: Option<String>,
    /// Deprecation reason, when deprecated.
    pub deprecation: Option<String>,
}

/// An enum type.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    /// GraphQL name.
    pub name: String,
    /// Description printed in the SDL.
    pub description: Option<String>,
    /// Values in declaration order.
    pub values: Vec<EnumValueDef>,
    /// Type-level directives.
    pub directives: Vec<AppliedDirective>,
}

/// An input object type.
#[derive(Debug, Clone, PartialEq)]
pub struct InputObjectDef {
    /// GraphQL name.
    pub name: String,
    /// Description printed in the SDL.
    pub description: Option<String>,
    /// Fields in declaration order.
    pub fields: Vec<InputValueDef>,
}

/// A custom scalar type.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarDef {
    /// GraphQL name.
    pub name: String,
    /// Description printed in the SDL.
    pub description: Option<String>,
    /// `@specifiedBy(url:)`.
    pub specified_by: Option<String>,
}

/// Any named type the kit can serve.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeDef {
    /// An object type or entity.
    Object(ObjectDef),
    /// An enum.
    Enum(EnumDef),
    /// An input object.
    InputObject(InputObjectDef),
    /// A custom scalar.
    Scalar(ScalarDef),
}

impl TypeDef {
    /// The type's GraphQL name.
    pub fn name(&self) -> &str {
        match self {
            TypeDef::Object(t) => &t.name,
            TypeDef::Enum(t) => &t.name,
            TypeDef::InputObject(t) => &t.name,
            TypeDef::Scalar(t) => &t.name,
        }
    }
}

/// The names of GraphQL's built-in scalars, which are never declared.
pub const BUILTIN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

/// Every named type of a subgraph, in registration order.
#[derive(Debug, Default, Clone)]
pub struct TypeRegistry {
    types: IndexMap<String, TypeDef>,
    conflicts: Vec<String>,
}

impl TypeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `T` and every type it reaches.
    pub fn register<T: crate::GraphQLType + ?Sized>(&mut self) {
        T::register(self);
    }

    /// Whether a type of that name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }

    /// Adds a definition. Returns `false` when a type of that name was already
    /// there (its nested types need no second visit); a different definition under
    /// the same name is recorded as a conflict, reported by [`Self::conflicts`].
    pub fn insert(&mut self, def: TypeDef) -> bool {
        match self.types.get(def.name()) {
            Some(existing) => {
                if existing != &def {
                    self.conflicts.push(def.name().to_string());
                }
                false
            }
            None => {
                self.types.insert(def.name().to_string(), def);
                true
            }
        }
    }

    /// Replaces or adds a definition (the builder's own types, e.g. `Query`).
    pub fn upsert(&mut self, def: TypeDef) {
        self.types.insert(def.name().to_string(), def);
    }

    /// The type of that name.
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// The object type of that name.
    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        match self.types.get(name) {
            Some(TypeDef::Object(object)) => Some(object),
            _ => None,
        }
    }

    /// Mutable access to the object type of that name.
    pub fn object_mut(&mut self, name: &str) -> Option<&mut ObjectDef> {
        match self.types.get_mut(name) {
            Some(TypeDef::Object(object)) => Some(object),
            _ => None,
        }
    }

    /// All types in registration order.
    pub fn types(&self) -> impl Iterator<Item = &TypeDef> {
        self.types.values()
    }

    /// Names registered twice with different definitions.
    pub fn conflicts(&self) -> &[String] {
        &self.conflicts
    }
}
