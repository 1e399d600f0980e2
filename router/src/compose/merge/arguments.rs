//! Field arguments: the intersection across subgraphs (a required argument missing somewhere
//! is an error), with merged types and identical defaults.

use apollo_compiler::Name;
use apollo_compiler::Node;
use apollo_compiler::ast;
use apollo_compiler::schema::FieldDefinition;
use indexmap::IndexMap;
use indexmap::IndexSet;

use super::Merger;
use super::human_readable::mismatch_description;
use super::human_readable::subgraph_list;
use super::type_reference::Position;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::supergraph_model::MergedInputValue;

impl Merger<'_> {
    /// Merges the arguments of `coordinate` (`Type.field`) from the given definitions.
    pub(super) fn merge_arguments(
        &mut self,
        coordinate: &str,
        sources: &[(usize, &FieldDefinition)],
    ) -> IndexMap<Name, MergedInputValue> {
        let names: IndexSet<Name> = sources
            .iter()
            .flat_map(|(_, f)| f.arguments.iter().map(|a| a.name.clone()))
            .collect();
        let mut merged = IndexMap::new();
        for name in names {
            let argument_coordinate = format!("{coordinate}({name}:)");
            let present: Vec<(usize, &Node<ast::InputValueDefinition>)> = sources
                .iter()
                .filter_map(|(idx, f)| Some((*idx, f.arguments.iter().find(|a| a.name == name)?)))
                .collect();
            let missing: Vec<&str> = sources
                .iter()
                .filter(|(_, f)| f.arguments.iter().all(|a| a.name != name))
                .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                .collect();
            if !missing.is_empty() {
                let required: Vec<&str> = present
                    .iter()
                    .filter(|(_, a)| a.is_required())
                    .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                    .collect();
                if required.is_empty() {
                    let defined: Vec<&str> = present
                        .iter()
                        .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                        .collect();
                    let message = format!(
                        "Optional argument \"{argument_coordinate}\" will not be included in the supergraph as it does not appear in all subgraphs: it is defined in {} but not in {}",
                        subgraph_list(&defined),
                        subgraph_list(&missing)
                    );
                    self.hint("INCONSISTENT_ARGUMENT_PRESENCE", message);
                } else {
                    let message = format!(
                        "Argument \"{argument_coordinate}\" is required in some subgraphs but does not appear in all subgraphs: it is required in {} but does not appear in {}",
                        subgraph_list(&required),
                        subgraph_list(&missing)
                    );
                    self.errors.push(CompositionError::new(
                        ErrorCode::RequiredArgumentMissingInSomeSubgraph,
                        message,
                    ));
                }
                continue;
            }
            let value = self.merge_input_value(&argument_coordinate, Position::Argument, &present);
            merged.insert(name, value);
        }
        merged
    }

    /// Merges an argument or input field present in every source.
    pub(super) fn merge_input_value(
        &mut self,
        coordinate: &str,
        position: Position,
        present: &[(usize, &Node<ast::InputValueDefinition>)],
    ) -> MergedInputValue {
        let description = self.merge_description(
            &format!("\"{coordinate}\""),
            present.iter().map(|(idx, a)| (*idx, a.description.as_deref())),
        );
        let directives = self.directives.merge(
            present
                .iter()
                .map(|(idx, a)| (*idx, a.directives.iter().map(|d| &**d).collect())),
        );
        let types: Vec<(usize, &ast::Type)> = present.iter().map(|(idx, a)| (*idx, &*a.ty)).collect();
        let (ty, _) = self.merge_type_reference(coordinate, position, &types);
        let default_value = self.merge_default_value(coordinate, position, present);
        MergedInputValue {
            description,
            ty,
            default_value,
            directives,
        }
    }

    fn merge_default_value(
        &mut self,
        coordinate: &str,
        position: Position,
        present: &[(usize, &Node<ast::InputValueDefinition>)],
    ) -> Option<Node<ast::Value>> {
        let defaults: Vec<(usize, Option<&Node<ast::Value>>)> = present
            .iter()
            .map(|(idx, a)| (*idx, a.default_value.as_ref()))
            .collect();
        let first_defined = defaults.iter().find_map(|(_, d)| *d).cloned();
        let distinct: IndexSet<String> = defaults
            .iter()
            .filter_map(|(_, d)| d.map(|v| v.to_string()))
            .collect();
        if distinct.len() > 1 {
            let values: Vec<(String, String)> = defaults
                .iter()
                .map(|(idx, d)| {
                    let shown = match d {
                        Some(v) => format!("default value {v}"),
                        None => "no default value".to_string(),
                    };
                    (self.subgraphs[*idx].name.clone(), shown)
                })
                .collect();
            let (code, what) = if position == Position::Argument {
                (ErrorCode::ArgumentDefaultMismatch, "Argument")
            } else {
                (ErrorCode::InputFieldDefaultMismatch, "Input field")
            };
            self.errors.push(CompositionError::new(
                code,
                format!(
                    "{what} \"{coordinate}\" has incompatible default values across subgraphs: it has {}",
                    mismatch_description(&values)
                ),
            ));
        } else if first_defined.is_some() && defaults.iter().any(|(_, d)| d.is_none()) {
            self.hint(
                "INCONSISTENT_DEFAULT_VALUE_PRESENCE",
                format!(
                    "\"{coordinate}\" has a default value in only some subgraphs; the supergraph uses it everywhere"
                ),
            );
        }
        first_defined
    }
}
