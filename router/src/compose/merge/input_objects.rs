//! Input object types: the intersection of fields across subgraphs.

use apollo_compiler::Name;
use apollo_compiler::Node;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::schema::InputObjectType;
use indexmap::IndexSet;

use super::Merger;
use super::applied_directives::AppliedDirectiveMerger;
use super::human_readable::subgraph_list;
use super::join_spec::JoinField;
use super::type_reference::Position;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::supergraph_model::MergedField;

impl Merger<'_> {
    /// Merges an input object type.
    pub(super) fn merge_input_object(&mut self, name: &Name) {
        self.merge_type_metadata(name);
        let sources: Vec<(usize, &InputObjectType)> = self
            .subgraphs
            .iter()
            .enumerate()
            .filter_map(|(idx, s)| match s.schema.types.get(name) {
                Some(ExtendedType::InputObject(i)) => Some((idx, &**i)),
                _ => None,
            })
            .collect();
        let field_names: IndexSet<Name> = sources
            .iter()
            .flat_map(|(_, i)| i.fields.keys().cloned())
            .collect();
        for field_name in field_names {
            let coordinate = format!("{name}.{field_name}");
            let present: Vec<(usize, &Node<ast::InputValueDefinition>)> = sources
                .iter()
                .filter_map(|(idx, i)| Some((*idx, &i.fields.get(&field_name)?.node)))
                .collect();
            let missing: Vec<&str> = sources
                .iter()
                .filter(|(_, i)| !i.fields.contains_key(&field_name))
                .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                .collect();
            let value = self.merge_input_value(&coordinate, Position::InputField, &present);
            if !missing.is_empty() && !AppliedDirectiveMerger::is_inaccessible(&value.directives) {
                let required: Vec<&str> = present
                    .iter()
                    .filter(|(_, f)| f.is_required())
                    .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                    .collect();
                if required.is_empty() {
                    let defined: Vec<&str> = present
                        .iter()
                        .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                        .collect();
                    let message = format!(
                        "Input object field \"{field_name}\" will not be added to \"{name}\" in the supergraph as it does not appear in all subgraphs: it is defined in {} but not in {}",
                        subgraph_list(&defined),
                        subgraph_list(&missing)
                    );
                    self.hint("INCONSISTENT_INPUT_OBJECT_FIELD", message);
                } else {
                    let message = format!(
                        "Input object field \"{coordinate}\" is required in some subgraphs but does not appear in all subgraphs: it is required in {} but does not appear in {}",
                        subgraph_list(&required),
                        subgraph_list(&missing)
                    );
                    self.errors.push(CompositionError::new(
                        ErrorCode::RequiredInputFieldMissingInSomeSubgraph,
                        message,
                    ));
                }
                continue;
            }
            let mut directives = value.directives;
            let all_types_equal = present.iter().all(|(_, f)| *f.ty == value.ty);
            if !all_types_equal || !missing.is_empty() {
                for (idx, field) in &present {
                    directives.push(
                        JoinField {
                            graph: Some(&self.graphs[*idx]),
                            ty: (!all_types_equal).then(|| field.ty.to_string()),
                            ..JoinField::default()
                        }
                        .to_directive(),
                    );
                }
            }
            let merged = MergedField {
                description: value.description,
                ty: value.ty,
                arguments: Default::default(),
                default_value: value.default_value,
                directives,
            };
            if let Some(ty) = self.types.get_mut(name) {
                ty.fields.insert(field_name, merged);
            }
        }
        if self.types.get(name).is_some_and(|t| t.fields.is_empty()) {
            self.errors.push(CompositionError::new(
                ErrorCode::EmptyMergedInputType,
                format!(
                    "None of the fields of input object type \"{name}\" are consistently defined in all the subgraphs defining that type. As only fields common to all subgraphs are merged, this would result in an empty type (it is defined in {}).",
                    subgraph_list(&self.subgraphs_defining(name))
                ),
            ));
        }
    }
}
