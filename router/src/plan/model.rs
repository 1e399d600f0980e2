//! The query plan: a tree of fetches to run in sequence or in parallel, and how to
//! show it to people.

use std::fmt;
use std::fmt::Write;

use apollo_compiler::Name;
use apollo_compiler::ast::OperationType;

use super::conflicts::KeyRename;
use super::selection::SelectionSet;
use crate::supergraph::GraphId;

/// One step of a path into the response data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElement {
    /// A field, by response key.
    Key(Name),
    /// Every element of a list.
    List,
    /// Only objects whose `__typename` matches this type condition.
    TypeCondition(Name),
}

/// A path into the response data.
pub type ResponsePath = Vec<PathElement>;

/// Prints a path the way Apollo does: `products.@.reviews|[Book]`.
pub fn path_to_string(path: &[PathElement]) -> String {
    let mut out = String::new();
    for element in path {
        match element {
            PathElement::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            PathElement::List => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('@');
            }
            PathElement::TypeCondition(condition) => {
                let _ = write!(out, "|[{condition}]");
            }
        }
    }
    out
}

/// `__typename` of matching representations is replaced by `value` before sending
/// (how a concrete type reaches a subgraph that only knows its `@interfaceObject`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypenameRewrite {
    /// Representations of objects of this type are rewritten.
    pub type_condition: Name,
    /// The `__typename` they get.
    pub value: Name,
}

/// One operation sent to one subgraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchNode {
    /// The subgraph.
    pub graph: GraphId,
    /// The subgraph's name, for people.
    pub subgraph_name: String,
    /// Query or mutation.
    pub operation_kind: OperationType,
    /// The operation text sent to the subgraph.
    pub operation: String,
    /// The client variables the operation uses (forwarded as they are).
    pub variable_usages: Vec<Name>,
    /// For `_entities` fetches: the fields of each object that make its representation,
    /// as inline fragments per type (response keys in the data are the aliases).
    pub requires: Option<SelectionSet>,
    /// Rewrites applied to representations.
    pub input_rewrites: Vec<TypenameRewrite>,
    /// Aliases to rename back in the result (fields whose subgraph type differs
    /// between fragments).
    pub output_renames: Vec<KeyRename>,
    /// For `_entities` fetches: the selection of each entity, as GraphQL text (what
    /// a [`BatchFetchNode`] puts under its alias).
    pub entity_selection: Option<String>,
    /// The definitions of the client variables the operation uses, as GraphQL text
    /// (`$first:Int=5`).
    pub variable_definitions: Vec<String>,
}

/// The `_entities` fetches of one [`BatchFetchNode`] that share an operation: one
/// aliased `_entities` field for the objects at all their paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityBatch {
    /// The response key of its `_entities` field (`_e0`, `_e1`, ...).
    pub alias: String,
    /// Where the objects are (their representations are de-duplicated together).
    pub paths: Vec<ResponsePath>,
    /// The entity fetch (its representation fields, rewrites and renames).
    pub fetch: FetchNode,
    /// The variable that carries the representations.
    pub representations_variable: String,
}

/// Entity fetches that run at the same time against one subgraph, sent as one
/// request: each [`EntityBatch`] is an aliased `_entities` field (`_e0`, `_e1`,
/// ...) of one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFetchNode {
    /// The request sent: the combined operation, its subgraph and the client
    /// variables it uses.
    pub request: FetchNode,
    /// The aliased `_entities` fields, in alias order.
    pub batches: Vec<EntityBatch>,
}

/// A node of the plan.
///
/// The enum is `non_exhaustive`: deferred parts (`@defer`) and subscriptions will
/// add node kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanNode {
    /// Fetch from one subgraph, merging the result at the root (or, inside a
    /// [`PlanNode::Flatten`], into the objects at the flatten path).
    Fetch(Box<FetchNode>),
    /// Run the children one after the other.
    Sequence(Vec<PlanNode>),
    /// Run the children at the same time.
    Parallel(Vec<PlanNode>),
    /// Run an `_entities` fetch for the objects found at `path`.
    Flatten {
        /// Where the entities are.
        path: ResponsePath,
        /// The fetch.
        node: Box<PlanNode>,
    },
    /// Entity fetches to one subgraph sent together as one request.
    BatchFetch(Box<BatchFetchNode>),
}

/// A query plan: how one normalized operation is resolved from the subgraphs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPlan {
    /// The fetches; `None` when the router answers alone (only `__typename` or
    /// introspection).
    pub root: Option<PlanNode>,
}

impl QueryPlan {
    /// Number of subgraph requests in the plan (a batch of entity fetches is one).
    pub fn fetch_count(&self) -> usize {
        fn count(node: &PlanNode) -> usize {
            match node {
                PlanNode::Fetch(_) | PlanNode::BatchFetch(_) => 1,
                PlanNode::Sequence(nodes) | PlanNode::Parallel(nodes) => nodes.iter().map(count).sum(),
                PlanNode::Flatten { node, .. } => count(node),
            }
        }
        self.root.as_ref().map_or(0, count)
    }
}

impl fmt::Display for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::from("QueryPlan {\n");
        if let Some(root) = &self.root {
            write_node(root, 1, &mut out);
        }
        out.push('}');
        f.write_str(&out)
    }
}

/// An entity fetch's representation fields and rewrites (nothing for a root fetch).
fn write_representation(fetch: &FetchNode, level: usize, out: &mut String) {
    if let Some(requires) = &fetch.requires {
        indent(level, out);
        let _ = writeln!(out, "{} =>", requires.to_graphql());
    }
    for rewrite in &fetch.input_rewrites {
        indent(level, out);
        let _ = writeln!(
            out,
            "rewrite: ... on {} {{ __typename = {:?} }}",
            rewrite.type_condition, rewrite.value
        );
    }
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_node(node: &PlanNode, level: usize, out: &mut String) {
    indent(level, out);
    match node {
        PlanNode::Fetch(fetch) => {
            let _ = writeln!(out, "Fetch(service: {:?}) {{", fetch.subgraph_name);
            write_representation(fetch, level + 1, out);
            indent(level + 1, out);
            out.push_str(&fetch.operation);
            out.push('\n');
        }
        PlanNode::BatchFetch(batch) => {
            let _ = writeln!(out, "BatchFetch(service: {:?}) {{", batch.request.subgraph_name);
            for entities in &batch.batches {
                indent(level + 1, out);
                let _ = writeln!(out, "{} {{", entities.alias);
                for path in &entities.paths {
                    indent(level + 2, out);
                    let _ = writeln!(out, "Flatten(path: {:?})", path_to_string(path));
                }
                write_representation(&entities.fetch, level + 2, out);
                indent(level + 1, out);
                out.push_str("},\n");
            }
            indent(level + 1, out);
            out.push_str(&batch.request.operation);
            out.push('\n');
        }
        PlanNode::Sequence(nodes) | PlanNode::Parallel(nodes) => {
            let kind = if matches!(node, PlanNode::Sequence(_)) {
                "Sequence"
            } else {
                "Parallel"
            };
            let _ = writeln!(out, "{kind} {{");
            for child in nodes {
                write_node(child, level + 1, out);
            }
        }
        PlanNode::Flatten { path, node } => {
            let _ = writeln!(out, "Flatten(path: {:?}) {{", path_to_string(path));
            write_node(node, level + 1, out);
        }
    }
    indent(level, out);
    out.push_str("},\n");
}
