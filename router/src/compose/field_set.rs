//! Field sets (`@key(fields:)`, `@requires(fields:)`, `@provides(fields:)`): parsing against a
//! type and listing the fields they select.

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::executable::FieldSet;
use apollo_compiler::executable::Selection;
use apollo_compiler::executable::SelectionSet;
use apollo_compiler::validation::DiagnosticList;
use apollo_compiler::validation::Valid;

/// A field of a type: `(type name, field name)`.
pub type FieldCoordinate = (Name, Name);

/// Parses and validates `fields` as a selection set on `type_name`.
pub fn parse_field_set(
    schema: &Valid<Schema>,
    type_name: &Name,
    fields: &str,
) -> Result<Valid<FieldSet>, DiagnosticList> {
    FieldSet::parse_and_validate(schema, type_name.clone(), fields, "field-set.graphql")
        .map_err(|with_errors| with_errors.errors)
}

/// Every field a selection set selects, nested ones included, with its parent type.
pub fn selected_fields(selection_set: &SelectionSet) -> Vec<FieldCoordinate> {
    let mut out = Vec::new();
    collect(selection_set, &mut out);
    out
}

fn collect(selection_set: &SelectionSet, out: &mut Vec<FieldCoordinate>) {
    for selection in &selection_set.selections {
        match selection {
            Selection::Field(field) => {
                if field.name != "__typename" {
                    out.push((selection_set.ty.clone(), field.name.clone()));
                }
                collect(&field.selection_set, out);
            }
            Selection::InlineFragment(fragment) => collect(&fragment.selection_set, out),
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// The messages of field-set diagnostics, joined.
pub fn diagnostics_message(diagnostics: &DiagnosticList) -> String {
    diagnostics
        .iter()
        .map(|d| d.error.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
