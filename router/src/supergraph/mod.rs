//! The supergraph as the router sees it: the subgraphs, the API schema clients query,
//! and for every type and field which subgraphs can resolve it, read from the
//! `@join__*` directives.

mod api_schema;
mod join;

use std::collections::HashMap;
use std::collections::HashSet;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::ast::OperationType;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

pub use self::join::FieldInGraph;
pub use self::join::FieldMeta;
pub use self::join::JoinField;
pub use self::join::Key;
pub use self::join::TypeInGraph;
pub use self::join::TypeMeta;
use crate::plan::selection::SelectionSet;

/// Index of a subgraph in [`Supergraph::subgraphs`].
pub type GraphId = usize;

/// One subgraph of the supergraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphInfo {
    /// The subgraph name (`join__graph(name:)`).
    pub name: String,
    /// Where the router sends its operations (`join__graph(url:)`).
    pub url: String,
    /// The `join__Graph` enum value naming it in `@join__*` directives.
    pub enum_value: Name,
}

/// What went wrong reading a supergraph.
#[derive(Debug, thiserror::Error)]
pub enum SupergraphError {
    /// The SDL is not a valid GraphQL schema.
    #[error("the supergraph is not a valid schema: {0}")]
    Invalid(String),
    /// The SDL has no `join__Graph` enum: it is not a supergraph.
    #[error("the schema has no join__Graph enum: is it a supergraph (compose subgraphs first)?")]
    NotASupergraph,
    /// A `@join__*` directive could not be read.
    #[error("invalid @{directive} on {coordinate}: {message}")]
    Join {
        /// The directive name.
        directive: String,
        /// The type or field carrying it.
        coordinate: String,
        /// What is wrong.
        message: String,
    },
    /// Removing `@inaccessible` elements left an invalid API schema.
    #[error("the API schema (the supergraph without @inaccessible elements) is invalid: {0}")]
    InvalidApiSchema(String),
}

/// A supergraph ready for planning.
#[derive(Debug)]
pub struct Supergraph {
    /// The supergraph schema, `@join__*` directives included.
    pub schema: Valid<Schema>,
    /// The schema clients see: no federation machinery, no `@inaccessible` elements.
    pub api_schema: Valid<Schema>,
    /// The subgraphs, in `join__Graph` order.
    pub subgraphs: Vec<SubgraphInfo>,
    types: HashMap<Name, TypeMeta>,
    possible_types: HashMap<Name, Vec<Name>>,
}

impl Supergraph {
    /// Reads a supergraph SDL.
    pub fn parse(sdl: &str) -> Result<Supergraph, SupergraphError> {
        let schema = Schema::parse_and_validate(sdl, "supergraph.graphql")
            .map_err(|e| SupergraphError::Invalid(e.errors.to_string()))?;
        let subgraphs = join::read_graphs(&schema)?;
        let types = join::read_types(&schema, &subgraphs)?;
        let api_schema = api_schema::api_schema(&schema)?;
        let mut possible_types: HashMap<Name, Vec<Name>> = HashMap::new();
        for (name, ty) in &schema.types {
            if let ExtendedType::Object(object) = ty {
                for interface in &object.implements_interfaces {
                    possible_types
                        .entry(interface.name.clone())
                        .or_default()
                        .push(name.clone());
                }
            }
            if let ExtendedType::Union(union_) = ty {
                possible_types
                    .entry(name.clone())
                    .or_default()
                    .extend(union_.members.iter().map(|m| m.name.clone()));
            }
        }
        Ok(Supergraph {
            schema,
            api_schema,
            subgraphs,
            types,
            possible_types,
        })
    }

    /// The federation metadata of a type.
    pub fn type_meta(&self, name: &str) -> Option<&TypeMeta> {
        self.types.get(name)
    }

    /// The root type of an operation type (`Query`, ...).
    pub fn root_type(&self, operation: OperationType) -> Option<&Name> {
        self.schema.root_operation(operation)
    }

    /// Whether a type is an interface or a union.
    pub fn is_abstract(&self, name: &str) -> bool {
        matches!(
            self.schema.types.get(name),
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_))
        )
    }

    /// Whether a type is an object, interface or union (has a selection set).
    pub fn is_composite(&self, name: &str) -> bool {
        matches!(
            self.schema.types.get(name),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        )
    }

    /// The object types a value of type `name` can have (itself for an object).
    pub fn possible_types(&self, name: &str) -> Vec<Name> {
        match self.schema.types.get(name) {
            Some(ExtendedType::Object(object)) => vec![object.name.clone()],
            _ => self.possible_types.get(name).cloned().unwrap_or_default(),
        }
    }

    /// Whether an object of type `object` matches the type condition `condition`.
    pub fn type_matches(&self, condition: &str, object: &str) -> bool {
        condition == object
            || self
                .possible_types
                .get(condition)
                .is_some_and(|types| types.iter().any(|t| t == object))
    }

    /// Whether two types have a possible object type in common.
    pub fn types_overlap(&self, a: &str, b: &str) -> bool {
        let a_types: HashSet<Name> = self.possible_types(a).into_iter().collect();
        self.possible_types(b).iter().any(|t| a_types.contains(t))
    }

    /// The named type a field of `parent` returns.
    pub fn field_type(&self, parent: &str, field: &str) -> Option<&Name> {
        if field == "__typename" {
            return None;
        }
        self.schema
            .type_field(parent, field)
            .ok()
            .map(|definition| definition.ty.inner_named_type())
    }

    /// The type of a field in one subgraph (`@join__field(type:)`, else the
    /// supergraph's).
    pub fn field_type_in_graph(
        &self,
        parent: &str,
        field: &str,
        graph: GraphId,
    ) -> Option<apollo_compiler::ast::Type> {
        let declared = self
            .types
            .get(parent)
            .and_then(|meta| meta.fields.get(field))
            .and_then(|meta| meta.joins.as_ref())
            .and_then(|joins| joins.iter().find(|join| join.graph == Some(graph)))
            .and_then(|join| join.subgraph_type.clone());
        declared.or_else(|| {
            self.schema
                .type_field(parent, field)
                .ok()
                .map(|definition| definition.ty.clone())
        })
    }

    /// Whether a field of `parent` returns a list (at its outer level).
    pub fn field_is_list(&self, parent: &str, field: &str) -> bool {
        self.schema
            .type_field(parent, field)
            .is_ok_and(|definition| definition.ty.is_list())
    }

    /// The graphs that define a type.
    pub fn graphs_of_type(&self, name: &str) -> impl Iterator<Item = &TypeInGraph> {
        self.types
            .get(name)
            .into_iter()
            .flat_map(|meta| meta.in_graphs.iter())
    }

    /// How `graph` defines type `name`, if it does.
    pub fn type_in_graph(&self, name: &str, graph: GraphId) -> Option<&TypeInGraph> {
        self.graphs_of_type(name).find(|t| t.graph == graph)
    }

    /// The object types `graph` can return for a value of abstract type `name`.
    pub fn possible_types_in_graph(&self, name: &str, graph: GraphId) -> Vec<Name> {
        let Some(meta) = self.types.get(name) else {
            return Vec::new();
        };
        if let Some(ExtendedType::Union(_)) = self.schema.types.get(name) {
            return meta
                .union_members
                .iter()
                .filter(|(g, _)| *g == graph)
                .map(|(_, member)| member.clone())
                .collect();
        }
        let mut types: Vec<Name> = self
            .possible_types(name)
            .into_iter()
            .filter(|object| {
                self.types.get(object).is_some_and(|m| {
                    m.implements
                        .iter()
                        .any(|(g, interface)| *g == graph && interface == name)
                }) || (self.type_in_graph(object, graph).is_some()
                    && self.types.get(object).is_some_and(|m| m.implements.is_empty()))
            })
            .collect();
        types.sort();
        types
    }

    /// How a field can be resolved in a graph, override labels considered.
    pub fn field_in_graph(
        &self,
        parent: &str,
        field: &str,
        graph: GraphId,
        enabled_labels: &HashSet<String>,
    ) -> FieldInGraph<'_> {
        let Some(meta) = self.types.get(parent) else {
            return FieldInGraph::Absent;
        };
        if !meta.in_graphs.iter().any(|t| t.graph == graph) {
            return FieldInGraph::Absent;
        }
        if field == "__typename" {
            return FieldInGraph::Local;
        }
        let Some(field_meta) = meta.fields.get(field) else {
            return FieldInGraph::Absent;
        };
        let Some(joins) = &field_meta.joins else {
            return FieldInGraph::Local;
        };
        let active = joins.iter().find(|join| {
            join.graph == Some(graph)
                && !join.used_overridden
                && match &join.override_label {
                    None => true,
                    Some(label) => join.overrides == enabled_labels.contains(label),
                }
        });
        match active {
            None => FieldInGraph::Absent,
            Some(join) if join.external => FieldInGraph::External,
            Some(JoinField {
                requires: Some(requires),
                ..
            }) => FieldInGraph::Requires(requires),
            Some(_) => FieldInGraph::Local,
        }
    }

    /// The `@provides` field set of a field in a graph.
    pub fn provides(&self, parent: &str, field: &str, graph: GraphId) -> Option<&SelectionSet> {
        self.types
            .get(parent)?
            .fields
            .get(field)?
            .joins
            .as_ref()?
            .iter()
            .find(|join| join.graph == Some(graph))?
            .provides
            .as_ref()
    }

    /// Whether the field is declared (with an empty `@join__field`) to be resolved
    /// through an `@interfaceObject` of one of its interfaces.
    pub fn field_via_interface_object(&self, parent: &str, field: &str) -> bool {
        self.types
            .get(parent)
            .and_then(|meta| meta.fields.get(field))
            .and_then(|field| field.joins.as_ref())
            .is_some_and(|joins| joins.iter().any(|join| join.graph.is_none()))
    }

    /// The interfaces an object or interface implements in the supergraph.
    pub fn interfaces_of(&self, name: &str) -> Vec<Name> {
        match self.schema.types.get(name) {
            Some(ExtendedType::Object(object)) => object
                .implements_interfaces
                .iter()
                .map(|i| i.name.clone())
                .collect(),
            Some(ExtendedType::Interface(interface)) => interface
                .implements_interfaces
                .iter()
                .map(|i| i.name.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every progressive override label (`@override(label:)`) in the supergraph.
    pub fn override_labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .types
            .values()
            .flat_map(|meta| meta.fields.values())
            .filter_map(|field| field.joins.as_ref())
            .flatten()
            .filter_map(|join| join.override_label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }

    /// The name of a subgraph.
    pub fn graph_name(&self, graph: GraphId) -> &str {
        self.subgraphs.get(graph).map(|s| s.name.as_str()).unwrap_or("?")
    }
}
