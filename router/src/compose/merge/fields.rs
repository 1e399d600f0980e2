//! Fields of object and interface types: types, arguments, `@external` consistency,
//! `@join__field` and field sharing (`INVALID_FIELD_SHARING`).

use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::schema::FieldDefinition;
use indexmap::IndexMap;

use super::Merger;
use super::human_readable::mismatch_description;
use super::human_readable::subgraph_list;
use super::join_spec::JoinField;
use super::overrides::FieldMergeContext;
use super::type_reference::Position;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::field_set::FieldCoordinate;
use crate::compose::supergraph_model::MergedField;
use crate::compose::supergraph_model::TypeKind;

/// For each subgraph that knows the parent type (or abstracts it through an
/// `@interfaceObject`): its definition of the field, if it has one. Ordered by subgraph.
pub type FieldSources<'a> = Vec<(usize, Option<&'a FieldDefinition>)>;

const ENTITY_FIELDS: [&str; 2] = ["_entities", "_service"];

impl<'a> Merger<'a> {
    /// Merges the fields of an object or interface type.
    pub(super) fn merge_composite(&mut self, name: &Name, kind: TypeKind) {
        self.merge_type_metadata(name);
        if kind == TypeKind::Interface {
            self.validate_interface_keys(name);
            self.validate_interface_objects(name);
        }
        let implements = self
            .types
            .get(name)
            .map(|t| t.implements.clone())
            .unwrap_or_default();
        let mut base: FieldSources<'a> = Vec::new();
        for (idx, subgraph) in self.subgraphs.iter().enumerate() {
            let has_type = subgraph.schema.types.contains_key(name);
            let abstracted =
                kind == TypeKind::Object && implements.iter().any(|i| subgraph.is_interface_object(i));
            if has_type || abstracted {
                base.push((idx, None));
            }
        }
        let mut fields: IndexMap<Name, FieldSources<'a>> = IndexMap::new();
        let subgraphs: &'a [crate::compose::subgraph::Subgraph] = self.subgraphs;
        for (idx, subgraph) in subgraphs.iter().enumerate() {
            let definitions = match subgraph.schema.types.get(name) {
                Some(ExtendedType::Object(o)) => &o.fields,
                Some(ExtendedType::Interface(i)) => &i.fields,
                _ => continue,
            };
            for (field_name, definition) in definitions {
                if name == "Query" && ENTITY_FIELDS.contains(&field_name.as_str()) {
                    continue;
                }
                let sources = fields.entry(field_name.clone()).or_insert_with(|| base.clone());
                if let Some(slot) = sources.iter_mut().find(|(i, _)| *i == idx) {
                    slot.1 = Some(&*definition.node);
                }
            }
        }
        if fields.is_empty() && kind == TypeKind::Object {
            self.types.shift_remove(name);
            return;
        }
        for (field_name, sources) in fields {
            let context = self.validate_override(name, &field_name, &sources);
            let merged = self.merge_field(name, &field_name, &sources, &context);
            if kind == TypeKind::Object {
                self.validate_field_sharing(name, &field_name, &sources, &context);
            }
            if let (Some(merged), Some(ty)) = (merged, self.types.get_mut(name)) {
                ty.fields.insert(field_name, merged);
            }
        }
    }

    /// The `@interfaceObject` fields that stand for `type_name.field_name` in subgraph `idx`
    /// (which does not define `type_name` itself).
    pub(super) fn interface_object_fields(
        &self,
        type_name: &Name,
        field_name: &Name,
        idx: usize,
    ) -> Vec<FieldCoordinate> {
        let subgraph = &self.subgraphs[idx];
        if subgraph.schema.types.contains_key(type_name)
            || self
                .types
                .get(type_name)
                .is_some_and(|t| t.kind != TypeKind::Object)
        {
            return Vec::new();
        }
        let Some(ty) = self.types.get(type_name) else {
            return Vec::new();
        };
        ty.implements
            .iter()
            .filter(|itf| subgraph.is_interface_object(itf))
            .filter(|itf| subgraph.field(itf, field_name).is_some())
            .map(|itf| (itf.clone(), field_name.clone()))
            .collect()
    }

    fn merge_field(
        &mut self,
        type_name: &Name,
        field_name: &Name,
        sources: &FieldSources<'_>,
        context: &FieldMergeContext,
    ) -> Option<MergedField> {
        let coordinate = (type_name.clone(), field_name.clone());
        let dest = format!("{type_name}.{field_name}");
        let every_source_external = sources.iter().all(|(idx, field)| {
            let meta = &self.subgraphs[*idx].meta;
            match field {
                Some(_) => meta.is_external(&coordinate),
                None => self
                    .interface_object_fields(type_name, field_name, *idx)
                    .iter()
                    .all(|f| meta.is_external(f)),
            }
        });
        if every_source_external {
            let defining: Vec<&str> = sources
                .iter()
                .filter(|(_, f)| f.is_some())
                .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                .collect();
            self.errors.push(CompositionError::new(
                ErrorCode::ExternalMissingOnBase,
                format!(
                    "Field \"{dest}\" is marked @external on all the subgraphs in which it is listed ({}).",
                    subgraph_list(&defining)
                ),
            ));
            return None;
        }
        let defined: Vec<(usize, &FieldDefinition)> = sources
            .iter()
            .filter_map(|(idx, f)| Some((*idx, (*f)?)))
            .collect();
        let resolving: Vec<(usize, &FieldDefinition)> = defined
            .iter()
            .filter(|(idx, _)| !self.subgraphs[*idx].meta.is_external(&coordinate))
            .copied()
            .collect();
        let description = self.merge_description(
            &format!("\"{dest}\""),
            resolving.iter().map(|(idx, f)| (*idx, f.description.as_deref())),
        );
        let mut directives = self.directives.merge(
            resolving
                .iter()
                .map(|(idx, f)| (*idx, f.directives.iter().map(|d| &**d).collect())),
        );
        let arguments = self.merge_arguments(&dest, &resolving);
        let type_sources: Vec<(usize, &ast::Type)> = if resolving.is_empty() {
            &defined
        } else {
            &resolving
        }
        .iter()
        .map(|(idx, f)| (*idx, &f.ty))
        .collect();
        let (ty, all_types_equal) = self.merge_type_reference(&dest, Position::Output, &type_sources);
        let externals: Vec<(usize, &FieldDefinition)> = defined
            .iter()
            .filter(|(idx, _)| self.subgraphs[*idx].meta.is_external(&coordinate))
            .copied()
            .collect();
        if !externals.is_empty() {
            self.validate_external_fields(&dest, &ty, &arguments, all_types_equal, &externals);
        }
        if self.needs_join_field(type_name, field_name, sources, all_types_equal, context) {
            directives.extend(self.join_fields(&coordinate, sources, all_types_equal, context));
        }
        Some(MergedField {
            description,
            ty,
            arguments,
            default_value: None,
            directives,
        })
    }

    fn validate_external_fields(
        &mut self,
        dest: &str,
        ty: &ast::Type,
        arguments: &IndexMap<Name, crate::compose::supergraph_model::MergedInputValue>,
        all_types_equal: bool,
        externals: &[(usize, &FieldDefinition)],
    ) {
        let mut invalid_type = false;
        let mut missing_arguments = Vec::new();
        for (_, field) in externals {
            let compatible = field.ty == *ty || (!all_types_equal && self.is_strict_subtype(ty, &field.ty));
            invalid_type |= !compatible;
            for name in arguments.keys() {
                if field.arguments.iter().all(|a| &a.name != name) && !missing_arguments.contains(name) {
                    missing_arguments.push(name.clone());
                }
            }
        }
        if invalid_type {
            let values: Vec<(String, String)> = externals
                .iter()
                .map(|(idx, f)| (self.subgraphs[*idx].name.clone(), format!("type \"{}\"", f.ty)))
                .collect();
            self.errors.push(CompositionError::new(
                ErrorCode::ExternalTypeMismatch,
                format!(
                    "Type of field \"{dest}\" is incompatible across subgraphs (where marked @external): it has type \"{ty}\" in the supergraph but {}",
                    mismatch_description(&values)
                ),
            ));
        }
        for name in missing_arguments {
            let lacking: Vec<&str> = externals
                .iter()
                .filter(|(_, f)| f.arguments.iter().all(|a| a.name != name))
                .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                .collect();
            self.errors.push(CompositionError::new(
                ErrorCode::ExternalArgumentMissing,
                format!(
                    "Field \"{dest}\" is missing argument \"{dest}({name}:)\" in some subgraphs where it is marked @external: it is not declared in {} (where \"{dest}\" is @external).",
                    subgraph_list(&lacking)
                ),
            ));
        }
    }

    fn needs_join_field(
        &self,
        type_name: &Name,
        field_name: &Name,
        sources: &FieldSources<'_>,
        all_types_equal: bool,
        context: &FieldMergeContext,
    ) -> bool {
        if !all_types_equal || context.any_used_or_labelled() {
            return true;
        }
        let coordinate = (type_name.clone(), field_name.clone());
        for (idx, field) in sources {
            let subgraph = &self.subgraphs[*idx];
            let overridden = context.get(*idx).unused_overridden;
            match field {
                Some(_) if !overridden => {
                    if subgraph.meta.is_external(&coordinate)
                        || subgraph.meta.provides.contains_key(&coordinate)
                        || subgraph.meta.requires.contains_key(&coordinate)
                    {
                        return true;
                    }
                    let missing_somewhere =
                        self.subgraphs
                            .iter()
                            .any(|other| match other.schema.types.get(type_name) {
                                Some(ExtendedType::Object(o)) => !o.fields.contains_key(field_name),
                                Some(ExtendedType::Interface(i)) => !i.fields.contains_key(field_name),
                                _ => false,
                            });
                    if missing_somewhere {
                        return true;
                    }
                }
                _ => {
                    if subgraph.schema.types.contains_key(type_name) {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn join_fields(
        &self,
        coordinate: &FieldCoordinate,
        sources: &FieldSources<'_>,
        all_types_equal: bool,
        context: &FieldMergeContext,
    ) -> Vec<ast::Directive> {
        let mut directives = Vec::new();
        for (idx, field) in sources {
            let Some(field) = field else {
                continue;
            };
            let state = context.get(*idx);
            if state.unused_overridden && state.label.is_none() {
                continue;
            }
            let meta = &self.subgraphs[*idx].meta;
            let join = JoinField {
                graph: Some(&self.graphs[*idx]),
                requires: meta.requires.get(coordinate).map(|s| s.as_str()),
                provides: meta.provides.get(coordinate).map(|s| s.as_str()),
                ty: (!all_types_equal).then(|| field.ty.to_string()),
                external: meta.is_external(coordinate),
                override_from: if state.unknown_target {
                    None
                } else {
                    meta.overrides.get(coordinate).map(|o| o.from.as_str())
                },
                used_overridden: state.used_overridden,
                override_label: state.label.as_deref(),
            };
            directives.push(join.to_directive());
        }
        directives
    }

    /// Reports non-shareable fields resolved by several subgraphs.
    pub(super) fn validate_field_sharing(
        &mut self,
        type_name: &Name,
        field_name: &Name,
        sources: &FieldSources<'_>,
        context: &FieldMergeContext,
    ) {
        let coordinate = (type_name.clone(), field_name.clone());
        let mut resolving: Vec<String> = Vec::new();
        let mut shareable = 0;
        let mut non_shareable: Vec<String> = Vec::new();
        let mut unknown_override_in: Option<String> = None;
        for (idx, field) in sources {
            let subgraph = &self.subgraphs[*idx];
            let mut categorize = |label: String, field: &FieldCoordinate| {
                if subgraph.meta.is_fully_external(field) {
                    return;
                }
                resolving.push(label.clone());
                if subgraph.meta.is_shareable(field) {
                    shareable += 1;
                } else {
                    non_shareable.push(label);
                }
            };
            match field {
                None => {
                    for itf_field in self.interface_object_fields(type_name, field_name, *idx) {
                        let label = format!(
                            "\"{}\" (through @interfaceObject field \"{}.{}\")",
                            subgraph.name, itf_field.0, itf_field.1
                        );
                        categorize(label, &itf_field);
                    }
                }
                Some(_) => {
                    let state = context.get(*idx);
                    if !state.used_overridden && !state.unused_overridden {
                        categorize(format!("\"{}\"", subgraph.name), &coordinate);
                        if state.unknown_target {
                            unknown_override_in = Some(subgraph.name.clone());
                        }
                    }
                }
            }
        }
        if !non_shareable.is_empty() && (shareable > 0 || non_shareable.len() > 1) {
            let list = |items: &[String]| -> String {
                match items {
                    [one] => format!("subgraph {one}"),
                    [init @ .., last] => format!("subgraphs {} and {last}", init.join(", ")),
                    [] => String::new(),
                }
            };
            let non_shareables = if shareable == 0 {
                "all of them".to_string()
            } else {
                list(&non_shareable)
            };
            let extra = unknown_override_in
                .map(|s| format!(" (please note that \"{type_name}.{field_name}\" has an @override directive in \"{s}\" that targets an unknown subgraph so this could be due to misspelling the @override(from:) argument)"))
                .unwrap_or_default();
            self.errors.push(CompositionError::new(
                ErrorCode::InvalidFieldSharing,
                format!(
                    "Non-shareable field \"{type_name}.{field_name}\" is resolved from multiple subgraphs: it is resolved from {} and defined as non-shareable in {non_shareables}{extra}",
                    list(&resolving)
                ),
            ));
        }
    }
}
