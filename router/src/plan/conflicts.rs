//! Subgraph operations must be valid for the *subgraph's* schema, where a field can have
//! another type than in the supergraph (`@join__field(type:)`). Two fields with the same
//! response key in fragments on different types are then a validation error in the
//! subgraph ("conflicting types `ID!` and `ID`"). Such a field is sent under an alias,
//! and the alias is renamed back in the response ([`KeyRename`]).

use apollo_compiler::Name;

use super::model::PathElement;
use super::selection::Selection;
use super::selection::SelectionSet;
use crate::supergraph::GraphId;
use crate::supergraph::Supergraph;

/// A response key to rename in a subgraph's result before merging it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRename {
    /// Where the objects are, from the root of the fetch's result (for `_entities`,
    /// from each entity).
    pub path: Vec<PathElement>,
    /// The alias sent to the subgraph.
    pub alias: Name,
    /// The response key the client expects.
    pub original: Name,
}

/// Aliases the fields of `set` (on `parent`, at `path`) whose type in `graph` conflicts
/// with a same-keyed field in another fragment.
pub fn alias_type_conflicts(
    supergraph: &Supergraph,
    graph: GraphId,
    parent: &Name,
    set: &mut SelectionSet,
    path: &mut Vec<PathElement>,
    renames: &mut Vec<KeyRename>,
) {
    // Children first, so that equal sub-selections end up aliased the same way.
    for item in &mut set.items {
        match item {
            Selection::Field(field) if !field.selection_set.is_empty() => {
                let Some(ty) = supergraph.field_type_in_graph(parent, &field.name, graph) else {
                    continue;
                };
                path.push(PathElement::Key(field.response_key().clone()));
                let mut depth = 0;
                let mut inner = &ty;
                while let apollo_compiler::ast::Type::List(item)
                | apollo_compiler::ast::Type::NonNullList(item) = inner
                {
                    path.push(PathElement::List);
                    depth += 1;
                    inner = item;
                }
                let named = ty.inner_named_type().clone();
                alias_type_conflicts(supergraph, graph, &named, &mut field.selection_set, path, renames);
                for _ in 0..depth {
                    path.pop();
                }
                path.pop();
            }
            Selection::Fragment(fragment) => {
                path.push(PathElement::TypeCondition(fragment.type_condition.clone()));
                let condition = fragment.type_condition.clone();
                alias_type_conflicts(
                    supergraph,
                    graph,
                    &condition,
                    &mut fragment.selection_set,
                    path,
                    renames,
                );
                path.pop();
            }
            Selection::Field(_) => {}
        }
    }
    let mut seen: Vec<(Name, String)> = Vec::new();
    for item in &set.items {
        if let Selection::Field(field) = item
            && let Some(ty) = supergraph.field_type_in_graph(parent, &field.name, graph)
        {
            seen.push((field.response_key().clone(), ty.to_string()));
        }
    }
    for item in &mut set.items {
        let Selection::Fragment(fragment) = item else {
            continue;
        };
        let condition = fragment.type_condition.clone();
        for inner in &mut fragment.selection_set.items {
            let Selection::Field(field) = inner else {
                continue;
            };
            let Some(ty) = supergraph.field_type_in_graph(&condition, &field.name, graph) else {
                continue;
            };
            let ty = ty.to_string();
            let key = field.response_key().clone();
            match seen.iter().find(|(k, _)| *k == key) {
                Some((_, existing)) if *existing != ty => {
                    let Ok(alias) = Name::new(&format!("_{}_{}", key, condition)) else {
                        continue;
                    };
                    let mut rename_path = path.clone();
                    rename_path.push(PathElement::TypeCondition(condition.clone()));
                    renames.push(KeyRename {
                        path: rename_path,
                        alias: alias.clone(),
                        original: key,
                    });
                    field.alias = Some(alias);
                }
                Some(_) => {}
                None => seen.push((key, ty)),
            }
        }
    }
}
