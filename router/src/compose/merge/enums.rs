//! Enums: the union of values when only used as output, the intersection when only used as
//! input, and identical values when used as both (`ENUM_VALUE_MISMATCH`).

use apollo_compiler::Name;
use apollo_compiler::schema::ExtendedType;
use indexmap::IndexSet;

use super::Merger;
use super::applied_directives::AppliedDirectiveMerger;
use super::human_readable::subgraph_list;
use super::join_spec::join_enum_value;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::supergraph_model::MergedEnumValue;

/// Where an enum is used, with an example coordinate of each use.
#[derive(Debug, Clone, Default)]
pub struct EnumUsage {
    /// An argument or input field of this enum type.
    pub input_example: Option<String>,
    /// A field of this enum type.
    pub output_example: Option<String>,
}

impl Merger<'_> {
    /// Merges an enum type's values.
    pub(super) fn merge_enum(&mut self, name: &Name) {
        self.merge_type_metadata(name);
        let usage = self.enum_usage.get(name).cloned().unwrap_or_default();
        if usage.input_example.is_none() && usage.output_example.is_none() {
            self.hint(
                "UNUSED_ENUM_TYPE",
                format!(
                    "Enum type \"{name}\" is defined but unused. It will be included in the supergraph with all the values appearing in any subgraph (\"as if\" it was only used as an output type)."
                ),
            );
        }
        let sources: Vec<(usize, &apollo_compiler::schema::EnumType)> = self
            .subgraphs
            .iter()
            .enumerate()
            .filter_map(|(idx, s)| match s.schema.types.get(name) {
                Some(ExtendedType::Enum(e)) => Some((idx, &**e)),
                _ => None,
            })
            .collect();
        let all_values: IndexSet<Name> = sources
            .iter()
            .flat_map(|(_, e)| e.values.keys().cloned())
            .collect();
        for value in all_values {
            let defining: Vec<usize> = sources
                .iter()
                .filter(|(_, e)| e.values.contains_key(&value))
                .map(|(idx, _)| *idx)
                .collect();
            let missing: Vec<&str> = sources
                .iter()
                .filter(|(_, e)| !e.values.contains_key(&value))
                .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                .collect();
            let description = self.merge_description(
                &format!("\"{name}.{value}\""),
                sources
                    .iter()
                    .filter_map(|(idx, e)| Some((*idx, e.values.get(&value)?.description.as_deref()))),
            );
            let mut directives = self.directives.merge(sources.iter().filter_map(|(idx, e)| {
                Some((
                    *idx,
                    e.values.get(&value)?.directives.iter().map(|d| &**d).collect(),
                ))
            }));
            let inaccessible = AppliedDirectiveMerger::is_inaccessible(&directives);
            directives.extend(defining.iter().map(|idx| join_enum_value(&self.graphs[*idx])));
            let defined_in: Vec<&str> = defining
                .iter()
                .map(|idx| self.subgraphs[*idx].name.as_str())
                .collect();
            let keep = if missing.is_empty() || inaccessible {
                true
            } else {
                match (&usage.input_example, &usage.output_example) {
                    (Some(input), Some(output)) => {
                        let message = format!(
                            "Enum type \"{name}\" is used as both input type (for example, as type of \"{input}\") and output type (for example, as type of \"{output}\"), but value \"{value}\" is not defined in all the subgraphs defining \"{name}\": \"{value}\" is defined in {} but not in {}",
                            subgraph_list(&defined_in),
                            subgraph_list(&missing)
                        );
                        self.errors
                            .push(CompositionError::new(ErrorCode::EnumValueMismatch, message));
                        true
                    }
                    (Some(_), None) => {
                        let message = format!(
                            "Value \"{value}\" of enum type \"{name}\" will not be part of the supergraph as it is not defined in all the subgraphs defining \"{name}\": \"{value}\" is defined in {} but not in {}",
                            subgraph_list(&defined_in),
                            subgraph_list(&missing)
                        );
                        self.hint("INCONSISTENT_ENUM_VALUE_FOR_INPUT_ENUM", message);
                        false
                    }
                    _ => {
                        let message = format!(
                            "Value \"{value}\" of enum type \"{name}\" has been added to the supergraph but is only defined in a subset of the subgraphs defining \"{name}\": \"{value}\" is defined in {} but not in {}",
                            subgraph_list(&defined_in),
                            subgraph_list(&missing)
                        );
                        self.hint("INCONSISTENT_ENUM_VALUE_FOR_OUTPUT_ENUM", message);
                        true
                    }
                }
            };
            if let Some(ty) = self.types.get_mut(name).filter(|_| keep) {
                ty.values.insert(
                    value,
                    MergedEnumValue {
                        description,
                        directives,
                    },
                );
            }
        }
        if self.types.get(name).is_some_and(|t| t.values.is_empty()) {
            self.errors.push(CompositionError::new(
                ErrorCode::EmptyMergedEnumType,
                format!(
                    "None of the values of enum type \"{name}\" are defined consistently in all the subgraphs defining that type. As only values common to all subgraphs are merged, this would result in an empty type (it is defined in {}).",
                    subgraph_list(&self.subgraphs_defining(name))
                ),
            ));
        }
    }
}
