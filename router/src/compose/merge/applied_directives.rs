//! Directives applied in subgraphs that the supergraph keeps: `@inaccessible`, `@tag`,
//! `@authenticated`, `@requiresScopes` and `@policy` (merged with AND semantics),
//! `@deprecated`, `@specifiedBy`, and directives composed with `@composeDirective`.

use std::collections::BTreeSet;
use std::collections::HashMap;

use apollo_compiler::Name;
use apollo_compiler::Node;
use apollo_compiler::ast;
use indexmap::IndexMap;
use indexmap::IndexSet;

use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::federation_spec::FedDirective;
use crate::compose::subgraph::Subgraph;
use crate::compose::supergraph_model::MergedType;
use crate::compose::supergraph_model::TypeKind;
use crate::compose::supergraph_model::directive;
use crate::compose::supergraph_model::string_value;

/// A directive the supergraph keeps, by its supergraph name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kept {
    /// `@inaccessible`
    Inaccessible,
    /// `@tag`
    Tag,
    /// `@authenticated`
    Authenticated,
    /// `@requiresScopes`
    RequiresScopes,
    /// `@policy`
    Policy,
    /// A GraphQL built-in (`@deprecated`, `@specifiedBy`, `@oneOf`).
    BuiltIn(Name),
    /// A directive composed with `@composeDirective`.
    Composed(Name),
}

impl Kept {
    fn supergraph_name(&self) -> &str {
        match self {
            Kept::Inaccessible => "inaccessible",
            Kept::Tag => "tag",
            Kept::Authenticated => "authenticated",
            Kept::RequiresScopes => "requiresScopes",
            Kept::Policy => "policy",
            Kept::BuiltIn(name) | Kept::Composed(name) => name.as_str(),
        }
    }

    fn is_repeatable(&self, composed: &IndexMap<Name, ComposedDirective>) -> bool {
        match self {
            Kept::Tag => true,
            Kept::Composed(name) => composed.get(name).is_some_and(|c| c.repeatable),
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct ComposedDirective {
    definition: String,
    repeatable: bool,
    url: String,
    import: String,
}

/// Merges applied directives across subgraphs and remembers which specs the supergraph
/// must link.
pub struct AppliedDirectiveMerger {
    per_subgraph: Vec<HashMap<Name, Kept>>,
    composed: IndexMap<Name, ComposedDirective>,
    used: IndexSet<Kept>,
    errors: Vec<CompositionError>,
}

impl AppliedDirectiveMerger {
    /// Learns each subgraph's directive names (imports, renames, `@composeDirective`).
    pub fn new(subgraphs: &[Subgraph]) -> Self {
        let mut merger = AppliedDirectiveMerger {
            per_subgraph: Vec::new(),
            composed: IndexMap::new(),
            used: IndexSet::new(),
            errors: Vec::new(),
        };
        for subgraph in subgraphs {
            let mut names = HashMap::new();
            for (directive, kept) in [
                (FedDirective::Inaccessible, Kept::Inaccessible),
                (FedDirective::Tag, Kept::Tag),
                (FedDirective::Authenticated, Kept::Authenticated),
                (FedDirective::RequiresScopes, Kept::RequiresScopes),
                (FedDirective::Policy, Kept::Policy),
            ] {
                if let Some(name) = subgraph.names.name(directive) {
                    names.insert(name.clone(), kept);
                }
            }
            for built_in in ["deprecated", "specifiedBy", "oneOf"] {
                let name = Name::new_unchecked(built_in);
                names.insert(name.clone(), Kept::BuiltIn(name));
            }
            for name in merger.composed_directives_of(subgraph) {
                names.insert(name.clone(), Kept::Composed(name));
            }
            merger.per_subgraph.push(names);
        }
        merger
    }

    fn composed_directives_of(&mut self, subgraph: &Subgraph) -> Vec<Name> {
        let Some(compose_name) = subgraph.names.name(FedDirective::ComposeDirective) else {
            return Vec::new();
        };
        let mut names = Vec::new();
        for application in subgraph.schema.schema_definition.directives.get_all(compose_name) {
            let Some(requested) = application
                .specified_argument_by_name("name")
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            let Some(name) = requested.strip_prefix('@').and_then(|n| Name::new(n).ok()) else {
                self.errors.push(CompositionError::in_subgraph(
                    ErrorCode::DirectiveCompositionError,
                    &subgraph.name,
                    format!("Argument to @composeDirective \"{requested}\" must start with \"@\"."),
                ));
                continue;
            };
            let Some(definition) = subgraph.schema.directive_definitions.get(&name) else {
                self.errors.push(CompositionError::in_subgraph(
                    ErrorCode::DirectiveCompositionError,
                    &subgraph.name,
                    format!("Could not find matching directive definition for argument to @composeDirective \"@{name}\"."),
                ));
                continue;
            };
            let link = subgraph.other_links.iter().find_map(|link| {
                link.imports
                    .iter()
                    .find(|i| i.alias == format!("@{name}"))
                    .map(|i| (link.url.clone(), i.name.clone()))
            });
            let Some((url, import)) = link else {
                self.errors.push(CompositionError::in_subgraph(
                    ErrorCode::DirectiveCompositionError,
                    &subgraph.name,
                    format!("Directive \"@{name}\" cannot be composed because it is not a member of a core feature (import it with @link)."),
                ));
                continue;
            };
            self.composed.entry(name.clone()).or_insert(ComposedDirective {
                definition: definition.to_string(),
                repeatable: definition.repeatable,
                url,
                import,
            });
            names.push(name);
        }
        names
    }

    /// Errors found while reading `@composeDirective`s.
    pub fn take_errors(&mut self) -> Vec<CompositionError> {
        std::mem::take(&mut self.errors)
    }

    /// Merges the directives applied on one element in several subgraphs.
    pub fn merge<'d>(
        &mut self,
        sources: impl IntoIterator<Item = (usize, Vec<&'d ast::Directive>)>,
    ) -> Vec<ast::Directive> {
        let mut grouped: IndexMap<Kept, Vec<ast::Directive>> = IndexMap::new();
        for (idx, directives) in sources {
            let Some(names) = self.per_subgraph.get(idx) else {
                continue;
            };
            for applied in directives {
                if let Some(kept) = names.get(&applied.name) {
                    let mut renamed = applied.clone();
                    renamed.name = Name::new_unchecked(kept.supergraph_name());
                    grouped.entry(kept.clone()).or_default().push(renamed);
                }
            }
        }
        let mut merged = Vec::new();
        for (kept, applications) in grouped {
            match &kept {
                Kept::RequiresScopes | Kept::Policy => {
                    let argument = if kept == Kept::Policy {
                        "policies"
                    } else {
                        "scopes"
                    };
                    let values: Vec<&ast::Value> = applications
                        .iter()
                        .filter_map(|a| a.specified_argument_by_name(argument))
                        .map(|v| &**v)
                        .collect();
                    merged.push(directive(
                        kept.supergraph_name(),
                        vec![(argument, dnf_conjunction(&values))],
                    ));
                }
                _ if kept.is_repeatable(&self.composed) => {
                    let mut seen = IndexSet::new();
                    for application in applications {
                        if seen.insert(application.to_string()) {
                            merged.push(application);
                        }
                    }
                }
                _ => merged.extend(applications.into_iter().next()),
            }
            self.used.insert(kept);
        }
        merged
    }

    /// `@link`s the supergraph needs for the kept directives.
    pub fn supergraph_links(&self) -> Vec<ast::Directive> {
        let security = ast::Value::Enum(Name::new_unchecked("SECURITY"));
        let mut links = Vec::new();
        let mut spec_link = |url: &str, purpose: Option<&ast::Value>| {
            let mut args = vec![("url", string_value(url))];
            if let Some(purpose) = purpose {
                args.push(("for", purpose.clone()));
            }
            links.push(directive("link", args));
        };
        for kept in [
            Kept::Inaccessible,
            Kept::Tag,
            Kept::Authenticated,
            Kept::RequiresScopes,
            Kept::Policy,
        ] {
            if !self.used.contains(&kept) {
                continue;
            }
            match kept {
                Kept::Inaccessible => {
                    spec_link("https://specs.apollo.dev/inaccessible/v0.2", Some(&security))
                }
                Kept::Tag => spec_link("https://specs.apollo.dev/tag/v0.3", None),
                Kept::Authenticated => {
                    spec_link("https://specs.apollo.dev/authenticated/v0.1", Some(&security))
                }
                Kept::RequiresScopes => {
                    spec_link("https://specs.apollo.dev/requiresScopes/v0.1", Some(&security))
                }
                _ => spec_link("https://specs.apollo.dev/policy/v0.1", Some(&security)),
            }
        }
        let mut by_url: IndexMap<&str, Vec<ast::Value>> = IndexMap::new();
        for (name, composed) in &self.composed {
            let import = if composed.import == format!("@{name}") {
                string_value(&composed.import)
            } else {
                ast::Value::Object(vec![
                    (
                        Name::new_unchecked("name"),
                        Node::new(string_value(&composed.import)),
                    ),
                    (
                        Name::new_unchecked("as"),
                        Node::new(string_value(&format!("@{name}"))),
                    ),
                ])
            };
            by_url.entry(&composed.url).or_default().push(import);
        }
        for (url, imports) in by_url {
            let imports = imports.into_iter().map(Node::new).collect();
            links.push(directive(
                "link",
                vec![("url", string_value(url)), ("import", ast::Value::List(imports))],
            ));
        }
        links
    }

    /// Definitions of the kept directives.
    pub fn supergraph_definitions(&self) -> Vec<(Name, String)> {
        const ACCESS_LOCATIONS: &str = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM";
        let mut definitions = Vec::new();
        for kept in &self.used {
            let sdl = match kept {
                Kept::Inaccessible => "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION".to_string(),
                Kept::Tag => "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA".to_string(),
                Kept::Authenticated => format!("directive @authenticated on {ACCESS_LOCATIONS}"),
                Kept::RequiresScopes => format!(
                    "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on {ACCESS_LOCATIONS}"
                ),
                Kept::Policy => format!(
                    "directive @policy(policies: [[policy__Policy!]!]!) on {ACCESS_LOCATIONS}"
                ),
                Kept::BuiltIn(_) => continue,
                Kept::Composed(name) => match self.composed.get(name) {
                    Some(composed) => composed.definition.clone(),
                    None => continue,
                },
            };
            definitions.push((Name::new_unchecked(kept.supergraph_name()), sdl));
        }
        definitions
    }

    /// Scalar types the kept directives need.
    pub fn supergraph_types(&self) -> Vec<(Name, MergedType)> {
        let mut types = Vec::new();
        if self.used.contains(&Kept::RequiresScopes) {
            types.push((
                Name::new_unchecked("requiresScopes__Scope"),
                MergedType::new(TypeKind::Scalar),
            ));
        }
        if self.used.contains(&Kept::Policy) {
            types.push((
                Name::new_unchecked("policy__Policy"),
                MergedType::new(TypeKind::Scalar),
            ));
        }
        types
    }

    /// Whether `@inaccessible` was applied on the directives given.
    pub fn is_inaccessible(directives: &[ast::Directive]) -> bool {
        directives.iter().any(|d| d.name == "inaccessible")
    }
}

/// AND of several `[[...]]` requirement lists (disjunctions of conjunctions), simplified:
/// `[[a]]` AND `[[b], [c]]` is `[[a, b], [a, c]]`; conjunctions containing another are dropped.
fn dnf_conjunction(values: &[&ast::Value]) -> ast::Value {
    let mut keys: HashMap<String, ast::Value> = HashMap::new();
    let disjunctions: Vec<Vec<BTreeSet<String>>> = values
        .iter()
        .map(|value| {
            let list = value.as_list().unwrap_or_default();
            if list.is_empty() {
                return vec![BTreeSet::new()];
            }
            list.iter()
                .map(|conjunction| {
                    conjunction
                        .as_list()
                        .unwrap_or_default()
                        .iter()
                        .map(|member| {
                            let key = member.to_string();
                            keys.insert(key.clone(), (**member).clone());
                            key
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let mut result: Vec<BTreeSet<String>> = vec![BTreeSet::new()];
    for disjunction in disjunctions {
        let mut product: Vec<BTreeSet<String>> = Vec::new();
        for left in &result {
            for right in &disjunction {
                let combined: BTreeSet<String> = left.union(right).cloned().collect();
                if !product.contains(&combined) {
                    product.push(combined);
                }
            }
        }
        product.sort_by_key(BTreeSet::len);
        let mut simplified: Vec<BTreeSet<String>> = Vec::new();
        for candidate in product {
            if !simplified.iter().any(|kept| kept.is_subset(&candidate)) {
                simplified.push(candidate);
            }
        }
        result = simplified;
    }
    ast::Value::List(
        result
            .into_iter()
            .map(|conjunction| {
                Node::new(ast::Value::List(
                    conjunction
                        .iter()
                        .filter_map(|key| keys.get(key).cloned().map(Node::new))
                        .collect(),
                ))
            })
            .collect(),
    )
}
