//! Subgraphs ready for merging: parsed, validated, Federation 1 ones upgraded, with their
//! federation metadata.

mod directive_rules;
mod fed1_upgrade;
pub mod metadata;
mod parse;

use std::collections::HashSet;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::ast::FieldDefinition;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use self::metadata::KeyDirective;
use self::metadata::SubgraphMetadata;
use super::error::CompositionError;
use super::error::ErrorCode;
use super::federation_spec::FederationNames;
use super::field_set::FieldCoordinate;
use super::link_spec::Link;

/// A subgraph to compose: its name, routing URL and SDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphInput {
    /// The subgraph name (unique in the supergraph).
    pub name: String,
    /// The URL the router sends this subgraph's requests to.
    pub url: String,
    /// The subgraph schema, as `_service { sdl }` returns it.
    pub sdl: String,
}

/// A subgraph after parsing, validation and (for Federation 1) upgrade.
pub struct Subgraph {
    /// Subgraph name.
    pub name: String,
    /// Routing URL.
    pub url: String,
    /// The schema, federation definitions included.
    pub schema: Valid<Schema>,
    /// Federation names of this subgraph.
    pub names: FederationNames,
    /// Types defined only by `extend type` here.
    pub orphan_extensions: HashSet<Name>,
    /// Federation metadata.
    pub meta: SubgraphMetadata,
    /// `@link`s to non-federation specs.
    pub other_links: Vec<Link>,
}

impl Subgraph {
    /// Whether `type_name` is an `@interfaceObject` here.
    pub fn is_interface_object(&self, type_name: &str) -> bool {
        self.meta.interface_object_types.contains(type_name)
    }

    /// The field definition of `type_name.field_name`, on an object or interface.
    pub fn field(&self, type_name: &str, field_name: &str) -> Option<&FieldDefinition> {
        match self.schema.types.get(type_name)? {
            ExtendedType::Object(o) => o.fields.get(field_name).map(|f| &*f.node),
            ExtendedType::Interface(i) => i.fields.get(field_name).map(|f| &*f.node),
            _ => None,
        }
    }

    /// The value of `@join__type(extension:)` for a key of `type_name`.
    pub fn is_extension(&self, type_name: &Name, key: &KeyDirective) -> bool {
        key.in_extension_block
            || self.meta.extends_types.contains(type_name)
            || self.orphan_extensions.contains(type_name)
    }

    /// Whether the field of an interface is marked `@external` by an implementation here.
    pub fn is_external_in_some_implementation(&self, field: &FieldCoordinate) -> bool {
        if self.schema.get_interface(&field.0).is_none() {
            return false;
        }
        self.schema.types.values().any(|ty| match ty {
            ExtendedType::Object(obj) => {
                obj.implements_interfaces.iter().any(|i| i.name == field.0)
                    && self.meta.is_external(&(obj.name.clone(), field.1.clone()))
            }
            _ => false,
        })
    }
}

/// Parses, validates and upgrades every subgraph; all errors of all subgraphs are returned.
pub fn prepare_subgraphs(inputs: &[SubgraphInput]) -> Result<Vec<Subgraph>, Vec<CompositionError>> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut subgraphs = Vec::new();
    for input in inputs {
        if input.name.is_empty() || !seen.insert(input.name.as_str()) {
            errors.push(CompositionError::new(
                ErrorCode::InvalidSubgraphName,
                format!(
                    "Invalid subgraph name \"{}\": names must be non-empty and unique",
                    input.name
                ),
            ));
            continue;
        }
        match parse::parse_subgraph(&input.name, &input.sdl) {
            Ok(parsed) => {
                let meta = SubgraphMetadata::compute(&parsed.schema, &parsed.names);
                subgraphs.push(Subgraph {
                    name: input.name.clone(),
                    url: input.url.clone(),
                    schema: parsed.schema,
                    names: parsed.names,
                    orphan_extensions: parsed.orphan_extensions,
                    meta,
                    other_links: parsed.other_links,
                });
            }
            Err(mut subgraph_errors) => errors.append(&mut subgraph_errors),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let plans: Vec<_> = (0..subgraphs.len())
        .map(|i| (!subgraphs[i].names.is_fed2()).then(|| fed1_upgrade::plan_upgrade(&subgraphs, i)))
        .collect();
    for (subgraph, plan) in subgraphs.iter_mut().zip(plans) {
        if let Some(plan) = plan {
            errors.extend(fed1_upgrade::apply_upgrade(subgraph, plan));
        }
    }
    for subgraph in &subgraphs {
        errors.extend(directive_rules::check_directive_rules(subgraph));
    }
    if errors.is_empty() {
        Ok(subgraphs)
    } else {
        Err(errors)
    }
}
