//! Merging validated subgraphs into a supergraph, following Apollo Federation 2's rules.

mod applied_directives;
mod arguments;
mod enums;
mod fields;
mod human_readable;
mod input_objects;
mod interface_objects;
pub mod join_spec;
mod overrides;
mod type_collection;
mod type_reference;
mod unions;

use std::collections::HashMap;

use apollo_compiler::Name;
use apollo_compiler::ast;
use indexmap::IndexMap;

use self::applied_directives::AppliedDirectiveMerger;
use self::enums::EnumUsage;
use super::error::CompositionError;
use super::error::CompositionHint;
use super::error::ErrorCode;
use super::federation_spec::LATEST_FEDERATION_VERSION;
use super::subgraph::Subgraph;
use super::supergraph_model::MergedType;
use super::supergraph_model::SupergraphSchema;
use super::supergraph_model::TypeKind;

/// Result of merging: the supergraph when there was no error, plus errors and hints.
pub struct MergeOutcome {
    /// The supergraph, if merging succeeded.
    pub supergraph: Option<SupergraphSchema>,
    /// Errors found.
    pub errors: Vec<CompositionError>,
    /// Hints found.
    pub hints: Vec<CompositionHint>,
}

/// State of one merge.
pub(crate) struct Merger<'a> {
    subgraphs: &'a [Subgraph],
    /// `join__Graph` value of each subgraph, by index.
    graphs: Vec<Name>,
    /// Merged types, in order of first appearance.
    types: IndexMap<Name, MergedType>,
    errors: Vec<CompositionError>,
    hints: Vec<CompositionHint>,
    enum_usage: HashMap<Name, EnumUsage>,
    directives: AppliedDirectiveMerger,
}

/// Merges subgraphs (already prepared) into a supergraph.
pub fn merge_subgraphs(subgraphs: &[Subgraph]) -> MergeOutcome {
    let names: Vec<&str> = subgraphs.iter().map(|s| s.name.as_str()).collect();
    let mut merger = Merger {
        subgraphs,
        graphs: join_spec::graph_enum_values(&names),
        types: IndexMap::new(),
        errors: Vec::new(),
        hints: Vec::new(),
        enum_usage: HashMap::new(),
        directives: AppliedDirectiveMerger::new(subgraphs),
    };
    merger.errors.extend(merger.directives.take_errors());
    merger.run();
    let supergraph = merger.errors.is_empty().then(|| merger.assemble());
    MergeOutcome {
        supergraph,
        errors: merger.errors,
        hints: merger.hints,
    }
}

impl Merger<'_> {
    fn run(&mut self) {
        self.collect_types();
        if !self.errors.is_empty() {
            return;
        }
        self.merge_implements();
        let names_of = |merger: &Self, kind: TypeKind| -> Vec<Name> {
            merger
                .types
                .iter()
                .filter(|(_, t)| t.kind == kind)
                .map(|(n, _)| n.clone())
                .collect()
        };
        for name in names_of(self, TypeKind::Union) {
            self.merge_union(&name);
        }
        for name in names_of(self, TypeKind::Scalar) {
            self.merge_scalar(&name);
        }
        for name in names_of(self, TypeKind::InputObject) {
            self.merge_input_object(&name);
        }
        for name in names_of(self, TypeKind::Interface) {
            self.merge_composite(&name, TypeKind::Interface);
        }
        for name in names_of(self, TypeKind::Object) {
            self.merge_composite(&name, TypeKind::Object);
        }
        for name in names_of(self, TypeKind::Enum) {
            self.merge_enum(&name);
        }
        self.add_interface_object_fields_to_implementations();
        if !self.types.contains_key("Query") {
            self.errors.push(CompositionError::new(
                ErrorCode::NoQueries,
                "No queries found in any subgraph: a supergraph must have a query root type.",
            ));
        }
    }

    /// Index of a subgraph by name.
    fn subgraph_index(&self, name: &str) -> Option<usize> {
        self.subgraphs.iter().position(|s| s.name == name)
    }

    fn hint(&mut self, code: &'static str, message: String) {
        self.hints.push(CompositionHint { code, message });
    }

    fn assemble(&mut self) -> SupergraphSchema {
        let federation = self
            .subgraphs
            .iter()
            .map(|s| s.names.version)
            .max()
            .unwrap_or(LATEST_FEDERATION_VERSION);
        let join_version = join_spec::join_version_for(federation);
        let mut schema = SupergraphSchema::default();
        schema.links.push(super::supergraph_model::directive(
            "link",
            vec![(
                "url",
                super::supergraph_model::string_value("https://specs.apollo.dev/link/v1.0"),
            )],
        ));
        schema.links.push(join_spec::join_link(join_version));
        schema.links.extend(self.directives.supergraph_links());
        schema.directive_definitions = join_spec::spec_directive_definitions(join_version);
        schema
            .directive_definitions
            .extend(self.directives.supergraph_definitions());
        for (operation, name) in [
            (ast::OperationType::Query, "Query"),
            (ast::OperationType::Mutation, "Mutation"),
            (ast::OperationType::Subscription, "Subscription"),
        ] {
            if self.types.contains_key(name) {
                schema
                    .root_operations
                    .push((operation, Name::new_unchecked(name)));
            }
        }
        let graphs: Vec<(Name, &str, &str)> = self
            .graphs
            .iter()
            .zip(self.subgraphs)
            .map(|(value, s)| (value.clone(), s.name.as_str(), s.url.as_str()))
            .collect();
        schema.types = std::mem::take(&mut self.types);
        for (name, ty) in join_spec::spec_types(join_version, &graphs) {
            schema.types.insert(name, ty);
        }
        for (name, ty) in self.directives.supergraph_types() {
            schema.types.insert(name, ty);
        }
        schema
    }
}
