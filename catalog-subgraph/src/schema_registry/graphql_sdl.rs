//! GraphQL SDL schemas: parsing, and the changes that break clients of an
//! earlier version (a removed type, field, argument, enum value or union
//! member; a changed type; a new required argument or input field).

use std::collections::BTreeMap;

use dictamesh::async_graphql::parser::parse_schema;
use dictamesh::async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

/// What clients of a schema depend on, by type name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SdlModel {
    types: BTreeMap<String, TypeShape>,
}

/// Input values (arguments or input fields): name → (type, has a default).
type InputValues = BTreeMap<String, (String, bool)>;

/// Output fields: name → (type, arguments).
type OutputFields = BTreeMap<String, (String, InputValues)>;

/// One named type's surface.
#[derive(Debug, Clone, PartialEq)]
enum TypeShape {
    Scalar,
    /// Object or interface fields.
    Fields {
        kind: &'static str,
        fields: OutputFields,
    },
    Union(Vec<String>),
    Enum(Vec<String>),
    /// Input fields.
    Input(InputValues),
}

impl TypeShape {
    fn kind(&self) -> &'static str {
        match self {
            TypeShape::Scalar => "scalar",
            TypeShape::Fields { kind, .. } => kind,
            TypeShape::Union(_) => "union",
            TypeShape::Enum(_) => "enum",
            TypeShape::Input(_) => "input object",
        }
    }
}

/// Parses an SDL document (type definitions and extensions, merged by name);
/// the error is the parser's reason.
pub fn parse(text: &str) -> Result<SdlModel, String> {
    let document = parse_schema(text).map_err(|e| e.to_string())?;
    let mut model = SdlModel::default();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        let shape = match ty.kind {
            TypeKind::Scalar => TypeShape::Scalar,
            TypeKind::Object(o) => TypeShape::Fields {
                kind: "object",
                fields: output_fields(o.fields.iter().map(|f| &f.node)),
            },
            TypeKind::Interface(i) => TypeShape::Fields {
                kind: "interface",
                fields: output_fields(i.fields.iter().map(|f| &f.node)),
            },
            TypeKind::Union(u) => TypeShape::Union(u.members.iter().map(|m| m.node.to_string()).collect()),
            TypeKind::Enum(e) => {
                TypeShape::Enum(e.values.iter().map(|v| v.node.value.node.to_string()).collect())
            }
            TypeKind::InputObject(i) => TypeShape::Input(
                i.fields
                    .iter()
                    .map(|f| {
                        let f = &f.node;
                        (
                            f.name.node.to_string(),
                            (f.ty.node.to_string(), f.default_value.is_some()),
                        )
                    })
                    .collect(),
            ),
        };
        merge(&mut model, name, shape);
    }
    if model.types.is_empty() {
        return Err("the document defines no types".into());
    }
    Ok(model)
}

fn output_fields<'a>(
    fields: impl Iterator<Item = &'a dictamesh::async_graphql::parser::types::FieldDefinition>,
) -> OutputFields {
    fields
        .map(|f| {
            let args = f
                .arguments
                .iter()
                .map(|a| {
                    let a = &a.node;
                    (
                        a.name.node.to_string(),
                        (a.ty.node.to_string(), a.default_value.is_some()),
                    )
                })
                .collect();
            (f.name.node.to_string(), (f.ty.node.to_string(), args))
        })
        .collect()
}

/// Adds a definition; an extension's fields, values and members join the type's.
fn merge(model: &mut SdlModel, name: String, shape: TypeShape) {
    match (model.types.get_mut(&name), shape) {
        (Some(TypeShape::Fields { fields, .. }), TypeShape::Fields { fields: more, .. }) => {
            fields.extend(more)
        }
        (Some(TypeShape::Enum(values)), TypeShape::Enum(more)) => values.extend(more),
        (Some(TypeShape::Union(members)), TypeShape::Union(more)) => members.extend(more),
        (Some(TypeShape::Input(fields)), TypeShape::Input(more)) => fields.extend(more),
        (_, shape) => {
            model.types.insert(name, shape);
        }
    }
}

/// The changes from `old` to `new` that break clients written against `old`.
pub fn breaking_changes(old: &SdlModel, new: &SdlModel) -> Vec<String> {
    let mut changes = Vec::new();
    for (name, before) in &old.types {
        let Some(after) = new.types.get(name) else {
            changes.push(format!("type `{name}` was removed"));
            continue;
        };
        if before.kind() != after.kind() {
            changes.push(format!(
                "type `{name}` changed from {} to {}",
                before.kind(),
                after.kind()
            ));
            continue;
        }
        match (before, after) {
            (TypeShape::Fields { fields: before, .. }, TypeShape::Fields { fields: after, .. }) => {
                for (field, (ty, args)) in before {
                    let Some((new_ty, new_args)) = after.get(field) else {
                        changes.push(format!("field `{name}.{field}` was removed"));
                        continue;
                    };
                    if ty != new_ty {
                        changes.push(format!(
                            "field `{name}.{field}` changed type from `{ty}` to `{new_ty}`"
                        ));
                    }
                    for (arg, (arg_ty, _)) in args {
                        match new_args.get(arg) {
                            None => changes.push(format!("argument `{name}.{field}({arg}:)` was removed")),
                            Some((new_arg_ty, _)) if new_arg_ty != arg_ty => changes.push(format!(
                                "argument `{name}.{field}({arg}:)` changed type from `{arg_ty}` to `{new_arg_ty}`"
                            )),
                            Some(_) => {}
                        }
                    }
                    for (arg, (arg_ty, has_default)) in new_args {
                        if !args.contains_key(arg) && arg_ty.ends_with('!') && !has_default {
                            changes.push(format!("required argument `{name}.{field}({arg}:)` was added"));
                        }
                    }
                }
            }
            (TypeShape::Enum(before), TypeShape::Enum(after)) => {
                for value in before.iter().filter(|v| !after.contains(v)) {
                    changes.push(format!("enum value `{name}.{value}` was removed"));
                }
            }
            (TypeShape::Union(before), TypeShape::Union(after)) => {
                for member in before.iter().filter(|m| !after.contains(m)) {
                    changes.push(format!("member `{member}` was removed from union `{name}`"));
                }
            }
            (TypeShape::Input(before), TypeShape::Input(after)) => {
                for (field, (ty, _)) in before {
                    match after.get(field) {
                        None => changes.push(format!("input field `{name}.{field}` was removed")),
                        Some((new_ty, _)) if new_ty != ty => changes.push(format!(
                            "input field `{name}.{field}` changed type from `{ty}` to `{new_ty}`"
                        )),
                        Some(_) => {}
                    }
                }
                for (field, (ty, has_default)) in after {
                    if !before.contains_key(field) && ty.ends_with('!') && !has_default {
                        changes.push(format!("required input field `{name}.{field}` was added"));
                    }
                }
            }
            _ => {}
        }
    }
    changes
}

/// The SDL with runs of whitespace collapsed, for identity.
pub fn canonical_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "type Customer { id: ID! name: String email: String orders(first: Int): [Order] } \
                      type Order { id: ID! } enum Tier { GOLD SILVER }";

    #[test]
    fn additions_do_not_break_clients() {
        let v2 = format!("{V1} extend type Customer {{ phone: String }} type Invoice {{ id: ID! }}");
        assert!(breaking_changes(&parse(V1).unwrap(), &parse(&v2).unwrap()).is_empty());
    }

    #[test]
    fn removed_fields_changed_types_and_removed_values_break_clients() {
        let v2 = "type Customer { id: ID! name: Int orders(first: Int, status: String!): [Order] } \
                  type Order { id: ID! } enum Tier { GOLD }";
        let changes = breaking_changes(&parse(V1).unwrap(), &parse(v2).unwrap());
        assert_eq!(
            changes,
            [
                "field `Customer.email` was removed",
                "field `Customer.name` changed type from `String` to `Int`",
                "required argument `Customer.orders(status:)` was added",
                "enum value `Tier.SILVER` was removed",
            ]
        );
    }

    #[test]
    fn invalid_sdl_reports_the_parser() {
        let error = parse("type Customer { id: }").unwrap_err();
        assert!(!error.is_empty());
    }
}
