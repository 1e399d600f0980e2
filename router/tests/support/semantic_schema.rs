//! A canonical, order-insensitive view of a schema, to compare two supergraphs semantically.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use apollo_compiler::Schema;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;

/// Canonical text of a directive application: name and arguments sorted by name.
fn directive_text(directive: &ast::Directive) -> String {
    let mut args: Vec<String> = directive
        .arguments
        .iter()
        .map(|a| format!("{}: {}", a.name, a.value))
        .collect();
    args.sort();
    if args.is_empty() {
        format!("@{}", directive.name)
    } else {
        format!("@{}({})", directive.name, args.join(", "))
    }
}

fn directive_set<'a>(directives: impl Iterator<Item = &'a ast::Directive>) -> Vec<String> {
    let mut out: Vec<String> = directives.map(directive_text).collect();
    out.sort();
    out
}

fn input_value_text(value: &ast::InputValueDefinition) -> String {
    let default = value
        .default_value
        .as_ref()
        .map(|d| format!(" = {d}"))
        .unwrap_or_default();
    let directives = directive_set(value.directives.iter().map(|d| &**d)).join(" ");
    format!("{}{default} {directives}", value.ty)
}

fn description(d: Option<&apollo_compiler::Node<str>>) -> String {
    d.map(|d| d.trim().to_string()).unwrap_or_default()
}

/// Flattens a schema into `path -> value` lines, e.g. `type User / field id / directives`.
pub fn canonical(schema: &Schema) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let roots: Vec<String> = schema
        .schema_definition
        .iter_root_operations()
        .map(|(op, name)| format!("{op}: {}", name.name))
        .collect();
    out.insert("schema / root operations".to_string(), roots.join(", "));
    out.insert(
        "schema / directives".to_string(),
        directive_set(schema.schema_definition.directives.iter().map(|d| &***d)).join(" "),
    );
    for (name, definition) in &schema.directive_definitions {
        if definition.is_built_in() {
            continue;
        }
        let locations: BTreeSet<String> = definition.locations.iter().map(|l| l.to_string()).collect();
        let args: Vec<String> = definition
            .arguments
            .iter()
            .map(|a| format!("{}: {}", a.name, input_value_text(a)))
            .collect();
        out.insert(
            format!("directive @{name}"),
            format!(
                "({}){} on {}",
                args.join(", "),
                if definition.repeatable { " repeatable" } else { "" },
                locations.into_iter().collect::<Vec<_>>().join(" | ")
            ),
        );
    }
    for (name, ty) in &schema.types {
        if ty.is_built_in() {
            continue;
        }
        let prefix = format!("type {name}");
        let kind = match ty {
            ExtendedType::Scalar(_) => "scalar",
            ExtendedType::Object(_) => "object",
            ExtendedType::Interface(_) => "interface",
            ExtendedType::Union(_) => "union",
            ExtendedType::Enum(_) => "enum",
            ExtendedType::InputObject(_) => "input",
        };
        out.insert(format!("{prefix} / kind"), kind.to_string());
        out.insert(format!("{prefix} / description"), description(ty.description()));
        out.insert(
            format!("{prefix} / directives"),
            directive_set(ty.directives().iter().map(|d| &***d)).join(" "),
        );
        let (fields, implements) = match ty {
            ExtendedType::Object(o) => (Some(&o.fields), Some(&o.implements_interfaces)),
            ExtendedType::Interface(i) => (Some(&i.fields), Some(&i.implements_interfaces)),
            _ => (None, None),
        };
        if let Some(implements) = implements {
            let set: BTreeSet<&str> = implements.iter().map(|i| i.name.as_str()).collect();
            out.insert(
                format!("{prefix} / implements"),
                set.into_iter().collect::<Vec<_>>().join(" & "),
            );
        }
        if let Some(fields) = fields {
            for (field_name, field) in fields {
                let field_prefix = format!("{prefix} / field {field_name}");
                out.insert(format!("{field_prefix} / type"), field.ty.to_string());
                out.insert(
                    format!("{field_prefix} / description"),
                    description(field.description.as_ref()),
                );
                out.insert(
                    format!("{field_prefix} / directives"),
                    directive_set(field.directives.iter().map(|d| &**d)).join(" "),
                );
                for arg in &field.arguments {
                    out.insert(
                        format!("{field_prefix} / argument {}", arg.name),
                        input_value_text(arg),
                    );
                }
            }
        }
        match ty {
            ExtendedType::Union(u) => {
                let members: BTreeSet<&str> = u.members.iter().map(|m| m.name.as_str()).collect();
                out.insert(
                    format!("{prefix} / members"),
                    members.into_iter().collect::<Vec<_>>().join(" | "),
                );
            }
            ExtendedType::Enum(e) => {
                for (value_name, value) in &e.values {
                    out.insert(
                        format!("{prefix} / value {value_name}"),
                        format!(
                            "{} {}",
                            description(value.description.as_ref()),
                            directive_set(value.directives.iter().map(|d| &**d)).join(" ")
                        ),
                    );
                }
            }
            ExtendedType::InputObject(i) => {
                for (field_name, field) in &i.fields {
                    out.insert(
                        format!("{prefix} / input field {field_name}"),
                        input_value_text(field),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Differences between an expected and an actual schema, one readable line each.
pub fn differences(expected: &Schema, actual: &Schema) -> Vec<String> {
    let expected = canonical(expected);
    let actual = canonical(actual);
    let mut out = Vec::new();
    for (path, value) in &expected {
        match actual.get(path) {
            None => out.push(format!("{path}: missing (expected `{value}`)")),
            Some(other) if other != value => out.push(format!("{path}: expected `{value}`, got `{other}`")),
            Some(_) => {}
        }
    }
    for (path, value) in &actual {
        if !expected.contains_key(path) {
            out.push(format!("{path}: unexpected (`{value}`)"));
        }
    }
    out
}
