//! The federation spec as seen by one subgraph: which directives and types exist, under
//! which names (imports, renames, `federation__` prefixes), and their definitions.

use std::collections::HashMap;
use std::collections::HashSet;

use apollo_compiler::Name;

use super::link_spec::Link;
use super::link_spec::SpecVersion;

/// Identity of the federation spec in `@link(url:)`.
pub const FEDERATION_IDENTITY: &str = "https://specs.apollo.dev/federation";
/// Newest federation spec version this composer knows.
pub const LATEST_FEDERATION_VERSION: SpecVersion = SpecVersion::new(2, 12);
/// The pseudo-version of Federation 1 subgraphs (no `@link` to the federation spec).
pub const FEDERATION_1: SpecVersion = SpecVersion::new(1, 0);

/// A directive of the federation spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FedDirective {
    /// `@key`
    Key,
    /// `@requires`
    Requires,
    /// `@provides`
    Provides,
    /// `@external`
    External,
    /// `@extends`
    Extends,
    /// `@shareable`
    Shareable,
    /// `@inaccessible`
    Inaccessible,
    /// `@tag`
    Tag,
    /// `@override`
    Override,
    /// `@composeDirective`
    ComposeDirective,
    /// `@interfaceObject`
    InterfaceObject,
    /// `@authenticated`
    Authenticated,
    /// `@requiresScopes`
    RequiresScopes,
    /// `@policy`
    Policy,
    /// `@context`
    Context,
    /// `@fromContext`
    FromContext,
    /// `@cost`
    Cost,
    /// `@listSize`
    ListSize,
}

impl FedDirective {
    /// Every federation directive.
    pub const ALL: [FedDirective; 18] = [
        FedDirective::Key,
        FedDirective::Requires,
        FedDirective::Provides,
        FedDirective::External,
        FedDirective::Extends,
        FedDirective::Shareable,
        FedDirective::Inaccessible,
        FedDirective::Tag,
        FedDirective::Override,
        FedDirective::ComposeDirective,
        FedDirective::InterfaceObject,
        FedDirective::Authenticated,
        FedDirective::RequiresScopes,
        FedDirective::Policy,
        FedDirective::Context,
        FedDirective::FromContext,
        FedDirective::Cost,
        FedDirective::ListSize,
    ];

    /// The name in the spec, without `@`.
    pub fn spec_name(self) -> &'static str {
        match self {
            FedDirective::Key => "key",
            FedDirective::Requires => "requires",
            FedDirective::Provides => "provides",
            FedDirective::External => "external",
            FedDirective::Extends => "extends",
            FedDirective::Shareable => "shareable",
            FedDirective::Inaccessible => "inaccessible",
            FedDirective::Tag => "tag",
            FedDirective::Override => "override",
            FedDirective::ComposeDirective => "composeDirective",
            FedDirective::InterfaceObject => "interfaceObject",
            FedDirective::Authenticated => "authenticated",
            FedDirective::RequiresScopes => "requiresScopes",
            FedDirective::Policy => "policy",
            FedDirective::Context => "context",
            FedDirective::FromContext => "fromContext",
            FedDirective::Cost => "cost",
            FedDirective::ListSize => "listSize",
        }
    }

    /// The first federation version that has this directive.
    pub fn since(self) -> SpecVersion {
        match self {
            FedDirective::ComposeDirective => SpecVersion::new(2, 1),
            FedDirective::InterfaceObject => SpecVersion::new(2, 3),
            FedDirective::Authenticated | FedDirective::RequiresScopes => SpecVersion::new(2, 5),
            FedDirective::Policy => SpecVersion::new(2, 6),
            FedDirective::Context | FedDirective::FromContext => SpecVersion::new(2, 8),
            FedDirective::Cost | FedDirective::ListSize => SpecVersion::new(2, 9),
            _ => SpecVersion::new(2, 0),
        }
    }

    /// Whether Federation 1 subgraphs know this directive (under its plain name).
    fn in_federation_1(self) -> bool {
        matches!(
            self,
            FedDirective::Key
                | FedDirective::Requires
                | FedDirective::Provides
                | FedDirective::External
                | FedDirective::Extends
                | FedDirective::Tag
                | FedDirective::Inaccessible
        )
    }

    fn definition(self, name: &str, types: &FedTypeNames) -> String {
        const ACCESS_LOCATIONS: &str = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM";
        let fs = &types.field_set;
        match self {
            FedDirective::Key => format!(
                "directive @{name}(fields: {fs}!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE"
            ),
            FedDirective::Requires | FedDirective::Provides => {
                format!("directive @{name}(fields: {fs}!) on FIELD_DEFINITION")
            }
            FedDirective::External => {
                format!("directive @{name}(reason: String) on OBJECT | FIELD_DEFINITION")
            }
            FedDirective::Extends => format!("directive @{name} on OBJECT | INTERFACE"),
            FedDirective::Shareable => {
                format!("directive @{name} repeatable on OBJECT | FIELD_DEFINITION")
            }
            FedDirective::Inaccessible => format!(
                "directive @{name} on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
            ),
            FedDirective::Tag => format!(
                "directive @{name}(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA"
            ),
            FedDirective::Override => {
                format!("directive @{name}(from: String!, label: String) on FIELD_DEFINITION")
            }
            FedDirective::ComposeDirective => {
                format!("directive @{name}(name: String!) repeatable on SCHEMA")
            }
            FedDirective::InterfaceObject => format!("directive @{name} on OBJECT"),
            FedDirective::Authenticated => format!("directive @{name} on {ACCESS_LOCATIONS}"),
            FedDirective::RequiresScopes => format!(
                "directive @{name}(scopes: [[{}!]!]!) on {ACCESS_LOCATIONS}",
                types.scope
            ),
            FedDirective::Policy => format!(
                "directive @{name}(policies: [[{}!]!]!) on {ACCESS_LOCATIONS}",
                types.policy
            ),
            FedDirective::Context => {
                format!("directive @{name}(name: String!) repeatable on INTERFACE | OBJECT | UNION")
            }
            FedDirective::FromContext => format!(
                "directive @{name}(field: {}) on ARGUMENT_DEFINITION",
                types.context_field_value
            ),
            FedDirective::Cost => format!(
                "directive @{name}(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR"
            ),
            FedDirective::ListSize => format!(
                "directive @{name}(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION"
            ),
        }
    }
}

/// Schema names of the federation spec's scalar types in one subgraph.
#[derive(Debug, Clone)]
pub struct FedTypeNames {
    /// `FieldSet` (`_FieldSet` in Federation 1).
    pub field_set: String,
    /// `Scope` of `@requiresScopes`.
    pub scope: String,
    /// `Policy` of `@policy`.
    pub policy: String,
    /// `ContextFieldValue` of `@fromContext`.
    pub context_field_value: String,
}

/// How one subgraph sees the federation spec.
#[derive(Debug, Clone)]
pub struct FederationNames {
    /// Federation version linked (1.0 for Federation 1 subgraphs).
    pub version: SpecVersion,
    directives: HashMap<FedDirective, Name>,
    /// Names of the spec scalars.
    pub types: FedTypeNames,
    /// Whether the subgraph uses `@link` (and so needs the link spec definitions).
    pub uses_link: bool,
}

impl FederationNames {
    /// Names for a Federation 2 subgraph linking the federation spec with `link`.
    pub fn from_link(link: &Link, version: SpecVersion) -> Self {
        let mut directives = HashMap::new();
        for directive in FedDirective::ALL {
            if directive.since() <= version {
                let name = link.directive_name_in_schema(directive.spec_name());
                if let Ok(name) = Name::new(&name) {
                    directives.insert(directive, name);
                }
            }
        }
        FederationNames {
            version,
            directives,
            types: FedTypeNames {
                field_set: link.type_name_in_schema("FieldSet"),
                scope: link.type_name_in_schema("Scope"),
                policy: link.type_name_in_schema("Policy"),
                context_field_value: link.type_name_in_schema("ContextFieldValue"),
            },
            uses_link: true,
        }
    }

    /// Names for a Federation 1 subgraph (plain directive names, `_FieldSet`).
    pub fn federation_1(uses_link: bool) -> Self {
        let directives = FedDirective::ALL
            .into_iter()
            .filter(|d| d.in_federation_1())
            .filter_map(|d| Some((d, Name::new(d.spec_name()).ok()?)))
            .collect();
        FederationNames {
            version: FEDERATION_1,
            directives,
            types: FedTypeNames {
                field_set: "_FieldSet".to_string(),
                scope: "federation__Scope".to_string(),
                policy: "federation__Policy".to_string(),
                context_field_value: "federation__ContextFieldValue".to_string(),
            },
            uses_link,
        }
    }

    /// Whether this is a Federation 2 subgraph.
    pub fn is_fed2(&self) -> bool {
        self.version.major >= 2
    }

    /// The schema name of a federation directive, if this subgraph's version has it.
    pub fn name(&self, directive: FedDirective) -> Option<&Name> {
        self.directives.get(&directive)
    }

    /// Whether a type name belongs to the federation or link specs (never merged).
    pub fn is_spec_type(&self, name: &str) -> bool {
        name == self.types.field_set
            || name == self.types.scope
            || name == self.types.policy
            || name == self.types.context_field_value
            || name.starts_with("link__")
            || name.starts_with("federation__")
            || matches!(name, "_Any" | "_Entity" | "_Service" | "_FieldSet" | "FieldSet")
    }

    /// SDL defining every spec directive and type that `defined` does not define yet.
    pub fn missing_definitions(&self, defined: &HashSet<String>) -> String {
        let mut sdl = String::new();
        let mut push = |name: &str, definition: String| {
            if !defined.contains(name) {
                sdl.push_str(&definition);
                sdl.push('\n');
            }
        };
        for directive in FedDirective::ALL {
            if let Some(name) = self.directives.get(&directive) {
                push(&format!("@{name}"), directive.definition(name, &self.types));
            }
        }
        for scalar in [
            &self.types.field_set,
            &self.types.scope,
            &self.types.policy,
            &self.types.context_field_value,
        ] {
            push(scalar, format!("scalar {scalar}"));
        }
        if self.uses_link {
            push(
                "@link",
                "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA".to_string(),
            );
            push("link__Import", "scalar link__Import".to_string());
            push(
                "link__Purpose",
                "enum link__Purpose { SECURITY EXECUTION }".to_string(),
            );
        }
        sdl
    }
}
