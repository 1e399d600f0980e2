//! Operation limits: how deep, how many aliases, how many root fields, how many
//! tokens an operation may have. Checked before planning.

use std::collections::HashSet;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable;
use serde::Deserialize;

use super::RequestError;

/// The limits; `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationLimits {
    /// Deepest field nesting (a root field is at depth 1); never more than
    /// [`HARD_MAX_DEPTH`].
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// Most aliased fields in the operation (fragments counted where spread).
    #[serde(default)]
    pub max_aliases: Option<usize>,
    /// Most root fields.
    #[serde(default)]
    pub max_root_fields: Option<usize>,
    /// Most lexical tokens in the document (enforced by the parser).
    #[serde(default)]
    pub max_tokens: Option<usize>,
}

/// The deepest operation the router plans, whatever the configuration says: deeper
/// ones are refused rather than risking the stack.
pub const HARD_MAX_DEPTH: usize = 128;

#[derive(Default)]
struct Counts {
    max_depth: usize,
    aliases: usize,
}

/// Checks an operation against the limits.
pub fn check(
    limits: &OperationLimits,
    document: &ExecutableDocument,
    operation: &executable::Operation,
) -> Result<(), RequestError> {
    let mut counts = Counts::default();
    let mut visiting = HashSet::new();
    walk(document, &operation.selection_set, 0, &mut counts, &mut visiting);
    let max_depth = limits.max_depth.unwrap_or(HARD_MAX_DEPTH).min(HARD_MAX_DEPTH);
    if counts.max_depth > max_depth {
        let max = max_depth;
        return Err(RequestError::new(
            400,
            format!(
                "Maximum depth limit exceeded in this operation: {} > {max}",
                counts.max_depth
            ),
            "MAX_DEPTH_LIMIT",
        ));
    }
    if let Some(max) = limits.max_aliases
        && counts.aliases > max
    {
        return Err(RequestError::new(
            400,
            format!(
                "Maximum aliases limit exceeded in this operation: {} > {max}",
                counts.aliases
            ),
            "MAX_ALIASES_LIMIT",
        ));
    }
    if let Some(max) = limits.max_root_fields {
        let root_fields = operation.root_fields(document).count();
        if root_fields > max {
            return Err(RequestError::new(
                400,
                format!("Maximum root fields limit exceeded in this operation: {root_fields} > {max}"),
                "MAX_ROOT_FIELDS_LIMIT",
            ));
        }
    }
    Ok(())
}

fn walk<'a>(
    document: &'a ExecutableDocument,
    set: &'a executable::SelectionSet,
    depth: usize,
    counts: &mut Counts,
    visiting: &mut HashSet<&'a str>,
) {
    if depth > HARD_MAX_DEPTH {
        // Deep enough to refuse: no need to go further down.
        counts.max_depth = counts.max_depth.max(depth);
        return;
    }
    for selection in &set.selections {
        match selection {
            executable::Selection::Field(field) => {
                counts.max_depth = counts.max_depth.max(depth + 1);
                if field.alias.is_some() {
                    counts.aliases += 1;
                }
                walk(document, &field.selection_set, depth + 1, counts, visiting);
            }
            executable::Selection::InlineFragment(fragment) => {
                walk(document, &fragment.selection_set, depth, counts, visiting)
            }
            executable::Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.fragment_name)
                    && visiting.insert(spread.fragment_name.as_str())
                {
                    walk(document, &fragment.selection_set, depth, counts, visiting);
                    visiting.remove(spread.fragment_name.as_str());
                }
            }
        }
    }
}
