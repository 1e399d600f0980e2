//! The merged supergraph, as a plain model the merger fills and the printer writes.

use apollo_compiler::Name;
use apollo_compiler::Node;
use apollo_compiler::ast;
use indexmap::IndexMap;
use indexmap::IndexSet;

/// Kind of a merged type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// `scalar`
    Scalar,
    /// `type`
    Object,
    /// `interface`
    Interface,
    /// `union`
    Union,
    /// `enum`
    Enum,
    /// `input`
    InputObject,
}

impl TypeKind {
    /// The SDL keyword of the kind.
    pub fn keyword(self) -> &'static str {
        match self {
            TypeKind::Scalar => "scalar",
            TypeKind::Object => "type",
            TypeKind::Interface => "interface",
            TypeKind::Union => "union",
            TypeKind::Enum => "enum",
            TypeKind::InputObject => "input",
        }
    }

    /// How Apollo names the kind in messages ("Object Type", ...).
    pub fn display_name(self) -> &'static str {
        match self {
            TypeKind::Scalar => "Scalar Type",
            TypeKind::Object => "Object Type",
            TypeKind::Interface => "Interface Type",
            TypeKind::Union => "Union Type",
            TypeKind::Enum => "Enum Type",
            TypeKind::InputObject => "Input Object Type",
        }
    }
}

/// An argument or input field of the supergraph.
#[derive(Debug, Clone)]
pub struct MergedInputValue {
    /// Description.
    pub description: Option<String>,
    /// Type.
    pub ty: ast::Type,
    /// Default value.
    pub default_value: Option<Node<ast::Value>>,
    /// Applied directives.
    pub directives: Vec<ast::Directive>,
}

/// A field (object, interface) or input field of the supergraph.
#[derive(Debug, Clone)]
pub struct MergedField {
    /// Description.
    pub description: Option<String>,
    /// Type.
    pub ty: ast::Type,
    /// Arguments (empty for input fields).
    pub arguments: IndexMap<Name, MergedInputValue>,
    /// Default value (input fields only).
    pub default_value: Option<Node<ast::Value>>,
    /// Applied directives, `@join__field` included.
    pub directives: Vec<ast::Directive>,
}

impl MergedField {
    /// A field of the given type with nothing else.
    pub fn new(ty: ast::Type) -> Self {
        MergedField {
            description: None,
            ty,
            arguments: IndexMap::new(),
            default_value: None,
            directives: Vec::new(),
        }
    }
}

/// An enum value of the supergraph.
#[derive(Debug, Clone, Default)]
pub struct MergedEnumValue {
    /// Description.
    pub description: Option<String>,
    /// Applied directives, `@join__enumValue` included.
    pub directives: Vec<ast::Directive>,
}

/// A type of the supergraph.
#[derive(Debug, Clone)]
pub struct MergedType {
    /// Kind.
    pub kind: TypeKind,
    /// Description.
    pub description: Option<String>,
    /// Implemented interfaces (objects and interfaces).
    pub implements: IndexSet<Name>,
    /// Applied directives, `@join__*` included.
    pub directives: Vec<ast::Directive>,
    /// Fields (objects, interfaces) or input fields (input objects).
    pub fields: IndexMap<Name, MergedField>,
    /// Members (unions).
    pub members: IndexSet<Name>,
    /// Values (enums).
    pub values: IndexMap<Name, MergedEnumValue>,
}

impl MergedType {
    /// An empty type of the given kind.
    pub fn new(kind: TypeKind) -> Self {
        MergedType {
            kind,
            description: None,
            implements: IndexSet::new(),
            directives: Vec::new(),
            fields: IndexMap::new(),
            members: IndexSet::new(),
            values: IndexMap::new(),
        }
    }
}

/// The composed supergraph schema.
#[derive(Debug, Clone, Default)]
pub struct SupergraphSchema {
    /// `@link` applications on the schema definition.
    pub links: Vec<ast::Directive>,
    /// Root operation types.
    pub root_operations: Vec<(ast::OperationType, Name)>,
    /// Directive definitions, printed.
    pub directive_definitions: Vec<(Name, String)>,
    /// All types, spec types (`join__Graph`, ...) included.
    pub types: IndexMap<Name, MergedType>,
}

/// A directive application `@name(arg: value, ...)`.
pub fn directive(name: &str, arguments: Vec<(&str, ast::Value)>) -> ast::Directive {
    ast::Directive {
        name: Name::new_unchecked(name),
        arguments: arguments
            .into_iter()
            .map(|(arg, value)| {
                Node::new(ast::Argument {
                    name: Name::new_unchecked(arg),
                    value: Node::new(value),
                })
            })
            .collect(),
    }
}

/// An enum value literal.
pub fn enum_value(name: &Name) -> ast::Value {
    ast::Value::Enum(name.clone())
}

/// A string literal.
pub fn string_value(text: &str) -> ast::Value {
    ast::Value::String(text.to_string())
}
