//! The subgraph's Federation v2 SDL, as `_service { sdl }` returns it: one
//! `@link` to the federation spec importing exactly the directives used (at the
//! lowest spec version that has them all), `@link`s and `@composeDirective`s for
//! composed custom directives, then every type.

use std::collections::BTreeSet;
use std::fmt::Write;

use async_graphql::Value;

use crate::error::BuildError;
use crate::model::{
    AppliedDirective, EnumDef, FieldDef, InputObjectDef, InputValueDef, ObjectDef, ScalarDef, TypeDef,
    TypeRegistry,
};

/// Federation directives with the spec minor version that introduced them.
const FEDERATION_DIRECTIVES: [(&str, u32); 14] = [
    ("authenticated", 5),
    ("composeDirective", 1),
    ("extends", 0),
    ("external", 0),
    ("inaccessible", 0),
    ("interfaceObject", 3),
    ("key", 0),
    ("override", 0),
    ("policy", 6),
    ("provides", 0),
    ("requires", 0),
    ("requiresScopes", 5),
    ("shareable", 0),
    ("tag", 0),
];

/// The spec DictaMesh's governance directives are linked from.
pub const GOVERNANCE_SPEC: &str = "https://dictamesh.dev/governance/v0.1";

/// A custom directive that composition keeps in the supergraph
/// (`@composeDirective`), with the spec it is linked from.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposedDirective {
    /// The spec URL, e.g. `https://myspecs.dev/myCustomDirective/v1.0`.
    pub spec_url: String,
    /// The directive's name without `@`.
    pub name: String,
    /// Its definition, e.g. `directive @custom on OBJECT`.
    pub definition: String,
}

impl ComposedDirective {
    /// Parses a directive definition; the error quotes the parser.
    pub fn new(spec_url: &str, definition: &str) -> Result<Self, BuildError> {
        use async_graphql::parser::types::TypeSystemDefinition;
        let invalid = |reason: String| BuildError::InvalidDirective {
            definition: definition.to_string(),
            reason,
        };
        let document = async_graphql::parser::parse_schema(definition).map_err(|e| invalid(e.to_string()))?;
        let name = match document.definitions.as_slice() {
            [TypeSystemDefinition::Directive(d)] => d.node.name.node.to_string(),
            _ => {
                return Err(invalid(
                    "expected exactly one `directive @name ... on ...` definition".into(),
                ));
            }
        };
        Ok(ComposedDirective {
            spec_url: spec_url.to_string(),
            name,
            definition: definition.trim().to_string(),
        })
    }

    /// DictaMesh's `@pii` and `@classification`, which the router enforces.
    pub fn governance() -> [ComposedDirective; 2] {
        [
            ComposedDirective {
                spec_url: GOVERNANCE_SPEC.into(),
                name: "pii".into(),
                definition: "directive @pii on FIELD_DEFINITION".into(),
            },
            ComposedDirective {
                spec_url: GOVERNANCE_SPEC.into(),
                name: "classification".into(),
                definition: "directive @classification(level: String!) on FIELD_DEFINITION | OBJECT".into(),
            },
        ]
    }
}

/// Prints the SDL of a registry. `@pii` and `@classification` come from field
/// governance; every other non-federation directive must be among `composed`.
pub fn print(registry: &TypeRegistry, composed: &[ComposedDirective]) -> Result<String, BuildError> {
    let used = used_directives(registry);
    let mut federation: Vec<&str> = Vec::new();
    let mut minor = 0;
    let mut custom: Vec<&ComposedDirective> = Vec::new();
    let governance = ComposedDirective::governance();
    for name in &used {
        if let Some((_, since)) = FEDERATION_DIRECTIVES.iter().find(|(n, _)| n == name) {
            federation.push(name);
            minor = minor.max(*since);
        } else if name == "deprecated" || name == "specifiedBy" {
            continue;
        } else if let Some(directive) = composed.iter().chain(governance.iter()).find(|d| &d.name == name) {
            custom.push(directive);
        } else {
            return Err(BuildError::UndeclaredDirective(name.clone()));
        }
    }
    if !custom.is_empty() && !federation.contains(&"composeDirective") {
        federation.push("composeDirective");
        federation.sort_unstable();
        minor = minor.max(1);
    }
    if used.contains("override") && overrides_with_label(registry) {
        minor = minor.max(7);
    }

    let mut out = String::new();
    out.push_str("extend schema\n");
    let imports: Vec<String> = federation.iter().map(|n| format!("\"@{n}\"")).collect();
    let _ = write!(
        out,
        "  @link(url: \"https://specs.apollo.dev/federation/v2.{minor}\""
    );
    if !imports.is_empty() {
        let _ = write!(out, ", import: [{}]", imports.join(", "));
    }
    out.push_str(")\n");
    let mut specs: Vec<&str> = custom.iter().map(|d| d.spec_url.as_str()).collect();
    specs.dedup();
    specs.sort_unstable();
    specs.dedup();
    for spec in &specs {
        let names: Vec<String> = custom
            .iter()
            .filter(|d| d.spec_url == *spec)
            .map(|d| format!("\"@{}\"", d.name))
            .collect();
        let _ = writeln!(out, "  @link(url: \"{spec}\", import: [{}])", names.join(", "));
    }
    for directive in &custom {
        let _ = writeln!(out, "  @composeDirective(name: \"@{}\")", directive.name);
    }
    for directive in &custom {
        let _ = write!(out, "\n{}\n", directive.definition);
    }
    for def in registry.types() {
        out.push('\n');
        match def {
            TypeDef::Scalar(s) => print_scalar(&mut out, s),
            TypeDef::Enum(e) => print_enum(&mut out, e),
            TypeDef::InputObject(i) => print_input(&mut out, i),
            TypeDef::Object(o) => print_object(&mut out, o),
        }
    }
    Ok(out)
}

fn overrides_with_label(registry: &TypeRegistry) -> bool {
    registry.types().any(|t| match t {
        TypeDef::Object(o) => o.fields.iter().any(|f| {
            f.directive("override")
                .is_some_and(|d| d.string_arg("label").is_some())
        }),
        _ => false,
    })
}

fn used_directives(registry: &TypeRegistry) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for def in registry.types() {
        match def {
            TypeDef::Object(o) => {
                if !o.keys.is_empty() {
                    used.insert("key".to_string());
                }
                if o.classification.is_some() {
                    used.insert("classification".to_string());
                }
                used.extend(o.directives.iter().map(|d| d.name.clone()));
                for field in &o.fields {
                    used.extend(field.directives.iter().map(|d| d.name.clone()));
                    if field.governance.pii {
                        used.insert("pii".to_string());
                    }
                    if field.governance.classification.is_some() {
                        used.insert("classification".to_string());
                    }
                }
            }
            TypeDef::Enum(e) => used.extend(e.directives.iter().map(|d| d.name.clone())),
            TypeDef::InputObject(_) | TypeDef::Scalar(_) => {}
        }
    }
    used
}

fn print_description(out: &mut String, description: &Option<String>, indent: &str) {
    if let Some(text) = description {
        let escaped = text.replace("\"\"\"", "\\\"\"\"");
        if escaped.contains('\n') {
            let _ = writeln!(out, "{indent}\"\"\"");
            for line in escaped.lines() {
                let _ = writeln!(out, "{indent}{line}");
            }
            let _ = writeln!(out, "{indent}\"\"\"");
        } else {
            let _ = writeln!(out, "{indent}\"\"\"{escaped}\"\"\"");
        }
    }
}

fn print_directive(out: &mut String, directive: &AppliedDirective) {
    let _ = write!(out, " @{}", directive.name);
    if !directive.args.is_empty() {
        let args: Vec<String> = directive.args.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        let _ = write!(out, "({})", args.join(", "));
    }
}

fn print_deprecation(out: &mut String, reason: &Option<String>) {
    if let Some(reason) = reason {
        let _ = write!(out, " @deprecated(reason: {})", Value::String(reason.clone()));
    }
}

fn print_scalar(out: &mut String, scalar: &ScalarDef) {
    print_description(out, &scalar.description, "");
    let _ = write!(out, "scalar {}", scalar.name);
    if let Some(url) = &scalar.specified_by {
        let _ = write!(out, " @specifiedBy(url: {})", Value::String(url.clone()));
    }
    out.push('\n');
}

fn print_enum(out: &mut String, def: &EnumDef) {
    print_description(out, &def.description, "");
    let _ = write!(out, "enum {}", def.name);
    for directive in &def.directives {
        print_directive(out, directive);
    }
    out.push_str(" {\n");
    for value in &def.values {
        print_description(out, &value.description, "  ");
        let _ = write!(out, "  {}", value.name);
        print_deprecation(out, &value.deprecation);
        out.push('\n');
    }
    out.push_str("}\n");
}

fn print_input_value(out: &mut String, value: &InputValueDef) {
    let _ = write!(out, "{}: {}", value.name, value.ty);
    if let Some(default) = &value.default {
        let _ = write!(out, " = {default}");
    }
}

fn print_input(out: &mut String, def: &InputObjectDef) {
    print_description(out, &def.description, "");
    let _ = writeln!(out, "input {} {{", def.name);
    for field in &def.fields {
        print_description(out, &field.description, "  ");
        out.push_str("  ");
        print_input_value(out, field);
        out.push('\n');
    }
    out.push_str("}\n");
}

fn print_object(out: &mut String, def: &ObjectDef) {
    print_description(out, &def.description, "");
    let _ = write!(out, "type {}", def.name);
    for directive in def.directives.iter().filter(|d| d.name == "extends") {
        print_directive(out, directive);
    }
    for key in &def.keys {
        let _ = write!(
            out,
            " @key(fields: {}",
            Value::String(key.fields.as_str().to_string())
        );
        if !key.resolvable {
            out.push_str(", resolvable: false");
        }
        out.push(')');
    }
    for directive in def.directives.iter().filter(|d| d.name != "extends") {
        print_directive(out, directive);
    }
    if let Some(level) = def.classification {
        let _ = write!(out, " @classification(level: \"{}\")", level.as_str());
    }
    out.push_str(" {\n");
    for field in &def.fields {
        print_field(out, field);
    }
    out.push_str("}\n");
}

fn print_field(out: &mut String, field: &FieldDef) {
    print_description(out, &field.description, "  ");
    let _ = write!(out, "  {}", field.name);
    if !field.args.is_empty() {
        out.push('(');
        for (i, arg) in field.args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            print_input_value(out, arg);
        }
        out.push(')');
    }
    let _ = write!(out, ": {}", field.ty);
    for directive in &field.directives {
        print_directive(out, directive);
    }
    if field.governance.pii {
        out.push_str(" @pii");
    }
    if let Some(level) = field.governance.classification {
        let _ = write!(out, " @classification(level: \"{}\")", level.as_str());
    }
    print_deprecation(out, &field.deprecation);
    out.push('\n');
}
