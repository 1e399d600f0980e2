//! The join spec (`@join__type`, `@join__field`, ...) in the version the supergraph needs.

use apollo_compiler::Name;
use apollo_compiler::ast;

use crate::compose::link_spec::SpecVersion;
use crate::compose::supergraph_model::MergedEnumValue;
use crate::compose::supergraph_model::MergedType;
use crate::compose::supergraph_model::TypeKind;
use crate::compose::supergraph_model::directive;
use crate::compose::supergraph_model::enum_value;
use crate::compose::supergraph_model::string_value;

/// The join spec version for the newest federation version used by the subgraphs:
/// v0.5 from federation 2.8 (`@fromContext`), v0.4 from 2.7 (progressive `@override`), else v0.3.
pub fn join_version_for(federation: SpecVersion) -> SpecVersion {
    if federation >= SpecVersion::new(2, 8) {
        SpecVersion::new(0, 5)
    } else if federation >= SpecVersion::new(2, 7) {
        SpecVersion::new(0, 4)
    } else {
        SpecVersion::new(0, 3)
    }
}

/// Arguments of one `@join__field`.
#[derive(Debug, Default, Clone)]
pub struct JoinField<'a> {
    /// `graph:`
    pub graph: Option<&'a Name>,
    /// `requires:`
    pub requires: Option<&'a str>,
    /// `provides:`
    pub provides: Option<&'a str>,
    /// `type:`
    pub ty: Option<String>,
    /// `external: true`
    pub external: bool,
    /// `override:`
    pub override_from: Option<&'a str>,
    /// `usedOverridden: true`
    pub used_overridden: bool,
    /// `overrideLabel:`
    pub override_label: Option<&'a str>,
}

impl JoinField<'_> {
    /// The directive application.
    pub fn to_directive(&self) -> ast::Directive {
        let mut args = Vec::new();
        if let Some(graph) = self.graph {
            args.push(("graph", enum_value(graph)));
        }
        if let Some(requires) = self.requires {
            args.push(("requires", string_value(requires)));
        }
        if let Some(provides) = self.provides {
            args.push(("provides", string_value(provides)));
        }
        if let Some(ty) = &self.ty {
            args.push(("type", string_value(ty)));
        }
        if self.external {
            args.push(("external", ast::Value::Boolean(true)));
        }
        if let Some(from) = self.override_from {
            args.push(("override", string_value(from)));
        }
        if self.used_overridden {
            args.push(("usedOverridden", ast::Value::Boolean(true)));
        }
        if let Some(label) = self.override_label {
            args.push(("overrideLabel", string_value(label)));
        }
        directive("join__field", args)
    }
}

/// `@join__type(graph:, key:, extension:, resolvable:, isInterfaceObject:)`.
pub fn join_type(
    graph: &Name,
    key: Option<&str>,
    extension: bool,
    resolvable: Option<bool>,
    is_interface_object: bool,
) -> ast::Directive {
    let mut args = vec![("graph", enum_value(graph))];
    if let Some(key) = key {
        args.push(("key", string_value(key)));
    }
    if extension {
        args.push(("extension", ast::Value::Boolean(true)));
    }
    if let Some(resolvable) = resolvable {
        args.push(("resolvable", ast::Value::Boolean(resolvable)));
    }
    if is_interface_object {
        args.push(("isInterfaceObject", ast::Value::Boolean(true)));
    }
    directive("join__type", args)
}

/// `@join__implements(graph:, interface:)`.
pub fn join_implements(graph: &Name, interface: &Name) -> ast::Directive {
    directive(
        "join__implements",
        vec![
            ("graph", enum_value(graph)),
            ("interface", string_value(interface)),
        ],
    )
}

/// `@join__unionMember(graph:, member:)`.
pub fn join_union_member(graph: &Name, member: &Name) -> ast::Directive {
    directive(
        "join__unionMember",
        vec![("graph", enum_value(graph)), ("member", string_value(member))],
    )
}

/// `@join__enumValue(graph:)`.
pub fn join_enum_value(graph: &Name) -> ast::Directive {
    directive("join__enumValue", vec![("graph", enum_value(graph))])
}

/// The `@link` application of the join spec.
pub fn join_link(version: SpecVersion) -> ast::Directive {
    directive(
        "link",
        vec![
            (
                "url",
                string_value(&format!("https://specs.apollo.dev/join/v{version}")),
            ),
            ("for", ast::Value::Enum(Name::new_unchecked("EXECUTION"))),
        ],
    )
}

/// Definitions of the join and link spec directives, by name.
pub fn spec_directive_definitions(version: SpecVersion) -> Vec<(Name, String)> {
    let v04 = version >= SpecVersion::new(0, 4);
    let v05 = version >= SpecVersion::new(0, 5);
    let mut join_field_args = String::from(
        "graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean",
    );
    if v04 {
        join_field_args.push_str(", overrideLabel: String");
    }
    if v05 {
        join_field_args.push_str(", contextArguments: [join__ContextArgument!]");
    }
    let mut definitions = vec![
        (
            "join__enumValue",
            "directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE".to_string(),
        ),
        (
            "join__field",
            format!(
                "directive @join__field({join_field_args}) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION"
            ),
        ),
        (
            "join__graph",
            "directive @join__graph(name: String!, url: String!) on ENUM_VALUE".to_string(),
        ),
        (
            "join__implements",
            "directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE".to_string(),
        ),
        (
            "join__type",
            "directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR".to_string(),
        ),
        (
            "join__unionMember",
            "directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION".to_string(),
        ),
        (
            "link",
            "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA".to_string(),
        ),
    ];
    if v04 {
        definitions.push((
            "join__directive",
            "directive @join__directive(graphs: [join__Graph!], name: String!, args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION".to_string(),
        ));
    }
    definitions
        .into_iter()
        .map(|(name, sdl)| (Name::new_unchecked(name), sdl))
        .collect()
}

/// The join and link spec types: `join__Graph` (from `graphs`), `join__FieldSet`, ...
pub fn spec_types(version: SpecVersion, graphs: &[(Name, &str, &str)]) -> Vec<(Name, MergedType)> {
    let mut types = Vec::new();
    let scalar = |name: &str| (Name::new_unchecked(name), MergedType::new(TypeKind::Scalar));
    types.push(scalar("join__FieldSet"));
    let mut graph_enum = MergedType::new(TypeKind::Enum);
    for (value, name, url) in graphs {
        graph_enum.values.insert(
            value.clone(),
            MergedEnumValue {
                description: None,
                directives: vec![directive(
                    "join__graph",
                    vec![("name", string_value(name)), ("url", string_value(url))],
                )],
            },
        );
    }
    types.push((Name::new_unchecked("join__Graph"), graph_enum));
    types.push(scalar("link__Import"));
    let mut purpose = MergedType::new(TypeKind::Enum);
    purpose.values.insert(
        Name::new_unchecked("SECURITY"),
        MergedEnumValue {
            description: Some(
                "`SECURITY` features provide metadata necessary to securely resolve fields.".to_string(),
            ),
            directives: Vec::new(),
        },
    );
    purpose.values.insert(
        Name::new_unchecked("EXECUTION"),
        MergedEnumValue {
            description: Some(
                "`EXECUTION` features provide metadata necessary for operation execution.".to_string(),
            ),
            directives: Vec::new(),
        },
    );
    types.push((Name::new_unchecked("link__Purpose"), purpose));
    if version >= SpecVersion::new(0, 4) {
        types.push(scalar("join__DirectiveArguments"));
    }
    if version >= SpecVersion::new(0, 5) {
        types.push(scalar("join__FieldValue"));
        let mut context_argument = MergedType::new(TypeKind::InputObject);
        for (field, ty) in [
            ("name", "String!"),
            ("type", "String!"),
            ("context", "String!"),
            ("selection", "join__FieldValue!"),
        ] {
            let ty = ast::Type::Named(Name::new_unchecked(ty.trim_end_matches('!'))).non_null();
            context_argument.fields.insert(
                Name::new_unchecked(field),
                crate::compose::supergraph_model::MergedField::new(ty),
            );
        }
        types.push((Name::new_unchecked("join__ContextArgument"), context_argument));
    }
    types
}

/// The `join__Graph` enum values for subgraph names: upper-cased, non-alphanumerics as `_`,
/// a `_` prefix before a digit, `_1`, `_2`, ... suffixes on collisions.
pub fn graph_enum_values(names: &[&str]) -> Vec<Name> {
    let mut used: Vec<String> = Vec::new();
    for name in names {
        let mut value: String = name
            .chars()
            .map(|c| {
                let c = c.to_ascii_uppercase();
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if value.is_empty() || value.starts_with(|c: char| c.is_ascii_digit()) {
            value.insert(0, '_');
        }
        if used.contains(&value) {
            let mut n = 1;
            while used.contains(&format!("{value}_{n}")) {
                n += 1;
            }
            value = format!("{value}_{n}");
        }
        used.push(value);
    }
    used.into_iter().map(|v| Name::new_unchecked(&v)).collect()
}
