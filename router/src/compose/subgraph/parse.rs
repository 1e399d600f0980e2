//! Parsing and GraphQL validation of one subgraph SDL, with the federation definitions it
//! needs (its `@link` imports and renames, or Federation 1's plain names) added.

use std::collections::HashSet;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::ast;
use apollo_compiler::validation::DiagnosticList;
use apollo_compiler::validation::Valid;

use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::federation_spec::FEDERATION_IDENTITY;
use crate::compose::federation_spec::FedDirective;
use crate::compose::federation_spec::FederationNames;
use crate::compose::federation_spec::LATEST_FEDERATION_VERSION;
use crate::compose::link_spec::Link;
use crate::compose::link_spec::links_of_document;

/// A subgraph schema that parsed and validated, before federation-specific checks.
pub struct ParsedSubgraph {
    /// The validated schema, federation definitions included.
    pub schema: Valid<Schema>,
    /// Federation names in this subgraph.
    pub names: FederationNames,
    /// Object/interface types defined only by `extend type` in this subgraph.
    pub orphan_extensions: HashSet<Name>,
    /// The non-federation `@link`s (for `@composeDirective`).
    pub other_links: Vec<Link>,
}

/// Parses and validates the SDL of subgraph `name`.
pub fn parse_subgraph(name: &str, sdl: &str) -> Result<ParsedSubgraph, Vec<CompositionError>> {
    let path = format!("{name}.graphql");
    let document =
        ast::Document::parse(sdl, &path).map_err(|with_errors| invalid_graphql(name, &with_errors.errors))?;
    let links = links_of_document(&document).map_err(|e| {
        vec![CompositionError::in_subgraph(
            ErrorCode::InvalidLinkDirectiveUsage,
            name,
            e.0,
        )]
    })?;
    let (federation_links, other_links): (Vec<Link>, Vec<Link>) = links
        .into_iter()
        .partition(|link| link.identity == FEDERATION_IDENTITY);
    let uses_link = !federation_links.is_empty() || !other_links.is_empty();
    let names = match federation_links.as_slice() {
        [] => FederationNames::federation_1(uses_link),
        [link] => federation_names_of_link(name, link)?,
        [_, ..] => {
            return Err(vec![CompositionError::in_subgraph(
                ErrorCode::InvalidLinkDirectiveUsage,
                name,
                "the federation spec is linked more than once",
            )]);
        }
    };

    let defined = defined_names(&document);
    let mut definitions = names.missing_definitions(&defined);
    if !defined.contains("Query") && !has_explicit_query_root(&document) {
        definitions.push_str("type Query { _service: _Service! }\n");
        if !defined.contains("_Service") {
            definitions.push_str("type _Service { sdl: String }\n");
        }
    }
    let schema = Schema::builder()
        .adopt_orphan_extensions()
        .add_ast(&document)
        .parse(definitions, "federation-definitions.graphql")
        .build()
        .map_err(|with_errors| invalid_graphql(name, &with_errors.errors))?
        .validate()
        .map_err(|with_errors| invalid_graphql(name, &with_errors.errors))?;
    check_root_type_names(name, &schema)?;
    Ok(ParsedSubgraph {
        schema,
        names,
        orphan_extensions: orphan_extensions(&document),
        other_links,
    })
}

/// Root types must use the default names (`Query`, `Mutation`, `Subscription`): renaming
/// them is not supported by this composer.
fn check_root_type_names(subgraph: &str, schema: &Schema) -> Result<(), Vec<CompositionError>> {
    let errors: Vec<CompositionError> = schema
        .schema_definition
        .iter_root_operations()
        .filter(|(operation, name)| operation.default_type_name() != name.name.as_str())
        .map(|(operation, name)| {
            CompositionError::in_subgraph(
                ErrorCode::UnsupportedFeature,
                subgraph,
                format!(
                    "The {operation} root type is named \"{}\": renamed root types are not supported yet; name it \"{}\"",
                    name.name,
                    operation.default_type_name()
                ),
            )
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn federation_names_of_link(subgraph: &str, link: &Link) -> Result<FederationNames, Vec<CompositionError>> {
    let version = match link.version {
        Some(v) if v.major == 2 && v <= LATEST_FEDERATION_VERSION => v,
        _ => {
            return Err(vec![CompositionError::in_subgraph(
                ErrorCode::UnknownFederationLinkVersion,
                subgraph,
                format!(
                    "invalid or unknown federation spec version in \"{}\" (this composer supports v2.0 to v{LATEST_FEDERATION_VERSION})",
                    link.url
                ),
            )]);
        }
    };
    let mut errors = Vec::new();
    for import in &link.imports {
        let known = match import.name.strip_prefix('@') {
            Some(directive) => FedDirective::ALL
                .iter()
                .find(|d| d.spec_name() == directive)
                .map(|d| d.since() <= version),
            None => matches!(
                import.name.as_str(),
                "FieldSet" | "Scope" | "Policy" | "ContextFieldValue"
            )
            .then_some(true),
        };
        match known {
            Some(true) => {}
            Some(false) => errors.push(CompositionError::in_subgraph(
                ErrorCode::InvalidLinkDirectiveUsage,
                subgraph,
                format!(
                    "Cannot import \"{}\": it is not available in federation v{version} (linked by \"{}\")",
                    import.name, link.url
                ),
            )),
            None => errors.push(CompositionError::in_subgraph(
                ErrorCode::InvalidLinkDirectiveUsage,
                subgraph,
                format!(
                    "Cannot import unknown element \"{}\" from \"{}\"",
                    import.name, link.url
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(FederationNames::from_link(link, version))
    } else {
        Err(errors)
    }
}

/// Names of directives (`@name`) and types defined or extended in the document.
fn defined_names(document: &ast::Document) -> HashSet<String> {
    document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            ast::Definition::DirectiveDefinition(d) => Some(format!("@{}", d.name)),
            other => other.name().map(|n| n.to_string()),
        })
        .collect()
}

fn has_explicit_query_root(document: &ast::Document) -> bool {
    document.definitions.iter().any(|definition| {
        let operations = match definition {
            ast::Definition::SchemaDefinition(def) => &def.root_operations,
            ast::Definition::SchemaExtension(ext) => &ext.root_operations,
            _ => return false,
        };
        operations.iter().any(|op| op.0 == ast::OperationType::Query)
    })
}

fn orphan_extensions(document: &ast::Document) -> HashSet<Name> {
    let mut defined = HashSet::new();
    let mut extended = HashSet::new();
    for definition in &document.definitions {
        if definition.is_extension_definition() {
            if let Some(name) = definition.name() {
                extended.insert(name.clone());
            }
        } else if let Some(name) = definition.name() {
            defined.insert(name.clone());
        }
    }
    extended.retain(|name| !defined.contains(name));
    extended
}

fn invalid_graphql(subgraph: &str, diagnostics: &DiagnosticList) -> Vec<CompositionError> {
    diagnostics
        .iter()
        .map(|diagnostic| {
            let json = diagnostic.to_json();
            let location = json
                .locations
                .first()
                .map(|l| format!(" at line {}, column {}", l.line, l.column))
                .unwrap_or_default();
            CompositionError::in_subgraph(
                ErrorCode::InvalidGraphql,
                subgraph,
                format!("Invalid GraphQL{location}: {}", json.message),
            )
        })
        .collect()
}
