//! The supergraph composer: Apollo Federation 2 subgraphs in, a supergraph SDL out.
//!
//! [`compose`] merges in-memory subgraphs; [`compose_config_file`] reads rover's
//! `supergraph.yaml` first.

pub mod config;
pub(crate) mod env_expansion;
pub mod error;
mod federation_spec;
mod field_set;
mod link_spec;
mod merge;
mod satisfiability;
mod subgraph;
mod supergraph_model;
mod supergraph_printer;
mod watcher;

use std::path::Path;

use apollo_compiler::Schema;

pub use self::error::ComposeError;
pub use self::error::CompositionError;
pub use self::error::CompositionFailure;
pub use self::error::CompositionHint;
pub use self::error::ErrorCode;
pub use self::subgraph::SubgraphInput;
pub use self::watcher::SupergraphWatcher;
pub use self::watcher::WatchOptions;

/// A composed supergraph.
#[derive(Debug, Clone)]
pub struct Supergraph {
    /// The supergraph SDL.
    pub sdl: String,
    /// Hints: suspicious but valid things found while composing.
    pub hints: Vec<CompositionHint>,
}

/// Composes subgraphs into a supergraph; the `join__Graph` values follow the order given.
pub fn compose(subgraphs: &[SubgraphInput]) -> Result<Supergraph, CompositionFailure> {
    let prepared = subgraph::prepare_subgraphs(subgraphs).map_err(|errors| CompositionFailure {
        errors,
        hints: Vec::new(),
    })?;
    let outcome = merge::merge_subgraphs(&prepared);
    let hints = outcome.hints;
    let Some(model) = outcome.supergraph.filter(|_| outcome.errors.is_empty()) else {
        return Err(CompositionFailure {
            errors: outcome.errors,
            hints,
        });
    };
    let sdl = supergraph_printer::print_supergraph(&model);
    let schema = match Schema::parse_and_validate(&sdl, "supergraph.graphql") {
        Ok(schema) => schema,
        Err(with_errors) => {
            return Err(CompositionFailure {
                errors: vec![CompositionError::new(
                    ErrorCode::Internal,
                    format!(
                        "the composed supergraph is not valid GraphQL (this is a composer bug): {}",
                        with_errors.errors
                    ),
                )],
                hints,
            });
        }
    };
    let errors = satisfiability::check_satisfiability(&schema);
    if !errors.is_empty() {
        return Err(CompositionFailure { errors, hints });
    }
    Ok(Supergraph { sdl, hints })
}

/// Reads rover's `supergraph.yaml`, fetches every subgraph's SDL and composes them.
pub async fn compose_config_file(path: &Path) -> Result<Supergraph, ComposeError> {
    let config = config::read_config(path)?;
    let inputs = config::load_subgraphs(&config, &reqwest::Client::new()).await?;
    compose(&inputs).map_err(ComposeError::Composition)
}
