//! Reading the `@join__graph`, `@join__type`, `@join__field`, `@join__implements` and
//! `@join__unionMember` directives of a supergraph.

use std::collections::HashMap;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::ast;
use apollo_compiler::executable;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use super::GraphId;
use super::SubgraphInfo;
use super::SupergraphError;
use crate::plan::selection::Field;
use crate::plan::selection::SelectionSet;

/// An `@key` of a type in one subgraph.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key's field set.
    pub fields: SelectionSet,
    /// Whether the subgraph can resolve the entity from this key (`resolvable: true`).
    pub resolvable: bool,
}

/// How one subgraph defines a type (`@join__type`).
#[derive(Debug, Clone)]
pub struct TypeInGraph {
    /// The subgraph.
    pub graph: GraphId,
    /// Its keys for the type (empty for a value type).
    pub keys: Vec<Key>,
    /// Whether the subgraph sees this interface as an object (`@interfaceObject`).
    pub interface_object: bool,
}

/// One `@join__field` of a field.
#[derive(Debug, Clone)]
pub struct JoinField {
    /// The subgraph (`None` for the bare `@join__field` of fields only reachable through
    /// an `@interfaceObject`).
    pub graph: Option<GraphId>,
    /// `@requires` field set, on the parent type.
    pub requires: Option<SelectionSet>,
    /// `@provides` field set, on the field's type.
    pub provides: Option<SelectionSet>,
    /// `@external` in that subgraph.
    pub external: bool,
    /// Whether this subgraph took the field over with `@override(from:)`.
    pub overrides: bool,
    /// The progressive override label (`@override(label:)`) that decides between the
    /// overriding subgraph and the overridden one.
    pub override_label: Option<String>,
    /// The overridden subgraph still declares the field (for its keys or requires) but
    /// does not resolve it.
    pub used_overridden: bool,
    /// The field's type in that subgraph when it differs from the supergraph's
    /// (`@join__field(type:)`).
    pub subgraph_type: Option<apollo_compiler::ast::Type>,
}

/// The federation metadata of one field.
#[derive(Debug, Clone)]
pub struct FieldMeta {
    /// Its `@join__field`s; `None` when it has none (every subgraph defining the parent
    /// type resolves it).
    pub joins: Option<Vec<JoinField>>,
}

/// The federation metadata of one type.
#[derive(Debug, Clone, Default)]
pub struct TypeMeta {
    /// The subgraphs that define it.
    pub in_graphs: Vec<TypeInGraph>,
    /// Its fields.
    pub fields: HashMap<Name, FieldMeta>,
    /// `(subgraph, interface)` for every `@join__implements`.
    pub implements: Vec<(GraphId, Name)>,
    /// `(subgraph, member)` for every `@join__unionMember`.
    pub union_members: Vec<(GraphId, Name)>,
}

/// How a field can be resolved in one subgraph.
#[derive(Debug, Clone, Copy)]
pub enum FieldInGraph<'a> {
    /// The subgraph does not have the field (or the type).
    Absent,
    /// The subgraph declares it `@external`: another subgraph resolves it.
    External,
    /// The subgraph resolves it.
    Local,
    /// The subgraph resolves it once given these fields of the parent (`@requires`).
    Requires(&'a SelectionSet),
}

/// Reads the subgraphs from the `join__Graph` enum.
pub(super) fn read_graphs(schema: &Valid<Schema>) -> Result<Vec<SubgraphInfo>, SupergraphError> {
    let Some(ExtendedType::Enum(graphs)) = schema.types.get("join__Graph") else {
        return Err(SupergraphError::NotASupergraph);
    };
    graphs
        .values
        .iter()
        .map(|(value, definition)| {
            let directive = definition.directives.get("join__graph");
            let argument = |name: &str| {
                directive
                    .and_then(|d| d.specified_argument_by_name(name))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let name = argument("name").unwrap_or_else(|| value.to_string().to_lowercase());
            Ok(SubgraphInfo {
                name,
                url: argument("url").unwrap_or_default(),
                enum_value: value.clone(),
            })
        })
        .collect()
}

struct Reader<'a> {
    schema: &'a Valid<Schema>,
    graphs: HashMap<Name, GraphId>,
}

impl Reader<'_> {
    fn graph(
        &self,
        directive: &ast::Directive,
        coordinate: &str,
    ) -> Result<Option<GraphId>, SupergraphError> {
        let Some(value) = directive.specified_argument_by_name("graph") else {
            return Ok(None);
        };
        let ast::Value::Enum(name) = value.as_ref() else {
            return Err(join_error(directive, coordinate, "graph: is not an enum value"));
        };
        self.graphs
            .get(name)
            .copied()
            .map(Some)
            .ok_or_else(|| join_error(directive, coordinate, &format!("unknown graph {name}")))
    }

    fn field_set(
        &self,
        type_name: &Name,
        source: &str,
        directive: &ast::Directive,
        coordinate: &str,
    ) -> Result<SelectionSet, SupergraphError> {
        let parsed = executable::FieldSet::parse(self.schema, type_name.clone(), source, "field_set")
            .map_err(|e| {
                join_error(
                    directive,
                    coordinate,
                    &format!("field set {source:?}: {}", e.errors),
                )
            })?;
        Ok(convert_selection_set(&parsed.selection_set))
    }
}

fn join_error(directive: &ast::Directive, coordinate: &str, message: &str) -> SupergraphError {
    SupergraphError::Join {
        directive: directive.name.to_string(),
        coordinate: coordinate.to_string(),
        message: message.to_string(),
    }
}

fn bool_argument(directive: &ast::Directive, name: &str) -> Option<bool> {
    directive
        .specified_argument_by_name(name)
        .and_then(|v| v.to_bool())
}

fn string_argument<'a>(directive: &'a ast::Directive, name: &str) -> Option<&'a str> {
    directive
        .specified_argument_by_name(name)
        .and_then(|v| v.as_str())
}

/// Converts a parsed field set (field sets have no fragment spreads) to our form.
fn convert_selection_set(set: &executable::SelectionSet) -> SelectionSet {
    let mut out = SelectionSet::default();
    for selection in &set.selections {
        match selection {
            executable::Selection::Field(field) => {
                out.add_field(Field {
                    alias: field.alias.clone(),
                    name: field.name.clone(),
                    arguments: field.arguments.clone(),
                    selection_set: convert_selection_set(&field.selection_set),
                });
            }
            executable::Selection::InlineFragment(fragment) => {
                let inner = convert_selection_set(&fragment.selection_set);
                match &fragment.type_condition {
                    Some(condition) if *condition != set.ty => out.add_fragment(condition.clone(), inner),
                    _ => out.merge(inner),
                }
            }
            executable::Selection::FragmentSpread(_) => {}
        }
    }
    out
}

/// Reads the federation metadata of every type.
pub(super) fn read_types(
    schema: &Valid<Schema>,
    subgraphs: &[SubgraphInfo],
) -> Result<HashMap<Name, TypeMeta>, SupergraphError> {
    let reader = Reader {
        schema,
        graphs: subgraphs
            .iter()
            .enumerate()
            .map(|(id, s)| (s.enum_value.clone(), id))
            .collect(),
    };
    let mut types = HashMap::new();
    for (name, ty) in &schema.types {
        if ty.is_built_in() {
            continue;
        }
        let mut meta = TypeMeta::default();
        for directive in ty.directives().get_all("join__type") {
            let Some(graph) = reader.graph(directive, name)? else {
                continue;
            };
            let interface_object = bool_argument(directive, "isInterfaceObject").unwrap_or(false);
            let key = string_argument(directive, "key")
                .map(|source| reader.field_set(name, source, directive, name))
                .transpose()?;
            let resolvable = bool_argument(directive, "resolvable").unwrap_or(true);
            match meta.in_graphs.iter_mut().find(|t| t.graph == graph) {
                Some(existing) => {
                    existing.keys.extend(key.map(|fields| Key { fields, resolvable }));
                }
                None => meta.in_graphs.push(TypeInGraph {
                    graph,
                    keys: key.map(|fields| Key { fields, resolvable }).into_iter().collect(),
                    interface_object,
                }),
            }
        }
        for directive in ty.directives().get_all("join__implements") {
            if let (Some(graph), Some(interface)) = (
                reader.graph(directive, name)?,
                string_argument(directive, "interface").and_then(|i| Name::new(i).ok()),
            ) {
                meta.implements.push((graph, interface));
            }
        }
        for directive in ty.directives().get_all("join__unionMember") {
            if let (Some(graph), Some(member)) = (
                reader.graph(directive, name)?,
                string_argument(directive, "member").and_then(|m| Name::new(m).ok()),
            ) {
                meta.union_members.push((graph, member));
            }
        }
        let fields = match ty {
            ExtendedType::Object(object) => Some(&object.fields),
            ExtendedType::Interface(interface) => Some(&interface.fields),
            _ => None,
        };
        for (field_name, field) in fields.into_iter().flatten() {
            let coordinate = format!("{name}.{field_name}");
            let mut joins = Vec::new();
            for directive in field.directives.get_all("join__field") {
                let graph = reader.graph(directive, &coordinate)?;
                let requires = string_argument(directive, "requires")
                    .map(|source| reader.field_set(name, source, directive, &coordinate))
                    .transpose()?;
                let field_type = field.ty.inner_named_type();
                let provides = match string_argument(directive, "provides") {
                    Some(source) if schema.types.contains_key(field_type) => {
                        Some(reader.field_set(field_type, source, directive, &coordinate)?)
                    }
                    _ => None,
                };
                joins.push(JoinField {
                    graph,
                    requires,
                    provides,
                    external: bool_argument(directive, "external").unwrap_or(false),
                    overrides: string_argument(directive, "override").is_some(),
                    override_label: string_argument(directive, "overrideLabel").map(str::to_string),
                    used_overridden: bool_argument(directive, "usedOverridden").unwrap_or(false),
                    subgraph_type: string_argument(directive, "type")
                        .and_then(|text| apollo_compiler::ast::Type::parse(text, "type").ok()),
                });
            }
            meta.fields.insert(
                field_name.clone(),
                FieldMeta {
                    joins: (!joins.is_empty()).then_some(joins),
                },
            );
        }
        types.insert(name.clone(), meta);
    }
    Ok(types)
}
