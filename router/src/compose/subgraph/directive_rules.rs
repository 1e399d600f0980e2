//! Federation rules on one subgraph: valid `@key`, `@requires` and `@provides` field sets,
//! `@external` usage and `@interfaceObject` usage.

use apollo_compiler::Name;
use apollo_compiler::executable::Selection;
use apollo_compiler::executable::SelectionSet;
use apollo_compiler::schema::ExtendedType;

use super::Subgraph;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::field_set::diagnostics_message;
use crate::compose::field_set::parse_field_set;

/// Checks the federation rules of one subgraph.
pub fn check_directive_rules(subgraph: &Subgraph) -> Vec<CompositionError> {
    let mut errors = Vec::new();
    check_keys(subgraph, &mut errors);
    check_requires(subgraph, &mut errors);
    check_provides(subgraph, &mut errors);
    if subgraph.names.is_fed2() {
        check_unused_externals(subgraph, &mut errors);
    }
    check_interface_objects(subgraph, &mut errors);
    errors
}

fn error(subgraph: &Subgraph, code: ErrorCode, message: String) -> CompositionError {
    CompositionError::in_subgraph(code, &subgraph.name, message)
}

fn check_keys(subgraph: &Subgraph, errors: &mut Vec<CompositionError>) {
    let schema = &subgraph.schema;
    for (type_name, keys) in &subgraph.meta.keys {
        for key in keys {
            let application = format!("@key(fields: \"{}\")", key.fields);
            match parse_field_set(schema, type_name, &key.fields) {
                Err(diagnostics) => errors.push(error(
                    subgraph,
                    ErrorCode::KeyInvalidFields,
                    format!(
                        "On type \"{type_name}\", for {application}: {}",
                        diagnostics_message(&diagnostics)
                    ),
                )),
                Ok(field_set) => visit_fields(&field_set.selection_set, &mut |parent, field| {
                    let coordinate = format!("{parent}.{}", field.name);
                    if !field.definition.arguments.is_empty() {
                        errors.push(error(
                            subgraph,
                            ErrorCode::KeyFieldsHasArgs,
                            format!(
                                "On type \"{type_name}\", for {application}: field {coordinate} cannot be included because it has arguments (fields with argument are not allowed in @key)"
                            ),
                        ));
                    }
                    let field_type = field.definition.ty.inner_named_type();
                    let kind = match schema.types.get(field_type) {
                        Some(ExtendedType::Interface(_)) => Some("an Interface"),
                        Some(ExtendedType::Union(_)) => Some("a Union"),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        errors.push(error(
                            subgraph,
                            ErrorCode::KeyFieldsSelectInvalidType,
                            format!(
                                "On type \"{type_name}\", for {application}: field \"{coordinate}\" is {kind} type which is not allowed in @key"
                            ),
                        ));
                    }
                }),
            }
        }
    }
}

fn check_requires(subgraph: &Subgraph, errors: &mut Vec<CompositionError>) {
    let schema = &subgraph.schema;
    for ((type_name, field_name), fields) in &subgraph.meta.requires {
        let application = format!("@requires(fields: \"{fields}\")");
        match parse_field_set(schema, type_name, fields) {
            Err(diagnostics) => errors.push(error(
                subgraph,
                ErrorCode::RequiresInvalidFields,
                format!(
                    "On field \"{type_name}.{field_name}\", for {application}: {} (if the field is defined in another subgraph, you need to add it to this subgraph with @external)",
                    diagnostics_message(&diagnostics)
                ),
            )),
            Ok(field_set) => {
                for (parent, leaf) in non_external_leaves(subgraph, &field_set.selection_set) {
                    errors.push(error(
                        subgraph,
                        ErrorCode::RequiresFieldsMissingExternal,
                        format!(
                            "On field \"{type_name}.{field_name}\", for {application}: field \"{parent}.{leaf}\" should not be part of a @requires since it is already provided by this subgraph (it is not marked @external)"
                        ),
                    ));
                }
            }
        }
    }
}

fn check_provides(subgraph: &Subgraph, errors: &mut Vec<CompositionError>) {
    let schema = &subgraph.schema;
    for ((type_name, field_name), fields) in &subgraph.meta.provides {
        let application = format!("@provides(fields: \"{fields}\")");
        let Ok(field) = schema.type_field(type_name, field_name) else {
            continue;
        };
        let target = field.ty.inner_named_type();
        let composite = matches!(
            schema.types.get(target),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        );
        if !composite {
            errors.push(error(
                subgraph,
                ErrorCode::ProvidesOnNonObjectField,
                format!(
                    "Invalid @provides directive on field \"{type_name}.{field_name}\": field has type \"{}\" which is not a Composite Type",
                    field.ty
                ),
            ));
            continue;
        }
        match parse_field_set(schema, target, fields) {
            Err(diagnostics) => errors.push(error(
                subgraph,
                ErrorCode::ProvidesInvalidFields,
                format!(
                    "On field \"{type_name}.{field_name}\", for {application}: {}",
                    diagnostics_message(&diagnostics)
                ),
            )),
            Ok(field_set) => {
                for (parent, leaf) in non_external_leaves(subgraph, &field_set.selection_set) {
                    errors.push(error(
                        subgraph,
                        ErrorCode::ProvidesFieldsMissingExternal,
                        format!(
                            "On field \"{type_name}.{field_name}\", for {application}: field \"{parent}.{leaf}\" should not be part of a @provides since it is already provided by this subgraph (it is not marked @external)"
                        ),
                    ));
                }
            }
        }
    }
}

/// Leaf fields of a `@requires`/`@provides` selection that are not external and have no
/// external ancestor in the selection.
fn non_external_leaves(subgraph: &Subgraph, selection_set: &SelectionSet) -> Vec<(Name, Name)> {
    let mut out = Vec::new();
    collect_non_external_leaves(subgraph, selection_set, &mut out);
    out
}

fn collect_non_external_leaves(
    subgraph: &Subgraph,
    selection_set: &SelectionSet,
    out: &mut Vec<(Name, Name)>,
) {
    for selection in &selection_set.selections {
        match selection {
            Selection::Field(field) => {
                if field.name == "__typename" {
                    continue;
                }
                let coordinate = (selection_set.ty.clone(), field.name.clone());
                if subgraph.meta.is_external(&coordinate)
                    || subgraph.is_external_in_some_implementation(&coordinate)
                {
                    continue;
                }
                if field.selection_set.selections.is_empty() {
                    out.push(coordinate);
                } else {
                    collect_non_external_leaves(subgraph, &field.selection_set, out);
                }
            }
            Selection::InlineFragment(fragment) => {
                collect_non_external_leaves(subgraph, &fragment.selection_set, out)
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

fn check_unused_externals(subgraph: &Subgraph, errors: &mut Vec<CompositionError>) {
    let mut unused: Vec<_> = subgraph
        .meta
        .external_fields
        .iter()
        .filter(|f| subgraph.schema.get_object(&f.0).is_some() && !subgraph.meta.is_used(f))
        .collect();
    unused.sort();
    for (type_name, field_name) in unused {
        errors.push(error(
            subgraph,
            ErrorCode::ExternalUnused,
            format!(
                "Field \"{type_name}.{field_name}\" is marked @external but is not used in any federation directive (@key, @provides, @requires) or to satisfy an interface; the field declaration has no use and should be removed (or the field should not be @external)."
            ),
        ));
    }
}

fn check_interface_objects(subgraph: &Subgraph, errors: &mut Vec<CompositionError>) {
    let mut types: Vec<_> = subgraph.meta.interface_object_types.iter().collect();
    types.sort();
    for type_name in types {
        if !subgraph.meta.keys.contains_key(type_name) {
            errors.push(error(
                subgraph,
                ErrorCode::InterfaceObjectUsageError,
                format!(
                    "The @interfaceObject directive can only be applied to entity types but type \"{type_name}\" has no @key in this subgraph."
                ),
            ));
        }
    }
}

fn visit_fields(
    selection_set: &SelectionSet,
    visitor: &mut impl FnMut(&Name, &apollo_compiler::executable::Field),
) {
    for selection in &selection_set.selections {
        match selection {
            Selection::Field(field) => {
                visitor(&selection_set.ty, field);
                visit_fields(&field.selection_set, visitor);
            }
            Selection::InlineFragment(fragment) => visit_fields(&fragment.selection_set, visitor),
            Selection::FragmentSpread(_) => {}
        }
    }
}
