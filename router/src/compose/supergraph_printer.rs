//! Printing the supergraph model as SDL, in the layout Apollo's composition uses
//! (schema first, then directive definitions and types sorted by name, one type-level
//! directive per line).

use std::fmt::Write;

use apollo_compiler::ast;

use super::supergraph_model::MergedField;
use super::supergraph_model::MergedInputValue;
use super::supergraph_model::MergedType;
use super::supergraph_model::SupergraphSchema;
use super::supergraph_model::TypeKind;

/// Prints the supergraph as SDL.
pub fn print_supergraph(schema: &SupergraphSchema) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut head = String::from("schema");
    for link in &schema.links {
        let _ = write!(head, "\n  {link}");
    }
    head.push_str("\n{");
    for (operation, name) in &schema.root_operations {
        let _ = write!(head, "\n  {operation}: {name}");
    }
    head.push_str("\n}");
    blocks.push(head);

    let mut definitions: Vec<_> = schema.directive_definitions.iter().collect();
    definitions.sort_by(|a, b| a.0.cmp(&b.0));
    blocks.extend(definitions.into_iter().map(|(_, sdl)| sdl.clone()));

    let mut types: Vec<_> = schema.types.iter().collect();
    types.sort_by_key(|(name, _)| name.to_lowercase());
    for (name, ty) in types {
        blocks.push(print_type(name, ty));
    }
    let mut out = blocks.join("\n\n");
    out.push('\n');
    out
}

fn print_type(name: &str, ty: &MergedType) -> String {
    let mut out = String::new();
    print_description(&mut out, ty.description.as_deref(), "");
    out.push_str(ty.kind.keyword());
    out.push(' ');
    out.push_str(name);
    if !ty.implements.is_empty() {
        let interfaces: Vec<&str> = ty.implements.iter().map(|n| n.as_str()).collect();
        let _ = write!(out, " implements {}", interfaces.join(" & "));
    }
    for directive in &ty.directives {
        let _ = write!(out, "\n  {directive}");
    }
    match ty.kind {
        TypeKind::Scalar => {}
        TypeKind::Union => {
            if !ty.members.is_empty() {
                let members: Vec<&str> = ty.members.iter().map(|n| n.as_str()).collect();
                let separator = if ty.directives.is_empty() { " " } else { "\n " };
                let _ = write!(out, "{separator}= {}", members.join(" | "));
            }
        }
        TypeKind::Enum => {
            open_block(&mut out, ty);
            let mut first = true;
            for (value_name, value) in &ty.values {
                if value.description.is_some() && !first {
                    out.push('\n');
                }
                first = false;
                print_description(&mut out, value.description.as_deref(), "  ");
                let _ = write!(out, "  {value_name}");
                print_directives_inline(&mut out, &value.directives);
                out.push('\n');
            }
            out.push('}');
        }
        TypeKind::Object | TypeKind::Interface | TypeKind::InputObject => {
            open_block(&mut out, ty);
            for (position, (field_name, field)) in ty.fields.iter().enumerate() {
                if position > 0 && field.description.is_some() {
                    out.push('\n');
                }
                print_field(&mut out, field_name, field);
            }
            out.push('}');
        }
    }
    out
}

fn open_block(out: &mut String, ty: &MergedType) {
    out.push_str(if ty.directives.is_empty() { " {\n" } else { "\n{\n" });
}

fn print_field(out: &mut String, name: &str, field: &MergedField) {
    print_description(out, field.description.as_deref(), "  ");
    let _ = write!(out, "  {name}");
    if !field.arguments.is_empty() {
        let multiline = field.arguments.values().any(|a| a.description.is_some());
        let args: Vec<String> = field
            .arguments
            .iter()
            .map(|(arg_name, arg)| print_input_value(arg_name, arg, multiline))
            .collect();
        if multiline {
            let _ = write!(out, "(\n{}\n  )", args.join("\n"));
        } else {
            let _ = write!(out, "({})", args.join(", "));
        }
    }
    let _ = write!(out, ": {}", field.ty);
    if let Some(default) = &field.default_value {
        let _ = write!(out, " = {default}");
    }
    print_directives_inline(out, &field.directives);
    out.push('\n');
}

fn print_input_value(name: &str, value: &MergedInputValue, multiline: bool) -> String {
    let mut out = String::new();
    if multiline {
        print_description(&mut out, value.description.as_deref(), "    ");
        out.push_str("    ");
    }
    let _ = write!(out, "{name}: {}", value.ty);
    if let Some(default) = &value.default_value {
        let _ = write!(out, " = {default}");
    }
    print_directives_inline(&mut out, &value.directives);
    out
}

fn print_directives_inline(out: &mut String, directives: &[ast::Directive]) {
    for directive in directives {
        let _ = write!(out, " {directive}");
    }
}

fn print_description(out: &mut String, description: Option<&str>, indent: &str) {
    let Some(description) = description else {
        return;
    };
    let escaped = description.replace("\"\"\"", "\\\"\"\"");
    let _ = writeln!(out, "{indent}\"\"\"");
    for line in escaped.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    let _ = writeln!(out, "{indent}\"\"\"");
}
