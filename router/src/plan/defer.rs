//! Incremental delivery (`@defer`): an operation split into its primary part and
//! one deferred part per deferred fragment, each planned on its own.
//!
//! A fragment can be deferred when it is on the query root (its fields become a
//! separate root plan) or on an entity type (an object type with a resolvable key).
//! The primary plan fetches the entity's `__typename` and key at the fragment's
//! place; the deferred plan starts from those objects and jumps with `_entities`
//! to the subgraphs that resolve the fragment's fields, exactly as the planner
//! jumps between subgraphs anywhere else. Any other fragment (on an interface, a
//! union, or a value type) cannot be deferred and is resolved in the primary
//! response, as Apollo Router does. Nested deferred fragments start after the
//! part they are nested in.

use std::cell::Cell;
use std::cell::RefCell;
use std::collections::HashSet;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::executable;

use super::PlanError;
use super::PreparedPlan;
use super::Projection;
use super::model::PathElement;
use super::model::QueryPlan;
use super::model::ResponsePath;
use super::operation::Normalizer;
use super::operation::Operation;
use super::operation::OperationError;
use super::planner::Planner;
use super::selection::Selection;
use super::selection::SelectionSet;
use crate::supergraph::FieldInGraph;
use crate::supergraph::Supergraph;

/// One deferred fragment, planned.
#[derive(Debug)]
pub struct DeferredPart {
    /// The fragment's `label`, when it has one.
    pub label: Option<String>,
    /// Where the fragment applies: the objects at this path of the response.
    pub path: ResponsePath,
    /// The type the fragment's selections are on.
    pub parent_type: Name,
    /// What the client selected in the fragment (nested deferred fragments left
    /// out): shapes each payload of this part.
    pub selection: SelectionSet,
    /// How each payload of this part is written (the projection of `selection`).
    pub projection: Projection,
    /// The fetches that resolve the fragment from the data fetched before it.
    pub plan: QueryPlan,
    /// The deferred part this one is nested in; `None` when it follows the primary
    /// response.
    pub parent: Option<usize>,
}

/// An operation planned for incremental delivery.
#[derive(Debug)]
pub struct IncrementalPlan {
    /// The primary response: the operation without its deferred fragments (it
    /// shapes the first payload) and the plan that fetches it (with the keys the
    /// deferred parts start from).
    pub primary: PreparedPlan,
    /// The deferred parts, parents before the parts nested in them.
    pub parts: Vec<DeferredPart>,
}

impl std::fmt::Display for IncrementalPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let indented = |plan: &QueryPlan| plan.to_string().replace('\n', "\n    ");
        writeln!(f, "IncrementalPlan {{")?;
        writeln!(f, "  Primary {{\n    {}\n  }},", indented(&self.primary.plan))?;
        for (index, part) in self.parts.iter().enumerate() {
            write!(
                f,
                "  Deferred({index}, path: {:?}",
                super::model::path_to_string(&part.path)
            )?;
            if let Some(label) = &part.label {
                write!(f, ", label: {label:?}")?;
            }
            if let Some(parent) = part.parent {
                write!(f, ", after: {parent}")?;
            }
            writeln!(f, ") {{\n    {}\n  }},", indented(&part.plan))?;
        }
        write!(f, "}}")
    }
}

/// Whether any operation or fragment of the document uses `@defer`.
pub fn uses_defer(document: &ExecutableDocument) -> bool {
    fn in_set(set: &executable::SelectionSet) -> bool {
        set.selections.iter().any(|selection| match selection {
            executable::Selection::Field(field) => in_set(&field.selection_set),
            executable::Selection::InlineFragment(fragment) => {
                fragment.directives.has("defer") || in_set(&fragment.selection_set)
            }
            executable::Selection::FragmentSpread(spread) => spread.directives.has("defer"),
        })
    }
    document.operations.iter().any(|o| in_set(&o.selection_set))
        || document.fragments.values().any(|f| in_set(&f.selection_set))
}

/// Whether the collector builds what the plans fetch or what the client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Deferred fragments leave their entity's key behind in the enclosing
    /// selection, for the deferred plan to start from.
    Plan,
    /// Deferred fragments leave nothing behind.
    Shape,
}

/// A deferred fragment found while normalizing.
#[derive(Debug)]
struct Found {
    label: Option<String>,
    path: ResponsePath,
    parent_type: Name,
    selection: SelectionSet,
    /// `__typename` and key fields the enclosing selection fetches for it.
    provided: SelectionSet,
    parent: Option<usize>,
    root: bool,
}

/// Collects the deferred fragments of an operation while it is normalized.
pub(super) struct DeferCollector {
    purpose: Purpose,
    /// The query root type, when the operation is a query (root fragments can be
    /// deferred only there).
    query_root: Option<Name>,
    path: RefCell<ResponsePath>,
    current: Cell<Option<usize>>,
    found: RefCell<Vec<Option<Found>>>,
}

impl DeferCollector {
    /// Enters a field: its response key (and one list step per list level) join
    /// the current path; returns the depth to [`leave`](Self::leave) to.
    pub(super) fn enter_field(&self, response_key: &Name, ty: &ast::Type) -> usize {
        let mut path = self.path.borrow_mut();
        let depth = path.len();
        path.push(PathElement::Key(response_key.clone()));
        let mut ty = ty;
        while let ast::Type::List(inner) | ast::Type::NonNullList(inner) = ty {
            path.push(PathElement::List);
            ty = inner;
        }
        depth
    }

    /// Returns to the path depth `enter_field` gave.
    pub(super) fn leave(&self, depth: usize) {
        self.path.borrow_mut().truncate(depth);
    }

    /// Takes a deferred fragment (on `condition`, under `parent`) out of `out`
    /// when it can be deferred; returns `false` when it must be resolved in place.
    pub(super) fn defer(
        &self,
        normalizer: &Normalizer<'_>,
        parent: &Name,
        condition: Option<&Name>,
        set: &executable::SelectionSet,
        label: Option<String>,
        out: &mut SelectionSet,
    ) -> bool {
        let supergraph = normalizer.supergraph;
        let target = match condition {
            Some(condition) if condition != parent && !supergraph.is_abstract(condition) => condition.clone(),
            // A fragment on an interface the parent object implements applies to it.
            Some(condition)
                if !supergraph.is_abstract(parent) && supergraph.type_matches(condition, parent) =>
            {
                parent.clone()
            }
            Some(condition) if condition != parent => return false,
            _ => parent.clone(),
        };
        if supergraph.is_abstract(&target)
            || (!supergraph.is_abstract(parent) && target != *parent)
            || !supergraph.possible_types(parent).contains(&target) && target != *parent
        {
            return false;
        }
        let root = self.path.borrow().is_empty() && self.query_root.as_ref() == Some(&target);
        if !root && !has_resolvable_key(supergraph, &target) {
            return false;
        }
        let index = self.found.borrow().len();
        self.found.borrow_mut().push(None);
        let depth = self.path.borrow().len();
        if target != *parent {
            self.path
                .borrow_mut()
                .push(PathElement::TypeCondition(target.clone()));
        }
        let path = self.path.borrow().clone();
        let enclosing = self.current.replace(Some(index));
        let mut selection = SelectionSet::default();
        normalizer.add_selections(&target, set, &mut selection);
        self.current.set(enclosing);
        self.leave(depth);
        let provided = if root {
            SelectionSet::default()
        } else {
            representation_fields(supergraph, &target, &selection)
        };
        if self.purpose == Purpose::Plan && !root {
            if target == *parent {
                out.merge(provided.clone());
            } else {
                out.add_fragment(target.clone(), provided.clone());
            }
        }
        self.found.borrow_mut()[index] = Some(Found {
            label,
            path,
            parent_type: target,
            selection,
            provided,
            parent: enclosing,
            root,
        });
        true
    }
}

/// Whether some subgraph resolves `type_name` by a key.
fn has_resolvable_key(supergraph: &Supergraph, type_name: &Name) -> bool {
    supergraph
        .graphs_of_type(type_name)
        .any(|t| t.keys.iter().any(|k| k.resolvable))
}

/// `__typename` and the keys a deferred fragment on `type_name` starts from: the
/// first resolvable key of each subgraph that resolves one of its fields (or of
/// the first subgraph with one).
fn representation_fields(
    supergraph: &Supergraph,
    type_name: &Name,
    selection: &SelectionSet,
) -> SelectionSet {
    let mut names = Vec::new();
    top_level_fields(selection, &mut names);
    let labels = HashSet::new();
    let mut provided = SelectionSet::default();
    provided.add_typename();
    let mut chosen = false;
    for in_graph in supergraph.graphs_of_type(type_name) {
        let Some(key) = in_graph.keys.iter().find(|k| k.resolvable) else {
            continue;
        };
        let serves = names.iter().any(|name| {
            matches!(
                supergraph.field_in_graph(type_name, name, in_graph.graph, &labels),
                FieldInGraph::Local | FieldInGraph::Requires(_)
            )
        });
        if serves {
            provided.merge(key.fields.clone());
            chosen = true;
        }
    }
    if !chosen
        && let Some(key) = supergraph
            .graphs_of_type(type_name)
            .find_map(|t| t.keys.iter().find(|k| k.resolvable))
    {
        provided.merge(key.fields.clone());
    }
    provided
}

fn top_level_fields(selection: &SelectionSet, out: &mut Vec<Name>) {
    for item in &selection.items {
        match item {
            Selection::Field(field) if field.name != "__typename" => out.push(field.name.clone()),
            Selection::Field(_) => {}
            Selection::Fragment(fragment) => top_level_fields(&fragment.selection_set, out),
        }
    }
}

/// Normalizes an operation for one purpose: the normalized operation and the
/// deferred fragments taken out of it, in the order they were found.
fn normalize(
    supergraph: &Supergraph,
    document: &ExecutableDocument,
    operation: &executable::Operation,
    variables: &serde_json::Map<String, serde_json::Value>,
    purpose: Purpose,
) -> Result<(Operation, Vec<Found>), OperationError> {
    let Some(root_type) = supergraph.root_type(operation.operation_type).cloned() else {
        return Err(OperationError::UnsupportedKind(operation.operation_type));
    };
    let collector = DeferCollector {
        purpose,
        query_root: (operation.operation_type == ast::OperationType::Query).then(|| root_type.clone()),
        path: RefCell::new(Vec::new()),
        current: Cell::new(None),
        found: RefCell::new(Vec::new()),
    };
    let normalizer = Normalizer {
        supergraph,
        document,
        variables,
        defer: Some(&collector),
    };
    let mut selection_set = SelectionSet::default();
    normalizer.add_selections(&root_type, &operation.selection_set, &mut selection_set);
    let found = collector.found.into_inner().into_iter().flatten().collect();
    Ok((
        Operation {
            kind: operation.operation_type,
            name: operation.name.clone(),
            root_type,
            variables: operation.variables.clone(),
            selection_set,
        },
        found,
    ))
}

/// Plans an operation for incremental delivery.
pub fn plan(
    supergraph: &Supergraph,
    document: &ExecutableDocument,
    operation: &executable::Operation,
    variables: &serde_json::Map<String, serde_json::Value>,
    labels: &HashSet<String>,
) -> Result<IncrementalPlan, PlanError> {
    let (fetched, planned_parts) = normalize(supergraph, document, operation, variables, Purpose::Plan)?;
    let (shaped, shaped_parts) = normalize(supergraph, document, operation, variables, Purpose::Shape)?;
    let primary_plan = Planner::new(supergraph, labels).plan(&fetched)?;
    let mut parts = Vec::with_capacity(planned_parts.len());
    for (planned, shaped_part) in planned_parts.into_iter().zip(shaped_parts) {
        let plan = if planned.root {
            let root_operation = Operation {
                selection_set: planned.selection,
                ..fetched.clone()
            };
            Planner::new(supergraph, labels).plan(&root_operation)?
        } else {
            Planner::new(supergraph, labels).plan_from_objects(
                &planned.parent_type,
                &planned.path,
                &planned.provided,
                &planned.selection,
                &fetched,
            )?
        };
        parts.push(DeferredPart {
            label: planned.label,
            path: planned.path,
            projection: Projection::new(supergraph, &planned.parent_type, &shaped_part.selection),
            parent_type: planned.parent_type,
            selection: shaped_part.selection,
            plan,
            parent: planned.parent,
        });
    }
    Ok(IncrementalPlan {
        primary: PreparedPlan::new(supergraph, shaped, primary_plan),
        parts,
    })
}
